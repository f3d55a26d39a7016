// CCNet's perplexity filter (Wenzek et al. 2019): each document's perplexity under a language
// model trained on clean text, and its bucket among the documents of its source: head (the
// lowest third), middle, tail (the highest third), by the 33rd and 66th percentiles of a sample of
// that source (CCNet fits them per language on a sample, then buckets every document).
//   perplexity  exp(mean over its tokens of −log p(token | the tokens before)), the document
//               encoded by the model's tokenizer, its first `maxTokens` tokens, in windows of the
//               model's context length (each window predicted from its own start)
//   buckets     head ≤ p33 < middle ≤ p66 < tail; a source without cutoffs is not bucketed
// The model is a nano-transformer checkpoint (a self-describing one loads with its tokenizer).
import Foundation
import LabSupport
import NanoTransformer
import TensorCore
import Tokenizer

public struct PerplexityScorer: @unchecked Sendable {
    let model: NanoTransformer
    let tokenizer: BPETokenizer
    public let maxTokens: Int

    public init(model: NanoTransformer, tokenizer: BPETokenizer, maxTokens: Int = 512) throws {
        guard model.config.vocabSize >= tokenizer.vocabSize else {
            throw LabError(
                .config,
                "perplexity: the tokenizer's \(tokenizer.vocabSize) tokens do not fit the model's vocabulary of \(model.config.vocabSize)"
            )
        }
        guard maxTokens >= 2 else { throw LabError(.config, "perplexity.maxTokens: \(maxTokens) must be at least 2") }
        (self.model, self.tokenizer, self.maxTokens) = (model, tokenizer, maxTokens)
    }

    /// The document's perplexity; nil when it has fewer than two tokens.
    public func perplexity(_ text: String) -> Double? {
        let ids = Array(tokenizer.encode(text).prefix(maxTokens))
        guard ids.count >= 2 else { return nil }
        let t = model.config.contextLength
        // Windows of t + 1 tokens overlapping by one: every token after the first is a target once.
        var windows: [[Int]] = []
        var start = 0
        while start + 1 < ids.count {
            windows.append(Array(ids[start..<Swift.min(start + t + 1, ids.count)]))
            start += t
        }
        let width = windows.map(\.count).max()! - 1
        var inputs: [Int] = []
        var targets: [Int] = []
        for w in windows {
            let pad = width - (w.count - 1)
            inputs += w.dropLast() + [Int](repeating: 0, count: pad)
            targets += w.dropFirst() + [Int](repeating: -1, count: pad)
        }
        var rng = RNG(seed: 0)  // no dropout at evaluation: nothing is drawn
        let ce = withNoGrad {
            model.loss(inputs, targets: targets, batch: windows.count, time: width, training: false, rng: &rng)
                .crossEntropy.item
        }
        return exp(Double(ce))
    }
}

/// The 33rd and 66th percentiles of each source's perplexities.
public struct PerplexityBuckets: Codable, Sendable, Equatable {
    public enum Bucket: String, Codable, Sendable, CaseIterable { case head, middle, tail }

    public var cutoffs: [String: [Double]]

    public init(cutoffs: [String: [Double]]) { self.cutoffs = cutoffs }

    /// Cutoffs from a sample of perplexities per source (linear interpolation between ranks, as
    /// numpy's default percentile).
    public init(sample: [String: [Double]]) {
        cutoffs = sample.compactMapValues { values in
            guard !values.isEmpty else { return nil }
            let sorted = values.sorted()
            func percentile(_ q: Double) -> Double {
                let position = q * Double(sorted.count - 1)
                let low = Int(position.rounded(.down))
                let high = Swift.min(low + 1, sorted.count - 1)
                return sorted[low] + (sorted[high] - sorted[low]) * (position - Double(low))
            }
            return [percentile(0.33), percentile(0.66)]
        }
    }

    public func bucket(_ perplexity: Double, source: String) -> Bucket? {
        guard let c = cutoffs[source], c.count == 2 else { return nil }
        return perplexity <= c[0] ? .head : (perplexity <= c[1] ? .middle : .tail)
    }
}

/// The perplexity stage's settings: the buckets kept and the cutoffs per source.
public struct PerplexityFilter: Codable, Sendable, Equatable {
    public var keep: [PerplexityBuckets.Bucket] = [.head, .middle]
    public var buckets = PerplexityBuckets(cutoffs: [:])

    public init() {}
}
