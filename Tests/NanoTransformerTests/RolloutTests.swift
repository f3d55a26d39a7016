import Foundation
// The post-training seam of the model: trunk and heads, the KV cache with one slot per sequence,
// rollouts (per-sequence RNG streams, behaviour log-probs, finish reasons), the sampler's
// selection without a full sort, and new tokens for a trained model.
import LabSupport
import NanoTransformer
import TensorCore
import TestSupport
import Testing

/// A model with larger-than-init weights, so that its distributions are far from uniform.
func sharpModel(_ edit: (inout TransformerConfig) -> Void = { _ in }, seed: UInt64 = 21) throws -> NanoTransformer {
    var rng = RNG(seed: seed)
    let model = try NanoTransformer(tinyConfig(edit), rng: &rng)
    for (name, p) in model.namedParameters() where !name.contains("norm") { Init.normal(p, std: 0.15, rng: &rng) }
    return model
}

@Suite struct TrunkAndHeadTests {
    @Test func logitsAreTheHeadOnTheHiddenStates() throws {
        for tied in [true, false] {
            let model = try sharpModel { $0.tiedEmbeddings = tied }
            var rng = RNG(seed: 1)
            let ids = randomIds(2 * 7, vocab: 61, seed: 2)
            let hidden = withNoGrad { model.hiddenStates(ids, batch: 2, time: 7, rng: &rng) }
            #expect(hidden.shape == [2, 7, 32])
            let logits = withNoGrad { model.logits(ids, batch: 2, time: 7, rng: &rng) }
            #expect(withNoGrad { model.languageModelHead(hidden) }.array == logits.array)
        }
    }

    @Test func scalarHeadReadsTheLastRealTokenAndValueHeadEveryToken() throws {
        let model = try sharpModel()
        var rng = RNG(seed: 3)
        let score = ScalarHead(dModel: 32, rng: &rng)
        let value = ValueHead(dModel: 32, rng: &rng)
        #expect(score.namedParameters().map(\.name) == ["weight"])
        #expect(value.namedParameters().map(\.name) == ["weight", "bias"])
        let batch = ResponseBatch(prompts: [[1, 2], [3]], responses: [[4, 5, 6], [7]])
        let hidden = model.hiddenStates(batch.ids, batch: batch.batch, time: batch.time, rng: &rng)
        let scores = score(hidden, lastIndex: batch.lastIndex)  // (B)
        #expect(scores.shape == [2] && scores.requiresGrad)
        let w = score.namedParameters()[0].tensor
        for (b, last) in batch.lastIndex.enumerated() {
            var expected: Float = 0
            for c in 0..<32 { expected += w[0, c] * hidden[b, last, c] }
            #expect(abs(scores.data[b] - expected) < 1e-5)
        }
        // Padding after a sequence changes nothing before it: the short sequence alone scores the same.
        let alone = model.hiddenStates([3, 7], batch: 1, time: 2, rng: &rng)
        #expect(abs(score(alone, lastIndex: [1]).item - scores.data[1]) < 1e-5)
        #expect(value(hidden).shape == [2, 5])
        #expect(value(batch.predictingStates(hidden)).shape == [6])
    }

    @Test func aTrunkWithoutItsHeadHasNoLMHeadParameters() throws {
        var rng = RNG(seed: 4)
        let untied = try NanoTransformer(tinyConfig { $0.tiedEmbeddings = false }, languageModelHead: false, rng: &rng)
        #expect(!untied.namedParameters().contains { $0.name.hasPrefix("lm_head") } && !untied.hasLanguageModelHead)
        let tied = try NanoTransformer(tinyConfig(), languageModelHead: false, rng: &rng)
        #expect(tied.hasLanguageModelHead, "tied: the embedding is the head, nothing to leave out")
    }

    @Test func trainingForwardsCarryTheDropInLossesOnly() throws {
        let model = try sharpModel()
        var rng = RNG(seed: 5)
        let batch = ResponseBatch(prompts: [[1]], responses: [[2, 3]])
        #expect(model.responseLogProbs(batch, training: true, rng: &rng).auxiliaryLoss == nil, "dense: none")
    }
}

