// The knowledge-and-tools parts beyond counting: the context questions' training mix, the
// self-knowledge labels and rates, the tools' responses and metrics, the safety features, an
// evaluation's count of inserted tokens on hand examples, and every ablation end to end at toy
// size in stage order (a later stage refused by key while its earlier stage is missing).
import Foundation
import HDF5Store
import KnowledgeAndTools
import LabSupport
import NanoTransformer
import PostTraining
import TensorCore
import TestSupport
import Testing

@Suite struct StudyPiecesTests {
    @Test func contextQuestionsMixTheTaughtShareAndKeepEvalPeopleApart() throws {
        var c = ContextQAConfig()
        (c.trainItems, c.evalItems, c.idkShare) = (1000, 40, 0.3)
        let (train, eval) = try ContextQAStudy.items(c)
        #expect(train.count { !$0.answerable } == 300 && eval.count { !$0.answerable } == 20)
        #expect(Set(train.map(\.prompt)).isDisjoint(with: eval.map(\.prompt)), "eval questions are new")
        #expect(try ContextQAStudy.items(c).train == train, "fixed by their own seeds")
        c.idkShare = 0
        #expect(try ContextQAStudy.items(c).train.allSatisfy(\.answerable))
        let rates = try ContextQAStudy.rates(
            Array(eval.prefix(2)), responses: ["<answer>\(eval[0].town)</answer>", "<answer>I don't know</answer>"])
        #expect(rates == ["eval/accuracy": 1, "eval/over_refusal": 0, "eval/hallucination": 0])
    }

    @Test func selfKnowledgeLabelsAndRates() throws {
        let exposure = [0, 1, 8, 0]
        let known = [false, false, true, true]
        #expect(SelfKnowledgeStudy.labels(.answerAll, exposure: exposure, known: known) == [true, true, true, true])
        #expect(SelfKnowledgeStudy.labels(.data, exposure: exposure, known: known) == [false, true, true, false])
        #expect(SelfKnowledgeStudy.labels(.model, exposure: exposure, known: known) == known)
        let m = SelfKnowledgeStudy.rates([.correct, .refused, .wrong, .refused], known: [true, true, false, false])
        #expect(m["eval/accuracy"] == 0.25 && m["eval/hallucination"] == 0.25 && m["eval/refusal"] == 0.5)
        #expect(m["eval/over_refusal"] == 0.5 && m["eval/refusal_unknown"] == 0.5 && m["eval/precision"] == 0.5)
        #expect(SelfKnowledgeStudy.rates([.refused], known: [false])["eval/precision"]!.isNaN, "no answer given")
        let c = SelfKnowledgeConfig()
        let (world, shown) = try SelfKnowledgeStudy.world(c)
        #expect(world.people.count == c.people && Set(shown) == Set(c.exposures), "every exposure drawn")
        #expect(try SelfKnowledgeStudy.world(c).exposure == shown, "fixed by its own seed")
    }

