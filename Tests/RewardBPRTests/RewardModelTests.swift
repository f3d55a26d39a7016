import Foundation
import HDF5Store
// The reward model reads each sequence's last real token whatever the padding, centring keeps every
// comparison, the preference file round-trips and names what is wrong with a bad one, and a model
// trained on a synthetic task with a linear true reward reaches the Bayes ceiling of its labels.
import LabSupport
import NanoTransformer
import RewardBPR
import TensorCore
import TestSupport
import Testing

@Suite struct RewardModelTests {
    static func model(vocab: Int = 20, seed: UInt64 = 1) throws -> RewardModel {
        var c = TransformerConfig()
        (c.vocabSize, c.dModel, c.layers, c.heads, c.kvHeads, c.contextLength) = (vocab, 32, 2, 4, 2, 32)
        var rng = RNG(seed: seed)
        return RewardModel(trunk: try NanoTransformer(c, rng: &rng), rng: &rng)
    }

    @Test func theHeadReadsEachSequencesLastTokenWhateverThePadding() throws {
        let rm = try Self.model()
        let prompts = [[1, 2], [3], [4, 5, 6, 7]]
        let responses = [[8, 9, 10, 19], [11, 19], [12, 13, 14, 15, 16, 19]]
        let together = rm.score(prompts: prompts, responses: responses, batchSize: 3)
        for i in 0..<3 {
            let alone = rm.score(prompts: [prompts[i]], responses: [responses[i]])[0]
            #expect(abs(alone - together[i]) < 1e-5, "sequence \(i): \(alone) alone, \(together[i]) in the batch")
        }
        // The score changes with the last token and not with padding after it.
        var changed = responses
        changed[1][1] = 18
        #expect(rm.score(prompts: prompts, responses: changed)[1] != together[1])
        #expect(rm.score(prompts: prompts, responses: changed)[0] == together[0])
    }

    @Test func centringSetsTheMeanToZeroAndKeepsComparisons() throws {
        let rm = try Self.model()
        let prompts = [[1, 2], [3], [4, 5]]
        let responses = [[8, 19], [11, 12, 19], [6, 19]]
        let before = rm.score(prompts: prompts, responses: responses)
        rm.centre(onPrompts: prompts, responses: responses)
        let after = rm.score(prompts: prompts, responses: responses)
        #expect(abs(after.reduce(0, +) / 3) < 1e-6)
        #expect(abs((after[0] - after[1]) - (before[0] - before[1])) < 1e-6)
    }

    static func data() throws -> PreferenceData {
        try PreferenceData(
            prompts: [[1, 2], [3]], responses: [[[4, 9], [5, 6, 9], [9]], [[7, 9], [8, 9], [6, 6, 6, 9]]],
            ranks: [[1, 0, 2], [2, 0, 1]], trueRewards: [[0.1, 0.5, -0.2], [0, -0.4, 0.3]], temperature: 0.2,
            endToken: 9)
    }

    @Test func preferenceFilesRoundTripAndBadOnesAreNamed() throws {
        let data = try Self.data()
        let path = temporaryFolder() + "/prefs.h5"
        try data.save(to: path)
        #expect(try PreferenceData.load(from: path) == data)
        #expect(data.pairs().count == 6 && data.pairs()[0] == PreferencePair(winner: 1, loser: 0, prompt: 0))
        #expect(data.pairs()[3] == PreferencePair(winner: 5, loser: 3, prompt: 1))
        // A response without the end token, a ranking that is not an order: named at construction.
        let noEnd = expectLabError(.hdf5) {
            try PreferenceData(
                prompts: [[1]], responses: [[[4, 9], [5]]], ranks: [[0, 1]], trueRewards: [[0, 0]], temperature: 0,
                endToken: 9)
        }
        #expect(noEnd?.message.contains("response 1 of prompt 0 does not end with the end token 9") == true)
        expectLabError(.hdf5) {
            try PreferenceData(
                prompts: [[1]], responses: [[[4, 9], [5, 9]]], ranks: [[0, 0]], trueRewards: [[0, 0]], temperature: 0,
                endToken: 9)
        }
        // Damaged files: a missing dataset, a wrong shape, each named.
        for (damage, expected) in [
            ({ (f: HDF5File) in try f.delete("true_rewards") }, "no dataset /true_rewards"),
            (
                { (f: HDF5File) in try f.write([Int64](repeating: 0, count: 4), shape: [2, 2], to: "ranks") },
                "/ranks is [2, 2]"
            ),
            (
                { (f: HDF5File) in try f.write([Int64]([0, 3, 2]), shape: [3], to: "prompts/offsets") },
                "/prompts/offsets"
            ),
        ] as [((HDF5File) throws -> Void, String)] {
            try data.save(to: path)
            let file = try HDF5File(path: path, mode: .readWrite)
            try damage(file)
            file.close()
            let error = expectLabError(.hdf5) { try PreferenceData.load(from: path) }
            #expect(error?.message.contains(expected) == true, "\(String(describing: error))")
            #expect(error?.message.contains(path) == true)
        }
        try "not hdf5".write(toFile: path, atomically: true, encoding: .utf8)
        expectLabError(.hdf5) { try PreferenceData.load(from: path) }
    }