@Suite struct KVCacheTests {
    /// Sequences of different lengths share one cache: a right-padded prefill counts each row's
    /// real tokens, then rows decode at their own positions; every step equals a full recompute.
    @Test func raggedSlotsDecodeLikeFullRecomputation() throws {
        for encoding in [PositionEncoding.rope, .learned] {
            let model = try sharpModel { $0.positionEncoding = encoding }
            var rng = RNG(seed: 6)
            let sequences = [randomIds(9, vocab: 61, seed: 7), randomIds(6, vocab: 61, seed: 8)]
            let prompts = [4, 2]
            let cache = KVCache(layers: 2, growth: 3)  // small growth: the slabs grow while decoding
            let padded = sequences[0].prefix(4) + sequences[1].prefix(2) + [0, 0]
            let prefill = withNoGrad {
                model.logits(Array(padded), batch: 2, time: 4, cache: cache, counted: prompts, rng: &rng)
            }
            #expect(cache.lengths == [4, 2])
            func full(_ s: Int) -> Tensor {
                withNoGrad { model.logits(sequences[s], batch: 1, time: sequences[s].count, rng: &rng) }
            }
            let references = [full(0), full(1)]
            for s in 0..<2 {
                let last = prompts[s] - 1
                #expect(
                    prefill.slice(axis: 0, s..<(s + 1)).slice(axis: 1, last..<(last + 1))
                        .isClose(to: references[s].slice(axis: 1, last..<(last + 1)), atol: 1e-5))
            }
            // Decode: both rows while both run, then only the longer one (slot 0).
            var position = prompts
            while position[0] < sequences[0].count {
                let rows = (0..<2).filter { position[$0] < sequences[$0].count }
                let ids = rows.map { sequences[$0][position[$0]] }
                let step = withNoGrad {
                    model.logits(ids, batch: rows.count, time: 1, cache: cache, slots: rows, rng: &rng)
                }
                for (r, s) in rows.enumerated() {
                    let p = position[s]
                    #expect(
                        step.slice(axis: 0, r..<(r + 1)).isClose(
                            to: references[s].slice(axis: 1, p..<(p + 1)), atol: 1e-5),
                        "\(encoding) sequence \(s) position \(p)")
                    position[s] += 1
                }
            }
            #expect(cache.lengths == [9, 6] && cache.capacity >= 9)
        }
    }

    @Test func aCopiedSlotContinuesLikeItsSource() throws {
        let model = try sharpModel()
        var rng = RNG(seed: 9)
        let cache = KVCache(layers: 2)
        _ = withNoGrad { model.logits([1, 2, 3], batch: 1, time: 3, cache: cache, rng: &rng) }
        cache.copy(slot: 0, to: 2)
        #expect(cache.lengths == [3, 0, 3])
        let a = withNoGrad { model.logits([4, 4], batch: 2, time: 1, cache: cache, slots: [0, 2], rng: &rng) }
        #expect(a.slice(axis: 0, 0..<1).array == a.slice(axis: 0, 1..<2).array)
    }
}

@Suite struct RolloutTests {
    let prompts = [[1, 2, 3], [4], [5, 6]]

