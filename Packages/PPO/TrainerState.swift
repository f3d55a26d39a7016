// Everything a PPO run needs to continue bit for bit after a restart, as plain data for a
// checkpoint: the RNG streams (trainer and every environment), the environments' physical
// states, step counters and episode returns, the observations to act on next, the running
// normalisers, the episode records, and the update counter. Float64 values stay float64, so
// nothing is rounded. The agent's parameters and Adam's moments are saved by the caller
// (agent.namedParameters(), optimizer.exportState()).
import LabSupport
import TensorCore

public struct TrainerState {
    /// xoshiro256** states: "trainer", "env.<i>".
    public var rngStreams: [String: [UInt64]] = [:]
    /// Float64 arrays: environment states, step counts and returns, normalisers, episode records.
    public var values: [String: [Double]] = [:]
    /// "observations" (envs, observation size), as the agent sees them (normalised or not).
    public var tensors: [String: Tensor] = [:]
    /// "global_step", "updates_done", and the normalisers' counts.
    public var counters: [String: Double] = [:]

    public init(
        rngStreams: [String: [UInt64]] = [:], values: [String: [Double]] = [:], tensors: [String: Tensor] = [:],
        counters: [String: Double] = [:]
    ) {
        self.rngStreams = rngStreams
        self.values = values
        self.tensors = tensors
        self.counters = counters
    }
}

extension PPOTrainer {
    public func exportState() -> TrainerState {
        var s = TrainerState()
        s.rngStreams["trainer"] = rng.stateWords
        for (i, r) in envs.rngs.enumerated() { s.rngStreams["env.\(i)"] = r.stateWords }
        s.values["env.state"] = envs.environments.flatMap(\.state)
        s.values["env.elapsed"] = envs.elapsed.map(Double.init)
        s.values["env.return"] = envs.episodeReturns
        s.tensors["observations"] = Tensor(observations.flatMap { $0 }, shape: [envs.count, envs.observationSize])
        if let o = observationNormalizer {
            s.values["obs_norm.mean"] = o.statistics.mean
            s.values["obs_norm.variance"] = o.statistics.variance
            s.counters["obs_norm.count"] = o.statistics.count
        }
        if let r = rewardScaler {
            s.values["reward_scale.discounted"] = r.discountedReturns
            s.values["reward_scale.mean"] = r.statistics.mean
            s.values["reward_scale.variance"] = r.statistics.variance
            s.counters["reward_scale.count"] = r.statistics.count
        }
        s.values["episodes.step"] = episodes.map { Double($0.step) }
        s.values["episodes.return"] = episodes.map(\.episodeReturn)
        s.values["episodes.length"] = episodes.map { Double($0.length) }
        s.counters["global_step"] = Double(globalStep)
        s.counters["updates_done"] = Double(updatesDone)
        return s
    }

    /// Restores what exportState saved; throws naming the first missing or misshapen entry.
    public func importState(_ s: TrainerState) throws {
        func stream(_ key: String) throws -> RNG {
            guard let w = s.rngStreams[key] else { throw LabError(.ppo, "trainer state: RNG '\(key)' missing") }
            do { return try RNG(checkedStateWords: w, name: key) } catch let e as LabError where e.domain == .tensorCore
            {
                throw LabError(.ppo, "trainer state: \(e.message)")
            }
        }
        /// Values that must be finite (and, with `whole`, whole numbers in `whole`).
        func values(_ key: String, count: Int? = nil, whole: ClosedRange<Double>? = nil) throws -> [Double] {
            guard let v = s.values[key], count.map({ v.count == $0 }) ?? true else {
                throw LabError(.ppo, "trainer state: '\(key)' missing or of the wrong length")
            }
            guard v.allSatisfy(\.isFinite) else { throw LabError(.ppo, "trainer state: '\(key)' is not finite") }
            if let whole, !v.allSatisfy({ $0 == $0.rounded() && whole.contains($0) }) {
                throw LabError(.ppo, "trainer state: '\(key)' holds values that are not whole numbers in \(whole)")
            }
            return v
        }
        func counter(_ key: String, whole: Bool = false) throws -> Double {
            guard let c = s.counters[key] else { throw LabError(.ppo, "trainer state: counter '\(key)' missing") }
            guard c.isFinite, c >= 0, !whole || (c == c.rounded() && c < 1e15) else {
                throw LabError(.ppo, "trainer state: counter '\(key)' is \(c)")
            }
            return c
        }
        let (n, width) = (envs.count, envs.observationSize)
        rng = try stream("trainer")
        for i in 0..<n { envs.rngs[i] = try stream("env.\(i)") }
        let stateWidth = envs.environments[0].state.count
        let states = try values("env.state", count: n * stateWidth)
        for i in 0..<n { envs.environments[i].state = Array(states[(i * stateWidth)..<((i + 1) * stateWidth)]) }
        envs.elapsed = try values("env.elapsed", count: n, whole: 0...1e9).map { Int($0) }
        envs.episodeReturns = try values("env.return", count: n)
        envs.observations = envs.environments.map(\.observation)
        guard let o = s.tensors["observations"], o.shape == [n, width] else {
            throw LabError(.ppo, "trainer state: 'observations' missing or not (\(n), \(width))")
        }
        let flat = o.array
        observations = (0..<n).map { Array(flat[($0 * width)..<(($0 + 1) * width)]) }
        if observationNormalizer != nil {
            observationNormalizer!.statistics.mean = try values("obs_norm.mean", count: width)
            observationNormalizer!.statistics.variance = try values("obs_norm.variance", count: width)
            observationNormalizer!.statistics.count = try counter("obs_norm.count")
        }
        if rewardScaler != nil {
            rewardScaler!.discountedReturns = try values("reward_scale.discounted", count: n)
            rewardScaler!.statistics.mean = try values("reward_scale.mean", count: 1)
            rewardScaler!.statistics.variance = try values("reward_scale.variance", count: 1)
            rewardScaler!.statistics.count = try counter("reward_scale.count")
        }
        let variances = (observationNormalizer?.statistics.variance ?? []) + (rewardScaler?.statistics.variance ?? [])
        if variances.contains(where: { $0 < 0 }) {
            throw LabError(.ppo, "trainer state: a running variance is negative")
        }
        let steps = try values("episodes.step", whole: 0...1e15)
        let returns = try values("episodes.return", count: steps.count)
        let lengths = try values("episodes.length", count: steps.count, whole: 0...1e9)
        episodes = (0..<steps.count).map {
            EpisodeRecord(step: Int(steps[$0]), episodeReturn: returns[$0], length: Int(lengths[$0]))
        }
        updatesDone = Int(try counter("updates_done", whole: true))
        globalStep = Int(try counter("global_step", whole: true))
        guard globalStep == updatesDone * config.batchSize else {
            throw LabError(
                .ppo,
                "trainer state: global_step \(globalStep) is not updates_done \(updatesDone) x the batch \(config.batchSize)"
            )
        }
    }
}
