// The GRPO family's loss on a rollout batch, as flat named intermediates. For each response token
// (mask m_it), with the policy's log-prob log π, the sampler's log π_old, the reference's log π_ref
// and the sequence's advantage A_i (GroupBaseline.swift):
//   ratio_it       = exp(log π − log π_old)                 (PolicyGradient's clippedSurrogate; GSPO
//                                                           passes a sequence ratio instead)
//   surrogate_it   = −min(ratio · A_i, clip(ratio, 1 − ε_low, 1 + ε_high) · A_i)
//   kl_it          = π_ref/π − log(π_ref/π) − 1             k3 (DeepSeekMath eq. 4), times β; β = 0: off
//   perToken_it    = surrogate_it + β · kl_it
//   loss           = aggregation(perToken, m):
//     grpo   (1/B) Σ_i (1/|o_i|) Σ_t m_it perToken_it        DeepSeekMath; TRL loss_type "grpo"
//     dapo   Σ_it m_it perToken_it / Σ_it m_it               token mean over the batch; TRL "dapo"/"bnpo"
//     drGRPO Σ_it m_it perToken_it / (B · budget)            Dr. GRPO's constant (the generation budget)
// B and the token count are the whole update's when it is split into micro-batches (`totals`).
import PolicyGradient
import TensorCore

public enum GRPOAggregation: String, Codable, Sendable, CaseIterable {
    case grpo
    case dapo
    case drGRPO
}

public struct GRPOLoss: Codable, Sendable, Equatable {
    public var aggregation = GRPOAggregation.grpo
    public var clipLow: Float = 0.2
    /// ε_high; above clipLow is DAPO's clip-higher (0.28).
    public var clipHigh: Float = 0.2
    /// β of the k3 KL term (0: no KL, no reference needed).
    public var beta: Float = 0.04
    public var ratio = ImportanceRatio.token

    public init() {}

    public struct Output {
        public var loss: Tensor
        public var diagnostics: PolicyDiagnostics
        /// Mean k3 KL to the reference over the masked tokens (nil when β = 0 and no reference).
        public var kl: Double?
    }

    /// logProbs (B, T) with gradients; oldLogProbs, referenceLogProbs (B, T) data; advantages (B);
    /// mask (B, T); budget: the generation limit (Dr. GRPO's constant).
    public func callAsFunction(
        logProbs: Tensor, oldLogProbs: Tensor, referenceLogProbs: Tensor?, advantages: [Float], mask: Tensor,
        budget: Int, totals: LossAggregation.Totals? = nil
    ) -> Output {
        let b = logProbs.shape[0]
        precondition(advantages.count == b, "GRPOLoss: \(advantages.count) advantages for \(b) sequences")
        let (surrogate, diagnostics) = TokenPolicyLoss.clippedSurrogate(
            logProbs: logProbs, oldLogProbs: oldLogProbs, advantages: Tensor(advantages, shape: [b, 1]), mask: mask,
            clipLow: clipLow, clipHigh: clipHigh, ratio: ratio)
        var perToken = surrogate
        var kl: Double?
        if let referenceLogProbs {
            let klPerToken = KLEstimator.k3.perToken(
                logProbs: logProbs, referenceLogProbs: referenceLogProbs, mask: mask)
            kl = Double(klPerToken.detach().sum().item) / Double(Swift.max(mask.array.reduce(0, +), 1))
            if beta > 0 { perToken = perToken + klPerToken * beta }
        }
        let counts = totals ?? LossAggregation.Totals(mask: mask)
        let reduction: LossAggregation =
            switch aggregation {
            case .grpo: .sequenceMeanTokenMean
            case .dapo: .tokenMean
            case .drGRPO: .constant(Float(counts.sequences * budget))
            }
        return Output(loss: reduction.reduce(perToken, mask: mask, total: counts), diagnostics: diagnostics, kl: kl)
    }
}
