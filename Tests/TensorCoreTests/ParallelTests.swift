// The worker pool behind the parallel kernels: callers on several threads at once (the pool
// serves one loop at a time, the others run inline) get the same bits as a single-threaded run;
// the 8-lane AdamW update equals the scalar formula element by element.
import Foundation
import TensorCore
import TestSupport
import Testing

/// Forward and backward through the pooled kernels (blocked matmul, SwiGLU, attention, RMSNorm,
/// cross-entropy); returns the loss and every input gradient.
func pooledKernelsWorkload(seed: UInt64) -> [Tensor] {
    var rng = RNG(seed: seed)
    let x = Tensor.randn([256, 64], rng: &rng).requiringGrad()
    let w1 = Tensor.randn([64, 192], std: 0.1, rng: &rng).requiringGrad()
    let w3 = Tensor.randn([64, 192], std: 0.1, rng: &rng).requiringGrad()
    let w2 = Tensor.randn([192, 64], std: 0.1, rng: &rng).requiringGrad()
    let gain = Tensor.ones([64]).requiringGrad()
    let h = rmsNorm(x, weight: gain)
    let mlp = matmul(swiglu(gate: matmul(h, w1), up: matmul(h, w3)), w2)
    let attended = attention(
        q: mlp.reshaped([4, 64, 2, 32]), k: h.reshaped([4, 64, 2, 32]), v: x.reshaped([4, 64, 2, 32]))
    let targets = (0..<256).map { ($0 * 7) % 64 }
    let loss = crossEntropy(attended.reshaped([256, 64]), targets: targets)
    loss.backward()
    return [loss, x.grad!, w1.grad!, w3.grad!, w2.grad!, gain.grad!]
}

@Suite(.serialized) struct ParallelTests {
    @Test func concurrentCallersGetTheSingleThreadedBits() async throws {
        let reference = try await withThreadCount(1) { pooledKernelsWorkload(seed: 3) }
        let results = try await withThreadCount(2) {
            await withTaskGroup(of: [Tensor].self) { group in
                for _ in 0..<6 { group.addTask { pooledKernelsWorkload(seed: 3) } }
                var all: [[Tensor]] = []
                for await result in group { all.append(result) }
                return all
            }
        }
        #expect(results.count == 6)
        for result in results {
            for (got, expected) in zip(result, reference) { #expect(got.isBitIdentical(to: expected)) }
        }
    }

    @Test func manyShortLoopsInARowStayCorrect() async throws {
        // Many short loops back to back: the pool's workers spin between them and sleep when idle.
        try await withThreadCount(2) {
            var rng = RNG(seed: 9)
            let a = Tensor.randn([512, 300], rng: &rng)
            let b = Tensor.randn([512, 300], rng: &rng)
            let expected = zip(a.array, b.array).map { $0 + $1 }
            for round in 0..<200 {
                if round % 50 == 49 { usleep(2000) }  // let the workers fall asleep
                #expect(withNoGrad { a + b }.array == expected)
            }
        }
    }

    @Test(arguments: [13, 4099])
    func adamWUpdateEqualsTheScalarFormula(_ count: Int) async throws {
        try await withThreadCount(2) { adamWMatchesTheScalarFormula(count) }
    }

    func adamWMatchesTheScalarFormula(_ count: Int) {
        var rng = RNG(seed: 5)
        let start = Tensor.randn([count], rng: &rng)
        let gradients = (0..<3).map { _ in Tensor.randn([count], rng: &rng) }
        let p = start.copy().requiringGrad()
        let optimizer = Adam.adamW([("p", p)], beta1: 0.9, beta2: 0.95, weightDecay: 0.1)
        var w = start.array
        var m = [Float](repeating: 0, count: count)
        var v = [Float](repeating: 0, count: count)
        let (lr, wd, b1, b2, eps): (Float, Float, Float, Float, Float) = (0.01, 0.1, 0.9, 0.95, 1e-8)
        for (step, g) in gradients.enumerated() {
            p.grad = g
            optimizer.step(lr: lr)
            let correction1 = 1 - powf(b1, Float(step + 1))
            let correction2 = 1 - powf(b2, Float(step + 1))
            for i in 0..<count {
                let gi = g.data[i]
                w[i] *= 1 - lr * wd
                m[i] = b1 * m[i] + (1 - b1) * gi
                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                w[i] -= lr * (m[i] / correction1) / ((v[i] / correction2).squareRoot() + eps)
            }
        }
        #expect(p.array == w)
    }
}
