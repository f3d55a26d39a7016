// Generalised advantage estimation (Schulman et al. 2016) over a vectorised rollout, with the
// episode ends written out: a termination has no future; a truncation (time limit) does, and
// its value is bootstrapped from the final observation, unless the caller treats it as a
// termination (CleanRL's choice, the "bug" the 37-details post discusses).
// Layout: T steps x N envs, step-major (index t*N + n).

public struct RolloutEnds {
    /// The episode ended by reaching a terminal state at step t (no future reward).
    public var terminated: [Bool]
    /// The episode was cut by the time limit at step t (the state had a future).
    public var truncated: [Bool]
    /// V(final observation) for truncated steps (0 elsewhere): the bootstrap value.
    public var truncationValues: [Float]

    public init(terminated: [Bool], truncated: [Bool], truncationValues: [Float]) {
        self.terminated = terminated
        self.truncated = truncated
        self.truncationValues = truncationValues
    }
}

public enum GAE {
    /// Advantages A_t and returns R_t = A_t + V(s_t).
    ///   delta_t = r_t + gamma * next_t - V(s_t),   next_t = 0 (terminated), V(final obs) (truncated
    ///             and bootstrapTruncation), 0 (truncated otherwise), V(s_{t+1}) or lastValues (t = T-1)
    ///   A_t = delta_t + gamma * lambda * A_{t+1}, the sum restarting after an episode end.
    /// lambda = 1 gives the plain discounted returns with bootstrapping (R_t - V(s_t)).
    public static func advantages(
        rewards: [Float], values: [Float], ends: RolloutEnds, lastValues: [Float], envs n: Int, gamma: Float,
        lambda: Float, bootstrapTruncation: Bool
    ) -> (advantages: [Float], returns: [Float]) {
        let count = rewards.count
        precondition(
            values.count == count && ends.terminated.count == count && ends.truncated.count == count
                && ends.truncationValues.count == count && lastValues.count == n && count % n == 0,
            "GAE: \(count) rewards, \(values.count) values, \(lastValues.count) last values for \(n) envs")
        var advantages = [Float](repeating: 0, count: count)
        var running = [Float](repeating: 0, count: n)
        for t in stride(from: count / n - 1, through: 0, by: -1) {
            for e in 0..<n {
                let i = t * n + e
                let ended = ends.terminated[i] || ends.truncated[i]
                var next: Float
                if ends.terminated[i] {
                    next = 0
                } else if ends.truncated[i] {
                    next = bootstrapTruncation ? ends.truncationValues[i] : 0
                } else {
                    next = t == count / n - 1 ? lastValues[e] : values[i + n]
                }
                let delta = rewards[i] + gamma * next - values[i]
                running[e] = delta + gamma * lambda * (ended ? 0 : running[e])
                advantages[i] = running[e]
            }
        }
        return (advantages, zip(advantages, values).map { $0 + $1 })
    }
}
