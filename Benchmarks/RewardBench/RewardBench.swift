// The reward model's training step and its scoring throughput, timed like the PyTorch twin
// (Benchmarks/torch_twin/reward_step.py):
//   reward_step:  one RewardTrainingTask-style update: 8 prompts x K = 4 responses right-padded
//                 into one batch, the trunk's hidden state at each response's last token through
//                 the scalar head, the pairwise Bradley-Terry loss over the 6 pairs of each prompt,
//                 backward, clipping, AdamW (seconds per step)
//   score_1024:   scores of 1024 (prompt, response) pairs, 32 per forward, no gradient (seconds)
// The batch is written to --batch (ids, each row's last index, the pairs) so that the twin
// trains on exactly the same rows.
import ArgumentParser
import BenchmarkSupport
import Foundation
import NanoTransformer
import PostTraining
import RewardBPR
import TensorCore

@main
struct RewardBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reward-bench", abstract: "Time a reward-model training step and batched scoring.")

    @Option(help: "Threads for the tensor core.") var threads = 2
    @Option(help: "Write measurements as JSON to this file.") var out: String?
    @Option(help: "Write the batch (for the twin) to this file.") var batch = "Benchmarks/results/reward-batch.json"

    func run() throws {
        Threads.set(threads)
        var config = TransformerConfig()
        (config.vocabSize, config.dModel, config.layers, config.heads, config.kvHeads, config.contextLength) = (
            2048, 128, 4, 4, 4, 128
        )
        var rng = RNG(seed: 0)
        let model = RewardModel(trunk: try NanoTransformer(config, rng: &rng), rng: &rng)
        // 8 prompts of 6-10 tokens, 4 responses of 8-40 tokens each (chat-base's lengths).
        let prompts = (0..<8).map { _ in (0..<(6 + rng.int(below: 5))).map { _ in rng.int(below: 2048) } }
        let responses = (0..<32).map { _ in (0..<(8 + rng.int(below: 33))).map { _ in rng.int(below: 2048) } }
        let flatPrompts = prompts.flatMap { Array(repeating: $0, count: 4) }
        let responseBatch = ResponseBatch(prompts: flatPrompts, responses: responses)
        let pairs = (0..<8).flatMap { p in PreferencePair.allPairs(ranking: (0..<4).map { p * 4 + $0 }, prompt: p) }
        try writeBatch(responseBatch, pairs: pairs)
        let optimizer = OptimizerSettings(learningRate: 1e-4).adamW(model.namedParameters(), noDecay: [])
        let loss = PreferenceLoss(kind: .pairwise)
        var dropout = RNG(seed: 1)
        let shape = "tiny d128 L4 H4 V2048, 8 prompts x 4 responses (T \(responseBatch.time)), 48 pairs"
        let step = medianTime {
            optimizer.zeroGrad()
            loss(scores: model.scores(responseBatch, training: true, rng: &dropout), pairs: pairs).loss.backward()
            clipGradNorm(model.parameters, maxNorm: 1)
            optimizer.step(lr: 1e-4)
        }
        let many = (0..<32).flatMap { _ in flatPrompts }
        let manyResponses = (0..<32).flatMap { _ in responses }
        let scoring = medianTime(trials: 3) { _ = model.score(prompts: many, responses: manyResponses, batchSize: 32) }
        print("\(shape)  step \(String(format: "%.1f", step * 1000)) ms;  scoring \(Int(1024 / scoring)) responses/s")
        let results = [
            BenchmarkResult(name: "reward_step", shape: shape, seconds: step),
            BenchmarkResult(name: "score_1024", shape: "tiny, 1024 responses, 32 per forward", seconds: scoring),
        ]
        if let out { try writeResults(results, to: out) }
    }

    func writeBatch(_ b: ResponseBatch, pairs: [PreferencePair]) throws {
        let json: [String: Any] = [
            "batch": b.batch, "time": b.time, "ids": b.ids, "last_index": b.lastIndex,
            "winners": pairs.map(\.winner), "losers": pairs.map(\.loser),
        ]
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: batch))
    }
}
