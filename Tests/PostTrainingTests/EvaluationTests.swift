// The evaluation harness: the report's numbers from hand-made responses, and a real (untrained)
// model's evaluation that does not depend on how many prompts share a batch.
import LabSupport
import NanoTransformer
import PostTraining
import TensorCore
import TestSupport
import Testing
import Tokenizer

@Suite struct EvaluationTests {
    static func response(_ correct: Bool, _ length: Int, wellFormed: Bool = true, stopped: Bool = true)
        -> ScoredResponse
    {
        ScoredResponse(text: "", length: length, stopped: stopped, correct: correct, wellFormed: wellFormed)
    }

    @Test func theReportsNumbersFromHandMadeResponses() {
        // Task 0: 3 of 4 samples correct; task 1: none; greedy right on task 0 only.
        let r = Self.response
        let report = EvaluationReport(
            greedy: [r(true, 5, true, true), r(false, 9, true, true)],
            samples: [
                [r(true, 4, true, true), r(true, 6, true, true), r(false, 10, false, false), r(true, 2, true, true)],
                [
                    r(false, 8, true, true), r(false, 8, false, true), r(false, 12, true, false),
                    r(false, 4, true, true),
                ],
            ], passK: [1, 2, 4])
        #expect(report.tasks == 2 && report.greedyAccuracy == 0.5)
        #expect(report.meanAtN == 3.0 / 8)
        // pass@1 = mean of c/n; pass@2 for task 0 = 1 - C(1,2)/C(4,2) = 1; task 1: 0.
        #expect(abs(report.passAtK[1]! - (0.75 + 0) / 2) < 1e-12)
        #expect(report.passAtK[2] == 0.5 && report.passAtK[4] == 0.5)
        #expect(report.formatRate == 6.0 / 8 && report.stopRate == 6.0 / 8)
        #expect(report.meanLength == 54.0 / 8)
        #expect(report.meanLengthCorrect == 4 && report.meanLengthWrong == 42.0 / 5)
        #expect(report.metrics["eval/pass@2"] == 0.5 && report.metrics["eval/length_correct"] == 4)
        // Greedy only: the format, stop and length numbers come from the greedy answers.
        let greedyOnly = EvaluationReport(
            greedy: [r(true, 5, false, true), r(true, 7, true, false)], samples: [], passK: [])
        #expect(greedyOnly.formatRate == 0.5 && greedyOnly.meanLength == 6 && greedyOnly.meanLengthWrong == nil)
        #expect(greedyOnly.metrics["eval/length_wrong"] == nil)
    }

    static func modelAndFormat() throws -> (NanoTransformer, ConversationFormat) {
        let base = try BPETrainer.train(
            ["What is 12 + 30? <answer>42</answer> 1 2 3 4 5 6 7 8 9 0"], options: .init(vocabSize: 290))
        let format = try ConversationFormat(tokenizer: ConversationFormat.addingSpecialTokens(to: base))
        var c = TransformerConfig()
        (c.vocabSize, c.dModel, c.layers, c.heads, c.kvHeads, c.contextLength) = (
            format.tokenizer.vocabSize, 32, 1, 4, 2, 64
        )
        var rng = RNG(seed: 3)
        return (try NanoTransformer(c, rng: &rng), format)
    }

    @Test func anEvaluationDoesNotDependOnTheBatching() throws {
        let (model, format) = try Self.modelAndFormat()
        var rng = RNG(seed: 1)
        let tasks = (0..<5).map { _ in ArithmeticTask.sample(.addition, digits: 1...2, rng: &rng).verifiable(.english) }
        var settings = EvaluationSettings()
        (settings.samples, settings.passK, settings.maxNewTokens, settings.temperature) = (4, [1, 4], 12, 1)
        settings.promptsPerBatch = 5
        let whole = try Evaluation.run(model, format: format, tasks: tasks, settings: settings)
        settings.promptsPerBatch = 2
        let split = try Evaluation.run(model, format: format, tasks: tasks, settings: settings)
        #expect(whole.greedy.map(\.text) == split.greedy.map(\.text))
        #expect(whole.samples.map { $0.map(\.text) } == split.samples.map { $0.map(\.text) })
        #expect(whole.report == split.report)
        #expect(whole.samples.count == 5 && whole.samples.allSatisfy { $0.count == 4 })
        // An untrained model's samples differ from each other, and every length is within the limit.
        #expect(Set(whole.samples.flatMap { $0.map(\.text) }).count > 5)
        #expect(whole.samples.flatMap { $0 }.allSatisfy { $0.length <= 12 && ($0.stopped || $0.length == 12) })
        settings.seed = 1
        let other = try Evaluation.run(model, format: format, tasks: tasks, settings: settings)
        #expect(other.samples.map { $0.map(\.text) } != whole.samples.map { $0.map(\.text) })
    }

    @Test func badSettingsAreNamed() throws {
        let (model, format) = try Self.modelAndFormat()
        let task = [ArithmeticTask(.addition, 1, 2).verifiable(.english)]
        for (edit, key) in [
            ({ (s: inout EvaluationSettings) in s.passK = [16] }, "evaluation.passK"),
            ({ (s: inout EvaluationSettings) in s.samples = -1 }, "evaluation.samples"),
            ({ (s: inout EvaluationSettings) in s.maxNewTokens = 0 }, "evaluation.maxNewTokens"),
            ({ (s: inout EvaluationSettings) in s.temperature = -1 }, "sampling.temperature"),
        ] as [((inout EvaluationSettings) -> Void, String)] {
            var s = EvaluationSettings()
            edit(&s)
            let error = expectLabError(s.temperature < 0 ? .model : .config) {
                try Evaluation.run(model, format: format, tasks: task, settings: s)
            }
            #expect(error?.message.contains(key) == true, "\(String(describing: error))")
        }
        expectLabError(.config) { try Evaluation.run(model, format: format, tasks: [], settings: .init()) }
    }

    @Test func verifiableTasksJudgeParsedResponses() {
        let add = ArithmeticTask(.addition, 478, 56).verifiable(.english)
        #expect(add.prompt == "What is 478 + 56?")
        #expect(add.isCorrect(ParsedResponse("<think>x</think><answer>534</answer>")))
        #expect(!add.isCorrect(ParsedResponse("<answer>535</answer>")))
        let countdown = CountdownTask(numbers: [44, 19, 2], target: 50).verifiable(.english)
        #expect(countdown.isCorrect(ParsedResponse("<answer>(44 - 19) * 2</answer>")))
        #expect(!countdown.isCorrect(ParsedResponse("<answer>50</answer>")))
        // Their rewards are TinyZero's; a task made without one rewards correctness.
        #expect(add.reward(ParsedResponse("<answer>535</answer>")) == 0.1 && add.reward(ParsedResponse("535")) == 0)
        #expect(countdown.reward(ParsedResponse("<answer>(44 - 19) * 2</answer>")) == 1)
        let plain = VerifiableTask(prompt: "p", isCorrect: { $0.number == 3 })
        #expect(
            plain.reward(ParsedResponse("<answer>3</answer>")) == 1
                && plain.reward(ParsedResponse("<answer>4</answer>")) == 0)
    }
}
