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

    /// Responses are 6 tokens from {1...8}; the true reward is linear in token counts (+0.1 per 1,
    /// −0.1 per 2). The annotator ranks K = 4 with τ = 0.1; a fresh reward model trained with the
    /// pairwise loss agrees with held-out noisy labels about as often as the Bayes ceiling allows.
    @Test func aSyntheticLinearRewardIsLearnedToTheBayesCeiling() throws {
        let annotator = try SimulatedAnnotator(temperature: 0.1)
        var rng = RNG(seed: 8)
        func sample(_ n: Int) throws -> PreferenceData {
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
                prompts: prompts, responses: responses, ranks: ranks, trueRewards: rewards, temperature: 0.1,
                endToken: 9)
        }
        let (train, heldOut) = (try sample(300), try sample(200))
        let rm = try Self.model()
        let adam = Adam.adamW(rm.namedParameters(), beta2: 0.95, eps: 1e-8, weightDecay: 0)
        let loss = PreferenceLoss(kind: .kWise)
        for step in 0..<150 {
            let batch = (0..<16).map { (step * 16 + $0) % train.count }
            let prompts = batch.flatMap { Array(repeating: train.prompts[$0], count: 4) }
            let responses = batch.flatMap { train.responses[$0] }
            let pairs = batch.enumerated().flatMap { j, i in
                PreferencePair.allPairs(ranking: train.ranks[i].map { j * 4 + $0 }, prompt: j)
            }
            var r = RNG(seed: 0)
            adam.zeroGrad()
            let (l, _, _) = loss(
                scores: rm.scores(ResponseBatch(prompts: prompts, responses: responses), training: true, rng: &r),
                pairs: pairs)
            l.backward()
            adam.step(lr: 3e-3)
        }
        let scores = rm.score(
            prompts: heldOut.prompts.flatMap { Array(repeating: $0, count: 4) },
            responses: heldOut.responses.flatMap { $0 })
        let pairs = heldOut.pairs()
        let agreement = Double(pairs.count { scores[$0.winner] > scores[$0.loser] }) / Double(pairs.count)
        let flat = heldOut.trueRewards.flatMap { $0 }
        let ceiling = annotator.bayesCeiling(differences: pairs.map { flat[$0.winner] - flat[$0.loser] })
        let truthAgreement =
            Double(pairs.count { (scores[$0.winner] > scores[$0.loser]) == (flat[$0.winner] > flat[$0.loser]) })
            / Double(pairs.count)
        #expect(agreement > ceiling - 0.05, "held-out label accuracy \(agreement), Bayes ceiling \(ceiling)")
        #expect(truthAgreement > 0.8, "agreement with the true order \(truthAgreement)")
    }
}
