// N copies of an environment stepped together (detail 1), each with its own RNG stream split
// from the run's seed. An episode that ends is reset at once (same-step auto-reset); the
// observation it ended in is kept as finalObservation so that a truncated episode can be
// bootstrapped from it. The time limit sets `truncated` after maxEpisodeSteps steps. One choice
// differs from Gymnasium: an episode that terminates on its last allowed step is terminated and
// not truncated here, where Gymnasium's TimeLimit reports both true. A learner that bootstraps
// truncated episodes (bootstrapTruncation) would then bootstrap a terminal state from
// Gymnasium's flags unless it checks terminated first; with one flag set it cannot go wrong.
import TensorCore

public struct VectorStep {
    /// Observations to act on next (a reset environment's first one where an episode ended).
    public var observations: [[Float]]
    public var rewards: [Double]
    public var terminated: [Bool]
    public var truncated: [Bool]
    /// The observation an episode ended in (nil where it goes on).
    public var finalObservations: [[Float]?]
    /// (return, length) of every episode that ended in this step.
    public var finishedEpisodes: [(episodeReturn: Double, length: Int)]
}

public final class VectorEnvironment {
    public internal(set) var environments: [any Environment]
    var rngs: [RNG]
    public internal(set) var observations: [[Float]]
    var elapsed: [Int]
    var episodeReturns: [Double]
    /// Steps before truncation (the environment's own limit unless overridden).
    public let maxEpisodeSteps: Int

    public init(_ id: EnvironmentID, count: Int, seed: UInt64, maxEpisodeSteps: Int? = nil) {
        var root = RNG(seed: seed)
        rngs = (0..<count).map { _ in root.split() }
        environments = (0..<count).map { _ in id.make() }
        self.maxEpisodeSteps = maxEpisodeSteps ?? environments[0].maxEpisodeSteps
        observations = []
        for i in 0..<count { observations.append(environments[i].reset(rng: &rngs[i])) }
        elapsed = Array(repeating: 0, count: count)
        episodeReturns = Array(repeating: 0, count: count)
    }

    public var count: Int { environments.count }

    /// Starts a new episode of environment `index` from a given physical state (replaying a
    /// recorded trajectory) and returns its observation.
    @discardableResult
    public func restart(_ index: Int, state: [Double]) -> [Float] {
        environments[index].state = state
        elapsed[index] = 0
        episodeReturns[index] = 0
        observations[index] = environments[index].observation
        return observations[index]
    }
    public var observationSize: Int { environments[0].observationSize }
    public var actionSpace: ActionSpace { environments[0].actionSpace }

    /// Steps every environment with its action (width actionSpace.width each).
    public func step(_ actions: [[Float]]) -> VectorStep {
        precondition(actions.count == count, "VectorEnvironment.step: \(actions.count) actions for \(count) envs")
        var out = VectorStep(
            observations: [], rewards: [], terminated: [], truncated: [], finalObservations: [], finishedEpisodes: [])
        for i in 0..<count {
            let (observation, reward, terminated) = environments[i].step(actions[i])
            elapsed[i] += 1
            episodeReturns[i] += reward
            let truncated = !terminated && elapsed[i] >= maxEpisodeSteps
            out.rewards.append(reward)
            out.terminated.append(terminated)
            out.truncated.append(truncated)
            if terminated || truncated {
                out.finishedEpisodes.append((episodeReturns[i], elapsed[i]))
                out.finalObservations.append(observation)
                observations[i] = environments[i].reset(rng: &rngs[i])
                elapsed[i] = 0
                episodeReturns[i] = 0
            } else {
                out.finalObservations.append(nil)
                observations[i] = observation
            }
        }
        out.observations = observations
        return out
    }
}
