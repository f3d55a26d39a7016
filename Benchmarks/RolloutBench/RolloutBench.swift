// RL rollouts with the nano transformer, timed like their PyTorch twin (Benchmarks/torch_twin/rollout.py):
//   rollout:        32 prompts of 16 tokens x 8 samples = 256 sequences, 48 new tokens each, sampled
//                   at temperature 1 with each token's behaviour log-prob kept (seconds per rollout)
//   decode_at_L:    seconds per token at batch 1 when the cache holds L tokens, in one decode of
//                   2048 tokens (median over a window of 32 tokens at L; median of 3 decodes)
//   attention_at_L: the cached attention alone at L keys, all layers (what a token must cost more at L)
// The tiny shape of the nano-transformer benchmark: d 128, 4 layers, 4 heads, vocabulary 512.
import ArgumentParser
import BenchmarkSupport
import Foundation
import NanoTransformer
import TensorCore

let shape = "tiny d128 L4 H4 V512"
let (prompts, samples, newTokens, promptLength) = (32, 8, 48, 16)
let decodeLength = 2048
let windows = [128, 1024, 2016]

@main
struct RolloutBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollout-bench", abstract: "Time rollout generation and long KV-cache decoding.")

    @Option(help: "Threads for the tensor core.")
    var threads = 2

    @Option(help: "Write measurements as JSON to this file.")
    var out: String?

    @Option(help: "Only generate this many rollouts, untimed (for a profiler).")
    var profileRollouts: Int?

    func run() throws {
        Threads.set(threads)
        var config = TransformerConfig()
        (config.vocabSize, config.dModel, config.layers, config.heads, config.kvHeads) = (512, 128, 4, 4, 4)
        var rng = RNG(seed: 0)
        let model = try NanoTransformer(config, rng: &rng)
        let promptIds = (0..<prompts).map { _ in (0..<promptLength).map { _ in rng.int(below: 512) } }
        var results: [BenchmarkResult] = []

        if let n = profileRollouts {
            for seed in 0..<n {
                var r = RNG(seed: UInt64(seed))
                _ = try model.generate(
                    prompts: promptIds, samplesPerPrompt: samples, maxNewTokens: newTokens,
                    sampling: Sampling(temperature: 1), rng: &r)
            }
            return
        }
        var last: Rollout?
        let rollout = medianTime(trials: 5) {
            var r = RNG(seed: 1)
            last = try? model.generate(
                prompts: promptIds, samplesPerPrompt: samples, maxNewTokens: newTokens,
                sampling: Sampling(temperature: 1), rng: &r)
        }
        let generated = last!.lengths.reduce(0, +)
        precondition(generated == prompts * samples * newTokens, "every sequence runs the full length")
        results.append(BenchmarkResult(name: "rollout", shape: "\(shape) 32x8 prompts, 48 new", seconds: rollout))
        // The ratio a PPO update starts from: behaviour log-probs against the training forward's.
        var r = RNG(seed: 2)
        let recomputed = model.responseLogProbs(last!.batch(), rng: &r).logProbs
        let worst = (recomputed - last!.behaviourLogProbs()).abs().array.max()!
        print(
            shape
                + String(
                    format: "  rollout %.3f s: %.0f generated tokens/s; max |behaviour - recomputed log-prob| %.2e",
                    rollout, Double(generated) / rollout, worst))

        // Long decoding: per-token time at three cache lengths, one continuous decode.
        var perWindow = [[Double]](repeating: [], count: windows.count)
        for _ in 0..<3 {
            let cache = KVCache(layers: config.layers)
            var token = 1
            _ = withNoGrad { model.logits(Array(promptIds[0]), batch: 1, time: promptLength, cache: cache, rng: &r) }
            var times: [Double] = []
            while cache.length < decodeLength {
                let start = DispatchTime.now().uptimeNanoseconds
                let logits = withNoGrad { model.logits([token], batch: 1, time: 1, cache: cache, rng: &r) }
                token = logits.argmax()[0]
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            for (w, length) in windows.enumerated() {
                let from = length - promptLength  // times[i] is the token that saw promptLength + i keys
                perWindow[w].append(times[from..<(from + 32)].sorted()[16])
            }
        }
        for (w, length) in windows.enumerated() {
            let perToken = perWindow[w].sorted()[1]
            results.append(BenchmarkResult(name: "decode_at_\(length)", shape: shape, seconds: perToken))
            // Attention alone at this length, every layer: q (1, 1, H, D) over L cached keys, from a
            // K and a V slab per layer of the decode's capacity (the same memory traffic).
            let slabs = (0..<(2 * config.layers)).map { _ in Tensor.randn([1, decodeLength + 256, 128], rng: &r) }
            let q = Tensor.randn([1, 1, 4, 32], rng: &r)
            let attention = medianTime {
                for l in 0..<config.layers {
                    _ = cachedAttention(
                        q: q, keys: SlabView(slabs[2 * l], heads: 4, dim: 32),
                        values: SlabView(slabs[2 * l + 1], heads: 4, dim: 32), slots: [0], lengths: [length + 1])
                }
            }
            results.append(BenchmarkResult(name: "attention_at_\(length)", shape: shape, seconds: attention))
            print(
                shape
                    + String(
                        format: "  decode at %4d cached tokens: %.1f us per token (attention alone %.1f us)", length,
                        perToken * 1e6, attention * 1e6))
        }
        if let out { try writeResults(results, to: out) }
    }
}
