// GRPO's step on a tiny model: a short run raises the accuracy of a partly trained model, the
// first pass's ratios are 1, dynamic sampling never keeps a zero-variance group and stops with a
// named error at its limit, resume equals an uninterrupted run, and 1 and 2 threads agree.
import GRPO
import LabSupport
import MoE
import NanoTransformer
import PostTraining
import TensorCore
import TestSupport
import Testing
import Tokenizer

/// One-digit addition in the conversation format, answer only, on a small model SFT'd for
/// `sftUpdates` updates (partial ability), and the task source of all 100 questions.
func additionWorld(sftUpdates: Int) throws -> (NanoTransformer, ConversationFormat, [ArithmeticTask]) {
    let pairs = (0..<10).flatMap { a in (0..<10).map { b in ArithmeticTask(.addition, Int64(a), Int64(b)) } }
    let base = try BPETrainer.train(pairs.map { $0.prompt(.english) }, options: .init(vocabSize: 270))
    let format = try ConversationFormat(tokenizer: ConversationFormat.addingSpecialTokens(to: base))
    var c = TransformerConfig()
    (c.vocabSize, c.dModel, c.layers, c.heads, c.kvHeads, c.contextLength) = (
        format.tokenizer.vocabSize, 64, 2, 4, 2, 32
    )
    var rng = RNG(seed: 1)
    let model = try NanoTransformer(c, rng: &rng)
    var solutionRNG = RNG(seed: 0)
    let examples = pairs.map { $0.sftExample(format, language: .english, response: .answerOnly, rng: &solutionRNG) }
    var s = SFTSettings()
    (s.batchSize, s.epochs, s.optimizer.learningRate, s.optimizer.warmupSteps, s.optimizer.decay) = (
        20, 100, 3e-3, 10, .constant
    )
    let sft = try SFTTask(model: model, record: nil, train: examples, heldOut: [], settings: s, seed: 3)
    for _ in 0..<sftUpdates { _ = try sft.update() }
    return (model, format, pairs)
}

@Suite struct GRPOTaskTests {
    static func task(
        _ model: NanoTransformer, _ format: ConversationFormat, _ pairs: [ArithmeticTask], _ settings: GRPOSettings,
        reference: ReferenceModel? = nil, seed: UInt64 = 5
    ) throws -> GRPOTask {
        var eval = EvaluationSettings()
        (eval.samples, eval.passK, eval.maxNewTokens, eval.promptsPerBatch) = (0, [], 8, 100)
        return try GRPOTask(
            policy: model, record: nil, reference: reference, format: format,
            source: { rng in pairs[rng.int(below: pairs.count)].verifiable(.english) },
            evaluationTasks: pairs.map { $0.verifiable(.english) }, evaluation: eval, settings: settings, seed: seed)
    }

    static var settings: GRPOSettings {
        var s = GRPOSettings()
        (s.promptsPerStep, s.groupSize, s.maxNewTokens, s.optimizer.learningRate, s.loss.beta) = (8, 8, 8, 1e-3, 0)
        return s
    }

    /// 200 steps from a partly trained model: the accuracy of samples at the training temperature
    /// (mean@8 over all 100 questions: 800 samples, standard error about 0.017) rises well beyond noise.
    @Test func aShortRunRaisesAccuracyAndStartsAtRatioOne() throws {
        let (model, format, pairs) = try additionWorld(sftUpdates: 100)
        var s = Self.settings
        (s.optimizer.learningRate, s.optimizer.warmupSteps) = (3e-4, 10)
        let task = try Self.task(model, format, pairs, s)
        var eval = EvaluationSettings()
        (eval.samples, eval.passK, eval.maxNewTokens, eval.temperature, eval.promptsPerBatch) = (8, [1, 8], 8, 1, 100)
        let tasks = pairs.map { $0.verifiable(.english) }
        let before = try Evaluation.run(model, format: format, tasks: tasks, settings: eval).report
        let first = try task.update()
        #expect(abs(first.metrics["policy/ratio_mean"]! - 1) < 1e-4, "\(first.metrics)")
        for _ in 0..<199 { _ = try task.update() }
        let after = try Evaluation.run(model, format: format, tasks: tasks, settings: eval).report
        #expect(after.meanAtN > before.meanAtN + 0.08, "mean@8 \(before.meanAtN) -> \(after.meanAtN)")
    }

