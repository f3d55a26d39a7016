// Finite-difference gradient checks: one row per differentiable op and fused kernel,
// including broadcasting, every matmul transpose, and GQA / MQA / decode attention.
import TensorCore
import TestSupport
import Testing

struct GradCase: Sendable, CustomTestStringConvertible {
    let name: String
    /// Builds fresh inputs (requiring grad) and the function under test.
    let make: @Sendable () -> (inputs: [Tensor], f: () -> Tensor)
    var testDescription: String { name }
}

/// Seeded N(0, scale^2) leaf that requires grad.
func leaf(_ shape: [Int], seed: UInt64, scale: Float = 1, shift: Float = 0) -> Tensor {
    var rng = RNG(seed: seed)
    let t = Tensor.randn(shape, mean: shift, std: scale, rng: &rng)
    return t.requiringGrad()
}

/// Seeded leaf whose entries stay at least `margin` away from 0 (for kinks at 0).
func awayFromZero(_ shape: [Int], seed: UInt64, margin: Float = 0.1) -> Tensor {
    let t = leaf(shape, seed: seed)
    for i in 0..<t.count { t.data[i] = t.data[i] >= 0 ? t.data[i] + margin : t.data[i] - margin }
    return t
}

func unary(_ name: String, positive: Bool = false, kink: Bool = false, _ op: @escaping @Sendable (Tensor) -> Tensor)
    -> GradCase
{
    GradCase(name: name) {
        let x = kink ? awayFromZero([3, 5], seed: 1) : leaf([3, 5], seed: 1)
        if positive { for i in 0..<x.count { x.data[i] = abs(x.data[i]) + 0.5 } }
        return ([x], { op(x) })
    }
}

func binary(
    _ name: String, _ a: [Int], _ b: [Int], positiveB: Bool = false,
    _ op: @escaping @Sendable (Tensor, Tensor) -> Tensor
)
    -> GradCase
{
    GradCase(name: name) {
        let x = leaf(a, seed: 2)
        let y = leaf(b, seed: 3)
        if positiveB { for i in 0..<y.count { y.data[i] = abs(y.data[i]) + 0.5 } }
        return ([x, y], { op(x, y) })
    }
}

func matmulCase(_ a: [Int], _ b: [Int], ta: Bool, tb: Bool) -> GradCase {
    binary("matmul \(a)\(ta ? "ᵀ" : "") @ \(b)\(tb ? "ᵀ" : "")", a, b) {
        matmul($0, $1, transposeA: ta, transposeB: tb)
    }
}

func attentionCase(
    _ name: String, b: Int, tq: Int, tk: Int, h: Int, kv: Int, d: Int, dv: Int? = nil, causal: Bool,
    masked: Bool = false
)
    -> GradCase
{
    GradCase(name: name) {
        let q = leaf([b, tq, h, d], seed: 11)
        let k = leaf([b, tk, kv, d], seed: 12)
        let v = leaf([b, tk, kv, dv ?? d], seed: 13)
        var mask: Tensor? = nil
        if masked {
            var rng = RNG(seed: 14)
            mask = Tensor.randn([b, tq, tk], rng: &rng)
        }
        return ([q, k, v], { attention(q: q, k: k, v: v, causal: causal, mask: mask) })
    }
}

