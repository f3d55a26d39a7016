// PPO on text on a tiny world: the first update of one epoch starts at ratio 1, a short run raises
// the reward model's score, the shared critic runs, and resume (policy, critic, optimiser, β, RNG
// streams) equals an uninterrupted run.
import LabSupport
import NanoTransformer
import PostTraining
import RLHF
import RewardBPR
import TensorCore
import TestSupport
import Testing
import Tokenizer

/// A small policy and reward model on the conversation format of a tiny tokenizer; prompts are
/// short questions.
func rlhfWorld(seed: UInt64 = 1) throws -> (NanoTransformer, RewardModel, ConversationFormat, [String]) {
    let prompts = (0..<10).map { "What is \($0) + \(9 - $0)?" }
    let base = try BPETrainer.train(prompts + ["nine ten good bad"], options: .init(vocabSize: 264))
    let format = try ConversationFormat(tokenizer: ConversationFormat.addingSpecialTokens(to: base))
    var c = TransformerConfig()
    (c.vocabSize, c.dModel, c.layers, c.heads, c.kvHeads, c.contextLength) = (
        format.tokenizer.vocabSize, 32, 2, 4, 2, 64
    )
    var rng = RNG(seed: seed)
    let policy = try NanoTransformer(c, rng: &rng)
    let rewardModel = RewardModel(trunk: try NanoTransformer(c, rng: &rng), rng: &rng)
    return (policy, rewardModel, format, prompts)
}

@Suite struct RLHFTaskTests {
    /// A task on the world of `seed`; `policySeed` gives the policy other initial weights (a process
    /// about to load a checkpoint), the frozen reference and reward model staying the world's.
    static func task(_ settings: RLHFSettings, policySeed: UInt64? = nil, heldOut: [String] = []) throws -> RLHFTask {
        let (policy, rewardModel, format, prompts) = try rlhfWorld(seed: 1)
        let reference = try ReferenceModel(frozenCopyOf: policy)
        let trained = try policySeed.map { try rlhfWorld(seed: $0).0 } ?? policy
        return try RLHFTask(
            policy: trained, reference: reference, rewardModel: rewardModel, format: format,
            source: { rng in prompts[rng.int(below: prompts.count)] }, trueReward: { Double($0.count) },
            heldOutPrompts: heldOut, settings: settings, seed: 7)
    }

