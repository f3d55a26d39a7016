// A differentiable per-token estimate of KL(pi || pi_ref) from tokens sampled from pi (Schulman,
// "Approximating KL divergence", 2020), with d = log pi(y_t) - log pi_ref(y_t):
//   k1 = d                          unbiased, can be negative
//   k2 = d² / 2                     biased, low variance; its gradient is that of the true KL's (GRPO literature)
//   k3 = exp(-d) - (-d) - 1         unbiased, >= 0; GRPO's penalty (DeepSeekMath eq. 4), TRL's beta term
// Where the KL goes is the caller's choice: a loss term (GRPO) or the reward (InstructGPT, TRL PPO).
import TensorCore

public enum KLEstimator: String, Sendable, Codable, CaseIterable {
    case k1, k2, k3

    /// Per-token estimates (B, T), zero where the mask is 0; gradients flow to logProbs.
    public func perToken(logProbs: Tensor, referenceLogProbs: Tensor, mask: Tensor) -> Tensor {
        precondition(logProbs.shape == referenceLogProbs.shape && logProbs.shape == mask.shape, "KL: shapes differ")
        let d = logProbs - referenceLogProbs
        switch self {
        case .k1: return d * mask
        case .k2: return d.square() * 0.5 * mask
        case .k3:
            let referenceMinusPolicy = referenceLogProbs - logProbs
            return (referenceMinusPolicy.exp() - referenceMinusPolicy - 1) * mask
        }
    }
}
