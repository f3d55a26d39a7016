import Foundation
import HDF5Store
// Multi-head latent attention: the absorbed path equals the naive one, the cache holds d_c + d_R
// numbers per token and layer, cached decoding equals recomputation, RoPE's relative property
// survives the decoupled key, gradients match finite differences; the cache-size formula.
import LabSupport
import MLA
import NanoTransformer
import TensorCore
import TestSupport
import Testing

func tinyModel(heads: Int = 4) -> TransformerConfig {
    var c = TransformerConfig()
    c.vocabSize = 53
    c.dModel = 32
    c.layers = 2
    c.heads = heads
    c.kvHeads = heads
    c.contextLength = 32
    return c
}

func mlaShape(latent: Int = 12, queryLatent: Int = 0, rope: Int = 6, inference: MLAInference = .naive) -> MLAConfig {
    var m = MLAConfig()
    m.latentDim = latent
    m.queryLatentDim = queryLatent
    m.ropeDim = rope
    m.inference = inference
    return m
}

func ids(_ n: Int, seed: UInt64) -> [Int] {
    var rng = RNG(seed: seed)
    return (0..<n).map { _ in rng.int(below: 53) }
}

/// Logits for `tokens` fed as a prefill of `prompt` tokens and then one token at a time.
func cachedLogits(_ model: NanoTransformer, _ tokens: [Int], prompt: Int) -> ([Tensor], KVCache) {
    var rng = RNG(seed: 0)
    let cache = KVCache(layers: model.config.layers)
    var out = [
        withNoGrad { model.logits(Array(tokens.prefix(prompt)), batch: 1, time: prompt, cache: cache, rng: &rng) }
    ]
    for token in tokens.dropFirst(prompt) {
        out.append(withNoGrad { model.logits([token], batch: 1, time: 1, cache: cache, rng: &rng) })
    }
    return (out, cache)
}

@Suite struct MLATests {
    @Test(arguments: [0, 20])
    func absorbedPathEqualsNaivePath(queryLatent: Int) throws {
        var rng = RNG(seed: 1)
        let naive = try NanoTransformer(
            tinyModel(), attention: MultiHeadLatentAttention.factory(mlaShape(queryLatent: queryLatent)), rng: &rng)
        let absorbed = try naive.copy(
            with: naive.config,
            attention: MultiHeadLatentAttention.factory(mlaShape(queryLatent: queryLatent, inference: .absorbed)))
        let tokens = ids(14, seed: 2)
        let (a, _) = cachedLogits(naive, tokens, prompt: 6)
        let (b, _) = cachedLogits(absorbed, tokens, prompt: 6)
        for (x, y) in zip(a, b) { #expect(x.isClose(to: y, atol: 2e-5), "max diff \(x.maxAbsDifference(y))") }
    }

    @Test func cacheHoldsTheLatentAndTheRopeKeyOnly() throws {
        var rng = RNG(seed: 3)
        let shape = mlaShape(latent: 12, rope: 6, inference: .absorbed)
        let model = try NanoTransformer(tinyModel(), attention: MultiHeadLatentAttention.factory(shape), rng: &rng)
        let (_, cache) = cachedLogits(model, ids(9, seed: 4), prompt: 5)
        #expect(cache.length == 9)
        #expect(cache.elementsPerTokenPerLayer == 12 + 6)
        // One slab per layer, [c_KV ; k_R] side by side: (1 slot, capacity, 12 + 6).
        #expect(cache.slabs.allSatisfy { $0.count == 1 && $0[0].shape[0] == 1 && $0[0].shape[2] == 18 })
        #expect(cache.bytesPerToken == CacheSize.bytesPerToken(.mla, model: model.config, mla: shape))
        #expect(cache.bytesPerToken == 2 * 18 * 4)
    }

    @Test(arguments: MLAInference.allCases)
    func cachedDecodingEqualsFullRecomputation(inference: MLAInference) throws {
        var rng = RNG(seed: 5)
        let model = try NanoTransformer(
            tinyModel(), attention: MultiHeadLatentAttention.factory(mlaShape(inference: inference)), rng: &rng)
        let tokens = ids(12, seed: 6)
        let full = withNoGrad { model.logits(tokens, batch: 1, time: 12, rng: &rng) }
        let (steps, _) = cachedLogits(model, tokens, prompt: 4)
        #expect(steps[0].isClose(to: full.slice(axis: 1, 0..<4), atol: 2e-5))
        for (i, step) in steps.dropFirst().enumerated() {
            let position = 4 + i
            #expect(
                step.isClose(to: full.slice(axis: 1, position..<(position + 1)), atol: 2e-5), "position \(position)")
        }
    }

    @Test func shiftingEveryPositionLeavesTheOutputUnchanged() throws {
        var rng = RNG(seed: 7)
        let model = try NanoTransformer(
            tinyModel(), attention: MultiHeadLatentAttention.factory(mlaShape(queryLatent: 16)), rng: &rng)
        // Larger weights than at initialisation, so that attention is sharp and positions matter.
        for (name, p) in model.namedParameters() where !name.contains("norm") { Init.normal(p, std: 0.3, rng: &rng) }
        let tokens = ids(10, seed: 8)
        let a = withNoGrad { model.logits(tokens, batch: 1, time: 10, positions: Array(0..<10), rng: &rng) }
        let b = withNoGrad { model.logits(tokens, batch: 1, time: 10, positions: Array(37..<47), rng: &rng) }
        #expect(a.isClose(to: b, atol: 1e-3), "max diff \(a.maxAbsDifference(b))")
        // Sanity: positions matter at all (a permutation of them changes the output).
        let c = withNoGrad {
            model.logits(tokens, batch: 1, time: 10, positions: Array((0..<10).reversed()), rng: &rng)
        }
        #expect(a.maxAbsDifference(c) > 0.1)
    }

