// One GRPO step (GRPOTask.update) at reasoning-base's shape (d128 L4 H4, vocabulary 2048), timed
// like the PyTorch twin (Benchmarks/torch_twin/grpo_step.py), and its phases:
//   grpo_step       GRPOTask.update: 32 arithmetic prompts x G 8 samples (temperature 1, at most 48
//                   new tokens, stopped at <|end|>), TinyZero's reward of each parsed response,
//                   group advantages, the reference's log-probs, one update (μ = 1, one minibatch:
//                   the 256 sequences' log-probs, clipped surrogate, k3 KL with β 0.04, per-sequence
//                   token mean, backward, clipping, AdamW)
//   grpo_rollout    the rollout alone: the same generate call on the same kind of prompts
//   grpo_reference  the reference's log-probs of a sampled batch
//   grpo_update     step − rollout − reference: scoring, advantages and the update (derived)
// The tokenizer is a 2048-token BPE trained on the committed Shakespeare sample and generated
// worked solutions, so the policy's ids decode to text. A random policy almost never samples
// <|end|> or an answer tag: every response is 48 tokens and scores 0, which changes no cost (the
// advantages are computed and the loss runs over every token either way). A sampled rollout and
// its rewards are written to --batch so that the twin's forwards see the same rows.
// --mlp moe: every MLP an MoE layer of the dense one's active parameters (reasoning-base-moe's
// shape: 8 routed experts of hidden 117, top-2, 1 shared, sigmoid router); the twin builds the same.
// --gspo: also GSPO's step against GRPO's on the same policy shape, alternating one step of each
// for 15 rounds (two copies of the same initial policy, the same task seed, so the same first
// rollout; a random policy's responses all run to 48 tokens, so every round costs the same):
//   gspo_vs_grpo/grpo_step, gspo_vs_grpo/gspo_step   the medians; the rounds' ratios (median, middle
//                                                    half, range) are printed
import ArgumentParser
import BenchmarkSupport
import Foundation
import GRPO
import GSPO
import MoE
import NanoTransformer
import PostTraining
import TensorCore
import Tokenizer

