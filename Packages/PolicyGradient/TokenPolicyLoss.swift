// The clipped surrogate of PPO / GRPO / DAPO / GSPO on token sequences, per token, before any
// aggregation (LossAggregation.swift), with its diagnostics. For a right-padded (B, T) batch:
//   token ratio        r_it = exp(log pi(y_it) - log pi_old(y_it))                     PPO, GRPO
//   sequence ratio     s_i  = exp((1/|y_i|) Σ_t m_it (log pi - log pi_old))           GSPO (eq. 7), every token
//   sequence-token     s_it = sg[s_i] · pi(y_it) / sg[pi(y_it)]                         GSPO-token (eq. 13)
//   l_it = -min(ratio · A, clip(ratio, 1 - eps_low, 1 + eps_high) · A)               clip-higher: eps_high > eps_low (DAPO)
// Diagnostics: clip fractions, the ratio's mean/min/max, KL estimates, and the variance of both the
// token and the sequence ratios (computed from the log-ratios whichever ratio the loss uses).
// A is (B, 1) (one advantage per sequence, GRPO) or (B, T) (per token, PPO with GAE).
// Follows TRL's GRPOTrainer._compute_loss (importance_sampling_level token / sequence /
// sequence_token); Scripts/reference/token_objectives.py ports it for the fixture.
import Foundation
import TensorCore

public enum ImportanceRatio: String, Sendable, Codable, CaseIterable {
    case token
    case sequence
    case sequenceToken
}

/// What the clip did, over the masked tokens (TRL's names in brackets).
public struct PolicyDiagnostics: Sendable, Equatable {
    /// Share of tokens whose ratio fell below 1 - eps_low with A < 0 [clip_ratio/low_mean].
    public var clipLow: Double
    /// Share above 1 + eps_high with A > 0 [clip_ratio/high_mean].
    public var clipHigh: Double
    /// Either of the two [clip_ratio/region_mean].
    public var clipFraction: Double { clipLow + clipHigh }
    /// Mean, min and max of the ratio.
    public var ratioMean: Double
    public var ratioMin: Double
    public var ratioMax: Double
    /// KL(pi_old || pi) estimates: k1 = mean(-log r), k3 = mean(r - 1 - log r) (per token).
    public var approxKL1: Double
    public var approxKL3: Double
    /// Variance of the token ratios exp(log pi - log pi_old) over the masked tokens, and of the
    /// sequence ratios exp(mean_t log pi - log pi_old) over the sequences, whichever ratio the
    /// loss uses (population variance; 0 when empty). GSPO's argument in two numbers: the
    /// sequence ratio averages the token noise away.
    public var tokenRatioVariance = 0.0
    public var sequenceRatioVariance = 0.0
    /// What pooling parts of a batch needs: the masked tokens and the sequences with any, and the
    /// means the two variances are taken around.
    public var tokens = 0
    public var sequences = 0
    public var tokenRatioMean = 1.0
    public var sequenceRatioMean = 1.0

    public init(
        clipLow: Double, clipHigh: Double, ratioMean: Double, ratioMin: Double, ratioMax: Double, approxKL1: Double,
        approxKL3: Double, tokenRatioVariance: Double = 0, sequenceRatioVariance: Double = 0, tokens: Int = 0,
        sequences: Int = 0, tokenRatioMean: Double = 1, sequenceRatioMean: Double = 1
    ) {
        (self.clipLow, self.clipHigh, self.ratioMean, self.ratioMin, self.ratioMax) = (
            clipLow, clipHigh, ratioMean, ratioMin, ratioMax
        )
        (self.approxKL1, self.approxKL3, self.tokenRatioVariance, self.sequenceRatioVariance) = (
            approxKL1, approxKL3, tokenRatioVariance, sequenceRatioVariance
        )
        (self.tokens, self.sequences, self.tokenRatioMean, self.sequenceRatioMean) = (
            tokens, sequences, tokenRatioMean, sequenceRatioMean
        )
    }

