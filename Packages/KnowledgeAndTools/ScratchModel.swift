// What every part of the experiment trains: a tiny transformer, from scratch or from an earlier
// stage's policy, by SFT on (prompt, response) texts in the conversation format, evaluated by the
// part's own measure. The tokenizer is BPE learned on the parts' texts (bytes only at the smallest
// vocabulary). A run that finishes leaves its policy beside its results (`seed-N.policy.h5`), which
// a later stage of the same seed starts from (`ScratchModel.previousStage`).
import ExperimentKit
import Foundation
import LabSupport
import ModelStore
import NanoTransformer
import PostTraining
import TensorCore
import Tokenizer

public enum ScratchModel {
    /// Bytes and the conversation format's special tokens: the smallest vocabulary.
    public static let bytesVocab = 256 + ConversationFormat.specialTokens.count

    /// BPE learned on `texts` (0: bytes only), the conversation format's special tokens and
    /// `extraSpecialTokens` after the bytes.
    public static func tokenizer(_ texts: [String], vocab: Int, extraSpecialTokens: [String] = []) throws
        -> BPETokenizer
    {
        let special = ConversationFormat.specialTokens + extraSpecialTokens
        return try BPETrainer.train(
            texts,
            options: .init(
                vocabSize: vocab == 0 ? 256 + special.count : vocab, pattern: .gpt4, specialTokens: special))
    }

    /// The SFT examples of (prompt, response) pairs, refused by `key` when one is longer than the
    /// model's context.
    public static func examples(
        _ pairs: [(prompt: String, response: String)], format: ConversationFormat, contextLength: Int, key: String
    ) throws -> [SFTExample] {
        try pairs.map { pair in
            let (ids, start) = format.render(prompt: pair.prompt, response: pair.response)
            guard ids.count <= contextLength else {
                throw LabError.invalid(
                    key: key, "an example is \(ids.count) tokens, longer than the context (\(contextLength))")
            }
            return SFTExample(ids: ids, responseStart: start)
        }
    }

    /// A fresh model of `config` with the tokenizer's vocabulary, its weights drawn from the seed's
    /// first split; `root` is left for the training order (its next draw).
    public static func fresh(_ config: TransformerConfig, tokenizer: BPETokenizer, root: inout RNG) throws
        -> NanoTransformer
    {
        var c = config
        c.vocabSize = tokenizer.vocabSize
        var initRNG = root.split()
        return try NanoTransformer(c, rng: &initRNG)
    }

    /// The policy an earlier stage of this experiment left for this seed:
    /// <inputs>/knowledge-and-tools/<ablation>/seed-N.policy.h5.
    public static func previousStage<C>(_ run: Run<C>, ablation: String, key: String) throws -> (
        model: NanoTransformer, tokenizer: BPETokenizer
    ) {
        let path = "\(run.inputs)/knowledge-and-tools/\(ablation)/seed-\(run.seed).policy.h5"
        guard FileManager.default.fileExists(atPath: path) else {
            throw LabError.invalid(
                key: key,
                "\(path) does not exist: run the ablation \(ablation) for seed \(run.seed) first (Scripts/knowledge-and-tools-study runs the stages in order)"
            )
        }
        return (try NanoTransformer.load(checkpoint: path), try BPETokenizer.load(checkpoint: path))
    }

    /// SFT of `model` on `train` through PostTraining's loop, `evaluate` every `evalEvery` updates
    /// and after the last; the policy saved when the run finishes.
    public static func fit<C>(
        _ run: Run<C>, model: NanoTransformer, tokenizer: BPETokenizer, train: [SFTExample], heldOut: [SFTExample],
        settings: SFTSettings, seed: UInt64, evalEvery: Int, checkpointEvery: Int,
        evaluate: @escaping (NanoTransformer) throws -> [String: Double]
    ) throws -> RunOutcome {
        let record = try model.modelRecord(tokenizer: tokenizer)
        let outcome = try SFTStages.fit(
            run, model: model, record: record, train: train, heldOut: heldOut, settings: settings, seed: seed,
            evaluate: evaluate, evalEvery: evalEvery, checkpointEvery: checkpointEvery)
        if case .finished = outcome {
            let updates = run.results.results.metrics["loss/train"]?.steps.last ?? 0
            try TrainedPolicy.save(model, record: record, step: Int(updates), run: run)
        }
        return outcome
    }
}

extension ScratchModel {
    /// The tiny model every part starts from: d64, 2 layers, 4 heads (RoPE, SwiGLU, RMSNorm).
    public static func tinyModel(contextLength: Int) -> TransformerConfig {
        var m = TransformerConfig()
        (m.dModel, m.layers, m.heads, m.kvHeads, m.contextLength) = (64, 2, 4, 4, contextLength)
        return m
    }

    /// SFT as the parts train: padded rows of 32, AdamW at `learningRate`, `epochs` passes.
    public static func sft(epochs: Int, learningRate: Double = 1e-3) -> SFTSettings {
        var s = SFTSettings()
        (s.epochs, s.batchSize, s.layout) = (epochs, 32, .padded)
        s.optimizer.learningRate = learningRate
        return s
    }

    /// The checks every part's training settings share, errors named under `prefix`.
    /// `extraSpecialTokens`: how many special tokens the part adds to the conversation format's.
    public static func check(
        _ prefix: String, tokenizerVocab: Int? = nil, extraSpecialTokens: Int = 0, model: TransformerConfig,
        sft: SFTSettings, evalEvery: Int, checkpointEvery: Int
    ) throws {
        if let tokenizerVocab, tokenizerVocab != 0 {
            try Check.range("\(prefix).tokenizerVocab", tokenizerVocab, (bytesVocab + extraSpecialTokens)...65_536)
        }
        do { try model.check() } catch let error as LabError {
            throw LabError(.config, "\(prefix).model.\(error.message)")
        }
        do { try sft.check() } catch let error as LabError {
            throw LabError(.config, "\(prefix).\(error.message)")
        }
        try Check.range("\(prefix).evalEvery", evalEvery, 1...Int.max)
        try Check.range("\(prefix).checkpointEvery", checkpointEvery, 1...Int.max)
    }

    /// Greedy answers of `model` to `prompts` as text (the conversation format's end stops them).
    public static func greedyAnswers(
        _ model: NanoTransformer, format: ConversationFormat, prompts: [String], maxNewTokens: Int
    ) throws -> [ScoredResponse] {
        var settings = EvaluationSettings()
        (settings.samples, settings.passK, settings.maxNewTokens, settings.promptsPerBatch) = (0, [], maxNewTokens, 100)
        let tasks = prompts.map { VerifiableTask(prompt: $0, isCorrect: { _ in false }) }
        return try Evaluation.run(model, format: format, tasks: tasks, settings: settings).greedy
    }
}
