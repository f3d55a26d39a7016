import Foundation
// The PPO loop of CleanRL's ppo.py, one detail per named config field (PPOConfig): collect
// envs x steps transitions, compute advantages, then epochs of shuffled minibatch updates.
// Metrics per update (logged at the global environment step):
//   charts/episodic_return, charts/episodic_length  mean over the episodes that ended in this rollout
//   charts/learning_rate, charts/clip_coefficient   the annealed values used
//   losses/policy_loss, losses/value_loss, losses/entropy   of the last minibatch, as CleanRL
//   losses/approx_kl (k3), losses/old_approx_kl (k1), losses/clipfrac   means over the update's minibatches
//   losses/explained_variance   1 - Var(R - V) / Var(R) over the batch (1: the critic explains the returns)
//   perf/steps_per_s            environment steps per second so far in this process (rollouts and updates)
// Alarms: a non-finite loss or gradient norm stops the run with an error naming the quantity and update.
import LabSupport
import PolicyGradient
import TensorCore

public struct EpisodeRecord: Equatable, Sendable {
    public var step: Int
    public var episodeReturn: Double
    public var length: Int
}

public final class PPOTrainer {
    public let config: PPOConfig
    public let agent: ActorCritic
    public let optimizer: Adam
    let envs: VectorEnvironment
    var rng: RNG
    var observationNormalizer: ObservationNormalizer?
    var rewardScaler: RewardScaler?
    public internal(set) var episodes: [EpisodeRecord] = []
    public internal(set) var globalStep = 0
    /// Updates done (a resumed run continues from here).
    public internal(set) var updatesDone = 0
    /// The observations to act on next (normalised when that detail is on).
    var observations: [[Float]] = []

    public init(_ config: PPOConfig, seed: UInt64) throws {
        try config.check()
        self.config = config
        var root = RNG(seed: seed)
        var initRNG = root.split()
        rng = root.split()
        envs = VectorEnvironment(config.env, count: config.envs, seed: root.next())
        agent = ActorCritic(
            observationSize: envs.observationSize, actionSpace: envs.actionSpace, hidden: config.hidden,
            shared: config.sharedNetwork, orthogonalInit: config.orthogonalInit,
            stateDependentStd: config.stateDependentStd, rng: &initRNG)
        optimizer = Adam(agent.namedParameters(), eps: Float(config.adamEps))
        if config.normalizeObservations {
            observationNormalizer = ObservationNormalizer(
                width: envs.observationSize, clip: config.observationClip > 0 ? Float(config.observationClip) : nil)
        }
        if config.normalizeRewards {
            rewardScaler = RewardScaler(
                envs: config.envs, gamma: config.gamma, clip: config.rewardClip > 0 ? Float(config.rewardClip) : nil)
        }
        observations = observationNormalizer?(envs.observations) ?? envs.observations
    }

    /// Runs every remaining update; `log` receives each update's metrics at the global step and
    /// returns false to stop early.
    public func train(log: (_ step: Int, _ metrics: [String: Double]) -> Bool = { _, _ in true }) throws {
        while updatesDone < config.updates {
            if !log(globalStep, try update()) { return }
        }
    }

    /// When this process's first update started, and the global step then: steps per second count
    /// only this process's steps (a resumed run times its own).
    var timing: (started: Date, step: Int)?

    /// One update: a rollout, its advantages, the epochs of minibatch steps; returns its metrics.
    public func update() throws -> [String: Double] {
        if timing == nil { timing = (Date(), globalStep) }
        let update = updatesDone + 1
        let progress = 1 - Double(update - 1) / Double(config.updates)
        let lr = config.learningRate * (config.annealLearningRate ? progress : 1)
        let clip = Float(config.clipCoefficient * (config.annealClipRange ? progress : 1))
        let firstEpisode = episodes.count
        let rollout = collectRollout()
        var metrics = try optimize(rollout, lr: Float(lr), clip: clip, update: update)
        metrics["charts/learning_rate"] = lr
        metrics["charts/clip_coefficient"] = Double(clip)
        let finished = episodes[firstEpisode...]
        if !finished.isEmpty {
            metrics["charts/episodic_return"] = finished.map(\.episodeReturn).reduce(0, +) / Double(finished.count)
            metrics["charts/episodic_length"] = Double(finished.map(\.length).reduce(0, +)) / Double(finished.count)
        }
        metrics["perf/steps_per_s"] = Double(globalStep - timing!.step) / Date().timeIntervalSince(timing!.started)
        updatesDone = update
        return metrics
    }

    /// One rollout: T x N transitions stored step-major (index t * N + n).
    public struct Rollout {
        public var observations: [[Float]] = []
        /// As sampled (continuous 5), or clipped when storeUnclippedActions is off.
        public var actions: [[Float]] = []
        public var logProbs: [Float] = []
        public var values: [Float] = []
        /// After reward scaling and clipping when those details are on.
        public var rewards: [Float] = []
        public var ends = RolloutEnds(terminated: [], truncated: [], truncationValues: [])
        public var advantages: [Float] = []
        public var returns: [Float] = []
    }

