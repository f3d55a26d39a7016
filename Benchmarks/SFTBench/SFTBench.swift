// The SFT step and a rollout batch, timed like the PyTorch twin (Benchmarks/torch_twin/sft_step.py):
//   sft_step:   one update of SFTTask's kind on a packed batch (rows of 128 tokens holding several
//               prompt + response examples, attention kept inside each, loss on response tokens):
//               forward + backward + clipping + AdamW (seconds per step)
//   rollout_256 (ours only): 256 sequences (16 prompts x 16 samples, 96 new tokens, KV cache) at
//               temperature 1, with the process's peak resident memory
// The batch is written to --batch (ids, targets, positions, each token's segment) so that the twin
// trains on exactly the same rows.
import ArgumentParser
import BenchmarkSupport
import Foundation
import NanoTransformer
import PostTraining
import TensorCore

#if canImport(Glibc)
    import Glibc
#endif

@main
struct SFTBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sft-bench", abstract: "Time an SFT step on a packed batch and a 256-sequence rollout.")

    @Option(help: "Threads for the tensor core.") var threads = 2
    @Option(help: "Write measurements as JSON to this file.") var out: String?
    @Option(help: "Write the packed batch (for the twin) to this file.") var batch = "Benchmarks/results/sft-batch.json"

    func run() throws {
        Threads.set(threads)
        var config = TransformerConfig()
        (config.vocabSize, config.dModel, config.layers, config.heads, config.kvHeads, config.contextLength) = (
            2048, 128, 4, 4, 4, 128
        )
        var rng = RNG(seed: 0)
        let model = try NanoTransformer(config, rng: &rng)
        // 48 examples: a prompt of 8-24 tokens and a response of 16-80, the lengths of worked solutions.
        let examples = (0..<48).map { _ in
            let (p, r) = (8 + rng.int(below: 17), 16 + rng.int(below: 65))
            return SFTExample(ids: (0..<(p + r)).map { _ in rng.int(below: 2048) }, responseStart: p)
        }
        let packed = try SFTBatch(examples, layout: .packed, lossTokens: .response, window: 128)
        try writeBatch(packed)
        let optimizer = OptimizerSettings(learningRate: 1e-4).adamW(
            model.namedParameters(), noDecay: model.noDecayNames)
        var dropout = RNG(seed: 1)
        let shape = "tiny d128 L4 H4 T128 V2048, \(packed.rows) packed rows, \(packed.counted) response targets"
        let step = medianTime {
            optimizer.zeroGrad()
            let logits = model.logits(
                packed.ids, batch: packed.rows, time: packed.time, positions: packed.positions, mask: packed.mask,
                training: true, rng: &dropout
            ).reshaped([packed.rows * packed.time, 2048])
            packed.loss(logits).backward()
            clipGradNorm(model.parameters, maxNorm: 1)
            optimizer.step(lr: 1e-4)
        }
        let results = [BenchmarkResult(name: "sft_step", shape: shape, seconds: step)]
        print(
            "\(shape)  sft step \(String(format: "%.1f", step * 1000)) ms  \(Int(Double(packed.rows * 128) / step)) tokens/s"
        )

        // 256 sequences from 16 prompts, each sampled 16 times.
        let prompts = (0..<16).map { _ in (0..<24).map { _ in rng.int(below: 2047) } }
        let streams = (0..<256).map { RNG(seed: UInt64($0)) }
        let start = DispatchTime.now().uptimeNanoseconds
        let rollout = try model.generate(
            prompts: prompts, samplesPerPrompt: 16, maxNewTokens: 96, sampling: Sampling(temperature: 1),
            stopTokens: [2047], streams: streams)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let peakMB = Double(usage.ru_maxrss) / 1024
        let tokens = rollout.responses.map(\.count).reduce(0, +)
        print(
            "rollout of \(rollout.responses.count) sequences: \(tokens) tokens in \(String(format: "%.2f", seconds)) s; peak resident memory \(Int(peakMB)) MB"
        )
        if let out { try writeResults(results, to: out) }
    }

    /// The batch as JSON: rows, time, ids, targets, positions, and each token's segment (the first
    /// position of the sequence it belongs to, read off the mask).
    func writeBatch(_ b: SFTBatch) throws {
        let t = b.time
        var segments: [Int] = []
        for row in 0..<b.rows {
            let mask = b.mask!.data + row * t * t
            for i in 0..<t { segments.append((0..<t).first { mask[i * t + $0] == 0 }!) }
        }
        let json: [String: Any] = [
            "rows": b.rows, "time": t, "ids": b.ids, "targets": b.targets, "positions": b.positions,
            "segments": segments,
        ]
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: batch))
    }
}
