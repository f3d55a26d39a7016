import ExperimentKit
// Pretraining the nano transformer on a tokenized corpus: the settings every pretraining
// experiment shares (nano-transformer, mla, moe). Keys are config-file keys.
import LabSupport
import NanoTransformer

public struct PretrainConfig: ExperimentConfig, Equatable {
    /// The model (vocabSize is set from the tokenizer).
    public var model = TransformerConfig()
    /// BPE vocabulary size and pattern for the corpus.
    public var tokenizerVocab = 2048
    /// Sequences per micro-batch, and micro-batches per update (gradient accumulation).
    public var batchSize = 16
    public var gradAccumulation = 1
    /// Optimiser updates.
    public var steps = 3000
    /// Peak learning rate; cosine decay to minLearningRateRatio of it after warmup.
    public var learningRate = 2e-3
    public var minLearningRateRatio = 0.1
    public var warmupSteps = 100
    public var weightDecay = 0.1
    public var beta2 = 0.95
    public var gradClip = 1.0
    /// Skip updates whose cross-entropy or grad-norm z-score over the last spikeWindow steps
    /// exceeds spikeZ (llm.c's rule: every step enters the window; spikeZ < sqrt(spikeWindow - 1)).
    public var spikeGuard = false
    public var spikeWindow = 50
    public var spikeZ = 5.0
    /// Validation every N steps, and always after the last (N >= steps: only after the last).
    public var evalEvery = 250
    public var evalBatches = 8
    public var checkpointEvery = 1000
    /// After training: validation loss at 2x and 4x the context with each RoPE extension.
    public var contextEvaluation = true
    /// Fine-tune this many steps at 2x context with position interpolation, then evaluate again.
    public var contextFinetuneSteps = 0
    /// After training: prefill and decode speed with and without the KV cache.
    public var inferenceBenchmark = true
    /// corpora (Data/fetch: all of Shakespeare) or sample (committed sample).
    public var data = "corpora"

    public init() {
        model.dModel = 128
        model.layers = 4
        model.heads = 4
        model.kvHeads = 4
        model.contextLength = 128
    }

    public static var derivedKeys: [String: String] {
        ["model.vocabSize": "it is the tokenizer's vocabulary (set tokenizerVocab instead)"]
    }

    /// Every field's range and the rules between fields, each error naming its key path.
    public func validate() throws {
        try LabError.checking(prefix: "model") { try model.check() }
        try Check.range("tokenizerVocab", tokenizerVocab, 257...(1 << 20))
        try Check.range("batchSize", batchSize, 1...65536)
        try Check.range("gradAccumulation", gradAccumulation, 1...65536)
        try Check.range("steps", steps, 1...1_000_000_000)
        try Check.range("learningRate", learningRate, 0...10, openLow: true)
        try Check.range("minLearningRateRatio", minLearningRateRatio, 0...1)
        try Check.range("warmupSteps", warmupSteps, 0...1_000_000_000)
        try Check.range("weightDecay", weightDecay, 0...10)
        try Check.range("beta2", beta2, 0...1, openHigh: true)
        try Check.range("gradClip", gradClip, 0...1e9, openLow: true)
        // The z-score needs 10 points of history (SpikeGuard.zScore).
        try Check.range("spikeWindow", spikeWindow, 10...1_000_000)
        try Check.range("spikeZ", spikeZ, 0...1e9, openLow: true)
        // The newest value is in the window, so its z-score is at most sqrt(window - 1).
        let reachable = Double(spikeWindow - 1).squareRoot()
        try Check.that(
            spikeZ < reachable, "spikeZ",
            "a z-score against a window of \(spikeWindow) that includes the value is at most \(reachable): the guard could never fire",
            related: ["spikeWindow"])
        try Check.range("evalEvery", evalEvery, 1...Int.max)
        try Check.range("evalBatches", evalBatches, 1...1_000_000)
        try Check.range("checkpointEvery", checkpointEvery, 0...Int.max)
        try Check.range("contextFinetuneSteps", contextFinetuneSteps, 0...1_000_000_000)
        try Check.oneOf("data", data, ["corpora", "sample"])
    }
}

extension LabError {
    /// Runs a nano-transformer config check (the model's, MoE's, MLA's) and turns its
    /// model-domain LabError into a config one on the field's key path: its own fields go under
    /// `prefix` (`moe.topK`), the model's ("model.mlp" in MoE's check) under `modelPrefix`
    /// (`training.model.mlp`).
    public static func checking(prefix: String, modelPrefix: String? = nil, _ body: () throws -> Void) throws {
        func path(_ field: String) -> String {
            if let modelPrefix, field.hasPrefix("model.") { return "\(modelPrefix).\(field)" }
            return "\(prefix).\(field)"
        }
        do { try body() } catch let e as LabError where e.domain == .model {
            guard let field = e.key else { throw LabError(.config, e.message) }
            throw LabError.invalid(key: path(field), e.reason, related: e.related.map(path))
        }
    }
}
