// Reference parity: fused kernels and delicate ops against PyTorch.
// Fixture: Tests/TensorCoreTests/Fixtures/tensorcore_reference.json, written by
// `python3 Scripts/reference/tensorcore_fixtures.py` (torch, float64 reference stored as float32).
// Each case holds inputs, the output, a weight w, and the input gradients of sum(output * w).
import TensorCore
import TestSupport
import Testing

@Suite struct ReferenceParityTests {
    let fixture: ReferenceFixture

    init() throws { fixture = try ReferenceFixture("tensorcore_reference.json") }

    /// Runs `f` on the case's named inputs, then checks the output and each input gradient.
    func check(
        _ name: String, inputs names: [String], atol: Float = 1e-5, gradAtol: Float = 1e-4,
        _ f: ([Tensor]) -> Tensor
    ) {
        let inputs = names.map { fixture.tensor(name, $0).requiringGrad() }
        let out = f(inputs)
        let expected = fixture.tensor(name, "out")
        let shaped = out.count == expected.count ? out.reshaped(expected.shape) : out
        #expect(
            shaped.isClose(to: expected, atol: atol, rtol: 1e-4),
            "\(name) output off by \(shaped.maxAbsDifference(expected))")
        (shaped * fixture.tensor(name, "w")).sum().backward()
        for (input, n) in zip(inputs, names) {
            let want = fixture.tensor(name, "d" + n)
            let got = input.grad ?? Tensor.zeros(input.shape)
            #expect(
                got.isClose(to: want, atol: gradAtol, rtol: 1e-3), "\(name) d\(n) off by \(got.maxAbsDifference(want))")
        }
    }

    @Test func attentionCausalGQA() {
        check("attention_gqa_causal", inputs: ["q", "k", "v"]) { attention(q: $0[0], k: $0[1], v: $0[2], causal: true) }
    }

    @Test func attentionDecodeAgainstLongerCache() {
        check("attention_decode", inputs: ["q", "k", "v"]) { attention(q: $0[0], k: $0[1], v: $0[2], causal: true) }
    }

    @Test func attentionAdditiveMask() {
        let mask = fixture.tensor("attention_mask", "mask")
        check("attention_mask", inputs: ["q", "k", "v"]) {
            attention(q: $0[0], k: $0[1], v: $0[2], causal: false, mask: mask)
        }
    }

    @Test func rmsNormMatches() {
        check("rms_norm", inputs: ["x", "weight"]) { rmsNorm($0[0], weight: $0[1], eps: 1e-5) }
    }

    @Test func layerNormMatches() {
        check("layer_norm", inputs: ["x", "weight", "bias"]) { layerNorm($0[0], weight: $0[1], bias: $0[2], eps: 1e-5) }
    }

    @Test func ropeRotateHalfMatches() {
        let positions = (fixture.parameter("rope", "positions") as! [Int])
        check("rope", inputs: ["x"]) { rope($0[0], positions: positions, base: 10_000) }
    }

    @Test func crossEntropyWithIgnoreIndexMatches() {
        let targets = fixture.parameter("cross_entropy", "targets") as! [Int]
        check("cross_entropy", inputs: ["logits"]) { crossEntropy($0[0], targets: targets, ignoreIndex: -100) }
    }

    @Test func swigluMatches() {
        check("swiglu", inputs: ["gate", "up"]) { swiglu(gate: $0[0], up: $0[1]) }
    }

    @Test func stableElementwiseOpsMatchOnWideRanges() {
        check("softplus", inputs: ["x"]) { $0[0].softplus() }
        check("log_sigmoid", inputs: ["x"]) { $0[0].logSigmoid() }
        check("gelu", inputs: ["x"]) { $0[0].gelu() }
    }

    @Test func softmaxFamilyStableOnLargeLogits() {
        check("log_softmax_large", inputs: ["x"], atol: 1e-4) { $0[0].logSoftmax() }
        check("logsumexp_large", inputs: ["x"], atol: 1e-3) { $0[0].logSumExp(axis: -1) }
    }
}
