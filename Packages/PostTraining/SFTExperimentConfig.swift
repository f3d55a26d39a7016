// The settings of the sft experiment and of the base models (Experiments/sft,
// Experiments/base-models): one config, two stages.
//   pretrain  a fresh nano transformer and tokenizer (with the conversation format's special
//             tokens) trained on documents with the loss on every token: corpus text cut into
//             context-length pieces, plus, in the reasoning world, worked solutions in the
//             conversation format (several formats, both languages, some wrong, some mixed);
//             in the preference world, fortunes quotations. This is `reasoning-base` and the
//             first half of `chat-base`.
//   sft       a checkpoint fine-tuned on (prompt, response) pairs of a world: worked solutions
//             (reasoning), a quotation's opening and its rest (preference).
import ExperimentKit
import LabSupport
import MoE
import NanoTransformer

public struct SFTExperimentConfig: ExperimentConfig {
    public enum Stage: String, Codable, Sendable { case pretrain, sft }
    public enum World: String, Codable, Sendable { case reasoning, preference }
    /// The blocks' MLP when pretraining: the model's dense SwiGLU, or the MoE layer of `moe`.
    public enum MLP: String, Codable, Sendable { case dense, moe }

    public var stage = Stage.sft
    public var world = World.reasoning

    // pretrain
    /// The model trained from scratch (its vocabulary is the tokenizer's).
    public var model: TransformerConfig = {
        var c = TransformerConfig()
        c.contextLength = 128
        return c
    }()
    /// dense, or moe: every block's MLP is `moe` (reasoning-base-moe, the gspo experiment's MoE
    /// policy, has the dense model's active parameters).
    public var mlp = MLP.dense
    public var moe = MoEConfig()
    public var tokenizerVocab = 2048
    /// "corpora" (Data/fetch's Shakespeare) or "sample" (the committed excerpt).
    public var data = "corpora"
    /// Generated worked solutions in the pretraining mix (reasoning world).
    public var pretrainSolutions = 40_000
    /// The solutions' mix: every format, both languages, some wrong, some mixed.
    public var pretrainMix: ArithmeticMix = {
        var m = ArithmeticMix()
        (m.chineseShare, m.mixedLanguageShare, m.answerOnlyShare, m.emptyThinkShare, m.wrongStepShare) = (
            0.4, 0.1, 0.2, 0.2, 0.1
        )
        return m
    }()
    /// The preference world's quotations: a folder of fortunes files (relative to the
    /// repository root, or absolute).
    public var quotations = "Data/corpora/english/fortunes"
    /// Share of pretraining documents held out for the validation loss.
    public var heldOutShare = 0.02

    // sft
    /// The checkpoint fine-tuned: a path ending in .h5, or a run of another experiment under the
    /// same --out ("base-models/base", reasoning-base, is <out>/base-models/base/seed-0.ckpt.h5).
    public var initFrom = "base-models/base"
    /// The SFT data's mix (default: correct full chains; the `noisy` ablation adds wrong steps).
    public var mix = ArithmeticMix()
    public var examples = 8_000
    public var heldOutExamples = 200

    // both
    public var sft: SFTSettings = {
        var s = SFTSettings()
        (s.batchSize, s.optimizer.learningRate, s.optimizer.warmupSteps) = (32, 1e-3, 20)
        return s
    }()
    /// The harness on a fixed eval set (the same tasks for every seed and ablation).
    public var evaluation: EvaluationSettings = {
        var e = EvaluationSettings()
        (e.samples, e.passK, e.maxNewTokens, e.promptsPerBatch) = (8, [1, 4, 8], 96, 50)
        return e
    }()
    public var evalTasks = 200
    /// Evaluate every this many updates (0: only after the last one).
    public var evalEvery = 0
    public var checkpointEvery = 1_000

    public init() {}

    public func validate() throws {
        do { try model.check() } catch let error as LabError { throw LabError(.config, "model.\(error.message)") }
        if mlp == .moe {
            do { try moe.check(model) } catch let error as LabError { throw LabError(.config, "moe.\(error.message)") }
        }
        try Check.range("tokenizerVocab", tokenizerVocab, 256...65_536)
        guard data == "corpora" || data == "sample" else {
            throw LabError.invalid(key: "data", "'\(data)' is not corpora or sample")
        }
        try Check.range("pretrainSolutions", pretrainSolutions, 0...10_000_000)
        try pretrainMix.check("pretrainMix")
        try mix.check("mix")
        guard (0..<1).contains(heldOutShare) else { throw LabError.invalid(key: "heldOutShare", "must be in [0, 1)") }
        try Check.range("examples", examples, 1...10_000_000)
        try Check.range("heldOutExamples", heldOutExamples, 0...1_000_000)
        try Check.range("evalTasks", evalTasks, 1...100_000)
        try Check.range("evalEvery", evalEvery, 0...Int.max)
        try Check.range("checkpointEvery", checkpointEvery, 1...Int.max)
        try sft.check()
        try evaluation.check()
        if stage == .sft && initFrom.isEmpty { throw LabError.invalid(key: "initFrom", "names no checkpoint") }
        if stage == .sft && mlp != .dense {
            throw LabError.invalid(
                key: "mlp", "an sft stage keeps the MLP of its initFrom checkpoint; mlp is a pretrain setting")
        }
    }
}
