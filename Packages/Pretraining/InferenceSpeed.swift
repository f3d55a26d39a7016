// Inference speed at batch 1: a prompt prefilled into the KV cache in one pass, then tokens
// decoded one at a time against it; optionally the same decoding without a cache. Wall clock,
// one measurement (experiments record it beside their results; Benchmarks/ has the careful one).
import Foundation
import NanoTransformer
import TensorCore

public struct InferenceSpeed: Sendable {
    public let prefillTokensPerSecond: Double
    public let decodeTokensPerSecond: Double
    /// Decoding by recomputing the whole prefix each step (nil when not measured).
    public let recomputeTokensPerSecond: Double?
    /// What the cache holds per token after the run, all layers (measured from its tensors).
    public let cacheBytesPerToken: Int

    /// `prompt` random tokens, then `decode` steps on fixed tokens (speed only, no sampling).
    public static func measure(_ model: NanoTransformer, prompt: Int, decode: Int, recompute: Bool = false)
        -> InferenceSpeed
    {
        var rng = RNG(seed: 3)
        let ids = (0..<prompt).map { _ in rng.int(below: model.config.vocabSize) }
        let cache = KVCache(layers: model.config.layers)
        var start = Date()
        _ = withNoGrad { model.logits(ids, batch: 1, time: prompt, cache: cache, rng: &rng) }
        let prefill = Double(prompt) / Date().timeIntervalSince(start)
        start = Date()
        for i in 0..<decode {
            _ = withNoGrad { model.logits([i % model.config.vocabSize], batch: 1, time: 1, cache: cache, rng: &rng) }
        }
        let cached = Double(decode) / Date().timeIntervalSince(start)
        var recomputed: Double? = nil
        if recompute {
            start = Date()
            var sequence = ids
            for i in 0..<decode {
                sequence.append(i % model.config.vocabSize)
                _ = withNoGrad { model.logits(sequence, batch: 1, time: sequence.count, rng: &rng) }
            }
            recomputed = Double(decode) / Date().timeIntervalSince(start)
        }
        return InferenceSpeed(
            prefillTokensPerSecond: prefill, decodeTokensPerSecond: cached, recomputeTokensPerSecond: recomputed,
            cacheBytesPerToken: cache.bytesPerToken)
    }
}
