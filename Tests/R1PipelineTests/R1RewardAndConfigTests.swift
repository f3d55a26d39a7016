// R1's weighted rule reward on hand examples, the pipeline config's checks (stage order, what each
// stage reads), the sampled data set's file (round trip, and a missing, damaged or empty file named),
// and the filters' `rules` switch.
import ExperimentKit
import Foundation
import LabSupport
import PostTraining
import R1Pipeline
import TestSupport
import Testing

@Suite struct R1RewardAndConfigTests {
    @Test func theRewardSumsAccuracyFormatAndLanguage() {
        var reward = R1Reward()
        (reward.accuracy, reward.format, reward.language) = (1, 0.1, 0.5)
        let cases: [(String, CoTLanguage, Double)] = [
            ("<think>three plus four is seven</think><answer>7</answer>", .english, 1 + 0.1 + 0.5),
            ("<think>three plus four is seven</think><answer>8</answer>", .english, 0.1 + 0.5),
            ("<think>three plus four is seven</think><answer>7</answer>", .chinese, 1 + 0.1),  // wrong language
            ("<think>three 加 four</think><answer>7</answer>", .english, 1 + 0.1 + 0.5 * 2 / 3),  // mixed: 2 of 3 words
            ("<think>三加四得七</think><answer>7</answer> more", .chinese, 1 + 0.5),  // text after </answer>
            ("<answer>7</answer>", .english, 1),  // no reasoning: no format, no language reward
            ("seven", .english, 0),
        ]
        for (text, target, expected) in cases {
            let value = reward.value(ParsedResponse(text), truth: 7, target: target)
            #expect(abs(value - expected) < 1e-12, "\(text): \(value) vs \(expected)")
        }
        // As a task: the prompt in the target language, correct on the number alone.
        let task = reward.verifiable(ArithmeticTask(.addition, 3, 4), .chinese)
        #expect(task.prompt == ArithmeticTask(.addition, 3, 4).prompt(.chinese))
        #expect(task.isCorrect(ParsedResponse("<answer>7</answer>")) && !task.isCorrect(ParsedResponse("7")))
        #expect(task.reward(ParsedResponse("<think>三加四得七</think><answer>7</answer>")) == 1 + 0.1 + 0.5)
    }

    @Test func theConfigChecksTheStagesAndTheirInputs() throws {
        try R1PipelineConfig().validate()
        let bad: [([R1Stage], String)] = [
            ([], "lists no stage"),
            ([.zero, .zero], "listed twice"),
            ([.reasoningRL, .zero], "not in the recipe's order"),
            ([.coldStartSFT], "cold-start-sft reads a data set"),
            ([.zero, .coldStartData, .reasoningRL], "reasoning-rl reads a policy"),
            ([.zero, .coldStartSFT], "cold-start-sft reads a data set"),
        ]
        for (stages, message) in bad {
            var c = R1PipelineConfig()
            c.stages = stages
            let error = expectLabError(.config) { try c.validate() }
            #expect(
                error?.message.hasPrefix("key 'stages':") == true && error?.message.contains(message) == true,
                "\(stages): \(String(describing: error))")
        }
        // The ablations' shapes are valid: RL from the base, and the student's RL anywhere.
        for stages: [R1Stage] in [[.reasoningRL], [.zero], [.finalRL, .studentRL], [.studentRL]] {
            var c = R1PipelineConfig()
            c.stages = stages
            try c.validate()
        }
        var c = R1PipelineConfig()
        c.reasoningRL.reward.language = -1
        #expect(
            expectLabError(.config) { try c.validate() }?.message.hasPrefix("key 'reasoningRL.reward.language'") == true
        )
        c = R1PipelineConfig()
        c.finalRL.preferenceShare = 1.5
        #expect(
            expectLabError(.config) { try c.validate() }?.message.hasPrefix("key 'finalRL.preferenceShare'") == true)
        c = R1PipelineConfig()
        c.coldStartData.sampling.samples = 0
        #expect(
            expectLabError(.config) { try c.validate() }?.message.hasPrefix("key 'coldStartData.sampling.samples")
                == true)
        c = R1PipelineConfig()
        c.distill.sft.heldOutShare = 0.9
        #expect(
            expectLabError(.config) { try c.validate() }?.message.hasPrefix("key 'distill.sft.heldOutShare") == true)
    }

    @Test func theDataSetFileRoundTripsAndBadFilesAreNamed() throws {
        let folder = temporaryFolder()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let set = ReasoningDataSet(examples: [
            .init(prompt: "What is 3 + 4?", response: "<think>3 + 4 = 7</think><answer>7</answer>", kind: .reasoning),
            .init(prompt: "The early bird", response: "catches the worm.", kind: .preference),
        ])
        try set.write(to: "\(folder)/d.json")
        #expect(try ReasoningDataSet.load(from: "\(folder)/d.json") == set)
        #expect(!FileManager.default.fileExists(atPath: "\(folder)/d.json.tmp"))
        let missing = expectLabError(.config) { try ReasoningDataSet.load(from: "\(folder)/none.json") }
        #expect(missing?.message.contains("\(folder)/none.json: no data set here") == true)
        try Data("{\"examples\": [".utf8).write(to: URL(fileURLWithPath: "\(folder)/bad.json"))
        let damaged = expectLabError(.config) { try ReasoningDataSet.load(from: "\(folder)/bad.json") }
        #expect(damaged?.message.contains("\(folder)/bad.json: not a data set") == true)
        try ReasoningDataSet(examples: []).write(to: "\(folder)/empty.json")
        let empty = expectLabError(.config) { try ReasoningDataSet.load(from: "\(folder)/empty.json") }
        #expect(empty?.message.contains("the data set is empty") == true)
    }

    @Test func theFiltersRulesSwitchAndTheTasksLanguage() {
        let wrong = ParsedResponse("<think>three and four</think><answer>8</answer>")
        var filter = ColdStartFilter()
        #expect(filter.rejection(wrong, correct: false) == .correct)
        filter.rules = [.wellFormed, .readable]
        #expect(filter.rejection(wrong, correct: false) == nil)
        filter.rules = []
        #expect(filter.rejection(ParsedResponse("junk"), correct: false) == nil)
        // The target language is the task's when given.
        let chinese = ParsedResponse("<think>三加四得七</think><answer>7</answer>")
        let english = ColdStartFilter(language: .english)
        #expect(english.rejection(chinese, correct: true) == .singleLanguage)
        #expect(english.rejection(chinese, correct: true, target: .chinese) == nil)
        let report = FilterReport(
            responses: [chinese, chinese], correct: [true, true], targets: [.chinese, .english], filter: english)
        #expect(report.kept == [0] && report.rejected == [.singleLanguage: 1])
    }
}
