// Closed-form checks: values derived by hand, invariants that must hold exactly or to rounding.
import Foundation
import TensorCore
import TestSupport
import Testing

@Suite struct ClosedFormTests {
    @Test func vectorisedTanhMatchesLibm() {
        // A dense grid through both branches (|x| < 0.3: series; above: via exp) and saturation.
        let values =
            (-40_000...40_000).map { Float($0) * 2.5e-4 } + [1e-30, -1e-20, 20, -50, 1e4, .infinity, -.infinity]
        let y = Tensor(values).tanh()
        var worst: Float = 0
        for (i, v) in values.enumerated() {
            let exact = Float(Foundation.tanh(Double(v)))
            worst = max(worst, abs(y.data[i] - exact) / max(abs(exact), 1e-30))
        }
        #expect(worst < 4e-7, "worst relative error \(worst)")
        #expect(Tensor([.nan]).tanh().item.isNaN)
    }

    @Test func softmaxRowsSumToOne() {
        var rng = RNG(seed: 1)
        let x = Tensor.randn([5, 9], std: 10, rng: &rng)
        let s = x.softmax().sum(axis: -1)
        #expect(s.isClose(to: Tensor.ones([5]), atol: 1e-6))
    }

    @Test func logSoftmaxStaysFiniteForHugeLogits() {
        let x = Tensor([1e30, 0, -1e30, 3e38], shape: [1, 4])
        let y = x.logSoftmax()
        #expect(y.data[3] == 0)
        #expect(y.array.allSatisfy { !$0.isNaN })
        let z = Tensor([1000, 1000], shape: [1, 2]).logSoftmax()
        #expect(z.isClose(to: Tensor([-0.693_147_2, -0.693_147_2], shape: [1, 2])))
    }

    @Test func logSigmoidAndSoftplusDoNotOverflow() {
        let x = Tensor([-1000, -50, 0, 50, 1000])
        #expect(x.logSigmoid().isClose(to: Tensor([-1000, -50, -0.693_147_2, -1.928_749_8e-22, 0]), rtol: 1e-6))
        #expect(x.softplus().isClose(to: Tensor([0, 1.928_749_8e-22, 0.693_147_2, 50, 1000]), rtol: 1e-6))
    }

    @Test func crossEntropyOfUniformLogitsIsLogV() {
        let logits = Tensor.zeros([3, 50])
        let loss = crossEntropy(logits, targets: [0, 7, 49])
        #expect(abs(loss.item - logf(50)) < 1e-6)
    }

    @Test func orthogonalInitGivesOrthonormalRowsOrColumns() {
        for shape in [[64, 64], [16, 40], [40, 16]] {
            var rng = RNG(seed: 3)
            let w = Tensor(shape: shape)
            Init.orthogonal(w, gain: 2, rng: &rng)
            let (rows, cols) = (shape[0], shape[1])
            // W W^T = gain^2 I when rows <= cols; W^T W = gain^2 I otherwise.
            let gram = rows <= cols ? matmul(w, w, transposeB: true) : matmul(w, w, transposeA: true)
            let n = min(rows, cols)
            var eye = Tensor.zeros([n, n])
            for i in 0..<n { eye[i, i] = 4 }
            #expect(gram.isClose(to: eye, atol: 1e-5), "shape \(shape): off by \(gram.maxAbsDifference(eye))")
            eye = Tensor.zeros([1])
        }
    }

    @Test func adamWOneStepByHand() {
        // Step 1 with bias correction: mhat = g, vhat = g^2, so p1 = p0 (1 - lr wd) - lr g / (|g| + eps).
        let p = Tensor([1.0, -2.0, 0.5]).requiringGrad()
        p.grad = Tensor([0.1, -0.3, 0.0])
        let opt = Adam.adamW([("p", p)], eps: 1e-8, weightDecay: 0.1)
        opt.step(lr: 0.01)
        let expected: [Float] = [
            1.0 * (1 - 0.001) - 0.01 * 0.1 / (0.1 + 1e-8),
            -2.0 * (1 - 0.001) - 0.01 * -0.3 / (0.3 + 1e-8),
            0.5 * (1 - 0.001),
        ]
        #expect(p.isClose(to: Tensor(expected), atol: 1e-7))
    }