    @Test func theFirstUpdateOfOneEpochStartsAtRatioOne() throws {
        var s = RLHFSettings()
        (s.epochs, s.minibatches, s.promptsPerStep, s.maxNewTokens) = (1, 1, 8, 8)
        s.kl.beta = 0
        let report = try Self.task(s).update()
        #expect(
            report.metrics["policy/clip_fraction"] == 0 && abs(report.metrics["policy/approx_kl"]!) < 1e-6,
            "\(report.metrics)")
        #expect(report.metrics["rlhf/kl"]! == 0 || abs(report.metrics["rlhf/kl"]!) < 1e-4)
        #expect(report.metrics["rlhf/true_reward"] != nil)
    }

    /// Whatever the (random) reward model prefers, PPO finds more of it: the mean score of the last
    /// five iterations is above that of the first five.
    @Test func aShortRunRaisesTheRewardModelsScore() throws {
        var s = RLHFSettings()
        (s.promptsPerStep, s.maxNewTokens, s.epochs, s.minibatches) = (16, 8, 4, 2)
        (s.optimizer.learningRate, s.kl.beta) = (3e-3, 0.01)
        let task = try Self.task(s)
        var scores: [Double] = []
        for _ in 0..<40 { scores.append(try task.update().metrics["rlhf/score"]!) }
        let first = scores.prefix(5).reduce(0, +) / 5
        let last = scores.suffix(5).reduce(0, +) / 5
        #expect(last > first + 0.5 * abs(first) + 0.01, "score \(first) -> \(last): \(scores)")
    }

    /// The evaluation samples the same streams each time: at the start the KL to the reference is
    /// 0 (the sampler's log-probs equal the reference's recomputed ones), twice in a row gives the
    /// same numbers, and after an update it moves.
    @Test func theEvaluationIsOnFixedStreams() throws {
        var s = RLHFSettings()
        (s.promptsPerStep, s.maxNewTokens, s.epochs, s.minibatches) = (8, 8, 2, 2)
        s.optimizer.learningRate = 3e-3
        let task = try Self.task(s, heldOut: ["What is 2 + 7?", "What is 5 + 4?", "What is 1 + 8?"])
        let first = try task.evaluate().metrics
        #expect(abs(try #require(first["eval/kl"])) < 1e-4 && first["eval/sqrt_kl"]! < 1e-2, "\(first)")
        #expect(try task.evaluate().metrics == first)
        #expect(
            task.lastSamples.count == 3 && task.lastSamples.allSatisfy { $0.trueReward == Double($0.response.count) })
        #expect(abs(task.lastSamples.map(\.score).reduce(0, +) / 3 - first["eval/score"]!) < 1e-9)
        _ = try task.update()
        #expect(try task.evaluate().metrics["eval/kl"] != first["eval/kl"])
    }

    @Test func theSharedCriticRuns() throws {
        var s = RLHFSettings()
        (s.sharedCritic, s.promptsPerStep, s.maxNewTokens, s.epochs) = (true, 4, 6, 1)
        let task = try Self.task(s)
        #expect(try task.update().metrics["loss/value"]!.isFinite)
        #expect(task.critic.namedParameters().count == 2)  // the head only: the trunk is the policy's
    }

    @Test func resumeEqualsAnUninterruptedRun() throws {
        var s = RLHFSettings()
        (s.promptsPerStep, s.maxNewTokens, s.epochs, s.minibatches) = (4, 6, 2, 2)
        s.kl = KLController(kind: .adaptive, beta: 0.1, target: 1, horizon: 20)
        func run(stopAt: Int?) throws -> ([[Float]], Double) {
            let task = try Self.task(s)
            guard let stopAt else {
                for _ in 0..<4 { _ = try task.update() }
                return (task.parameters.map(\.tensor.array), task.kl.beta)
            }
            for _ in 0..<stopAt { _ = try task.update() }
            let resumed = try Self.task(s, policySeed: 5)  // other weights until the checkpoint's are loaded
            for ((_, a), (_, b)) in zip(task.parameters, resumed.parameters) { b.assign(a) }
            try resumed.optimizer.importState(task.optimizer.exportState())
            try resumed.restore(task.exportState(), step: stopAt, path: "test")
            while resumed.updatesDone < 4 { _ = try resumed.update() }
            return (resumed.parameters.map(\.tensor.array), resumed.kl.beta)
        }
        let straight = try run(stopAt: nil)
        let resumed = try run(stopAt: 2)
        #expect(resumed.0 == straight.0 && resumed.1 == straight.1 && straight.1 != 0.1)
    }

    @Test func badSettingsAreNamed() {
        let cases: [((inout RLHFSettings) -> Void, String)] = [
            ({ $0.clipRange = -0.1 }, "rlhf.clipRange"),
            ({ $0.valueCoefficient = .nan }, "rlhf.valueCoefficient"),
            ({ $0.rewards.scoreClip = -1 }, "rlhf.rewards.scoreClip"),
            ({ $0.rewards.missingEndPenalty = .infinity }, "rlhf.rewards.missingEndPenalty"),
            ({ $0.minibatches = 64 }, "rlhf.minibatches"),
            ({ $0.kl = KLController(kind: .adaptive, beta: 0.1, target: 6, horizon: 0) }, "rlhf.kl.horizon"),
        ]
        for (edit, key) in cases {
            var s = RLHFSettings()
            edit(&s)
            let error = expectLabError(.config) { try s.check() }
            #expect(error?.message.hasPrefix(key) == true, "\(key): \(String(describing: error))")
        }
    }
}
