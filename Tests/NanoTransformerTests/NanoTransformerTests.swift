// The nano transformer: initial loss, overfitting, KV-cache equivalence, GQA vs MHA, gradients,
// accumulation, determinism across threads, checkpoints, generation and log-probs.
import Foundation
import HDF5Store
import NanoTransformer
import TensorCore
import TestSupport
import Testing

func tinyConfig(_ edit: (inout TransformerConfig) -> Void = { _ in }) -> TransformerConfig {
    var c = TransformerConfig()
    c.vocabSize = 61
    c.dModel = 32
    c.layers = 2
    c.heads = 4
    c.kvHeads = 2
    c.contextLength = 32
    edit(&c)
    return c
}

func randomIds(_ n: Int, vocab: Int, seed: UInt64) -> [Int] {
    var rng = RNG(seed: seed)
    return (0..<n).map { _ in rng.int(below: vocab) }
}

@Suite struct ModelTests {
    @Test func lossAtInitialisationIsNearLogV() throws {
        var rng = RNG(seed: 1)
        let model = try NanoTransformer(tinyConfig(), rng: &rng)
        let ids = randomIds(4 * 16, vocab: 61, seed: 2)
        let targets = randomIds(4 * 16, vocab: 61, seed: 3)
        let loss = withNoGrad {
            model.loss(ids, targets: targets, batch: 4, time: 16, training: false, rng: &rng).total.item
        }
        #expect(abs(loss - logf(61)) < 0.1, "loss \(loss) vs ln 61 = \(logf(61))")
    }

    @Test(arguments: [
        "base", "learned", "none", "gelu", "post", "layer", "qknorm", "zloss", "mqa", "untied",
    ])
    func everyVariantOverfitsOneBatch(_ variant: String) throws {
        let config = tinyConfig { c in
            switch variant {
            case "learned": c.positionEncoding = .learned
            case "none": c.positionEncoding = .none
            case "gelu": c.mlp = .gelu
            case "post": c.normPlacement = .post
            case "layer": c.norm = .layer
            case "qknorm": c.qkNorm = true
            case "zloss": c.zLoss = 1e-4
            case "mqa": c.kvHeads = 1
            case "untied": c.tiedEmbeddings = false
            default: break
            }
        }
        var rng = RNG(seed: 4)
        let model = try NanoTransformer(config, rng: &rng)
        let ids = randomIds(2 * 16, vocab: 61, seed: 5)
        let targets = Array(ids.dropFirst()) + [0]
        let opt = Adam.adamW(model.namedParameters(), weightDecay: 0, noDecay: model.noDecayNames)
        var first: Float = 0
        var last: Float = 0
        for step in 0..<150 {
            opt.zeroGrad()
            let (loss, ce) = model.loss(ids, targets: targets, batch: 2, time: 16, rng: &rng)
            loss.backward()
            opt.step(lr: 3e-3)
            if step == 0 { first = ce.item }
            last = ce.item
        }
        #expect(last < 0.15, "\(variant): cross-entropy \(first) -> \(last)")
    }

    @Test(arguments: [PositionEncoding.rope, .learned])
    func kvCacheDecodingEqualsFullRecomputation(_ encoding: PositionEncoding) throws {
        var rng = RNG(seed: 6)
        let model = try NanoTransformer(
            tinyConfig {
                $0.positionEncoding = encoding
                $0.qkNorm = true
            }, rng: &rng)
        let ids = randomIds(2 * 12, vocab: 61, seed: 7)
        let full = withNoGrad { model.logits(ids, batch: 2, time: 12, rng: &rng) }  // (2, 12, V)
        let cache = KVCache(layers: 2)
        let prompt = 5
        let promptIds = (0..<2).flatMap { Array(ids[($0 * 12)..<($0 * 12 + prompt)]) }
        let prefill = withNoGrad { model.logits(promptIds, batch: 2, time: prompt, cache: cache, rng: &rng) }
        #expect(prefill.isClose(to: full.slice(axis: 1, 0..<prompt), atol: 1e-5))
        for t in prompt..<12 {
            let step = withNoGrad { model.logits([ids[t], ids[12 + t]], batch: 2, time: 1, cache: cache, rng: &rng) }
            #expect(step.isClose(to: full.slice(axis: 1, t..<(t + 1)), atol: 1e-5), "position \(t)")
        }
        #expect(cache.length == 12 && cache.elementsPerTokenPerLayer == 2 * 2 * 8)
    }

