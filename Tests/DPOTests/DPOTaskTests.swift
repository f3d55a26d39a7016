import DPO
// Offline DPO: the loss is log 2 while the policy equals its reference, a short run learns a
// synthetic preference (held-out implicit-reward accuracy, and the policy's own choices), the
// reference cache gives the same run, resume equals an uninterrupted run, the pair selections
// and settings are checked, and a pair with the same response twice is refused.
import Foundation
import LabSupport
import NanoTransformer
import PostTraining
import RewardBPR
import TensorCore
import TestSupport
import Testing

@Suite struct DPOTaskTests {
    static func policy(seed: UInt64 = 1) throws -> NanoTransformer {
        var c = TransformerConfig()
        (c.vocabSize, c.dModel, c.layers, c.heads, c.kvHeads, c.contextLength) = (20, 32, 2, 4, 2, 32)
        var rng = RNG(seed: seed)
        return try NanoTransformer(c, rng: &rng)
    }

    /// Prompts of one token in 10...14; 3 responses of 4 tokens and the end token 9, holding 0, 1
    /// and 2 ones (in a random order) among tokens from {2...8}; a response is better the more 1s
    /// it has (true reward: the count, no ties), ranked exactly.
    static func preferences(_ n: Int, seed: UInt64) throws -> PreferenceData {
        var rng = RNG(seed: seed)
        let annotator = try SimulatedAnnotator(temperature: 0)
        var (prompts, responses, ranks, rewards): ([[Int]], [[[Int]]], [[Int]], [[Double]]) = ([], [], [], [])
        for _ in 0..<n {
            prompts.append([10 + rng.int(below: 5)])
            let ones = rng.permutation(3)
            let r = ones.map { n in
                var tokens = (0..<4).map { _ in 2 + rng.int(below: 7) }
                for k in rng.permutation(4).prefix(n) { tokens[k] = 1 }
                return tokens + [9]
            }
            let truth = r.map { Double($0.count { $0 == 1 }) }
            responses.append(r)
            rewards.append(truth)
            ranks.append(annotator.rank(truth, rng: &rng))
        }
        return try PreferenceData(
            prompts: prompts, responses: responses, ranks: ranks, trueRewards: rewards, temperature: 0, endToken: 9)
    }

    static func task(
        _ settings: DPOSettings, policySeed: UInt64 = 1, cache: String? = nil, train: [DPOPair], heldOut: [DPOPair]
    ) throws -> DPOTask {
        let policy = try Self.policy(seed: policySeed)
        let reference = try ReferenceModel(frozenCopyOf: Self.policy())
        return try DPOTask(
            policy: policy, record: nil, reference: reference, train: train, heldOut: heldOut, settings: settings,
            seed: 4, referenceCache: cache)
    }