    @Test func gradientsMatchFiniteDifferences() throws {
        var rng = RNG(seed: 9)
        var model = tinyModel(heads: 2)
        model.dModel = 8
        model.layers = 1
        let layer = MultiHeadLatentAttention(model, mlaShape(latent: 4, queryLatent: 6, rope: 4), rng: &rng)
        let x = Tensor.randn([2, 5, 8], rng: &rng).requiringGrad()
        let result = gradientCheck([x] + layer.parameters, eps: 1e-2) {
            layer(x, positions: Array(0..<5), mask: nil, cache: nil, layer: 0)
        }
        #expect(result.worstError < 2e-2, "\(result)")
    }

    @Test func parameterNamesAreTheDocumentedLayout() throws {
        var rng = RNG(seed: 10)
        let layer = MultiHeadLatentAttention(tinyModel(), mlaShape(queryLatent: 20), rng: &rng)
        let names = layer.namedParameters().map { "\($0.name) \($0.tensor.shape)" }
        #expect(
            names == [
                "w_dq.weight [20, 32]", "q_norm.weight [20]", "w_uq.weight [32, 20]", "w_qr.weight [24, 20]",
                "w_dkv.weight [12, 32]", "kv_norm.weight [12]", "w_uk.weight [32, 12]", "w_uv.weight [32, 12]",
                "w_kr.weight [6, 32]", "wo.weight [32, 32]",
            ])
    }

    @Test func cacheSizeFormulaMatchesMeasuredCachesAndTheDeepSeekV2Example() throws {
        for kvHeads in [4, 2, 1] {
            var c = tinyModel()
            c.kvHeads = kvHeads
            var rng = RNG(seed: 11)
            let model = try NanoTransformer(c, rng: &rng)
            let (_, cache) = cachedLogits(model, ids(5, seed: 12), prompt: 3)
            let kind: AttentionKind = kvHeads == 4 ? .mha : kvHeads == 1 ? .mqa : .gqa
            #expect(cache.bytesPerToken == CacheSize.bytesPerToken(kind, model: c))
        }
        // DeepSeek-V2: 128 heads of 128, d_c 512, d_R 64: 576 vs 32768 numbers per token and layer.
        var v2 = TransformerConfig()
        v2.dModel = 5120
        v2.heads = 128
        v2.kvHeads = 128
        v2.headDim = 128
        var latent = MLAConfig()
        latent.latentDim = 512
        latent.ropeDim = 64
        #expect(CacheSize.elementsPerTokenPerLayer(.mla, model: v2, mla: latent) == 576)
        #expect(CacheSize.elementsPerTokenPerLayer(.mha, model: v2) == 32768)
    }

    @Test func badShapesNameTheKey() throws {
        var c = tinyModel()
        c.positionEncoding = .learned
        // The model's field is named as the model's ("model." for the experiment to place).
        #expect(throws: LabError(.model, key: "model.positionEncoding", "must be rope: MLA's decoupled key needs it")) {
            try mlaShape().check(c)
        }
        #expect(throws: LabError(.model, key: "ropeDim", "must be even and in 2...4096")) {
            try mlaShape(rope: 5).check(tinyModel())
        }
    }
}

@Suite(.serialized) struct MLAExperimentTests {
    @Test func everyConfigRunsAFewStepsAndRecordsCacheAndSpeed() throws {
        let out = temporaryFolder()
        let result = try runProduct(
            "mla",
            [
                "--all-ablations", "--steps", "3", "--out", out, "--threads", "1", "--set", "training.data=sample",
                "--set", "training.tokenizerVocab=300", "--set", "training.model.dModel=64", "--set",
                "training.model.layers=1", "--set", "training.model.contextLength=16", "--set", "training.batchSize=2",
                "--set", "training.evalBatches=1", "--set", "speedLengths=[8,32]", "--set", "decodeTokens=4",
            ])
        #expect(result.status == 0, "\(result.stderr)")
        let ablations = try experimentAblations("mla")
        #expect(ablations.count == 8)
        for ablation in ablations {
            let r = try RunResults.load(from: "\(out)/mla/\(ablation)/seed-0.h5")
            #expect(r.status == "finished", "\(ablation)")
            // The measured cache equals the formula; matching left at most half an MLP unit (3 C / 2) over.
            #expect(
                r.summary["inference/kv_cache_bytes_per_token"]
                    == r.summary["inference/kv_cache_bytes_per_token_formula"])
            #expect(abs(r.summary["model/parameters_minus_mha"]!) <= 3 * 64 / 2, "\(ablation)")
            let suffixes = ablation.hasPrefix("mla") ? ["_naive", "_absorbed"] : [""]
            for s in suffixes { #expect(r.metrics["speed/decode_tokens_per_s\(s)"]!.steps == [8, 32], "\(ablation)") }
        }
        let dc16 = try RunResults.load(from: "\(out)/mla/mla-dc16/seed-0.h5")
        #expect(dc16.summary["inference/kv_cache_bytes_per_token"] == Double((16 + 16) * 4))
    }
}