    @Test func gqaEqualsMHAWithRepeatedKeyValueWeights() throws {
        var rng = RNG(seed: 8)
        let gqa = try NanoTransformer(tinyConfig { $0.kvHeads = 2 }, rng: &rng)
        var rng2 = RNG(seed: 9)
        let mha = try NanoTransformer(tinyConfig { $0.kvHeads = 4 }, rng: &rng2)
        // Copy every weight; K and V heads are repeated so query head h reads KV head h / 2.
        let source = Dictionary(uniqueKeysWithValues: gqa.namedParameters().map { ($0.name, $0.tensor) })
        for (name, tensor) in mha.namedParameters() {
            let s = source[name]!
            if name.hasSuffix("attn.wk.weight") || name.hasSuffix("attn.wv.weight") {
                let d = 8
                for h in 0..<4 { for r in 0..<d { for c in 0..<32 { tensor[h * d + r, c] = s[(h / 2) * d + r, c] } } }
            } else {
                tensor.assign(s)
            }
        }
        let ids = randomIds(2 * 10, vocab: 61, seed: 10)
        let a = withNoGrad { gqa.logits(ids, batch: 2, time: 10, rng: &rng) }
        let b = withNoGrad { mha.logits(ids, batch: 2, time: 10, rng: &rng) }
        #expect(a.isClose(to: b, atol: 1e-5))
        #expect(
            mha.config.kvCacheBytesPerToken == 2 * 2 * 4 * 8 * 4 && gqa.config.kvCacheBytesPerToken == 2 * 2 * 2 * 8 * 4
        )
    }

    @Test func wholeModelGradientCheck() throws {
        var rng = RNG(seed: 11)
        let model = try NanoTransformer(
            tinyConfig {
                $0.dModel = 8
                $0.heads = 2
                $0.kvHeads = 1
                $0.vocabSize = 11
                $0.layers = 1
                $0.initStd = 0.3
            },
            rng: &rng)
        let ids = randomIds(2 * 5, vocab: 11, seed: 12)
        let targets = randomIds(2 * 5, vocab: 11, seed: 13)
        let params = model.parameters
        let result = gradientCheck(params, eps: 1e-2) {
            var r = RNG(seed: 0)
            return model.loss(ids, targets: targets, batch: 2, time: 5, training: false, rng: &r).total
        }
        #expect(result.worstError < 2e-2, "\(result)")
    }

    @Test func gradientAccumulationOverEightMicroBatchesEqualsOneBatch() throws {
        var rng = RNG(seed: 14)
        let model = try NanoTransformer(tinyConfig(), rng: &rng)
        let ids = randomIds(8 * 8, vocab: 61, seed: 15)
        let targets = randomIds(8 * 8, vocab: 61, seed: 16)
        model.loss(ids, targets: targets, batch: 8, time: 8, rng: &rng).total.backward()
        let whole = model.parameters.map { $0.grad!.copy() }
        model.zeroGrad()
        for m in 0..<8 {
            let slice = (m * 8)..<((m + 1) * 8)
            (model.loss(Array(ids[slice]), targets: Array(targets[slice]), batch: 1, time: 8, rng: &rng).total * 0.125)
                .backward()
        }
        for (a, p) in zip(whole, model.parameters) { #expect(p.grad!.isClose(to: a, atol: 1e-6, rtol: 1e-4)) }
    }

    @Test func trainingIsBitIdenticalWithOneAndTwoThreads() async throws {
        func train(_ threads: Int) async throws -> (losses: [Float], weights: [Tensor]) {
            try await withThreadCount(threads) {
                var rng = RNG(seed: 17)
                let model = try NanoTransformer(
                    tinyConfig {
                        $0.dModel = 64
                        $0.dropout = 0.1
                    }, rng: &rng)
                let opt = Adam.adamW(model.namedParameters(), noDecay: model.noDecayNames)
                let ids = randomIds(8 * 32, vocab: 61, seed: 18)
                var losses: [Float] = []
                for _ in 0..<3 {
                    opt.zeroGrad()
                    let loss = model.loss(ids, targets: Array(ids.dropFirst()) + [0], batch: 8, time: 32, rng: &rng)
                        .total
                    loss.backward()
                    clipGradNorm(model.parameters, maxNorm: 1)
                    opt.step(lr: 1e-3)
                    losses.append(loss.item)
                }
                return (losses, model.parameters.map { $0.copy() })
            }
        }
        let (one, two) = (try await train(1), try await train(2))
        #expect(one.losses == two.losses)
        for (a, b) in zip(one.weights, two.weights) { #expect(a.isBitIdentical(to: b), "final weights differ") }
    }

    @Test func checkpointRoundTripGivesIdenticalLogits() throws {
        var rng = RNG(seed: 19)
        let model = try NanoTransformer(
            tinyConfig {
                $0.qkNorm = true
                $0.tiedEmbeddings = false
            }, rng: &rng)
        let path = temporaryFolder() + "/model.h5"
        try Checkpoint.save(
            TrainingState(
                step: 0, parameters: model.namedParameters(),
                provenance: Provenance(gitCommit: "-", date: "-", swiftVersion: "-", threads: 1, command: "-")),
            to: path)
        var rng2 = RNG(seed: 20)
        let fresh = try NanoTransformer(
            tinyConfig {
                $0.qkNorm = true
                $0.tiedEmbeddings = false
            }, rng: &rng2)
        try Checkpoint.restore(fresh.namedParameters(), from: try Checkpoint.load(from: path), path: path)
        let ids = randomIds(12, vocab: 61, seed: 21)
        let a = withNoGrad { model.logits(ids, batch: 1, time: 12, rng: &rng) }
        let b = withNoGrad { fresh.logits(ids, batch: 1, time: 12, rng: &rng) }
        #expect(a.isBitIdentical(to: b))
        #expect(model.namedParameters().map(\.name).contains("blocks.1.attn.q_norm.weight"))
        #expect(model.namedParameters().map(\.name).last == "lm_head.weight")
    }
}

@Suite struct GenerationTests {
    func trainedModel() throws -> NanoTransformer {
        // Learns to continue the cycle 1 2 3 4 5 6 1 2 3 ...
        var rng = RNG(seed: 22)
        let model = try NanoTransformer(tinyConfig { $0.vocabSize = 8 }, rng: &rng)
        let opt = Adam.adamW(model.namedParameters(), weightDecay: 0)
        let seq = (0..<(4 * 17)).map { 1 + ($0 + $0 / 17) % 6 }
        var ids: [Int] = []
        var targets: [Int] = []
        for b in 0..<4 {
            ids += seq[(b * 17)..<(b * 17 + 16)]
            targets += seq[(b * 17 + 1)..<(b * 17 + 17)]
        }
        for _ in 0..<200 {
            opt.zeroGrad()
            model.loss(ids, targets: targets, batch: 4, time: 16, rng: &rng).total.backward()
            opt.step(lr: 3e-3)
        }
        return model
    }

    @Test func greedyBatchedGenerationOfDifferentLengthsEqualsOneByOne() throws {
        let model = try trainedModel()
        var rng = RNG(seed: 0)
        let prompts = [[1, 2, 3], [4, 5], [2, 3, 4, 5, 6, 1]]
        let batched = try model.generate(prompts: prompts, maxNewTokens: 6, rng: &rng).responses
        let single = try prompts.map { try model.generate(prompts: [$0], maxNewTokens: 6, rng: &rng).responses[0] }
        #expect(batched == single)
        #expect(single[0] == [4, 5, 6, 1, 2, 3], "learned the cycle: \(single[0])")
    }

    @Test func samplingModesAndStopTokens() throws {
        let model = try trainedModel()
        var a = RNG(seed: 5)
        var b = RNG(seed: 5)
        let warm = Sampling(temperature: 1.5)
        #expect(
            try model.generate(prompts: [[1]], maxNewTokens: 8, sampling: warm, rng: &a).responses
                == model.generate(prompts: [[1]], maxNewTokens: 8, sampling: warm, rng: &b).responses)
        var r = RNG(seed: 6)
        let greedy = try model.generate(prompts: [[1, 2]], maxNewTokens: 5, rng: &r)
        #expect(greedy.finish == [.length] && greedy.logProbs == [[0, 0, 0, 0, 0]])
        for sampling in [Sampling(topK: 1), Sampling(topP: 0.01), Sampling(topK: 3, topP: 0.01)] {
            let one = try model.generate(prompts: [[1, 2]], maxNewTokens: 5, sampling: sampling, rng: &r)
            #expect(one.responses == greedy.responses, "\(sampling)")
            #expect(one.logProbs == [[0, 0, 0, 0, 0]], "one token kept: probability 1")
        }
        let stopped = try model.generate(prompts: [[1, 2]], maxNewTokens: 10, stopTokens: [5], rng: &r)
        #expect(stopped.responses == [[3, 4, 5]] && stopped.finish == [.stop])
        let cut = try model.generate(prompts: [[1, 2]], maxNewTokens: 3, stopTokens: [5], rng: &r)
        #expect(cut.responses == [[3, 4, 5]] && cut.finish == [.stop], "a stop token on the last step still stops")
        let short = try model.generate(prompts: [[1, 2]], maxNewTokens: 2, stopTokens: [5], rng: &r)
        #expect(short.responses == [[3, 4]] && short.finish == [.length])
    }

    @Test func responseLogProbsAreTheLogSoftmaxOfTheirTokens() throws {
        let model = try trainedModel()
        var rng = RNG(seed: 7)
        let batch = ResponseBatch(prompts: [[1, 2, 3], [4]], responses: [[4, 5], [5, 6, 1]])
        #expect(batch.time == 5 && batch.width == 3 && batch.mask.array == [1, 1, 0, 1, 1, 1])
        #expect(batch.ids == [1, 2, 3, 4, 5, 4, 5, 6, 1, 0] && batch.lastIndex == [4, 3])
        for temperature: Float in [1, 0.7] {
            let out = model.responseLogProbs(batch, temperature: temperature, entropy: true, rng: &rng)
            #expect(out.logProbs.shape == [2, 3] && out.logProbs.requiresGrad && out.auxiliaryLoss == nil)
            // Against an explicit log-softmax of each sequence's own full logits, divided by T.
            for (i, sequence) in [[1, 2, 3, 4, 5], [4, 5, 6, 1]].enumerated() {
                let logits = withNoGrad { model.logits(sequence, batch: 1, time: sequence.count, rng: &rng) }
                let logSoftmax = (logits * (1 / temperature)).logSoftmax()
                let start = i == 0 ? 3 : 1
                for j in 0..<(sequence.count - start) {
                    let expected = logSoftmax[0, start + j - 1, sequence[start + j]]
                    #expect(abs(out.logProbs[i, j] - expected) < 1e-5, "sequence \(i) token \(j)")
                    var entropy: Float = 0
                    for k in 0..<8 {
                        let lp = logSoftmax[0, start + j - 1, k]
                        entropy -= expf(lp) * lp
                    }
                    #expect(abs(out.entropy![i, j] - entropy) < 1e-4)
                }
            }
            #expect(out.logProbs[0, 2] == 0 && out.entropy![0, 2] == 0, "padding stays 0")
        }
    }
}