    @Test func toolResponsesAndMetricsByDigits() throws {
        let task = ArithmeticTask(.multiplication, 123, 45)
        var rng = RNG(seed: 1)
        #expect(ToolsStudy.response(task, .answerOnly, rng: &rng) == "<answer>5535</answer>")
        #expect(
            ToolsStudy.response(task, .calculator, rng: &rng)
                == "<think><tool>123*45</tool><result>5535</result></think><answer>5535</answer>")
        let cot = ParsedResponse(ToolsStudy.response(task, .chainOfThought, rng: &rng))
        #expect(cot.number == 5535 && cot.think?.contains("123 times 5 is 615") == true)
        var c = ToolsConfig()
        (c.evalDigits, c.evalPerDigits) = ([1, 3], 10)
        let eval = ToolsStudy.evalTasks(c)
        #expect(
            eval.count == 20
                && eval.map { String($0.left).count } == [1, 3].flatMap { Array(repeating: $0, count: 10) })
        #expect(eval.allSatisfy { String($0.right).count == String($0.left).count })
        // Two hand-scored answers: tokens are the model's (inserted ones not counted).
        let tasks = [ArithmeticTask(.multiplication, 3, 4), ArithmeticTask(.multiplication, 12, 34)]
        var called = ScoredResponse(
            text: "<think><tool>12*34</tool><result>408</result></think><answer>408</answer>", length: 20,
            stopped: true, correct: true, wellFormed: true)
        called.inserted = 6
        let m = ToolsStudy.metrics(
            tasks,
            [
                ScoredResponse(text: "<answer>11</answer>", length: 4, stopped: true, correct: false, wellFormed: true),
                called,
            ])
        #expect(m["eval/accuracy"] == 0.5 && m["eval/accuracy/digits_1"] == 0 && m["eval/accuracy/digits_2"] == 1)
        #expect(m["eval/tokens"] == 9 && m["eval/tokens/digits_2"] == 14 && m["eval/tool_calls"] == 0.5)
    }

    @Test func evaluationCountsTheTokensAnInterjectionPutIn() throws {
        let tokenizer = try ScratchModel.tokenizer(["What is 3 * 4? <answer>12</answer>"], vocab: 0)
        let format = try ConversationFormat(tokenizer: tokenizer)
        var root = RNG(seed: 3)
        let model = try ScratchModel.fresh(ScratchModel.tinyModel(contextLength: 64), tokenizer: tokenizer, root: &root)
        let put = tokenizer.encode("<result>7</result>")
        var settings = EvaluationSettings()
        (settings.samples, settings.passK, settings.maxNewTokens) = (2, [], 6)
        let tasks = [VerifiableTask(prompt: "What is 3 * 4?", isCorrect: { _ in true })]
        let (_, greedy, samples) = try Evaluation.run(
            model, format: format, tasks: tasks, settings: settings,
            interjection: { _, response in response.count == 1 ? put : [] })
        // A response that stopped at its first token had nothing put in; the others hold the
        // insertion, and one that ran to the limit holds its 6 sampled tokens besides.
        for r in greedy + samples[0] where !(r.stopped && r.length == 0) {
            #expect(r.inserted == put.count, "\(r)")
            if !r.stopped { #expect(r.length == 6 + put.count, "\(r)") }
        }
        let plain = try Evaluation.run(model, format: format, tasks: tasks, settings: settings).greedy
        #expect(plain[0].inserted == 0)
    }

    @Test func theResidualStreamEndsInTheHiddenStatesBeforeTheFinalNorm() throws {
        let tokenizer = try ScratchModel.tokenizer(["a b"], vocab: 0)
        var rng = RNG(seed: 2)
        let config = ScratchModel.tinyModel(contextLength: 16)
        let model = try ScratchModel.fresh(config, tokenizer: tokenizer, root: &rng)
        let ids = [3, 9, 4, 1, 7]
        let stream = try model.residualStream(ids)
        #expect(expectLabError(.model) { try model.residualStream([]) } != nil)
        #expect(expectLabError(.model) { try model.residualStream(Array(repeating: 1, count: 17)) } != nil)
        #expect(expectLabError(.model) { try model.residualStream([tokenizer.vocabSize]) } != nil)
        #expect(stream.count == config.layers + 1 && stream.allSatisfy { $0.shape == [5, config.dModel] })
        // The final norm's gain is 1 at initialisation: RMSNorm of the last entry is the hidden state.
        var unused = RNG(seed: 0)
        let hidden = model.hiddenStates(ids, batch: 1, time: 5, rng: &unused).array
        let last = stream[config.layers].array
        let c = config.dModel
        var worst: Float = 0
        for t in 0..<5 {
            let row = last[(t * c)..<((t + 1) * c)]
            let rms = (row.reduce(0) { $0 + $1 * $1 } / Float(c) + Float(config.normEps)).squareRoot()
            for (j, x) in row.enumerated() { worst = max(worst, abs(x / rms - hidden[t * c + j])) }
        }
        #expect(worst < 1e-4, "max difference \(worst)")
        let features = try SafetyStudy.features(
            model, format: try ConversationFormat(tokenizer: tokenizer), prompts: ["a", "b b"])
        #expect(features.count == config.layers + 1 && features[0].count == 2 && features[0][0].count == c)
    }
}

@Suite(.serialized) struct StagesTests {
    static let toy = [
        "--threads", "1", "--set", "contextQA.trainItems=100", "--set", "contextQA.evalItems=10", "--set",
        "contextQA.sft.epochs=1", "--set", "contextQA.evalEvery=3", "--set", "selfKnowledge.people=20", "--set",
        "selfKnowledge.memorise.epochs=1", "--set", "selfKnowledge.finetune.epochs=1", "--set",
        "selfKnowledge.probeSamples=2", "--set", "selfKnowledge.evalEvery=3", "--set", "tools.trainTasks=60", "--set",
        "tools.trainDigits=2", "--set", "tools.evalDigits=[2]", "--set", "tools.evalPerDigits=3", "--set",
        "tools.sft.epochs=1", "--set", "tools.maxNewTokens=40", "--set", "tools.steps=2", "--set",
        "tools.grpo.promptsPerStep=2", "--set", "tools.grpo.groupSize=2", "--set", "tools.grpo.maxNewTokens=40",
        "--set", "tools.evalEvery=3", "--set", "safety.sft.epochs=1", "--set", "safety.probeSteps=20", "--set",
        "safety.evalEvery=3",
    ]

    /// Each part's ablations, a stage after the stage it starts from.
    static let stages: [(ablation: String, metrics: [String])] = [
        ("idk-0", ["eval/accuracy", "eval/over_refusal", "eval/hallucination"]),
        ("idk-10", ["eval/accuracy", "eval/hallucination"]), ("idk-30", ["eval/accuracy", "eval/hallucination"]),
        ("sk-memorise", ["eval/accuracy", "eval/accuracy/exposure_0", "eval/accuracy/exposure_8"]),
        ("sk-answer-all", ["eval/accuracy", "eval/hallucination", "eval/refusal"]),
        ("sk-idk-data", ["eval/accuracy", "eval/hallucination", "eval/refusal"]),
        ("sk-idk-model", ["eval/accuracy", "eval/hallucination", "eval/refusal"]),
        ("tools-answer", ["eval/accuracy", "eval/accuracy/digits_2"]),
        ("tools-cot", ["eval/accuracy", "eval/accuracy/digits_2"]),
        ("tools-calculator", ["eval/accuracy", "eval/accuracy/digits_2"]),
        ("tools-answer-rl", ["eval/accuracy", "train/reward"]), ("tools-cot-rl", ["eval/accuracy", "train/reward"]),
        ("tools-calculator-rl", ["eval/accuracy", "train/reward", "train/inserted_tokens"]),
        ("safety-scratch", ["eval/refusal/plain/harmful", "eval/refusal/safety/harmless"]),
        ("safety", ["eval/refusal/plain/harmful", "eval/refusal/safety/harmless"]),
        ("safety-no-descriptions", ["eval/refusal/plain/harmful", "eval/refusal/safety/harmless"]),
    ]

