// One offline DPO update (DPOTask.update) on the base models' shape (d128 L4 H4, vocabulary
// 2048), timed like the PyTorch twin of TRL's DPO step (Benchmarks/torch_twin/dpo_step.py):
//   dpo_step   8 pairs (prompts of 6-10 tokens, chosen and rejected responses of 8-40 tokens):
//              the 16 responses right-padded in one forward, summed response log-probs, the
//              sigmoid DPO loss against the reference's cached sums, backward, clipping, AdamW
// The pairs and the reference's sums are written to --batch so that the twin computes the same.
import ArgumentParser
import BenchmarkSupport
import DPO
import Foundation
import NanoTransformer
import PostTraining
import TensorCore

@main
struct DPOBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dpo-bench", abstract: "Time an offline DPO update on 8 preference pairs.")

    @Option(help: "Threads for the tensor core.") var threads = 2
    @Option(help: "Write measurements as JSON to this file.") var out: String?
    @Option(help: "Write the pairs (for the twin) to this file.") var batch = "Benchmarks/results/dpo-batch.json"

    func run() throws {
        Threads.set(threads)
        var config = TransformerConfig()
        (config.vocabSize, config.dModel, config.layers, config.heads, config.kvHeads, config.contextLength) = (
            2048, 128, 4, 4, 4, 128
        )
        var rng = RNG(seed: 0)
        let policy = try NanoTransformer(config, rng: &rng)
        let reference = try ReferenceModel(frozenCopyOf: policy)
        func tokens(_ low: Int, _ high: Int) -> [Int] {
            (0..<(low + rng.int(below: high - low + 1))).map { _ in rng.int(below: 2048) }
        }
        let pairs = (0..<8).map { _ in DPOPair(prompt: tokens(6, 10), chosen: tokens(8, 40), rejected: tokens(8, 40)) }
        var settings = DPOSettings()
        (settings.pairsPerBatch, settings.epochs) = (8, 10_000)
        let task = try DPOTask(
            policy: policy, record: nil, reference: reference, train: pairs, heldOut: [], settings: settings, seed: 1)
        let sums = reference.logProbs(
            prompts: pairs.map(\.prompt) + pairs.map(\.prompt), responses: pairs.map(\.chosen) + pairs.map(\.rejected)
        ).map { $0.reduce(0, +) }
        try JSONSerialization.data(withJSONObject: [
            "prompts": pairs.map(\.prompt), "chosen": pairs.map(\.chosen), "rejected": pairs.map(\.rejected),
            "reference_chosen": Array(sums[..<8]), "reference_rejected": Array(sums[8...]),
        ]).write(to: URL(fileURLWithPath: batch))
        let step = medianTime { _ = try? task.update() }
        let shape = "d128 L4 H4 V2048, 8 pairs (16 sequences, prompts 6-10 + responses 8-40 tokens)"
        print("\(shape)  step \(String(format: "%.1f", step * 1000)) ms")
        if let out { try writeResults([BenchmarkResult(name: "dpo_step", shape: shape, seconds: step)], to: out) }
    }
}