    /// The diagnostics of a batch from those of its parts (gradient accumulation's micro-batches,
    /// or the processes' shares): token-weighted means, the extremes, and pooled variances
    /// (within-part variance plus the spread of the part means). One part is returned as it is.
    public static func pooled(_ parts: [PolicyDiagnostics]) -> PolicyDiagnostics {
        precondition(!parts.isEmpty, "PolicyDiagnostics.pooled: no parts")
        if parts.count == 1 { return parts[0] }
        let tokens = parts.reduce(0) { $0 + $1.tokens }
        let sequences = parts.reduce(0) { $0 + $1.sequences }
        let w = parts.map { Double($0.tokens) / Double(Swift.max(tokens, 1)) }
        let v = parts.map { Double($0.sequences) / Double(Swift.max(sequences, 1)) }
        func weighted(_ weights: [Double], _ value: (PolicyDiagnostics) -> Double) -> Double {
            zip(weights, parts).reduce(0) { $0 + $1.0 * value($1.1) }
        }
        func pooledVariance(_ weights: [Double], _ m: (PolicyDiagnostics) -> Double, _ s: (PolicyDiagnostics) -> Double)
            -> (mean: Double, variance: Double)
        {
            let mean = weighted(weights, m)
            return (mean, weighted(weights) { s($0) + (m($0) - mean) * (m($0) - mean) })
        }
        let counted = parts.filter { $0.tokens > 0 }
        let token = pooledVariance(w, \.tokenRatioMean, \.tokenRatioVariance)
        let sequence = pooledVariance(v, \.sequenceRatioMean, \.sequenceRatioVariance)
        return PolicyDiagnostics(
            clipLow: weighted(w, \.clipLow), clipHigh: weighted(w, \.clipHigh),
            ratioMean: tokens > 0 ? weighted(w, \.ratioMean) : 1,
            ratioMin: counted.map(\.ratioMin).min() ?? 1, ratioMax: counted.map(\.ratioMax).max() ?? 1,
            approxKL1: weighted(w, \.approxKL1), approxKL3: weighted(w, \.approxKL3),
            tokenRatioVariance: tokens > 0 ? token.variance : 0,
            sequenceRatioVariance: sequences > 0 ? sequence.variance : 0, tokens: tokens, sequences: sequences,
            tokenRatioMean: tokens > 0 ? token.mean : 1, sequenceRatioMean: sequences > 0 ? sequence.mean : 1)
    }
}

public enum TokenPolicyLoss {
    /// Per-token clipped-surrogate losses (B, T), zero where the mask is 0, and the diagnostics.
    /// logProbs carries gradients; oldLogProbs, advantages and mask are data.
    public static func clippedSurrogate(
        logProbs: Tensor, oldLogProbs: Tensor, advantages: Tensor, mask: Tensor, clipLow: Float, clipHigh: Float,
        ratio kind: ImportanceRatio = .token, clipped: Bool = true
    ) -> (perToken: Tensor, diagnostics: PolicyDiagnostics) {
        precondition(
            logProbs.shape == oldLogProbs.shape && logProbs.shape == mask.shape && logProbs.rank == 2,
            "clippedSurrogate: log-probs \(logProbs.shape), old \(oldLogProbs.shape), mask \(mask.shape)")
        precondition(
            advantages.shape == logProbs.shape || advantages.shape == [logProbs.shape[0], 1],
            "clippedSurrogate: advantages \(advantages.shape) must be (B, 1) or (B, T)")
        let logRatio = (logProbs - oldLogProbs) * mask
        let ratio: Tensor
        switch kind {
        case .token:
            ratio = logRatio.exp()
        case .sequence:
            let lengths = Tensor(mask.sum(axis: 1).array.map { 1 / Swift.max($0, 1) }).reshaped([-1, 1])
            ratio = (logRatio.sum(axis: 1, keepDims: true) * lengths).exp()  // (B, 1)
        case .sequenceToken:
            let lengths = Tensor(mask.sum(axis: 1).array.map { 1 / Swift.max($0, 1) }).reshaped([-1, 1])
            let sequenceLogRatio = (logRatio.sum(axis: 1, keepDims: true) * lengths).detach()
            ratio = (logProbs - logProbs.detach() + sequenceLogRatio).exp()  // (B, T), value s_i
        }
        let perToken = surrogate(
            ratio: ratio, advantages: advantages, low: 1 - clipLow, high: 1 + clipHigh, clipped: clipped)
        let full = perToken.shape == mask.shape ? perToken : perToken.expand(to: mask.shape)
        return (full * mask, diagnostics(ratio.detach(), advantages, mask, logRatio.detach(), clipLow, clipHigh))
    }