    @Test func pairSelections() throws {
        let data = try Self.preferences(5, seed: 1)
        #expect(data.dpoPairs(.allPairs).count == 15 && data.dpoPairs(.bestVsWorst).count == 5)
        let best = data.dpoPairs(.bestVsWorst)[0]
        #expect(
            best.chosen == data.responses[0][data.ranks[0][0]] && best.rejected == data.responses[0][data.ranks[0][2]])
    }

    @Test func aShortRunLearnsTheSyntheticPreference() throws {
        let (train, heldOut) = (try Self.preferences(120, seed: 2), try Self.preferences(40, seed: 3))
        var settings = DPOSettings()
        (settings.epochs, settings.pairsPerBatch, settings.optimizer.learningRate, settings.optimizer.warmupSteps) = (
            3, 16, 2e-3, 5
        )
        settings.loss.beta = 0.5
        let task = try Self.task(settings, train: train.dpoPairs(.allPairs), heldOut: heldOut.dpoPairs(.allPairs))
        let first = try task.update()
        // The policy is its reference at the first update: every margin is 0 and the loss is log 2.
        #expect(abs(first.metrics["loss/train"]! - log(2)) < 1e-5 && abs(first.metrics["rewards/margin"]!) < 1e-6)
        let before = try task.evaluate().metrics
        while task.updatesDone < task.totalUpdates { _ = try task.update() }
        let after = try task.evaluate().metrics
        #expect(after["eval/rewards_accuracy"]! > 0.8, "held-out implicit-reward accuracy: \(after)")
        #expect(after["loss/val"]! < before["loss/val"]! - 0.1, "\(before) -> \(after)")
        // The policy itself now prefers 1 to the other tokens after a prompt.
        var rng = RNG(seed: 0)
        let logits = withNoGrad { task.model.logits([12], batch: 1, time: 1, rng: &rng) }.array
        #expect((2...8).allSatisfy { logits[1] > logits[$0] }, "\(logits[1...8])")
    }

    @Test func theReferenceCacheGivesTheSameRunAndResumeEqualsAnUninterruptedOne() throws {
        let (train, heldOut) = (
            try Self.preferences(20, seed: 5).dpoPairs(.allPairs),
            try Self.preferences(4, seed: 6).dpoPairs(.bestVsWorst)
        )
        var settings = DPOSettings()
        (settings.epochs, settings.pairsPerBatch, settings.optimizer.learningRate, settings.loss.kind) = (
            2, 16, 1e-3, .conservative
        )
        settings.loss.labelSmoothing = 0.1
        func run(cache: String?, stopAt: Int?) throws -> [[Float]] {
            let task = try Self.task(settings, cache: cache, train: train, heldOut: heldOut)
            guard let stopAt else {
                while task.updatesDone < task.totalUpdates { _ = try task.update() }
                return task.model.parameters.map(\.array)
            }
            while task.updatesDone < stopAt { _ = try task.update() }
            let resumed = try Self.task(settings, policySeed: 9, cache: cache, train: train, heldOut: heldOut)
            for ((_, a), (_, b)) in zip(task.parameters, resumed.parameters) { b.assign(a) }
            try resumed.optimizer.importState(task.optimizer.exportState())
            try resumed.restore(task.exportState(), step: stopAt, path: "test")
            while resumed.updatesDone < resumed.totalUpdates { _ = try resumed.update() }
            return resumed.model.parameters.map(\.array)
        }
        let straight = try run(cache: nil, stopAt: nil)
        let folder = temporaryFolder()
        #expect(try run(cache: folder, stopAt: nil) == straight)  // computes and writes the cache
        #expect(FileManager.default.fileExists(atPath: folder + "/reference-train.h5"))
        #expect(try run(cache: folder, stopAt: nil) == straight)  // reads it
        #expect(try run(cache: nil, stopAt: 3) == straight)  // 60 pairs, 16 per update: 4 per epoch
        #expect(try run(cache: nil, stopAt: 4) == straight)
    }

    @Test func aPairWithTheSameResponseTwiceIsRefusedByIndex() throws {
        var pairs = try Self.preferences(3, seed: 2).dpoPairs(.bestVsWorst)
        pairs[1].rejected = pairs[1].chosen
        let error = expectLabError(.config) { _ = try Self.task(DPOSettings(), train: pairs, heldOut: []) }
        #expect(error?.message.hasPrefix("dpo: training pair 1 has the same chosen and rejected response") == true)
        let heldOutError = expectLabError(.config) {
            _ = try Self.task(DPOSettings(), train: [pairs[0]], heldOut: [pairs[2], pairs[1]])
        }
        #expect(heldOutError?.message.hasPrefix("dpo: held-out pair 1") == true, "\(String(describing: heldOutError))")
    }

    @Test func simPONeedsNoReferenceAndTheOthersDo() throws {
        let pairs = try Self.preferences(4, seed: 7).dpoPairs(.bestVsWorst)
        var settings = DPOSettings()
        settings.loss.kind = .simpo
        let task = try DPOTask(
            policy: Self.policy(), record: nil, reference: nil, train: pairs, heldOut: [], settings: settings, seed: 1)
        #expect(try task.update().metrics["loss/train"]!.isFinite)
        settings.loss.kind = .ipo
        let error = expectLabError(.config) {
            try DPOTask(
                policy: Self.policy(), record: nil, reference: nil, train: pairs, heldOut: [], settings: settings,
                seed: 1)
        }
        #expect(error?.message.contains("needs a reference model") == true)
        settings.pairsPerBatch = 0
        expectLabError(.config) { try settings.check() }
    }
}