    /// Responses are 6 tokens from {1...8} after a one-token prompt; the true reward is linear in
    /// token counts (+0.1 per 1, −0.1 per 2); the annotator ranks K = 4 with τ = 0.1.
    static func synthetic(_ n: Int, rng: inout RNG) throws -> PreferenceData {
        let annotator = try SimulatedAnnotator(temperature: 0.1)
        var (prompts, responses, ranks, rewards): ([[Int]], [[[Int]]], [[Int]], [[Double]]) = ([], [], [], [])
        for _ in 0..<n {
            prompts.append([10 + rng.int(below: 5)])
            let r = (0..<4).map { _ in (0..<6).map { _ in 1 + rng.int(below: 8) } + [9] }
            let truth = r.map { Double($0.count { $0 == 1 }) * 0.1 - Double($0.count { $0 == 2 }) * 0.1 }
            responses.append(r)
            rewards.append(truth)
            ranks.append(annotator.rank(truth, rng: &rng))
        }
        return try PreferenceData(
            prompts: prompts, responses: responses, ranks: ranks, trueRewards: rewards, temperature: 0.1, endToken: 9)
    }

    /// A fresh reward model trained with the K-wise loss agrees with held-out noisy labels about as
    /// often as the Bayes ceiling allows, and orders most pairs as the truth does.
    @Test func aSyntheticLinearRewardIsLearnedToTheBayesCeiling() throws {
        var rng = RNG(seed: 8)
        let (train, heldOut) = (try Self.synthetic(300, rng: &rng), try Self.synthetic(200, rng: &rng))
        var settings = RewardSettings()
        (settings.epochs, settings.promptsPerBatch, settings.optimizer.learningRate, settings.loss.kind) = (
            8, 16, 3e-3, .kWise
        )
        let task = try RewardTrainingTask(
            model: Self.model(), train: train, heldOut: heldOut, annotator: SimulatedAnnotator(temperature: 0.1),
            settings: settings, seed: 1)
        for _ in 0..<task.totalUpdates { _ = try task.update() }
        let m = try task.evaluate().metrics
        #expect(m["eval/label_accuracy"]! > m["eval/bayes_ceiling"]! - 0.05, "\(m)")
        #expect(m["eval/truth_accuracy"]! > 0.8 && m["eval/spearman"]! > 0.8, "\(m)")
    }

    @Test func resumeEqualsAnUninterruptedRun() throws {
        var rng = RNG(seed: 2)
        let (train, heldOut) = (try Self.synthetic(20, rng: &rng), try Self.synthetic(5, rng: &rng))
        var settings = RewardSettings()
        (settings.epochs, settings.promptsPerBatch, settings.loss.kind, settings.loss.centering) = (2, 6, .margin, 0.01)
        func run(stopAt: Int?) throws -> [[Float]] {
            let annotator = try SimulatedAnnotator(temperature: 0.1)
            let task = try RewardTrainingTask(
                model: Self.model(), train: train, heldOut: heldOut, annotator: annotator, settings: settings, seed: 3)
            guard let stopAt else {
                while task.updatesDone < task.totalUpdates { _ = try task.update() }
                return task.model.parameters.map(\.array)
            }
            while task.updatesDone < stopAt { _ = try task.update() }
            let resumed = try RewardTrainingTask(
                model: Self.model(seed: 9), train: train, heldOut: heldOut, annotator: annotator, settings: settings,
                seed: 3)
            for ((_, a), (_, b)) in zip(task.parameters, resumed.parameters) { b.assign(a) }
            try resumed.optimizer.importState(task.optimizer.exportState())
            try resumed.restore(task.exportState(), step: stopAt, path: "test")
            while resumed.updatesDone < resumed.totalUpdates { _ = try resumed.update() }
            return resumed.model.parameters.map(\.array)
        }
        let straight = try run(stopAt: nil)
        #expect(try run(stopAt: 3) == straight)  // inside the first epoch
        #expect(try run(stopAt: 4) == straight)  // at the epoch's end
    }

    @Test func evaluationNumbersOnHandValues() throws {
        // Spearman: 1 − 6 Σd² / (n(n² − 1)) = 0.8 without ties; with ties, Pearson of average ranks.
        #expect(abs(RewardEvaluationProbe.spearman([1, 2, 3, 4], [1, 3, 2, 4]) - 0.8) < 1e-12)
        #expect(abs(RewardEvaluationProbe.spearman([1, 1, 2], [1, 2, 3]) - 1.5 / 3.0.squareRoot()) < 1e-12)
        let data = try Self.data()  // prompt 0: 1 ≻ 0 ≻ 2; prompt 1: 2 ≻ 0 ≻ 1
        let e = RewardEvaluation(
            scores: [0.2, 0.9, -1, 0.5, 0.1, 0.4], data: data, annotator: try SimulatedAnnotator(temperature: 0.2))
        // Pairs (w, l): (1,0) (1,2) (0,2) (5,3) (5,4) (3,4): the scores get 5 ≻ 3 wrong.
        #expect(abs(e.labelAccuracy - 5.0 / 6) < 1e-12)
        #expect(e.calibration.map(\.count).reduce(0, +) == 6)
        #expect(abs(e.scoreStd - 0.58713) < 1e-4)  // numpy: np.float32(scores).astype(float).std()
    }
}

/// Spearman through the public evaluation: scores x against true rewards y of one prompt's K responses.
enum RewardEvaluationProbe {
    static func spearman(_ x: [Double], _ y: [Double]) -> Double {
        let data = try! PreferenceData(
            prompts: [[1]], responses: [x.map { _ in [9] }],
            ranks: [Array(0..<x.count)], trueRewards: [y], temperature: 0, endToken: 9)
        return RewardEvaluation(
            scores: x.map(Float.init), data: data, annotator: try! SimulatedAnnotator(temperature: 0)
        )
        .spearman
    }
}
