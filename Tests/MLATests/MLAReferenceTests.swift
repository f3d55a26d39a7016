// One MLA layer against an independent implementation written from the DeepSeek-V2 paper
// (Scripts/reference/deepseek_fixtures.py, PyTorch in float64): output and every gradient on the
// training path, and the output of both cached paths. A wrong softmax scale, a missing latent
// norm or a RoPE applied to the wrong part would fail here, where the self-consistency tests of
// MLATests.swift (absorbed vs naive, cache vs recompute) would still pass.
import MLA
import NanoTransformer
import TensorCore
import TestSupport
import Testing

@Suite struct MLAReferenceTests {
    let fixture: ReferenceFixture

    init() throws { fixture = try ReferenceFixture("mla_reference.json") }

    func int(_ name: String, _ key: String) -> Int { fixture.parameter(name, key) as! Int }

    /// The layer of case `name` with the fixture's weights.
    func layer(_ name: String, inference: MLAInference = .naive) throws -> MultiHeadLatentAttention {
        var model = TransformerConfig()
        model.dModel = int(name, "dModel")
        model.heads = int(name, "heads")
        model.kvHeads = model.heads
        model.normEps = fixture.parameter(name, "normEps") as! Double
        model.ropeBase = fixture.parameter(name, "ropeBase") as! Double
        var shape = MLAConfig()
        shape.latentDim = int(name, "latentDim")
        shape.queryLatentDim = int(name, "queryLatentDim")
        shape.ropeDim = int(name, "ropeDim")
        shape.headDim = int(name, "headDim")
        shape.inference = inference
        try shape.check(model)
        var rng = RNG(seed: 0)
        let layer = MultiHeadLatentAttention(model, shape, rng: &rng)
        for (parameter, tensor) in layer.namedParameters() { tensor.assign(fixture.tensor(name, parameter)) }
        return layer
    }

    @Test(arguments: ["no-query-latent", "query-latent"])
    func trainingForwardAndGradientsEqualThePaper(_ name: String) throws {
        let layer = try layer(name)
        let (batch, time) = (int(name, "batch"), int(name, "time"))
        let h = fixture.tensor(name, "h").requiringGrad()
        let out = layer(h, positions: Array(0..<time), mask: nil, cache: nil, layer: 0)
        #expect(out.shape == [batch, time, int(name, "dModel")])
        fixture.expectForwardAndGradients(name, out: out, input: h, parameters: layer.namedParameters())
    }

    /// Prefill of 4 tokens, then one token at a time: the same outputs as the paper's full forward,
    /// through the cache of latents and RoPE keys on both inference paths.
    @Test(arguments: [MLAInference.naive, .absorbed])
    func cachedDecodingEqualsThePaper(_ inference: MLAInference) throws {
        let name = "query-latent"
        let layer = try layer(name, inference: inference)
        let (batch, time) = (int(name, "batch"), int(name, "time"))
        let h = fixture.tensor(name, "h")
        let cache = KVCache(layers: 1)
        var pieces: [Tensor] = []
        for span in [0..<4, 4..<5, 5..<6, 6..<7] {
            let positions = cache.begin(batch: batch, time: span.count)
            pieces.append(
                withNoGrad { layer(h.slice(axis: 1, span), positions: positions, mask: nil, cache: cache, layer: 0) })
            cache.end()
        }
        #expect(cache.length == time)
        let out = concat(pieces, axis: 1)
        let expected = fixture.tensor(name, "out")
        #expect(out.isClose(to: expected, atol: 2e-5, rtol: 1e-4), "\(inference): \(out.maxAbsDifference(expected))")
    }
}
