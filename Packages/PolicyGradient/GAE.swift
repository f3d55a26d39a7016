// Generalised advantage estimation (Schulman et al. 2016), with the episode ends written out: a
// termination has no future; a truncation (time limit, length limit) does, and its value is
// bootstrapped, unless the caller treats it as a termination (CleanRL's choice, the "bug" the
// 37-details post discusses; TRL's PPO on text does the same at the length limit).
//   delta_t = r_t + gamma * next_t - V(s_t),   next_t = 0 (terminated), the bootstrap value
//             (truncated and bootstrapped), 0 (truncated otherwise), V(s_{t+1}) otherwise
//   A_t = delta_t + gamma * lambda * A_{t+1}, the sum restarting after an episode end; R_t = A_t + V(s_t)
// One recursion serves two layouts: classic control's T steps x N envs, step-major (index t*N + n),
// with episodes ending anywhere inside; and right-padded token sequences (B, T), row-major, each
// ending at its last real token.

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
    /// Classic control: advantages A_t and returns R_t = A_t + V(s_t) for T x N step-major arrays.
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
        let advantages = recursion(
            steps: count / n, streams: n, index: { t, e in t * n + e }, rewards: rewards, values: values, ends: ends,
            lastValues: lastValues, gamma: gamma, lambda: lambda, bootstrapTruncation: bootstrapTruncation)
        return (advantages, zip(advantages, values).map { $0 + $1 })
    }

    /// Token sequences: rewards and values (B, T) row-major, right-padded; sequence i has lengths[i]
    /// tokens and ends at its last one, terminated (it emitted its stop token) unless `truncated[i]`
    /// (cut at the length limit), whose value is bootstrapped from bootstrapValues[i] when given
    /// (else 0, as TRL). Padding gets advantage and return 0.
    public static func tokenAdvantages(
        rewards: [Float], values: [Float], lengths: [Int], truncated: [Bool], bootstrapValues: [Float]? = nil,
        gamma: Float, lambda: Float
    ) -> (advantages: [Float], returns: [Float]) {
        let b = lengths.count
        let t = b > 0 ? rewards.count / b : 0
        precondition(
            rewards.count == b * t && values.count == b * t && truncated.count == b
                && lengths.allSatisfy { (0...t).contains($0) } && (bootstrapValues?.count ?? b) == b,
            "token GAE: \(rewards.count) rewards, \(values.count) values for \(b) sequences of \(lengths)")
        var ends = RolloutEnds(
            terminated: Array(repeating: false, count: b * t), truncated: Array(repeating: false, count: b * t),
            truncationValues: Array(repeating: 0, count: b * t))
        var (r, v) = (rewards, values)
        for i in 0..<b {
            for j in 0..<t where j >= lengths[i] {  // padding: no reward, no value, nothing after
                (r[i * t + j], v[i * t + j], ends.terminated[i * t + j]) = (0, 0, true)
            }
            guard lengths[i] > 0 else { continue }
            let last = i * t + lengths[i] - 1
            if truncated[i] {
                ends.truncated[last] = true
                ends.truncationValues[last] = bootstrapValues?[i] ?? 0
            } else {
                ends.terminated[last] = true
            }
        }
        let advantages = recursion(
            steps: t, streams: b, index: { step, i in i * t + step }, rewards: r, values: v, ends: ends,
            lastValues: Array(repeating: 0, count: b), gamma: gamma, lambda: lambda,
            bootstrapTruncation: bootstrapValues != nil)
        return (advantages, zip(advantages, v).map { $0 + $1 })
    }

    /// The backward recursion over `steps` steps of `streams` parallel streams; `index(t, e)` is
    /// where step t of stream e sits in the flat arrays.
    static func recursion(
        steps: Int, streams n: Int, index: (Int, Int) -> Int, rewards: [Float], values: [Float], ends: RolloutEnds,
        lastValues: [Float], gamma: Float, lambda: Float, bootstrapTruncation: Bool
    ) -> [Float] {
        var advantages = [Float](repeating: 0, count: rewards.count)
        var running = [Float](repeating: 0, count: n)
        for t in stride(from: steps - 1, through: 0, by: -1) {
            for e in 0..<n {
                let i = index(t, e)
                let ended = ends.terminated[i] || ends.truncated[i]
                var next: Float
                if ends.terminated[i] {
                    next = 0
                } else if ends.truncated[i] {
                    next = bootstrapTruncation ? ends.truncationValues[i] : 0
                } else {
                    next = t == steps - 1 ? lastValues[e] : values[index(t + 1, e)]
                }
                let delta = rewards[i] + gamma * next - values[i]
                running[e] = delta + gamma * lambda * (ended ? 0 : running[e])
                advantages[i] = running[e]
            }
        }
        return advantages
    }
}
