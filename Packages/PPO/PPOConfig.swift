// PPO's settings, one named field per implementation detail of Huang et al. (2022), numbered as
// in the blog post; defaults are CleanRL's ppo.py for classic control (Pendulum's config file
// switches to ppo_continuous_action.py's). Keys are config-file keys.

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
    public func check() throws {
        func fail(_ key: String, _ why: String) -> PPOError { PPOError("\(key): \(why)") }
        if envs < 1 || steps < 1 { throw fail("envs", "envs and steps must be positive") }
        if minibatches < 1 || batchSize % minibatches != 0 {
            throw fail("minibatches", "\(minibatches) must divide the batch \(batchSize) (envs x steps)")
        }
        if epochs < 1 { throw fail("epochs", "must be positive") }
        if totalTimesteps < batchSize { throw fail("totalTimesteps", "less than one batch (\(batchSize))") }
        if learningRate <= 0 { throw fail("learningRate", "must be positive") }
        if !(0...1).contains(gamma) || !(0...1).contains(gaeLambda) {
            throw fail("gamma", "gamma and gaeLambda in [0, 1]")
        }
        if hidden.isEmpty || hidden.contains(where: { $0 < 1 }) {
            throw fail("hidden", "positive widths, at least one")
        }
        if case .discrete = env.make().actionSpace, stateDependentStd {
            throw fail("stateDependentStd", "only for continuous actions")
        }
    }
}

public struct PPOError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
