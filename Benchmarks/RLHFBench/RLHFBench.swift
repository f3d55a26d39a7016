// One PPO-on-text iteration (RLHFTask.update) on chat-base's shape (d128 L4 H4, vocabulary 2048)
// for each of its four models (policy, reference, reward model, critic on its own trunk), timed
// like the PyTorch twin (Benchmarks/torch_twin/rlhf_iteration.py), and two of its phases alone:
//   rlhf_iteration   RLHFTask.update: 32 prompts, one response each (temperature 1, at most 48
//                    tokens, stopped at <|end|>), scoring, per-token rewards, GAE, whitening,
//                    4 epochs x 4 minibatches of policy and critic forward/backward, clipping, AdamW
//   rlhf_rollout     the rollout alone: the same generate call on the same kind of prompts
//   rlhf_scoring     the three no-grad forwards on a rollout: reference log-probs, reward scores,
//                    the critic's old values
//   rlhf_rest        iteration − rollout − scoring: the update passes and the bookkeeping
//                    (derived, not timed on its own)
// A random policy almost never samples <|end|> (about 2 % of responses end early), so every
// iteration decodes 48 steps, as the twin's batched generation does. A sampled rollout is written
// to --batch so that the twin's forwards and updates see the same rows.
import ArgumentParser
import BenchmarkSupport
import Foundation
import NanoTransformer
import PostTraining
import RLHF
import RewardBPR
import TensorCore
import Tokenizer

@main
struct RLHFBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rlhf-bench", abstract: "Time one PPO-on-text iteration and its rollout and scoring phases.")

    @Option(help: "Threads for the tensor core.") var threads = 2
    @Option(help: "Write measurements as JSON to this file.") var out: String?
    @Option(help: "Write a sampled rollout (for the twin) to this file.") var batch =
        "Benchmarks/results/rlhf-batch.json"

    func run() throws {
        Threads.set(threads)
        let questions = (0..<64).map { "What is \($0) plus \(97 - $0), and why?" }
        let format = try ConversationFormat(
            tokenizer: ConversationFormat.addingSpecialTokens(
                to: BPETrainer.train(questions, options: .init(vocabSize: 300))))
        var config = TransformerConfig()
        (config.vocabSize, config.dModel, config.layers, config.heads, config.kvHeads, config.contextLength) = (
            2048, 128, 4, 4, 4, 128
        )
        var rng = RNG(seed: 0)
        let policy = try NanoTransformer(config, rng: &rng)
        let reference = try ReferenceModel(frozenCopyOf: policy)
        let rewardModel = RewardModel(trunk: try NanoTransformer(config, rng: &rng), rng: &rng)
        var settings = RLHFSettings()
        (settings.promptsPerStep, settings.maxNewTokens, settings.epochs, settings.minibatches) = (32, 48, 4, 4)
        settings.optimizer.learningRate = 3e-5
        let task = try RLHFTask(
            policy: policy, reference: reference, rewardModel: rewardModel, format: format,
            source: { rng in questions[rng.int(below: questions.count)] }, settings: settings, seed: 1)

        var sampling = RNG(seed: 2)
        func rollout() throws -> Rollout {
            let prompts = (0..<32).map { _ in format.promptIds(questions[sampling.int(below: questions.count)]) }
            return try policy.generate(
                prompts: prompts, maxNewTokens: 48, sampling: Sampling(temperature: 1), stopTokens: [format.end],
                rng: &sampling)
        }
        let sampled = try rollout()
        try JSONSerialization.data(withJSONObject: ["prompts": sampled.prompts, "responses": sampled.responses])
            .write(to: URL(fileURLWithPath: batch))
        var unused = RNG(seed: 3)
        let scoring = medianTime(trials: 5) {
            _ = reference.logProbs(prompts: sampled.prompts, responses: sampled.responses)
            _ = rewardModel.score(prompts: sampled.prompts, responses: sampled.responses)
            _ = withNoGrad { task.critic.values(sampled.batch(), training: false, rng: &unused) }
        }
        let rolloutTime = medianTime(trials: 5) { _ = try? rollout() }
        let iteration = medianTime(trials: 3) { _ = try? task.update() }
        let rest = iteration - rolloutTime - scoring
        let shape = "d128 L4 H4 V2048 x 4 models, 32 prompts, 48 new tokens, 4 epochs x 4 minibatches"
        print(
            "\(shape)  rollout \(ms(rolloutTime))  scoring \(ms(scoring))  rest \(ms(rest))  iteration "
                + String(format: "%.3f s", iteration))
        if let out {
            try writeResults(
                [
                    BenchmarkResult(name: "rlhf_iteration", shape: shape, seconds: iteration),
                    BenchmarkResult(name: "rlhf_rollout", shape: "32 x 48 new tokens", seconds: rolloutTime),
                    BenchmarkResult(name: "rlhf_scoring", shape: "reference, reward model, critic", seconds: scoring),
                    BenchmarkResult(name: "rlhf_rest", shape: "iteration - rollout - scoring", seconds: rest),
                ], to: out)
        }
    }

    func ms(_ seconds: Double) -> String { "\(Int((seconds * 1000).rounded())) ms" }
}
