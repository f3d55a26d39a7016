// What a model that knows only token frequencies scores: the yardstick for a run stuck on the
// "unigram plateau". p(v) = (count of v in the training tokens + 1) / (N + V) (add-one, so a token
// seen only in validation has a finite cost); H_train = -sum_v p(v) ln p(v) over the training
// tokens' own distribution, and the validation loss -mean_t ln p(x_t) over the held-out tokens.
import Foundation
import NanoTransformer

public struct UnigramBaseline: Sendable {
    /// Entropy (nats) of the training tokens' frequencies: the training loss of the best unigram model.
    public let trainEntropy: Double
    /// Mean -ln p(x) (nats) of the validation tokens under the smoothed training frequencies.
    public let validationLoss: Double

    public init(_ data: TokenWindows, vocabSize: Int) {
        var counts = [Int](repeating: 0, count: vocabSize)
        for segment in data.trainSegments { for t in segment { counts[Int(t)] += 1 } }
        let n = Double(data.trainTokens)
        trainEntropy = counts.reduce(0.0) { h, c in c == 0 ? h : h - Double(c) / n * log(Double(c) / n) }
        let denominator = n + Double(vocabSize)
        var total = 0.0
        for segment in data.validationSegments {
            for t in segment { total -= log((Double(counts[Int(t)]) + 1) / denominator) }
        }
        validationLoss = total / Double(max(data.validationTokens, 1))
    }
}
