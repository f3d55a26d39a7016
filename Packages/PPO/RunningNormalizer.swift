// The continuous-action details 6-9 as Gymnasium's wrappers compute them (CleanRL's
// ppo_continuous_action.py stacks NormalizeObservation, clip +-10, NormalizeReward, clip +-10):
// running mean and variance by the parallel (Chan et al.) update, starting from count 1e-4,
// mean 0, variance 1.

/// Running mean and variance of vectors of a fixed width.
public struct RunningMeanStd: Equatable, Sendable {
    public internal(set) var mean: [Double]
    public internal(set) var variance: [Double]
    public internal(set) var count = 1e-4

    public init(width: Int) {
        mean = Array(repeating: 0, count: width)
        variance = Array(repeating: 1, count: width)
    }

    /// Adds a batch of vectors.
    public mutating func update(_ batch: [[Double]]) {
        guard !batch.isEmpty else { return }
        let n = Double(batch.count)
        for j in 0..<mean.count {
            let batchMean = batch.reduce(0) { $0 + $1[j] } / n
            let batchVariance = batch.reduce(0) { $0 + ($1[j] - batchMean) * ($1[j] - batchMean) } / n
            let delta = batchMean - mean[j]
            let total = count + n
            let m2 = variance[j] * count + batchVariance * n + delta * delta * count * n / total
            mean[j] += delta * n / total
            variance[j] = m2 / total
        }
        count += n
    }
}

/// Observation normalisation (detail 6) and clipping (detail 7): clip((o - mean) / sqrt(var + 1e-8)).
public struct ObservationNormalizer: Equatable, Sendable {
    public internal(set) var statistics: RunningMeanStd
    public let clip: Float?

    public init(width: Int, clip: Float?) {
        statistics = RunningMeanStd(width: width)
        self.clip = clip
    }

    /// Updates the statistics with the batch (as the wrapper does on every step) and normalises it.
    public mutating func callAsFunction(_ batch: [[Float]]) -> [[Float]] {
        statistics.update(batch.map { $0.map(Double.init) })
        return batch.map(normalize)
    }

    /// Normalises with the current statistics, without updating them (final observations).
    public func normalize(_ o: [Float]) -> [Float] {
        (0..<o.count).map { j in
            let v = Float((Double(o[j]) - statistics.mean[j]) / (statistics.variance[j] + 1e-8).squareRoot())
            return clip.map { c in Swift.min(Swift.max(v, -c), c) } ?? v
        }
    }
}

/// Reward scaling (detail 8) and clipping (detail 9): r / sqrt(var(G) + 1e-8) with G the running
/// discounted return G = gamma G (1 - terminated) + r, as Gymnasium's NormalizeReward (which
/// resets G on termination only, not on truncation).
public struct RewardScaler: Equatable, Sendable {
    public internal(set) var statistics = RunningMeanStd(width: 1)
    public internal(set) var discountedReturns: [Double]
    public let gamma: Double
    public let clip: Float?

    public init(envs: Int, gamma: Double, clip: Float?) {
        discountedReturns = Array(repeating: 0, count: envs)
        self.gamma = gamma
        self.clip = clip
    }

    public mutating func callAsFunction(_ rewards: [Double], terminated: [Bool]) -> [Float] {
        for i in 0..<rewards.count {
            discountedReturns[i] = discountedReturns[i] * gamma * (terminated[i] ? 0 : 1) + rewards[i]
        }
        statistics.update(discountedReturns.map { [$0] })
        let scale = (statistics.variance[0] + 1e-8).squareRoot()
        return rewards.map { r in
            let v = Float(r / scale)
            return clip.map { c in Swift.min(Swift.max(v, -c), c) } ?? v
        }
    }
}