let gradCases: [GradCase] = [
    // Broadcasting arithmetic.
    binary("add (3,4)+(4)", [3, 4], [4]) { $0 + $1 },
    binary("add (2,1,4)+(3,1)", [2, 1, 4], [3, 1]) { $0 + $1 },
    binary("sub (2,3,4)-(3,1)", [2, 3, 4], [3, 1]) { $0 - $1 },
    binary("mul (3,4)*(3,1)", [3, 4], [3, 1]) { $0 * $1 },
    binary("mul same shape", [2, 5], [2, 5]) { $0 * $1 },
    binary("mul by scalar tensor", [2, 5], []) { $0 * $1 },
    binary("div (3,4)/(4)", [3, 4], [4], positiveB: true) { $0 / $1 },
    binary("minimum (3,4),(4)", [3, 4], [4]) { minimum($0, $1) },
    binary("maximum (3,4),(3,1)", [3, 4], [3, 1]) { maximum($0, $1) },
    GradCase(name: "where") {
        let a = leaf([3, 4], seed: 4)
        let b = leaf([4], seed: 5)
        let mask = Tensor((0..<12).map { Float($0 % 3 == 0 ? 1 : 0) }, shape: [3, 4])
        return ([a, b], { `where`(mask, a, b) })
    },
    // Matmul: every transpose, batched, and a weight shared across a batch.
    matmulCase([3, 4], [4, 5], ta: false, tb: false),
    matmulCase([3, 4], [5, 4], ta: false, tb: true),
    matmulCase([4, 3], [4, 5], ta: true, tb: false),
    matmulCase([4, 3], [5, 4], ta: true, tb: true),
    matmulCase([2, 3, 4], [2, 4, 5], ta: false, tb: false),
    matmulCase([2, 4, 3], [2, 5, 4], ta: true, tb: true),
    matmulCase([2, 3, 4], [2, 5, 4], ta: false, tb: true),
    matmulCase([2, 4, 3], [2, 4, 5], ta: true, tb: false),
    matmulCase([2, 3, 4], [5, 4], ta: false, tb: true),
    // Elementwise.
    unary("neg") { -$0 },
    unary("exp") { $0.exp() },
    unary("log", positive: true) { $0.log() },
    unary("sqrt", positive: true) { $0.sqrt() },
    unary("pow 1.5", positive: true) { $0.pow(1.5) },
    unary("tanh") { $0.tanh() },
    unary("sigmoid") { $0.sigmoid() },
    unary("relu", kink: true) { $0.relu() },
    unary("gelu") { $0.gelu() },
    unary("silu") { $0.silu() },
    unary("abs", kink: true) { $0.abs() },
    unary("square") { $0.square() },
    unary("softplus") { ($0 * 4).softplus() },
    unary("logSigmoid") { ($0 * 4).logSigmoid() },
    unary("clamp", kink: true) { $0.clamped(-0.05, 0.05) },
    unary("scalar arithmetic") { (2 - $0 * 3 + 1) / 4 },
    unary("scalar divided by tensor", positive: true) { 2 / $0 },
    // Reductions and the softmax family.
    unary("sum axis 0") { $0.sum(axis: 0) },
    unary("sum axis 1 keepDims") { $0.sum(axis: 1, keepDims: true) },
    unary("mean axis -1") { $0.mean(axis: -1) },
    unary("max axis 1") { $0.max(axis: 1) },
    unary("variance axis 1") { $0.variance(axis: 1) },
    unary("variance unbiased axis 0") { $0.variance(axis: 0, unbiased: true) },
    unary("sum") { $0.sum() },
    unary("mean") { $0.mean() },
    unary("logSumExp axis 1") { $0.logSumExp(axis: 1) },
    unary("logSumExp axis 0") { $0.logSumExp(axis: 0, keepDims: true) },
    unary("softmax last") { $0.softmax() },
    unary("softmax axis 0") { $0.softmax(axis: 0) },
    unary("logSoftmax last") { $0.logSoftmax() },
    unary("logSoftmax axis 0") { $0.logSoftmax(axis: 0) },
    // Shape ops.
    unary("reshape") { $0.reshaped([5, 3]) * Tensor.arange(3) },
    unary("transpose") { $0.transposed() * Tensor.arange(3) },
    GradCase(name: "permute (2,3,4) -> (2,0,1)") {
        let x = leaf([2, 3, 4], seed: 6)
        let w = Tensor.arange(3)
        return ([x], { x.permuted([2, 0, 1]) * w })
    },
    unary("slice") { $0.slice(axis: 1, 1..<4) },
    binary("concat axis 1", [3, 2], [3, 4]) { concat([$0, $1], axis: 1) },
    binary("stack axis 1", [3, 4], [3, 4]) { stack([$0, $1], axis: 1) },
    unary("expand") { $0.unsqueezed(0).expand(to: [2, 3, 5]) },
    // Indexing.
    unary("gatherLast") { $0.gatherLast([4, 0, 2]) },
    unary("indexSelect with repeats") { $0.indexSelect(rows: [2, 0, 2, 1]) },
    unary("scatterAddRows") { $0.scatterAddRows([1, 1, 0], rowCount: 4) },
    GradCase(name: "embedding") {
        let w = leaf([6, 3], seed: 8)
        return ([w], { embedding(w, ids: [5, 1, 1, 0], shape: [2, 2]) })
    },
    unary("topK values") { $0.topK(2).values },
    GradCase(name: "dropout (fixed mask)") {
        let x = leaf([4, 5], seed: 9)
        return (
            [x],
            {
                var rng = RNG(seed: 3)
                return dropout(x, p: 0.4, training: true, rng: &rng)
            }
        )
    },
    // Fused kernels.
    GradCase(name: "crossEntropy mean with ignore") {
        let logits = leaf([5, 7], seed: 10, scale: 2)
        return ([logits], { crossEntropy(logits, targets: [1, -100, 6, 0, 3]) })
    },
    GradCase(name: "crossEntropy sum") {
        let logits = leaf([2, 3, 7], seed: 10)
        return ([logits], { crossEntropy(logits, targets: [1, 2, 6, 0, 3, 3], reduction: .sum) })
    },
    GradCase(name: "crossEntropy none") {
        let logits = leaf([4, 7], seed: 10)
        return ([logits], { crossEntropy(logits, targets: [1, 2, -1, 3], ignoreIndex: -1, reduction: .none) })
    },
    GradCase(name: "tokenLogProbs T=1 with ignore") {
        let logits = leaf([4, 7], seed: 11, scale: 2)
        return ([logits], { tokenLogProbs(logits, targets: [1, -1, 6, 0]).logProbs })
    },
    GradCase(name: "tokenLogProbs T=0.6") {
        let logits = leaf([2, 3, 9], seed: 12)
        return ([logits], { tokenLogProbs(logits, targets: [8, 0, 3, 3, 5, 1], temperature: 0.6).logProbs })
    },
    GradCase(name: "tokenLogProbs entropy T=1.7") {
        let logits = leaf([4, 6], seed: 13, scale: 1.5)
        return ([logits], { tokenLogProbs(logits, targets: [1, 2, -1, 5], temperature: 1.7, entropy: true).entropy! })
    },
    GradCase(name: "rmsNorm") {
        let x = leaf([2, 3, 8], seed: 15)
        let g = leaf([8], seed: 16, scale: 0.2, shift: 1)
        return ([x, g], { rmsNorm(x, weight: g) })
    },
    GradCase(name: "layerNorm") {
        let x = leaf([4, 8], seed: 17)
        let g = leaf([8], seed: 18, scale: 0.2, shift: 1)
        let b = leaf([8], seed: 19, scale: 0.2)
        return ([x, g, b], { layerNorm(x, weight: g, bias: b) })
    },
    GradCase(name: "rope shared positions") {
        let x = leaf([2, 4, 3, 6], seed: 20)
        return ([x], { rope(x, positions: [0, 1, 2, 7]) })
    },
    GradCase(name: "rope per-sequence positions") {
        let x = leaf([2, 3, 2, 4], seed: 21)
        return ([x], { rope(x, positions: [0, 1, 2, 5, 6, 7], base: 100) })
    },
    binary("swiglu", [3, 6], [3, 6]) { swiglu(gate: $0, up: $1) },
    attentionCase("attention causal MHA", b: 2, tq: 4, tk: 4, h: 2, kv: 2, d: 3, causal: true),
    attentionCase("attention causal GQA", b: 2, tq: 5, tk: 5, h: 4, kv: 2, d: 4, causal: true),
    attentionCase("attention causal MQA", b: 1, tq: 4, tk: 4, h: 3, kv: 1, d: 4, causal: true),
    attentionCase("attention decode Tq<Tk", b: 2, tq: 2, tk: 5, h: 2, kv: 1, d: 4, causal: true),
    attentionCase("attention value dim != key dim", b: 2, tq: 4, tk: 4, h: 2, kv: 1, d: 5, dv: 3, causal: true),
    attentionCase("attention decode, Dv > D", b: 1, tq: 2, tk: 5, h: 2, kv: 2, d: 2, dv: 6, causal: true),
    attentionCase("attention masked non-causal", b: 2, tq: 3, tk: 4, h: 2, kv: 2, d: 3, causal: false, masked: true),
]