@main
struct GRPOBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grpo-bench", abstract: "Time one GRPO step (32 prompts x 8 samples) and its phases.")

    @Option(help: "Threads for the tensor core.") var threads = 2
    @Option(help: "Write measurements as JSON to this file.") var out: String?
    @Option(help: "Write a sampled rollout (for the twin) to this file (default: results/grpo[-moe]-batch.json).")
    var batch: String?
    @Option(help: "dense, or moe (MoE MLPs of the dense one's active parameters).") var mlp = "dense"
    @Flag(help: "Also time GSPO's step against GRPO's, alternating.") var gspo = false

    func run() throws {
        Threads.set(threads)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        var mix = ArithmeticMix()
        mix.chineseShare = 0.3
        var corpusRNG = RNG(seed: 0)
        var texts = try ["english-tempest.txt", "english-romeo-and-juliet.txt", "chinese-tang300.txt"].map {
            try String(contentsOfFile: "\(root)/Data/sample/\($0)", encoding: .utf8)
        }
        for _ in 0..<2000 {
            let (task, language) = mix.task(rng: &corpusRNG)
            texts.append(task.prompt(language) + " " + task.solution(language, rng: &corpusRNG).response(.full))
        }
        let base = try BPETrainer.train(texts, options: .init(vocabSize: 2048 - ConversationFormat.specialTokens.count))
        let format = try ConversationFormat(tokenizer: ConversationFormat.addingSpecialTokens(to: base))
        var config = TransformerConfig()
        (config.vocabSize, config.dModel, config.layers, config.heads, config.kvHeads, config.contextLength) = (
            format.tokenizer.vocabSize, 128, 4, 4, 4, 128
        )
        guard mlp == "dense" || mlp == "moe" else { throw ValidationError("--mlp: '\(mlp)' is not dense or moe") }
        var moe = MoEConfig()
        (moe.experts, moe.topK, moe.expertHidden, moe.sharedExperts) = (8, 2, 117, 1)
        func makePolicy() throws -> NanoTransformer {
            var rng = RNG(seed: 0)
            return try NanoTransformer(config, mlp: mlp == "moe" ? MixtureOfExperts.factory(moe) : nil, rng: &rng)
        }
        let policy = try makePolicy()
        let batch = self.batch ?? "Benchmarks/results/grpo\(mlp == "moe" ? "-moe" : "")-batch.json"
        let prefix = mlp == "moe" ? "grpo_moe" : "grpo"
        let reference = try ReferenceModel(frozenCopyOf: policy)
        var settings = GRPOSettings()
        (settings.promptsPerStep, settings.groupSize, settings.maxNewTokens) = (32, 8, 48)
        let source: TaskSource = { rng in
            let (task, language) = mix.task(rng: &rng)
            return task.verifiable(language)
        }
        let task = try GRPOTask(
            policy: policy, record: nil, reference: reference, format: format, source: source, evaluationTasks: [],
            evaluation: EvaluationSettings(), settings: settings, seed: 1)

        var sampling = RNG(seed: 2)
        func rollout() throws -> (Rollout, [VerifiableTask]) {
            let tasks = (0..<32).map { _ in source(&sampling) }
            let streams = (0..<256).map { _ in sampling.split() }
            let r = try policy.generate(
                prompts: tasks.map { format.promptIds($0.prompt) }, samplesPerPrompt: 8, maxNewTokens: 48,
                sampling: Sampling(temperature: 1), stopTokens: [format.end], streams: streams)
            return (r, tasks)
        }
        let (sampled, tasks) = try rollout()
        let rewards = try (0..<sampled.count).map { i in
            tasks[i / 8].reward(ParsedResponse(try format.responseText(sampled.responses[i])))
        }
        try JSONSerialization.data(withJSONObject: [
            "prompts": sampled.prompts, "responses": sampled.responses, "rewards": rewards, "vocab": config.vocabSize,
        ]).write(to: URL(fileURLWithPath: batch))
        let referenceTime = medianTime(trials: 5) {
            _ = reference.logProbs(prompts: sampled.prompts, responses: sampled.responses)
        }
        let rolloutTime = medianTime(trials: 5) { _ = try? rollout() }
        let step = medianTime(trials: 3) { _ = try? task.update() }
        let update = step - rolloutTime - referenceTime
        let mlpShape = mlp == "moe" ? " MoE 8x117 top-2 + 1 shared" : ""
        let shape = "d128 L4 H4 V\(config.vocabSize)\(mlpShape), 32 prompts x 8 samples, 48 new tokens, one update"
        print(
            "\(shape)  rollout \(ms(rolloutTime))  reference \(ms(referenceTime))  update \(ms(update))  step "
                + String(format: "%.3f s", step))
        var results = [
            BenchmarkResult(name: "\(prefix)_step", shape: shape, seconds: step),
            BenchmarkResult(name: "\(prefix)_rollout", shape: "256 x 48 new tokens", seconds: rolloutTime),
            BenchmarkResult(name: "\(prefix)_reference", shape: "256 sequences, no grad", seconds: referenceTime),
            BenchmarkResult(name: "\(prefix)_update", shape: "step - rollout - reference", seconds: update),
        ]
        if gspo {
            let tasks = try [settings, GSPO.settings(settings)].map { s in
                let p = try makePolicy()
                return try GRPOTask(
                    policy: p, record: nil, reference: try ReferenceModel(frozenCopyOf: p), format: format,
                    source: source, evaluationTasks: [], evaluation: EvaluationSettings(), settings: s, seed: 1)
            }
            var times: [[Double]] = [[], []]
            for _ in 0..<15 {
                for (i, t) in tasks.enumerated() {
                    let start = DispatchTime.now().uptimeNanoseconds
                    _ = try t.update()
                    times[i].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                }
            }
            let ratios = zip(times[1], times[0]).map { $0 / $1 }.sorted()
            let (grpoStep, gspoStep) = (times[0].sorted()[7], times[1].sorted()[7])
            print(
                "GSPO step \(ms(gspoStep)) against GRPO step \(ms(grpoStep)) (medians of 15): "
                    + String(
                        format: "%.3f; per-round ratio median %.3f, middle half %.3f-%.3f, all %.3f-%.3f",
                        gspoStep / grpoStep, ratios[7], ratios[4], ratios[11], ratios.first!, ratios.last!))
            results += [
                BenchmarkResult(name: "gspo_vs_grpo/grpo_step", shape: shape, seconds: grpoStep),
                BenchmarkResult(name: "gspo_vs_grpo/gspo_step", shape: shape, seconds: gspoStep),
            ]
        }
        if let out { try writeResults(results, to: out) }
    }

    func ms(_ seconds: Double) -> String { "\(Int((seconds * 1000).rounded())) ms" }
}