    @Test func adamWSkipsDecayForExcludedParameters() {
        let decayed = Tensor([1.0]).requiringGrad()
        let kept = Tensor([1.0]).requiringGrad()
        decayed.grad = Tensor([0])
        kept.grad = Tensor([0])
        let opt = Adam.adamW([("w", decayed), ("norm.weight", kept)], weightDecay: 0.5, noDecay: ["norm.weight"])
        opt.step(lr: 0.1)
        #expect(decayed.item == 0.95)
        #expect(kept.item == 1.0)
    }

    @Test func adamL2DecayGoesThroughTheMoments() {
        // Adam (coupled): g' = g + wd p = 0 + 0.5 * 2 = 1, so the step is lr * 1 / (1 + eps).
        let p = Tensor([2.0]).requiringGrad()
        p.grad = Tensor([0])
        let opt = Adam([("p", p)], weightDecay: 0.5)
        opt.step(lr: 0.1)
        #expect(abs(p.item - 1.9) < 1e-6)
    }

    @Test func sgdMomentumByHand() {
        let p = Tensor([1.0]).requiringGrad()
        let opt = SGD([("p", p)], momentum: 0.9)
        p.grad = Tensor([1.0])
        opt.step(lr: 0.1)  // buf = 1, p = 0.9
        p.grad = Tensor([1.0])
        opt.step(lr: 0.1)  // buf = 1.9, p = 0.71
        #expect(abs(p.item - 0.71) < 1e-6)
    }

    @Test func clipGradNormScalesToTheLimitAndReturnsTheNorm() {
        let a = Tensor([0, 0]).requiringGrad()
        let b = Tensor([0]).requiringGrad()
        a.grad = Tensor([3, 0])
        b.grad = Tensor([4])
        let norm = clipGradNorm([a, b], maxNorm: 1)
        #expect(norm == 5)
        #expect(abs(Float(gradNorm([a, b])) - 1) < 1e-5)
        let small = clipGradNorm([a, b], maxNorm: 10)
        #expect(abs(small - 1) < 1e-5)
        #expect(abs(Float(gradNorm([a, b])) - 1) < 1e-5)
    }

    @Test func learningRateSchedules() {
        let cosine = LearningRateSchedule(peak: 1, warmupSteps: 10, totalSteps: 110, decay: .cosine, floor: 0.1)
        #expect(cosine(0) == 0.1)
        #expect(cosine(9) == 1)
        #expect(cosine(10) == 1)
        #expect(abs(cosine(60) - 0.55) < 1e-6)
        #expect(abs(cosine(110) - 0.1) < 1e-6)
        #expect(abs(cosine(500) - 0.1) < 1e-6)
        // CleanRL's annealing: frac = 1 - update / numUpdates.
        let linear = LearningRateSchedule(peak: 2.5e-4, totalSteps: 100, decay: .linear)
        #expect(linear(0) == 2.5e-4)
        #expect(abs(linear(99) - 2.5e-6) < 1e-10)
        #expect(LearningRateSchedule(peak: 3, decay: .constant)(1000) == 3)
    }

    @Test func matmulTransposeFlagsEqualExplicitTransposes() {
        var rng = RNG(seed: 5)
        let a = Tensor.randn([2, 6, 4], rng: &rng)
        let b = Tensor.randn([2, 5, 4], rng: &rng)
        let viaFlag = matmul(a, b, transposeB: true)
        let viaCopy = matmul(a, b.transposed())
        #expect(viaFlag.isClose(to: viaCopy))
        // Against a naive triple loop.
        var naive = Tensor.zeros([2, 6, 5])
        for n in 0..<2 {
            for i in 0..<6 {
                for j in 0..<5 {
                    var s: Float = 0
                    for k in 0..<4 { s += a[n, i, k] * b[n, j, k] }
                    naive[n, i, j] = s
                }
            }
        }
        #expect(viaFlag.isClose(to: naive, atol: 1e-5))
        naive = Tensor.zeros([1])
    }