    @Test func dynamicSamplingKeepsOnlyInformativeGroupsAndStopsAtItsLimit() throws {
        let (model, format, pairs) = try additionWorld(sftUpdates: 25)
        var s = Self.settings
        s.dynamicSampling = true
        s.maxSamplingRounds = 6
        let task = try Self.task(model, format, pairs, s)
        for _ in 0..<3 {
            let report = try task.update()
            #expect(report.metrics["train/sampling_rounds"]! >= 1)
            #expect(report.metrics["train/zero_variance_groups_kept"] == 0, "\(report.metrics)")
        }
        // An untrained model earns 0 everywhere: no group ever differs, and the limit is named.
        let (untrained, _, _) = try additionWorld(sftUpdates: 0)
        s.maxSamplingRounds = 2
        let hopeless = try Self.task(untrained, format, pairs, s)
        let error = expectLabError(.config) { try hopeless.update() }
        #expect(error?.message.contains("grpo.maxSamplingRounds") == true, "\(String(describing: error))")
    }

    @Test func resumeEqualsAnUninterruptedRun() throws {
        var s = Self.settings
        (s.promptsPerStep, s.groupSize, s.innerUpdates, s.minibatches, s.loss.beta) = (4, 4, 2, 2, 0.04)
        func run(stopAt: Int?) throws -> [[Float]] {
            let (model, format, pairs) = try additionWorld(sftUpdates: 10)
            let reference = try ReferenceModel(frozenCopyOf: model)
            let task = try Self.task(model, format, pairs, s, reference: reference)
            guard let stopAt else {
                for _ in 0..<4 { _ = try task.update() }
                return model.parameters.map(\.array)
            }
            for _ in 0..<stopAt { _ = try task.update() }
            let (fresh, _, _) = try additionWorld(sftUpdates: 0)
            let resumed = try Self.task(fresh, format, pairs, s, reference: reference)
            for ((_, a), (_, b)) in zip(task.parameters, resumed.parameters) { b.assign(a) }
            try resumed.optimizer.importState(task.optimizer.exportState())
            try resumed.restore(task.exportState(), step: stopAt, path: "test")
            while resumed.updatesDone < 4 { _ = try resumed.update() }
            return fresh.parameters.map(\.array)
        }
        #expect(try run(stopAt: 2) == run(stopAt: nil))
    }

    @Test func oneAndTwoThreadsGiveTheSameRun() async throws {
        func run(_ threads: Int) async throws -> [[Float]] {
            try await withThreadCount(threads) {
                let (model, format, pairs) = try additionWorld(sftUpdates: 10)
                let task = try Self.task(model, format, pairs, Self.settings)
                for _ in 0..<2 { _ = try task.update() }
                return model.parameters.map(\.array)
            }
        }
        let one = try await run(1)
        let two = try await run(2)
        #expect(one == two)
    }

    @Test func settingsAreChecked() throws {
        let (model, format, pairs) = try additionWorld(sftUpdates: 0)
        var s = Self.settings
        s.loss.beta = 0.04
        let error = expectLabError(.config) { try Self.task(model, format, pairs, s) }
        #expect(error?.message.contains("needs a reference model") == true)
        s = Self.settings
        s.groupSize = 1
        expectLabError(.config) { try s.check() }
    }
}

/// GRPO on an MoE policy: without routing replay the experts chosen for the sampled tokens drift
/// as the policy updates; with it the update's forward uses exactly the sampler's experts.
@Suite struct RoutingReplayTests {
    static func moePolicy() throws -> (NanoTransformer, ConversationFormat, [ArithmeticTask]) {
        let (dense, format, pairs) = try additionWorld(sftUpdates: 0)
        var moe = MoEConfig()
        (moe.experts, moe.topK, moe.expertHidden, moe.sharedExperts) = (4, 2, 16, 0)
        var rng = RNG(seed: 2)
        return (try NanoTransformer(dense.config, mlp: MixtureOfExperts.factory(moe), rng: &rng), format, pairs)
    }

    @Test func replayKeepsTheSamplersExpertsAndItsAbsenceShowsTheDrift() throws {
        for replay in [false, true] {
            let (model, format, pairs) = try Self.moePolicy()
            var s = GRPOTaskTests.settings
            (s.innerUpdates, s.optimizer.learningRate, s.routingReplay) = (4, 1e-2, replay)
            let task = try GRPOTaskTests.task(model, format, pairs, s)
            let report = try task.update()
            let change = report.metrics["moe/routing_change"]!
            let last = report.metrics["moe/routing_change_last_pass"]!
            if replay {
                #expect(change == 0 && last == 0, "\(report.metrics)")
            } else {
                #expect(last > 0.01, "after 3 updates some sampled tokens should route elsewhere: \(report.metrics)")
            }
        }
        var s = GRPOTaskTests.settings
        (s.routingReplay, s.dynamicSampling) = (true, true)
        let error = expectLabError(.config) { try s.check() }
        #expect(error?.message.hasPrefix("grpo.routingReplay") == true)
    }
}
