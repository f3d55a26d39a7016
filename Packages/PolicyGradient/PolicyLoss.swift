// The PPO objective's pieces over a flat batch of N samples (classic control's environment
// steps), each a mean over the batch: thin wrappers over the token-level functions
// (TokenPolicyLoss.swift) with one sequence, no mask and one symmetric clip.
//   ratio r = exp(log pi_new(a|s) - log pi_old(a|s))
//   clipped surrogate  L_pg = mean(max(-A r, -A clip(r, 1 - eps, 1 + eps)))       (detail 8)
//   unclipped          L_pg = mean(-A r)
//   value loss         L_v  = 0.5 mean(max((V - R)^2, (V_old + clip(V - V_old, -eps, eps) - R)^2))  (detail 9)
//   unclipped          L_v  = 0.5 mean((V - R)^2)
//   KL estimators of KL(old || new) (Schulman's note): k1 = mean(-log r), k3 = mean((r - 1) - log r)
//   clip fraction = mean(|r - 1| > eps)
import Foundation
import TensorCore

public enum PolicyLoss {
    /// Policy-gradient loss. newLogProbs (N) carries gradients; oldLogProbs and advantages are data.
    public static func surrogate(
        newLogProbs: Tensor, oldLogProbs: [Float], advantages: [Float], clip eps: Float, clipped: Bool
    ) -> Tensor {
        let ratio = (newLogProbs - Tensor(oldLogProbs)).exp()
        return TokenPolicyLoss.surrogate(
            ratio: ratio, advantages: Tensor(advantages), low: 1 - eps, high: 1 + eps, clipped: clipped
        ).mean()
    }

    /// Value loss. values (N) carries gradients; oldValues and returns are data.
    public static func value(values: Tensor, oldValues: [Float], returns: [Float], clip eps: Float, clipped: Bool)
        -> Tensor
    {
        TokenValueLoss.errors(
            values: values, oldValues: Tensor(oldValues), returns: Tensor(returns), clip: eps, clipped: clipped
        ).mean() * 0.5
    }

    /// Diagnostics of one minibatch from the log-probabilities before and after (no gradients).
    public static func diagnostics(newLogProbs: [Float], oldLogProbs: [Float], clip eps: Float) -> (
        approxKL1: Double, approxKL3: Double, clipFraction: Double
    ) {
        var (k1, k3, clippedCount) = (0.0, 0.0, 0)
        for (new, old) in zip(newLogProbs, oldLogProbs) {
            let logRatio = Double(new) - Double(old)
            let ratio = Foundation.exp(logRatio)
            k1 += -logRatio
            k3 += (ratio - 1) - logRatio
            if abs(ratio - 1) > Double(eps) { clippedCount += 1 }
        }
        let n = Double(Swift.max(newLogProbs.count, 1))
        return (k1 / n, k3 / n, Double(clippedCount) / n)
    }
}
