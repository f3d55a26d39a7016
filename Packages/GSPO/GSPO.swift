// GSPO (Qwen team, "Group Sequence Policy Optimization", 2025) is GRPO's step with one change: the
// importance ratio of a response is its length-normalised sequence likelihood ratio,
//   s_i = exp((1/|y_i|) Σ_t log π(y_i,t) / π_old(y_i,t)),
// clipped in a far narrower range (the paper: ε_low 3e-4, ε_high 4e-4), every token of y_i weighted
// s_i A_i / |y_i| (the per-sequence mean aggregation). GSPO-token keeps s_i's value but lets each
// token's gradient through: s_i,t = sg[s_i] · π(y_i,t) / sg[π(y_i,t)]. Advantages, rollouts,
// rewards and the loop are GRPO's (Packages/GRPO), the ratio PolicyGradient's; nothing is copied.
// For MoE policies the sequence ratio is the paper's answer to routing noise; GRPO's
// `routingReplay` is the alternative it compares with.
import GRPO
import PolicyGradient

public enum GSPO {
    /// GRPO's settings with GSPO's ratio, clip range (the paper's by default) and aggregation,
    /// the rest unchanged.
    public static func settings(
        _ base: GRPOSettings = GRPOSettings(), tokenLevel: Bool = false, clipLow: Float = 3e-4, clipHigh: Float = 4e-4
    ) -> GRPOSettings {
        var s = base
        s.loss.ratio = tokenLevel ? .sequenceToken : .sequence
        (s.loss.clipLow, s.loss.clipHigh) = (clipLow, clipHigh)
        s.loss.aggregation = .grpo
        return s
    }
}