@Suite struct GradientCheckTests {
    @Test(arguments: gradCases)
    func matchesFiniteDifferences(_ gradCase: GradCase) {
        let (inputs, f) = gradCase.make()
        let result = gradientCheck(inputs, f)
        #expect(result.worstError < 1e-2, "\(gradCase.name): \(result)")
    }

    @Test(arguments: gradCases)
    func graphIsFreedWithItsOutput(_ gradCase: GradCase) {
        // An op whose backward closure captured its own output would keep it alive forever.
        let (_, f) = gradCase.make()
        weak var output: Tensor?
        do {
            let y = f()
            output = y
            #expect(y.requiresGrad)
        }
        #expect(output == nil, "\(gradCase.name): output outlives its last reference")
    }

    @Test func checkerCatchesAWrongGradient() {
        // detach() hides one path: analytic gives x, finite differences give 2x.
        let x = leaf([4], seed: 3)
        let result = gradientCheck([x]) { x.detach() * x }
        #expect(result.worstError > 0.1)
    }

    @Test func gradientsAccumulateAcrossBackwardCalls() {
        let x = leaf([3], seed: 1)
        (x * 2).sum().backward()
        (x * 3).sum().backward()
        #expect(x.grad!.isClose(to: Tensor.full([3], 5)))
    }

    @Test func noGradBuildsNoGraph() {
        let x = leaf([3], seed: 1)
        let y = withNoGrad { (x * 2).exp() }
        #expect(!y.requiresGrad)
        let z = (x * 2).detach()
        #expect(!z.requiresGrad && z.isLeaf)
    }

    @Test func sharedSubexpressionGetsBothContributions() {
        // y = x * x + x uses x three times; dy/dx = 2x + 1.
        let x = leaf([4], seed: 2)
        let y = x * x + x
        y.sum().backward()
        let expected = Tensor((0..<4).map { 2 * x.data[$0] + 1 })
        #expect(x.grad!.isClose(to: expected))
    }
}