    /// Every sequence of a batched rollout equals the same sequence generated alone from the
    /// stream the rollout recorded for it: the same tokens, the same finish, log-probs within
    /// 1e-5 (a row's logits differ only in low bits between batch shapes: OpenBLAS picks its
    /// kernels by shape).
    @Test(arguments: [Sampling(temperature: 1), Sampling(temperature: 0.7), Sampling(temperature: 1.3, topK: 9)])
    func batchedSequencesEqualEachAlone(sampling: Sampling) throws {
        let model = try sharpModel()
        var rng = RNG(seed: 10)
        let batched = try model.generate(
            prompts: prompts, samplesPerPrompt: 3, maxNewTokens: 12, sampling: sampling, stopTokens: [7, 11], rng: &rng)
        #expect(batched.count == 9 && batched.prompts[4] == [4])
        var worst: Float = 0
        for s in 0..<batched.count {
            let alone = try model.generate(
                prompts: [batched.prompts[s]], maxNewTokens: 12, sampling: sampling, stopTokens: [7, 11],
                streams: [batched.streams[s]])
            #expect(alone.responses[0] == batched.responses[s], "sequence \(s)")
            #expect(alone.finish[0] == batched.finish[s])
            for (a, b) in zip(alone.logProbs[0], batched.logProbs[s]) { worst = max(worst, abs(a - b)) }
        }
        #expect(worst <= 1e-5, "behaviour log-probs alone vs batched: \(worst)")
        // The order of the batch does not matter either: reversed prompts, streams reversed alike.
        let streams = batched.streams
        let reversed = try model.generate(
            prompts: prompts.reversed(), samplesPerPrompt: 3, maxNewTokens: 12, sampling: sampling,
            stopTokens: [7, 11],
            streams: (0..<3).reversed().flatMap { p in (0..<3).map { streams[p * 3 + $0] } })
        for p in 0..<3 {
            for k in 0..<3 { #expect(reversed.responses[(2 - p) * 3 + k] == batched.responses[p * 3 + k]) }
        }
        for s in 0..<9 {
            let stopped = [7, 11].contains(batched.responses[s].last!)
            #expect((batched.finish[s] == .stop) == stopped)
            #expect(stopped || batched.responses[s].count == 12)
        }
    }

    /// Without top-k/top-p, the rollout's behaviour log-probs are what the training forward
    /// recomputes at the same temperature: the PPO ratio starts at 1.
    @Test(arguments: [Float(1), 0.6, 1.4])
    func behaviourLogProbsEqualRecomputedOnes(temperature: Float) throws {
        let model = try sharpModel()
        var rng = RNG(seed: 11)
        let rollout = try model.generate(
            prompts: prompts, samplesPerPrompt: 2, maxNewTokens: 10, sampling: Sampling(temperature: temperature),
            stopTokens: [3], rng: &rng)
        let recomputed = model.responseLogProbs(rollout.batch(), temperature: temperature, rng: &rng)
        let behaviour = rollout.behaviourLogProbs()
        #expect(recomputed.logProbs.shape == behaviour.shape)
        let worst = (recomputed.logProbs - behaviour).abs().array.max()!
        #expect(worst <= 1e-5, "max |log ratio| \(worst)")
        // The wrong temperature is far off: the test can tell.
        let untempered = model.responseLogProbs(rollout.batch(), temperature: 1, rng: &rng)
        if temperature != 1 { #expect((untempered.logProbs - behaviour).abs().array.max()! > 1e-2) }
    }

    @Test func truncatedSamplingReportsTheRenormalisedProbability() throws {
        let model = try sharpModel()
        var rng = RNG(seed: 12)
        let rollout = try model.generate(
            prompts: prompts, maxNewTokens: 6, sampling: Sampling(temperature: 1, topK: 5), rng: &rng)
        let full = model.responseLogProbs(rollout.batch(), rng: &rng).logProbs
        let behaviour = rollout.behaviourLogProbs()
        let mask = rollout.batch().mask
        // Top-k renormalises over 5 tokens: each kept token is more likely than under the full softmax.
        for i in 0..<behaviour.count where mask.data[i] == 1 { #expect(behaviour.data[i] >= full.data[i] - 1e-6) }
    }

    @Test func badRequestsAreNamedErrors() throws {
        let model = try sharpModel { $0.positionEncoding = .learned }
        var rng = RNG(seed: 13)
        let cases: [(String, () throws -> Rollout)] = [
            ("prompt 1 is empty", { try model.generate(prompts: [[1], []], maxNewTokens: 2, rng: &rng) }),
            ("outside the vocabulary", { try model.generate(prompts: [[61]], maxNewTokens: 2, rng: &rng) }),
            (
                "temperature",
                { try model.generate(prompts: [[1]], maxNewTokens: 2, sampling: Sampling(temperature: -1), rng: &rng) }
            ),
            ("topP", { try model.generate(prompts: [[1]], maxNewTokens: 2, sampling: Sampling(topP: 0), rng: &rng) }),
            ("learned table", { try model.generate(prompts: [[1, 2]], maxNewTokens: 32, rng: &rng) }),
            ("RNG streams", { try model.generate(prompts: [[1]], maxNewTokens: 2, streams: []) }),
        ]
        for (expected, body) in cases {
            #expect(throws: LabError.self, "\(expected)") { _ = try body() }
            do { _ = try body() } catch { #expect("\(error)".contains(expected), "\(error)") }
        }
        // The last allowed length works: 2 prompt + 31 new tokens feed positions 0 ..< 32.
        #expect(try model.generate(prompts: [[1, 2]], maxNewTokens: 31, rng: &rng).responses[0].count == 31)
    }
}

@Suite struct SamplerTests {
    /// The bounded heap picks the same tokens, in the same order, as a full sort (ties to the
    /// lower index), so top-k draws are those of the sort-based sampler.
    @Test func topIndicesEqualAFullSortsPrefix() {
        var rng = RNG(seed: 14)
        for trial in 0..<50 {
            // Few distinct values: many ties.
            let logits = (0..<200).map { _ in Float(rng.int(below: 12)) - 6 }
            let k = 1 + trial % 40
            let sorted = Array(0..<200).sorted { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
            let picked = logits.withUnsafeBufferPointer { Sampling.topIndices($0, k: k) }
            #expect(picked == Array(sorted.prefix(k)), "trial \(trial)")
        }
    }

    @Test func nucleusKeepsTheSmallestSetReachingP() {
        let logits: [Float] = [0, 2, 1, 2, -1].map { $0 }  // probabilities ∝ e^x
        let z = logits.map { expf($0) }.reduce(0, +)
        let p = logits.map { expf($0) / z }
        let order = logits.withUnsafeBufferPointer { Sampling.nucleusOrder($0, 1, Float(p[1] + p[3]) - 1e-4) }
        #expect(order == [1, 3], "two tokens of 2 reach p; ties to the lower index first")
        let more = logits.withUnsafeBufferPointer { Sampling.nucleusOrder($0, 1, Float(p[1] + p[3]) + 1e-4) }
        #expect(more == [1, 3, 2])
    }

    /// Without truncation the sampler draws from softmax(logits / T) in index order: frequencies
    /// over 40,000 draws within 4 standard errors of the probabilities.
    @Test func untruncatedDrawsFollowTheTemperedSoftmax() {
        let logits: [Float] = [1, 0, 2, -1, 0.5, 1.5]
        let temperature: Float = 0.8
        let z = logits.map { expf($0 / temperature) }.reduce(0, +)
        var counts = [Int](repeating: 0, count: logits.count)
        var rng = RNG(seed: 15)
        var scratch: [Float] = []
        let n = 40_000
        for _ in 0..<n {
            let (token, logProb) = logits.withUnsafeBufferPointer {
                Sampling(temperature: temperature).sample($0, rng: &rng, scratch: &scratch)
            }
            counts[token] += 1
            #expect(abs(logProb - (logits[token] / temperature - logf(z))) < 1e-5)
        }
        for (j, count) in counts.enumerated() {
            let p = Double(expf(logits[j] / temperature) / z)
            let standardError = (p * (1 - p) / Double(n)).squareRoot()
            #expect(abs(Double(count) / Double(n) - p) < 4 * standardError, "token \(j): \(count) of \(n), p \(p)")
        }
    }
}

@Suite struct VocabularyTests {
    @Test func newTokensStartAtTheMeanRowAndOldOnesKeepTheirLogits() throws {
        for tied in [true, false] {
            let model = try sharpModel { $0.tiedEmbeddings = tied }
            let grown = try model.resizedVocabulary(to: 64)
            #expect(grown.config.vocabSize == 64)
            var rng = RNG(seed: 16)
            let ids = randomIds(6, vocab: 61, seed: 17)
            let before = withNoGrad { model.logits(ids, batch: 1, time: 6, rng: &rng) }
            let after = withNoGrad { grown.logits(ids, batch: 1, time: 6, rng: &rng) }
            // Same weights; only the head's product is wider (64 columns), which moves low bits.
            #expect(after.slice(axis: 2, 0..<61).isClose(to: before, atol: 1e-5))
            let table = grown.parameter(named: tied ? "tok_embeddings.weight" : "lm_head.weight")!
            let old = model.parameter(named: tied ? "tok_embeddings.weight" : "lm_head.weight")!
            for c in 0..<32 {
                let mean = (0..<61).reduce(0.0) { $0 + Double(old[$1, c]) } / 61
                for row in 61..<64 { #expect(abs(Double(table[row, c]) - mean) < 1e-6) }
            }
            expectLabError(.model) { _ = try model.resizedVocabulary(to: 60) }
        }
    }
}

/// What an environment puts into a sequence while it generates (a tool's result): the inserted
/// tokens sit in the response where they were put, are marked and carry no log-prob, and the model
/// was fed them: every sampled token after them has the log-prob a full recomputation of the whole
/// text gives. Sampled tokens alone count against maxNewTokens; an interjection that puts nothing
/// in changes nothing.
@Suite struct InterjectionTests {
    static let prompts = [[5, 9, 2], [7], [11, 4]]

    /// Sequence 0 gets [40, 41, 42] after its first sampled token; sequence 3 gets [50] after its
    /// second and [51, 52] after its fourth.
    static func interjection(_ s: Int, _ response: [Int]) -> [Int] {
        switch (s, response.count) {
        case (0, 1): [40, 41, 42]
        case (3, 2): [50]
        case (3, 5): [51, 52]  // after its fourth sampled token: response[0], [1], [3], [4]
        default: []
        }
    }

    @Test func insertedTokensAreMarkedFedAndCarryNoLogProb() throws {
        let model = try sharpModel()
        var rng = RNG(seed: 14)
        let streams = (0..<6).map { _ in rng.split() }
        let rollout = try model.generate(
            prompts: Self.prompts, samplesPerPrompt: 2, maxNewTokens: 8, sampling: Sampling(temperature: 1),
            streams: streams, interjection: Self.interjection)
        #expect(Array(rollout.responses[0][1...3]) == [40, 41, 42])
        #expect(rollout.inserted[0].prefix(5) == [false, true, true, true, false])
        #expect(rollout.responses[3][2] == 50 && Array(rollout.responses[3][5...6]) == [51, 52])
        for s in 0..<6 {
            let sampled = rollout.inserted[s].count { !$0 }
            #expect(sampled == 8, "sequence \(s): no stop token, 8 sampled tokens whatever was put in")
            for (j, put) in rollout.inserted[s].enumerated() where put { #expect(rollout.logProbs[s][j] == 0) }
        }
        #expect(rollout.responses[1].count == 8 && !rollout.inserted[1].contains(true))
        // The model saw the inserted tokens: the sampler's log-probs are a full forward's.
        let recomputed = model.responseLogProbs(rollout.batch(), rng: &rng).logProbs
        let mask = rollout.sampledMask()
        let worst = ((recomputed - rollout.behaviourLogProbs()) * mask).abs().array.max()!
        #expect(worst <= 1e-5, "max |log ratio| over sampled tokens \(worst)")
        #expect(mask.sum().item == 48 && rollout.batch().mask.sum().item == 48 + 6)
        // The same streams without the insertions: sequences the interjection left alone are equal.
        let plain = try model.generate(
            prompts: Self.prompts, samplesPerPrompt: 2, maxNewTokens: 8, sampling: Sampling(temperature: 1),
            streams: streams)
        for s in [1, 2, 4, 5] { #expect(plain.responses[s] == rollout.responses[s], "sequence \(s)") }
        let nothing = try model.generate(
            prompts: Self.prompts, samplesPerPrompt: 2, maxNewTokens: 8, sampling: Sampling(temperature: 1),
            streams: streams, interjection: { _, _ in [] })
        #expect(nothing.responses == plain.responses && nothing.logProbs == plain.logProbs)
    }

    @Test func aTokenOutsideTheVocabularyIsANamedError() throws {
        let model = try sharpModel()
        var rng = RNG(seed: 15)
        let error = expectLabError(.model) {
            try model.generate(
                prompts: [[1]], maxNewTokens: 4, streams: [rng.split()], interjection: { _, _ in [61] })
        }
        #expect(error?.message.contains("token 61, outside the vocabulary") == true, "\(String(describing: error))")
        // Learned positions end at the context length: an insertion past them is named, not a trap.
        let learned = try sharpModel { $0.positionEncoding = .learned }
        let past = expectLabError(.model) {
            try learned.generate(
                prompts: [[1]], maxNewTokens: 4, streams: [rng.split()],
                interjection: { _, r in r.count == 1 ? [Int](repeating: 2, count: 40) : [] })
        }
        #expect(past?.message.contains("would pass the learned positions") == true, "\(String(describing: past))")
    }
}
