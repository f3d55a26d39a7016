// The nano transformer's training step and KV-cache decoding, timed like its PyTorch twin
// (Benchmarks/torch_twin/nano_transformer.py): the same two configs, threads and timing rule.
//   train_step:   forward + backward + gradient clipping + AdamW on one batch (seconds per step)
//   prefill:      the whole prompt of context/2 tokens at batch 1 into an empty KV cache
//   decode_token: one token at batch 1 with the KV cache, after that prefill (seconds per token)
import ArgumentParser
import BenchmarkSupport
import Foundation
import NanoTransformer
import TensorCore

/// The two benchmark shapes of the issue: (name, d, layers, heads, context, batch, vocab).
let shapes: [(name: String, d: Int, layers: Int, heads: Int, context: Int, batch: Int, vocab: Int)] = [
    ("tiny", 128, 4, 4, 128, 16, 512),
    ("small", 256, 6, 8, 256, 8, 4096),
]

@main
struct NanoTransformerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nano-transformer-bench", abstract: "Time nano-transformer training steps and decoding.")

    @Option(help: "Threads for the tensor core.")
    var threads = 2

    @Option(help: "Write measurements as JSON to this file.")
    var out: String?

    @Option(help: "Only these shapes (tiny, small; repeatable). Default: both.")
    var shape: [String] = []

    @Option(help: "Only run this many training steps of each shape, untimed (for a profiler).")
    var profileSteps: Int?

    func run() throws {
        Threads.set(threads)
        var results: [BenchmarkResult] = []
        for s in shapes where shape.isEmpty || shape.contains(s.name) {
            var config = TransformerConfig()
            config.vocabSize = s.vocab
            config.dModel = s.d
            config.layers = s.layers
            config.heads = s.heads
            config.kvHeads = s.heads
            config.contextLength = s.context
            var rng = RNG(seed: 0)
            let model = try NanoTransformer(config, rng: &rng)
            let optimizer = Adam.adamW(
                model.namedParameters(), beta2: 0.95, weightDecay: 0.1, noDecay: model.noDecayNames)
            let ids = (0..<(s.batch * s.context)).map { _ in rng.int(below: s.vocab) }
            let targets = (0..<(s.batch * s.context)).map { _ in rng.int(below: s.vocab) }
            let shape = "\(s.name) d\(s.d) L\(s.layers) H\(s.heads) T\(s.context) B\(s.batch) V\(s.vocab)"

            func trainStep() {
                optimizer.zeroGrad()
                model.loss(ids, targets: targets, batch: s.batch, time: s.context, rng: &rng).total.backward()
                clipGradNorm(model.parameters, maxNorm: 1)
                optimizer.step(lr: 1e-4)
            }
            if let profileSteps {
                // Wall time per phase, for reading a profile next to it.
                var phases = [Double](repeating: 0, count: 4)
                func timed(_ phase: Int, _ body: () -> Void) {
                    let start = DispatchTime.now().uptimeNanoseconds
                    body()
                    phases[phase] += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 / Double(profileSteps)
                }
                for _ in 0..<profileSteps {
                    var loss: Tensor?
                    optimizer.zeroGrad()
                    timed(0) {
                        loss = model.loss(ids, targets: targets, batch: s.batch, time: s.context, rng: &rng).total
                    }
                    timed(1) { loss!.backward() }
                    timed(2) { clipGradNorm(model.parameters, maxNorm: 1) }
                    timed(3) { optimizer.step(lr: 1e-4) }
                }
                print(
                    shape
                        + String(
                            format: "  ms per step: forward %.1f  backward %.1f  clip %.1f  AdamW %.1f", phases[0],
                            phases[1], phases[2], phases[3]))
                continue
            }
            let step = medianTime(trainStep)
            results.append(BenchmarkResult(name: "train_step", shape: shape, seconds: step))
            print(shape + String(format: "  train %8.0f tokens/s", Double(s.batch * s.context) / step))

            let prompt = Array(ids.prefix(s.context / 2))
            let decode = s.context / 2
            var cache = KVCache(layers: s.layers)
            let prefill = medianTime {
                cache = KVCache(layers: s.layers)
                _ = withNoGrad { model.logits(prompt, batch: 1, time: prompt.count, cache: cache, rng: &rng) }
            }
            results.append(BenchmarkResult(name: "prefill", shape: shape, seconds: prefill))
            // Decoding: seconds per token over `decode` tokens after a fresh prefill, median of 7.
            var perToken: [Double] = []
            for _ in 0..<8 {
                cache = KVCache(layers: s.layers)
                _ = withNoGrad { model.logits(prompt, batch: 1, time: prompt.count, cache: cache, rng: &rng) }
                var token = prompt.last!
                let start = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<decode {
                    let logits = withNoGrad { model.logits([token], batch: 1, time: 1, cache: cache, rng: &rng) }
                    token = logits.argmax()[0]
                }
                perToken.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(decode))
            }
            let decodeTime = perToken.dropFirst().sorted()[3]
            results.append(BenchmarkResult(name: "decode_token", shape: shape, seconds: decodeTime))
            print(
                shape
                    + String(
                        format: "  prefill %8.0f tokens/s  decode %8.0f tokens/s", Double(prompt.count) / prefill,
                        1 / decodeTime))
        }
        if let out { try writeResults(results, to: out) }
    }
}