    @Test func everyConfigRunsInStageOrder() throws {
        let out = temporaryFolder()
        #expect(
            Set(try experimentAblations("knowledge-and-tools"))
                == Set(Self.stages.map(\.ablation) + CountingStudyTests.ablations), "every ablation is run")
        // A stage whose earlier stage has not run is refused by key.
        let early = try runProduct(
            "knowledge-and-tools", ["--ablation", "sk-idk-model", "--out", temporaryFolder("early")] + Self.toy)
        #expect(early.status != 0 && early.stderr.contains("selfKnowledge.from"), "\(early.stderr)")
        for (ablation, metrics) in Self.stages {
            // reasoning-base is not here: the safety ablation starts from the scratch one's policy.
            let policy =
                ablation.hasPrefix("safety-no") || ablation == "safety"
                ? ["--set", "safety.policy=\(out)/knowledge-and-tools/safety-scratch/seed-0.policy.h5"] : []
            let result = try runProduct(
                "knowledge-and-tools", ["--ablation", ablation, "--out", out] + Self.toy + policy)
            try #require(result.status == 0, "\(ablation): \(result.stderr)")
            let r = try RunResults.load(from: "\(out)/knowledge-and-tools/\(ablation)/seed-0.h5")
            #expect(r.status == "finished", "\(ablation)")
            for key in metrics {
                let values = r.metrics[key]?.values ?? []
                #expect(!values.isEmpty && values.allSatisfy(\.isFinite), "\(ablation): \(key)")
            }
            #expect(
                FileManager.default.fileExists(atPath: "\(out)/knowledge-and-tools/\(ablation)/seed-0.policy.h5"),
                "\(ablation) leaves its policy")
        }
        let safety = try RunResults.load(from: "\(out)/knowledge-and-tools/safety/seed-0.h5")
        for stage in ["before", "after"] {
            for layer in 0...2 {
                #expect((0...1).contains(safety.summary["probe/\(stage)/layer_\(layer)"] ?? -1), "\(stage) \(layer)")
            }
        }
        let probe = try RunResults.load(from: "\(out)/knowledge-and-tools/sk-idk-model/seed-0.h5")
        #expect((0...1).contains(probe.summary["probe/known_share"] ?? -1))
    }

    /// Each in a folder of its own: a run refused inside (a context too short for the examples)
    /// leaves its failed results, which a second run there would not overwrite.
    @Test func badConfigsAreNamedByKey() throws {
        for (ablation, set, key) in [
            ("idk-10", "contextQA.idkShare=1.5", "contextQA.idkShare"),
            ("idk-10", "contextQA.contextFacts=500", "contextQA.contextFacts"),
            ("sk-memorise", "selfKnowledge.exposures=[0]", "selfKnowledge.exposures"),
            ("sk-memorise", "selfKnowledge.probeThreshold=2", "selfKnowledge.probeThreshold"),
            ("tools-cot", "tools.evalDigits=[12]", "tools.evalDigits"),
            ("tools-cot", "tools.model.contextLength=40", "tools.model.contextLength"),
            ("tools-cot-rl", "tools.grpo.groupSize=0", "tools.grpo.groupSize"),
            ("tools-answer", "tools.tokenizerVocab=264", "tools.tokenizerVocab"),
            ("safety", "safety.heldOutObjects=20", "safety.heldOutObjects"),
            ("safety", "safety.helpful=\"I can't help with that.\"", "safety.helpful"),
            ("safety", "safety.policy=/nonexistent.h5", "safety.policy"),
        ] {
            let result = try runProduct(
                "knowledge-and-tools",
                ["--ablation", ablation, "--out", temporaryFolder()] + Self.toy + ["--set", set])
            #expect(result.status != 0 && result.stderr.contains(key), "\(set): \(result.stderr)")
        }
        // Every one-digit task an eval prompt: nothing left to train on, refused rather than a
        // draw that never ends.
        let covered = [
            "--set", "tools.evalDigits=[1]", "--set", "tools.evalPerDigits=3000", "--set", "tools.trainDigits=1",
        ]
        let result = try runProduct(
            "knowledge-and-tools", ["--ablation", "tools-answer", "--out", temporaryFolder()] + Self.toy + covered)
        #expect(result.status != 0 && result.stderr.contains("tools.trainDigits"), "\(result.stderr)")
    }
}
