// PPO's settings, one named field per implementation detail of Huang et al. (2022), numbered as
// in the blog post; defaults are CleanRL's ppo.py for classic control (Pendulum's config file
// switches to ppo_continuous_action.py's). Keys are config-file keys.
import LabSupport

public struct PPOConfig: Codable, Sendable, Equatable {
    /// Gymnasium id: CartPole-v1, Acrobot-v1 or Pendulum-v1.
    public var env = EnvironmentID.cartPole
    /// Environment steps over the whole run (all envs).
    public var totalTimesteps = 500_000
    public var learningRate = 2.5e-4
    /// Core 1: N vectorised environments x M steps per rollout.
    public var envs = 4
    public var steps = 128
    /// Core 4: anneal the learning rate linearly to 0 over the updates.
    public var annealLearningRate = true
    public var gamma = 0.99
    /// Core 5: GAE (false: plain discounted returns with bootstrapping, i.e. GAE with lambda 1).
    public var gae = true
    public var gaeLambda = 0.95
    /// Core 6: shuffled minibatches per epoch (1: the full batch) and epochs per rollout.
    public var minibatches = 4
    public var epochs = 4
    /// Core 7: normalise advantages per minibatch.
    public var normalizeAdvantages = true
    /// Core 8: clipped surrogate objective (false: the unclipped policy gradient mean(-A r)).
    public var clipObjective = true
    public var clipCoefficient = 0.2
    /// Core 9: clipped value loss (same coefficient as the policy).
    public var clipValueLoss = true
    /// Core 10: loss = pg - entropyCoefficient * entropy + valueCoefficient * v, one optimiser.
    public var entropyCoefficient = 0.01
    public var valueCoefficient = 0.5
    /// Core 11: global gradient-norm clipping (0: off).
    public var maxGradNorm = 0.5
    /// Core 3: Adam's epsilon (PyTorch's default is 1e-8).
    public var adamEps = 1e-5
    /// Core 2: orthogonal init with the gains of baselines (false: PyTorch's default init).
    public var orthogonalInit = true
    /// Core 13: one shared trunk for actor and critic (false: separate networks).
    public var sharedNetwork = false
    /// Hidden widths of the MLPs (tanh).
    public var hidden = [64, 64]
    /// Auxiliary 1: anneal the clip coefficient linearly to 0, as baselines' cliprange schedule.
    public var annealClipRange = false
    /// Auxiliary 3: stop the epochs of an update once approx KL (k3) exceeds this (0: off; 0.01 in the post).
    public var targetKL = 0.0
    /// The truncation fix: bootstrap from V(final observation) at a time limit (false: treat it as
    /// a termination, as CleanRL and baselines do).
    public var bootstrapTruncation = false
    /// Continuous 2 (ablation): the Gaussian's log std as an actor output instead of a parameter.
    public var stateDependentStd = false
    /// Continuous 5: clip actions to the bounds for the environment but keep the sampled action
    /// for the log-probability (false: store the clipped action, a common bug).
    public var storeUnclippedActions = true
    /// Continuous 6 and 7: running observation normalisation, then clipping to +-observationClip (0: off).
    public var normalizeObservations = false
    public var observationClip = 10.0
    /// Continuous 8 and 9: reward scaling by the std of the discounted return, then clipping (0: off).
    public var normalizeRewards = false
    public var rewardClip = 10.0

    public init() {}

    public var batchSize: Int { envs * steps }
    public var minibatchSize: Int { batchSize / minibatches }
    public var updates: Int { totalTimesteps / batchSize }

    /// Checks the settings; throws a message naming the key.
    /// Checks every field (a range for each number, the rules between them); throws a LabError
    /// naming the field.
    public func check() throws {
        func fail(_ key: String, _ why: String, related: [String] = []) -> LabError {
            LabError(.ppo, key: key, why, related: related)
        }
        func range(_ key: String, _ value: Int, _ r: ClosedRange<Int>) throws {
            if !r.contains(value) { throw fail(key, "must be in \(r.lowerBound)...\(r.upperBound)") }
        }
        func number(_ key: String, _ value: Double, _ r: ClosedRange<Double>, openLow: Bool = false) throws {
            if !(value.isFinite && r.contains(value) && !(openLow && value == r.lowerBound)) {
                throw fail(key, "must be a finite number in \(openLow ? "(" : "[")\(r.lowerBound), \(r.upperBound)]")
            }
        }
        try range("envs", envs, 1...4096)
        try range("steps", steps, 1...(1 << 20))
        try range("minibatches", minibatches, 1...(1 << 20))
        if batchSize % minibatches != 0 {
            throw fail(
                "minibatches", "\(minibatches) must divide the batch \(batchSize) (envs x steps)",
                related: ["envs", "steps"])
        }
        try range("epochs", epochs, 1...10_000)
        try range("totalTimesteps", totalTimesteps, 1...1_000_000_000_000)
        if totalTimesteps < batchSize {
            throw fail(
                "totalTimesteps", "less than one batch (\(batchSize) = envs x steps)", related: ["envs", "steps"])
        }
        try number("learningRate", learningRate, 0...10, openLow: true)
        try number("gamma", gamma, 0...1)
        try number("gaeLambda", gaeLambda, 0...1)
        try number("clipCoefficient", clipCoefficient, 0...100)
        try number("entropyCoefficient", entropyCoefficient, 0...1000)
        try number("valueCoefficient", valueCoefficient, 0...1000)
        try number("maxGradNorm", maxGradNorm, 0...1e9)
        try number("adamEps", adamEps, 0...1, openLow: true)
        try number("targetKL", targetKL, 0...1e9)
        try number("observationClip", observationClip, 0...1e9)
        try number("rewardClip", rewardClip, 0...1e9)
        if hidden.isEmpty || hidden.count > 64 || hidden.contains(where: { !(1...65536).contains($0) }) {
            throw fail("hidden", "1 to 64 widths, each in 1...65536")
        }
        if case .discrete = env.make().actionSpace, stateDependentStd {
            throw fail("stateDependentStd", "only for continuous actions", related: ["env"])
        }
    }
}
