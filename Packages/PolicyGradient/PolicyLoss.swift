// The PPO objective's pieces over a batch of N samples (environment steps, or tokens for the
// language-model packages), each a mean over the batch:
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
        let a = Tensor(advantages)
        let unclippedLoss = -(a * ratio)
        guard clipped else { return unclippedLoss.mean() }
        let clippedLoss = -(a * ratio.clamped(1 - eps, 1 + eps))
        return maximum(unclippedLoss, clippedLoss).mean()
    }

    /// Value loss. values (N) carries gradients; oldValues and returns are data.
    public static func value(values: Tensor, oldValues: [Float], returns: [Float], clip eps: Float, clipped: Bool)
        -> Tensor
    {
        let r = Tensor(returns)
        let unclippedLoss = (values - r).square()
        guard clipped else { return unclippedLoss.mean() * 0.5 }
        let old = Tensor(oldValues)
        let clippedValues = old + (values - old).clamped(-eps, eps)
        return maximum(unclippedLoss, (clippedValues - r).square()).mean() * 0.5
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
