// Critic-free advantages from a group of G samples of one prompt (GRPO, DeepSeekMath 4.1.2):
//   A_i = r_i - mean(r)                      Dr. GRPO (no std: no difficulty bias)
//   A_i = (r_i - mean(r)) / (std(r) + eps)    GRPO; std with Bessel's correction and eps 1e-4 as TRL
// Rewards arrive prompt-major (G consecutive per prompt, as Rollout orders its sequences); every
// token of sequence i then takes A_i. A group whose rewards are all equal gets A = 0 (nothing to
// learn from it), the case DAPO's dynamic sampling removes.
public enum GroupAdvantages {
    /// One advantage per reward.
    public static func compute(rewards: [Float], groupSize g: Int, scaleByStd: Bool, eps: Float = 1e-4) -> [Float] {
        precondition(g >= 1 && rewards.count % g == 0, "GroupAdvantages: \(rewards.count) rewards in groups of \(g)")
        var out = [Float](repeating: 0, count: rewards.count)
        for start in stride(from: 0, to: rewards.count, by: g) {
            let group = rewards[start..<(start + g)].map(Double.init)
            let mean = group.reduce(0, +) / Double(g)
            let variance = g > 1 ? group.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(g - 1) : 0
            let scale = scaleByStd ? 1 / (variance.squareRoot() + Double(eps)) : 1
            for (k, r) in group.enumerated() { out[start + k] = Float((r - mean) * scale) }
        }
        return out
    }
}