    @Test func broadcastingFollowsNumpyRules() {
        let a = Tensor([1, 2, 3], shape: [3, 1])
        let b = Tensor([10, 20], shape: [2])
        #expect((a + b).shape == [3, 2])
        #expect((a + b).array == [11, 21, 12, 22, 13, 23])
        #expect(broadcastShape([2, 1, 4], [3, 1]) == [2, 3, 4])
    }

    @Test func shapeOpsMoveTheRightElements() {
        let x = Tensor((0..<24).map(Float.init), shape: [2, 3, 4])
        let p = x.permuted([2, 0, 1])
        #expect(p.shape == [4, 2, 3])
        #expect(p[3, 1, 2] == x[1, 2, 3])
        let s = x.slice(axis: 1, 1..<3)
        #expect(s.shape == [2, 2, 4] && s[1, 0, 2] == x[1, 1, 2])
        let c = concat([x, x.slice(axis: 2, 0..<1)], axis: 2)
        #expect(c.shape == [2, 3, 5] && c[1, 2, 4] == x[1, 2, 0])
        let st = stack([x, x], axis: 0)
        #expect(st.shape == [2, 2, 3, 4] && st[1, 1, 2, 3] == 23)
        let r = x.reshaped([6, -1])
        #expect(r.shape == [6, 4] && r.storage === x.storage)
    }

    @Test func indexingHelpers() {
        let x = Tensor([3, 1, 4, 1, 5, 9, 2, 6], shape: [2, 4])
        let (values, indices) = x.topK(2)
        #expect(values.array == [4, 3, 9, 6] && indices == [2, 0, 1, 3])
        #expect(Tensor([1, 7, 7, 2], shape: [1, 4]).topK(2).indices == [1, 2])
        #expect(x.argmax() == [2, 1])
        #expect(x.cumsum().array == [3, 4, 8, 9, 5, 14, 16, 22])
        #expect(x.gatherLast([0, 3]).array == [3, 6])
        #expect(greater(x, Tensor(scalar: 3)).array == [0, 0, 1, 0, 1, 1, 0, 1])
        let rows = Tensor([1, 2, 3, 4, 5, 6], shape: [3, 2])
        #expect(rows.indexSelect(rows: [2, 0]).array == [5, 6, 1, 2])
        #expect(rows.scatterAddRows([1, 1, 0], rowCount: 2).array == [5, 6, 4, 6])
    }

    @Test func modulesNameTheirParametersHierarchically() {
        var rng = RNG(seed: 1)
        let mlp = MLP(sizes: [4, 8, 2], activation: .tanh, rng: &rng)
        #expect(
            mlp.namedParameters().map(\.name) == [
                "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
            ])
        #expect(mlp.parameterCount == 4 * 8 + 8 + 8 * 2 + 2)
        #expect(mlp(Tensor.zeros([3, 4])).shape == [3, 2])
        let norm = LayerNorm(4)
        #expect(prefixed("ln_f", norm).map(\.name) == ["ln_f.weight", "ln_f.bias"])
    }

    @Test func dropoutKeepsExpectationAndIsIdentityInEval() {
        var rng = RNG(seed: 2)
        let x = Tensor.ones([10_000])
        let y = dropout(x, p: 0.25, training: true, rng: &rng)
        let zeros = y.array.filter { $0 == 0 }.count
        #expect(abs(Float(zeros) / 10_000 - 0.25) < 0.02)
        #expect(abs(y.mean().item - 1) < 0.03)
        #expect(dropout(x, p: 0.25, training: false, rng: &rng) === x)
    }
}

#if canImport(Glibc)
    import Glibc
#endif