    /// Acts config.steps times in every environment with the current policy, then computes
    /// advantages and returns (core 1 and 5).
    public func collectRollout() -> Rollout {
        var r = Rollout()
        let bounds: (Float, Float)? =
            if case .box(_, let low, let high) = envs.actionSpace { (low, high) } else { nil }
        for _ in 0..<config.steps {
            let (sampled, policy, values) = withNoGrad { () -> ([[Float]], PolicyDistribution, [Float]) in
                let (policy, values) = agent(batch(observations))
                return (policy.sample(rng: &rng), policy, values.array)
            }
            // Continuous 5: the environment gets clipped actions; the buffer keeps what was sampled.
            let clipped = bounds.map { b in sampled.map { $0.map { min(max($0, b.0), b.1) } } } ?? sampled
            let actions = config.storeUnclippedActions ? sampled : clipped
            let logProbs = withNoGrad { policy.logProbability(actions).array }
            let step = envs.step(clipped)
            globalStep += config.envs
            for e in step.finishedEpisodes {
                episodes.append(EpisodeRecord(step: globalStep, episodeReturn: e.episodeReturn, length: e.length))
            }
            r.observations += observations
            r.actions += actions
            r.logProbs += logProbs
            r.values += values
            r.rewards += rewardScaler?(step.rewards, terminated: step.terminated) ?? step.rewards.map { Float($0) }
            r.ends.terminated += step.terminated
            r.ends.truncated += step.truncated
            r.ends.truncationValues += truncationValues(step)
            observations = observationNormalizer?(step.observations) ?? step.observations
        }
        let lastValues = withNoGrad { agent(batch(observations)).values.array }
        (r.advantages, r.returns) = GAE.advantages(
            rewards: r.rewards, values: r.values, ends: r.ends, lastValues: lastValues, envs: config.envs,
            gamma: Float(config.gamma), lambda: config.gae ? Float(config.gaeLambda) : 1,
            bootstrapTruncation: config.bootstrapTruncation)
        return r
    }

    /// Rows of observations as one (rows, observation size) tensor.
    func batch(_ rows: [[Float]]) -> Tensor { Tensor(rows.flatMap { $0 }, shape: [rows.count, envs.observationSize]) }

    /// The bootstrap value of each truncated episode: V(final observation), normalised as the
    /// observations are but without updating the statistics (0 where the episode goes on or
    /// terminated). One batched forward.
    func truncationValues(_ step: VectorStep) -> [Float] {
        let rows = (0..<step.truncated.count).filter { step.truncated[$0] }
        var out = [Float](repeating: 0, count: step.truncated.count)
        guard !rows.isEmpty else { return out }
        let finals = rows.map {
            observationNormalizer?.normalize(step.finalObservations[$0]!) ?? step.finalObservations[$0]!
        }
        let v = withNoGrad { agent(batch(finals)).values }
        for (k, row) in rows.enumerated() { out[row] = v.data[k] }
        return out
    }

    func optimize(_ r: Rollout, lr: Float, clip: Float, update: Int) throws -> [String: Double] {
        var metrics: [String: Double] = [:]
        var (klSum, oldKLSum, clipSum, minibatchCount) = (0.0, 0.0, 0.0, 0)
        var lastKL = 0.0
        let size = config.minibatchSize
        var minibatches = Minibatches(count: config.batchSize)
        epochs: for _ in 0..<config.epochs {
            for indices in minibatches.epoch(size: size, rng: &rng) {
                let (policy, values) = agent(batch(indices.map { r.observations[$0] }))
                let newLogProbs = policy.logProbability(indices.map { r.actions[$0] })
                let oldLogProbs = indices.map { r.logProbs[$0] }
                var advantages = indices.map { r.advantages[$0] }
                if config.normalizeAdvantages { advantages = AdvantageNormalization.normalized(advantages) }
                let pgLoss = PolicyLoss.surrogate(
                    newLogProbs: newLogProbs, oldLogProbs: oldLogProbs, advantages: advantages, clip: clip,
                    clipped: config.clipObjective)
                let vLoss = PolicyLoss.value(
                    values: values, oldValues: indices.map { r.values[$0] }, returns: indices.map { r.returns[$0] },
                    clip: clip, clipped: config.clipValueLoss)
                let entropy = policy.entropy().mean()
                let (_, norm) = try GradientStep.accumulate(
                    optimizer, parameters: agent.parameters, microBatches: 1,
                    clip: config.maxGradNorm > 0 ? Float(config.maxGradNorm) : nil
                ) { _ in
                    let loss =
                        pgLoss - entropy * Float(config.entropyCoefficient) + vLoss * Float(config.valueCoefficient)
                    guard loss.item.isFinite else {
                        throw LabError(
                            .ppo,
                            "update \(update): loss is \(loss.item) (policy \(pgLoss.item), value \(vLoss.item), entropy \(entropy.item))"
                        )
                    }
                    return loss
                }
                if let norm, !norm.isFinite { throw LabError(.ppo, "update \(update): gradient norm is \(norm)") }
                optimizer.step(lr: lr)
                let d = PolicyLoss.diagnostics(newLogProbs: newLogProbs.array, oldLogProbs: oldLogProbs, clip: clip)
                (klSum, oldKLSum, clipSum, minibatchCount) =
                    (klSum + d.approxKL3, oldKLSum + d.approxKL1, clipSum + d.clipFraction, minibatchCount + 1)
                metrics["losses/policy_loss"] = Double(pgLoss.item)
                metrics["losses/value_loss"] = Double(vLoss.item)
                metrics["losses/entropy"] = Double(entropy.item)
                lastKL = d.approxKL3
            }
            // Auxiliary 3, as CleanRL: after an epoch, stop if the last minibatch's KL is too large.
            if config.targetKL > 0 && lastKL > config.targetKL { break epochs }
        }
        metrics["losses/approx_kl"] = klSum / Double(minibatchCount)
        metrics["losses/old_approx_kl"] = oldKLSum / Double(minibatchCount)
        metrics["losses/clipfrac"] = clipSum / Double(minibatchCount)
        metrics["losses/explained_variance"] = ExplainedVariance.of(predictions: r.values, targets: r.returns)
        return metrics
    }
}
