// Tensor-core benchmark: matmul through the tensor API against raw cblas_sgemm, and forward +
// backward throughput of every fused kernel, on the shapes of the nano-transformer configs.
// The PyTorch twin (Benchmarks/torch_twin/tensorcore_ops.py) times the same ops and shapes;
// Scripts/bench-tensorcore runs both and writes the comparison table.
import ArgumentParser
import BenchmarkSupport
import CBLAS
import Foundation
import TensorCore

/// Forward + backward of `op` with a fixed upstream gradient.
func forwardBackward(_ inputs: [Tensor], _ op: @escaping () -> Tensor) -> () -> Void {
    let probe = withNoGrad { op() }
    var rng = RNG(seed: 1)
    let upstream = Tensor.randn(probe.shape, rng: &rng)
    return {
        for x in inputs { x.grad = nil }
        op().backward(upstream)
    }
}

func padded(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}

@main
struct TensorCoreBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tensorcore-bench", abstract: "Time tensor-core matmuls and fused kernels.")

    @Option(help: "Threads for the tensor core (and for raw OpenBLAS in the baseline).")
    var threads = 2

    @Option(help: "Write measurements as JSON to this file.")
    var out: String?

    @Option(help: "Only run benchmarks whose name contains this text.")
    var only: String?

    func run() throws {
        Threads.set(threads)
        var results: [BenchmarkResult] = []
        func wanted(_ name: String) -> Bool { only.map { name.contains($0) } ?? true }
        func report(_ name: String, _ shape: String, _ seconds: @autoclosure () -> Double, flops: Double? = nil) {
            guard wanted(name) else { return }
            let seconds = seconds()
            let gflops = flops.map { $0 / seconds / 1e9 }
            results.append(BenchmarkResult(name: name, shape: shape, seconds: seconds, gflops: gflops))
            let rate = gflops.map { String(format: "%7.1f GFLOP/s", $0) } ?? ""
            print(padded(name, 24) + padded(shape, 30) + String(format: "%10.1f us  ", seconds * 1e6) + rate)
        }
        var rng = RNG(seed: 0)

        for n in [256, 512, 1024] {
            let a = Tensor.randn([n, n], rng: &rng)
            let b = Tensor.randn([n, n], rng: &rng)
            let c = Tensor(shape: [n, n])
            let flops = 2 * Double(n * n * n)
            let shape = "\(n)x\(n)x\(n)"
            // The baseline a user would write: one cblas_sgemm with OpenBLAS on the same threads.
            report(
                "sgemm raw OpenBLAS", shape,
                {
                    openblas_set_num_threads(Int32(threads))
                    defer { openblas_set_num_threads(1) }
                    return medianTime {
                        cblas_sgemm(
                            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a.data,
                            Int32(n), b.data, Int32(n), 0, c.data, Int32(n))
                    }
                }(), flops: flops)
            report("matmul", shape, medianTime { _ = withNoGrad { matmul(a, b) } }, flops: flops)
            report("matmul Bᵀ", shape, medianTime { _ = withNoGrad { matmul(a, b, transposeB: true) } }, flops: flops)
        }

        // The products of a tiny nano-transformer training step (B*T = 2048 rows, d 128, SwiGLU
        // hidden 352, vocab 512): a linear layer's forward x Wᵀ, its input gradient g W and its
        // weight gradient gᵀ x. 92 % of the step's arithmetic is in these.
        for (inFeatures, outFeatures) in [(128, 128), (128, 352), (352, 128), (128, 512)] {
            let rows = 2048
            let x = Tensor.randn([rows, inFeatures], rng: &rng)
            let w = Tensor.randn([outFeatures, inFeatures], rng: &rng)
            let g = Tensor.randn([rows, outFeatures], rng: &rng)
            let flops = 2 * Double(rows * inFeatures * outFeatures)
            let shape = "\(rows)x\(inFeatures)->\(outFeatures)"
            report("linear x Wᵀ", shape, medianTime { _ = withNoGrad { matmul(x, w, transposeB: true) } }, flops: flops)
            report("linear g W", shape, medianTime { _ = withNoGrad { matmul(g, w) } }, flops: flops)
            report("linear gᵀ x", shape, medianTime { _ = withNoGrad { matmul(g, x, transposeA: true) } }, flops: flops)
        }

        // Fused kernels, forward + backward, at the tiny and small nano-transformer shapes.
        let configs = [
            (name: "tiny", b: 16, t: 128, h: 4, d: 32, c: 128, v: 512),
            (name: "small", b: 8, t: 256, h: 8, d: 32, c: 256, v: 4096),
        ]
        for cfg in configs {
            let attnShape = "\(cfg.name) B\(cfg.b) T\(cfg.t) H\(cfg.h) D\(cfg.d)"
            let q = Tensor.randn([cfg.b, cfg.t, cfg.h, cfg.d], rng: &rng).requiringGrad()
            let k = Tensor.randn([cfg.b, cfg.t, cfg.h, cfg.d], rng: &rng).requiringGrad()
            let v = Tensor.randn([cfg.b, cfg.t, cfg.h, cfg.d], rng: &rng).requiringGrad()
            // Causal: half the score matrix; forward 2 products, backward 4.
            let attnFlops = 2.0 * Double(cfg.b * cfg.h * cfg.t * cfg.t * cfg.d) * 0.5 * 6
            report(
                "attention fwd+bwd", attnShape, medianTime(forwardBackward([q, k, v]) { attention(q: q, k: k, v: v) }),
                flops: attnFlops)
            let kg = Tensor.randn([cfg.b, cfg.t, cfg.h / 4, cfg.d], rng: &rng).requiringGrad()
            let vg = Tensor.randn([cfg.b, cfg.t, cfg.h / 4, cfg.d], rng: &rng).requiringGrad()
            report(
                "attention GQA fwd+bwd", attnShape + " KV\(cfg.h / 4)",
                medianTime(forwardBackward([q, kg, vg]) { attention(q: q, k: kg, v: vg) }), flops: attnFlops)

            let rows = cfg.b * cfg.t
            let x = Tensor.randn([rows, cfg.c], rng: &rng).requiringGrad()
            let g = Tensor.ones([cfg.c]).requiringGrad()
            let beta = Tensor.zeros([cfg.c]).requiringGrad()
            let shape = "\(cfg.name) \(rows)x\(cfg.c)"
            report("rmsnorm fwd+bwd", shape, medianTime(forwardBackward([x, g]) { rmsNorm(x, weight: g) }))
            report(
                "layernorm fwd+bwd", shape,
                medianTime(forwardBackward([x, g, beta]) { layerNorm(x, weight: g, bias: beta) }))
            let positions = Array(0..<cfg.t)
            report("rope fwd+bwd", attnShape, medianTime(forwardBackward([q]) { rope(q, positions: positions) }))
            let hidden = cfg.c * 8 / 3
            let a1 = Tensor.randn([rows, hidden], rng: &rng).requiringGrad()
            let a3 = Tensor.randn([rows, hidden], rng: &rng).requiringGrad()
            report(
                "swiglu fwd+bwd", "\(cfg.name) \(rows)x\(hidden)",
                medianTime(forwardBackward([a1, a3]) { swiglu(gate: a1, up: a3) }))
            report(
                "swiglu fwd", "\(cfg.name) \(rows)x\(hidden)",
                medianTime { _ = withNoGrad { swiglu(gate: a1, up: a3) } })
            let logits = Tensor.randn([rows, cfg.v], rng: &rng).requiringGrad()
            let targets = (0..<rows).map { _ in rng.int(below: cfg.v) }
            report(
                "cross-entropy fwd+bwd", "\(cfg.name) \(rows)x\(cfg.v)",
                medianTime(forwardBackward([logits]) { crossEntropy(logits, targets: targets) }))
        }

        if let out {
            try writeResults(results, to: out)
            print("wrote \(out)")
        }
    }
}
