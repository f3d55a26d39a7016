// Pretraining the nano transformer on a tokenized corpus: the settings every pretraining
// experiment shares (nano-transformer, mla, moe). Keys are config-file keys.
import ExperimentKit
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
    /// Skip updates whose loss or grad-norm z-score over the last spikeWindow steps exceeds spikeZ.
    public var spikeGuard = false
    public var spikeWindow = 50
    public var spikeZ = 5.0
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

    public func validate() throws {
        do { try model.check() } catch let e as TransformerError { throw ConfigError.invalid(key: "model", e.message) }
        if learningRate <= 0 { throw ConfigError.invalid(key: "learningRate", "must be positive") }
        if tokenizerVocab <= 256 { throw ConfigError.invalid(key: "tokenizerVocab", "must exceed 256") }
        if !["corpora", "sample"].contains(data) {
            throw ConfigError.invalid(key: "data", "must be corpora or sample")
        }
        if batchSize < 1 || gradAccumulation < 1 || steps < 1 {
            throw ConfigError.invalid(key: "steps", "sizes must be positive")
        }
    }
}