    /// -min(r A, clip(r, low, high) A), written as max(-A r, -A clip(r)) as PPO's code does.
    /// Shared with the classic-control loss (PolicyLoss.surrogate), which must keep its bits.
    static func surrogate(ratio: Tensor, advantages a: Tensor, low: Float, high: Float, clipped: Bool) -> Tensor {
        let unclippedLoss = -(a * ratio)
        guard clipped else { return unclippedLoss }
        let clippedLoss = -(a * ratio.clamped(low, high))
        return maximum(unclippedLoss, clippedLoss)
    }

    static func diagnostics(
        _ ratio: Tensor, _ advantages: Tensor, _ mask: Tensor, _ logRatio: Tensor, _ clipLow: Float, _ clipHigh: Float
    ) -> PolicyDiagnostics {
        let (b, t) = (mask.shape[0], mask.shape[1])
        let perToken = ratio.shape == mask.shape
        let perTokenAdvantage = advantages.shape == mask.shape
        var (low, high, count) = (0.0, 0.0, 0.0)
        var (sum, smallest, largest, k1, k3) = (0.0, Double.infinity, -Double.infinity, 0.0, 0.0)
        var tokenRatios: [Double] = []
        var sequenceRatios: [Double] = []
        for i in 0..<b {
            var (rowLogRatio, rowTokens) = (0.0, 0.0)
            defer { if rowTokens > 0 { sequenceRatios.append(exp(rowLogRatio / rowTokens)) } }
            for j in 0..<t where mask[i, j] != 0 {
                let r = Double(perToken ? ratio[i, j] : ratio[i, 0])
                let a = perTokenAdvantage ? advantages[i, j] : advantages[i, 0]
                if r < Double(1 - clipLow) && a < 0 { low += 1 }
                if r > Double(1 + clipHigh) && a > 0 { high += 1 }
                (sum, smallest, largest, count) = (sum + r, Swift.min(smallest, r), Swift.max(largest, r), count + 1)
                let tokenLogRatio = Double(logRatio[i, j])
                tokenRatios.append(exp(tokenLogRatio))
                (rowLogRatio, rowTokens) = (rowLogRatio + tokenLogRatio, rowTokens + 1)
                k1 += -tokenLogRatio
                k3 += (exp(tokenLogRatio) - 1) - tokenLogRatio
            }
        }
        let n = Swift.max(count, 1)
        return PolicyDiagnostics(
            clipLow: low / n, clipHigh: high / n, ratioMean: count > 0 ? sum / n : 1,
            ratioMin: count > 0 ? smallest : 1,
            ratioMax: count > 0 ? largest : 1, approxKL1: k1 / n, approxKL3: k3 / n,
            tokenRatioVariance: variance(tokenRatios), sequenceRatioVariance: variance(sequenceRatios),
            tokens: tokenRatios.count, sequences: sequenceRatios.count,
            tokenRatioMean: tokenRatios.isEmpty ? 1 : mean(tokenRatios),
            sequenceRatioMean: sequenceRatios.isEmpty ? 1 : mean(sequenceRatios))
    }

    static func mean(_ xs: [Double]) -> Double { xs.reduce(0, +) / Double(xs.count) }

    /// Population variance (0 for none).
    static func variance(_ xs: [Double]) -> Double {
        guard !xs.isEmpty else { return 0 }
        let mean = mean(xs)
        return xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(xs.count)
    }
}

public enum TokenValueLoss {
    /// Per-token squared errors of the critic (B, T), zero where the mask is 0: (V - R)², or with
    /// clipping max((V - R)², (V_old + clip(V - V_old, -eps, eps) - R)²) (PPO detail 9; TRL's
    /// cliprange_value). The loss is 0.5 · an aggregation of these.
    public static func squaredErrors(
        values: Tensor, oldValues: Tensor, returns: Tensor, mask: Tensor, clip eps: Float, clipped: Bool
    ) -> Tensor {
        precondition(values.shape == mask.shape && oldValues.shape == mask.shape && returns.shape == mask.shape)
        return errors(values: values, oldValues: oldValues, returns: returns, clip: eps, clipped: clipped) * mask
    }

    /// Shared with the classic-control loss (PolicyLoss.value), which must keep its bits.
    static func errors(values: Tensor, oldValues old: Tensor, returns r: Tensor, clip eps: Float, clipped: Bool)
        -> Tensor
    {
        let unclippedLoss = (values - r).square()
        guard clipped else { return unclippedLoss }
        let clippedValues = old + (values - old).clamped(-eps, eps)
        return maximum(unclippedLoss, (clippedValues - r).square())
    }
}
