// Online DPO on a tiny world: the pairing rule on hand scores (best against worst, the first of
// equal scores, no pair from a tie), a judge that prefers short answers teaches the policy to end
// sooner, a judge that cannot tell answers apart trains nothing, resume equals an uninterrupted
// run, and the settings are checked by name.
import DPO
import LabSupport
import NanoTransformer
import PostTraining
import TensorCore
import TestSupport
import Testing
import Tokenizer

@Suite struct OnlineDPOTests {
    static let prompts = (0..<10).map { "What is \($0) + \(9 - $0)?" }

    /// Shorter is better; among equally long answers (most, for a random policy at a small budget)
    /// the first token's id decides, so that few prompts are ties.
    static func shortFirst(_ prompts: [[Int]], _ responses: [[Int]], _ texts: [String]) -> [Double] {
        responses.map { -Double($0.count) - 0.001 * Double($0.first ?? 0) }
    }

    static func task(
        _ settings: OnlineDPOSettings, policySeed: UInt64 = 1, judge: OnlineDPOTask.Judge? = nil, updates: Int = 30
    ) throws -> OnlineDPOTask {
        let base = try BPETrainer.train(prompts + ["nine ten good bad"], options: .init(vocabSize: 264))
        let format = try ConversationFormat(tokenizer: ConversationFormat.addingSpecialTokens(to: base))
        var c = TransformerConfig()
        (c.vocabSize, c.dModel, c.layers, c.heads, c.kvHeads, c.contextLength) = (
            format.tokenizer.vocabSize, 32, 2, 4, 2, 64
        )
        var rng = RNG(seed: 1)
        let reference = try ReferenceModel(frozenCopyOf: try NanoTransformer(c, rng: &rng))
        var policyRNG = RNG(seed: policySeed)
        let policy = policySeed == 1 ? try reference.model.copy(with: c) : try NanoTransformer(c, rng: &policyRNG)
        return try OnlineDPOTask(
            policy: policy, record: nil, reference: reference, format: format,
            source: { rng in prompts[rng.int(below: prompts.count)] },
            judge: judge ?? shortFirst, settings: settings,
            totalUpdates: updates, seed: 5)
    }

    @Test func bestAgainstWorstAndNoPairFromATie() {
        let prompts = [[1], [2], [3]]
        let responses = [[4], [5], [6], [7], [8], [9], [10], [11], [12]]
        let scores = [1, 3, 2, 5, 5, 5, 0, -1, 0.0]
        let pairs = OnlineDPOTask.pairs(prompts: prompts, responses: responses, scores: scores, k: 3)
        #expect(
            pairs == [
                DPOPair(prompt: [1], chosen: [5], rejected: [4]), DPOPair(prompt: [3], chosen: [10], rejected: [11]),
            ])
        // Different scores but the same response: no pair either.
        let same = OnlineDPOTask.pairs(prompts: [[1]], responses: [[4], [4]], scores: [1, 0], k: 2)
        #expect(same.isEmpty)
    }

    @Test func aJudgeForShortAnswersTeachesThePolicyToEndSooner() throws {
        var s = OnlineDPOSettings()
        (s.promptsPerUpdate, s.samplesPerPrompt, s.maxNewTokens) = (8, 4, 16)
        (s.optimizer.learningRate, s.loss.beta) = (1e-2, 0.5)
        let task = try Self.task(s, updates: 40)
        var lengths: [Double] = []
        for _ in 0..<40 {
            let report = try task.update()
            lengths.append(report.metrics["online/length"]!)
            #expect(report.metrics["online/pairs"]! + report.metrics["online/ties"]! == 8)
        }
        let first = lengths.prefix(5).reduce(0, +) / 5
        let last = lengths.suffix(5).reduce(0, +) / 5
        #expect(last < first * 0.6, "mean sampled length \(first) -> \(last): \(lengths)")
        #expect(task.pairsSeen > 250)
    }

    @Test func aJudgeThatCannotTellAnswersApartTrainsNothing() throws {
        var s = OnlineDPOSettings()
        (s.promptsPerUpdate, s.maxNewTokens) = (4, 8)
        let task = try Self.task(s, judge: { _, responses, _ in responses.map { _ in 0.5 } })
        let before = task.parameters.map(\.tensor.array)
        let report = try task.update()
        #expect(report.metrics["online/pairs"] == 0 && report.metrics["online/ties"] == 4)
        #expect(report.metrics["loss/train"] == nil && task.parameters.map(\.tensor.array) == before)
    }

    @Test func resumeEqualsAnUninterruptedRun() throws {
        var s = OnlineDPOSettings()
        (s.promptsPerUpdate, s.samplesPerPrompt, s.maxNewTokens, s.optimizer.learningRate) = (4, 3, 8, 1e-3)
        func run(stopAt: Int?) throws -> ([[Float]], Int) {
            let task = try Self.task(s, updates: 4)
            guard let stopAt else {
                for _ in 0..<4 { _ = try task.update() }
                return (task.parameters.map(\.tensor.array), task.pairsSeen)
            }
            for _ in 0..<stopAt { _ = try task.update() }
            let resumed = try Self.task(s, policySeed: 7, updates: 4)  // other weights until the checkpoint's load
            for ((_, a), (_, b)) in zip(task.parameters, resumed.parameters) { b.assign(a) }
            try resumed.optimizer.importState(task.optimizer.exportState())
            try resumed.restore(task.exportState(), step: stopAt, path: "test")
            while resumed.updatesDone < 4 { _ = try resumed.update() }
            return (resumed.parameters.map(\.tensor.array), resumed.pairsSeen)
        }
        let straight = try run(stopAt: nil)
        let resumed = try run(stopAt: 2)
        #expect(resumed.0 == straight.0 && resumed.1 == straight.1 && straight.1 > 0)
    }

    @Test func badSettingsAreNamed() {
        let cases: [((inout OnlineDPOSettings) -> Void, String)] = [
            ({ $0.samplesPerPrompt = 1 }, "online.samplesPerPrompt"),
            ({ $0.promptsPerUpdate = 0 }, "online.promptsPerUpdate"),
            ({ $0.maxNewTokens = 0 }, "online.maxNewTokens"),
        ]
        for (edit, key) in cases {
            var s = OnlineDPOSettings()
            edit(&s)
            let error = expectLabError(.config) { try s.check() }
            #expect(error?.message.hasPrefix(key) == true, "\(key): \(String(describing: error))")
        }
    }
}
