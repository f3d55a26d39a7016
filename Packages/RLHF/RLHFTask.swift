import ExperimentKit
import HDF5Store
// PPO on text (InstructGPT, TRL's PPO trainer) as the shared loop drives it. One iteration:
//   1. rollout   `promptsPerStep` prompts from the source, one response each from the policy,
//                on per-response RNG streams, stopped at <|end|> or the budget;
//   2. score     the reward model's score of each (prompt, response); the reference's and the
//                critic's per-token log-probs and values, all without a graph;
//   3. rewards   per token (TokenRewards.swift): −β · KL on every token, the score on the last;
//   4. GAE       over tokens (PolicyGradient.GAE.tokenAdvantages; γ, λ; a response cut at the
//                budget is truncated, not terminated), returns = advantages + values, advantages
//                whitened over the batch's tokens;
//   5. update    `epochs` passes in `minibatches` pieces: the clipped surrogate per token (token
//                mean), the clipped value loss (0.5 · token mean of the larger squared error) times
//                `valueCoefficient`, minus `entropyCoefficient` · entropy, plus β · KL when the KL
//                is a loss term; one AdamW step on the policy and the critic together, the global
//                gradient norm clipped (TRL wraps both in one optimiser the same way);
//   6. β         the KL controller sees the batch's mean KL per response.
// The evaluation (RLHFEvaluation.swift) samples one response per held-out prompt on streams fixed
// for the run and reports the proxy score, the true reward, the KL to the reference and the length.
// The critic is a value head on its own trunk, initialised from the reward model's (InstructGPT),
// or on the policy's trunk (`sharedCritic`). Every number the loop needs to continue (β, RNG
// streams, both models, the optimiser) is checkpointed; a resumed run equals an uninterrupted one.
// The checkpoint holds the policy and the critic side by side (policy.*, critic.*), so it resumes the
// run but is not itself a policy file; the ppo-rlhf experiment writes the trained policy on its own.
import LabSupport
import NanoTransformer
import PolicyGradient
import PostTraining
import RewardBPR
import TensorCore

public struct RLHFSettings: Codable, Sendable, Equatable {
    public var promptsPerStep = 16
    public var maxNewTokens = 24
    public var temperature: Float = 1
    public var rewards = TokenRewardSettings()
    public var kl = KLController()
    public var gamma: Float = 1
    public var lambda: Float = 0.95
    public var whitenAdvantages = true
    public var epochs = 4
    public var minibatches = 4
    public var clipRange: Float = 0.2
    public var valueClipRange: Float = 0.2
    public var clipValueLoss = true
    public var valueCoefficient: Float = 0.1
    public var entropyCoefficient: Float = 0
    public var sharedCritic = false
    public var optimizer = OptimizerSettings(
        learningRate: 1e-5, warmupSteps: 0, decay: .constant, minLearningRateRatio: 1)

    public init() {}

    public func check() throws {
        for (key, value) in [
            ("rlhf.promptsPerStep", promptsPerStep), ("rlhf.maxNewTokens", maxNewTokens), ("rlhf.epochs", epochs),
            ("rlhf.minibatches", minibatches),
        ] where value < 1 {
            throw LabError(.config, "\(key): \(value) must be at least 1")
        }
        if minibatches > promptsPerStep {
            throw LabError(
                .config, "rlhf.minibatches: \(minibatches) is more than rlhf.promptsPerStep \(promptsPerStep)")
        }
        if !(0...1).contains(gamma) || !(0...1).contains(lambda) {
            throw LabError(.config, "rlhf.gamma and rlhf.lambda must be within 0...1")
        }
        for (key, value) in [
            ("rlhf.clipRange", clipRange), ("rlhf.valueClipRange", valueClipRange),
            ("rlhf.valueCoefficient", valueCoefficient), ("rlhf.entropyCoefficient", entropyCoefficient),
        ] where !(value >= 0 && value.isFinite) {
            throw LabError(.config, "\(key): \(value) must be finite and >= 0")
        }
        if !(rewards.scoreClip >= 0 && rewards.scoreClip.isFinite) {
            throw LabError(.config, "rlhf.rewards.scoreClip: \(rewards.scoreClip) must be finite and >= 0 (0: no clip)")
        }
        if !rewards.missingEndPenalty.isFinite {
            throw LabError(.config, "rlhf.rewards.missingEndPenalty: \(rewards.missingEndPenalty) must be finite")
        }
        try kl.check("rlhf.kl")
        try optimizer.check("rlhf.optimizer")
        try Sampling(temperature: temperature).check()
    }
}

/// The critic: a value per position from a trunk's hidden states.
public final class Critic: Module {
    public let trunk: NanoTransformer
    public let head: ValueHead
    let ownsTrunk: Bool

    /// A value head on its own copy of `trunk`'s weights (InstructGPT: the reward model's).
    public init(copying trunk: NanoTransformer, rng: inout RNG) throws {
        self.trunk = try trunk.copy(with: trunk.config)
        head = ValueHead(dModel: trunk.config.dModel, rng: &rng)
        ownsTrunk = true
    }

    /// A value head on `trunk` itself (shared with the policy).
    public init(sharing trunk: NanoTransformer, rng: inout RNG) {
        self.trunk = trunk
        head = ValueHead(dModel: trunk.config.dModel, rng: &rng)
        ownsTrunk = false
    }

    /// The parameters this critic adds to the policy's (all of them when it owns its trunk).
    public func namedParameters() -> [(name: String, tensor: Tensor)] {
        (ownsTrunk ? trunk.namedParameters().map { (name: "trunk.\($0.name)", tensor: $0.tensor) } : [])
            + head.namedParameters().map { (name: "head.\($0.name)", tensor: $0.tensor) }
    }

    /// Values (B, R) of the states that predict each response token.
    public func values(_ batch: ResponseBatch, hidden: Tensor? = nil, training: Bool, rng: inout RNG) -> Tensor {
        let h =
            hidden ?? trunk.hiddenStates(batch.ids, batch: batch.batch, time: batch.time, training: training, rng: &rng)
        return head(batch.predictingStates(h)).reshaped([batch.batch, batch.width])
    }
}

/// Prompts drawn from the data stream.
public typealias PromptSource = (inout RNG) -> String

public final class RLHFTask: TrainingTask {
    public let policy: NanoTransformer
    public let critic: Critic
    let reference: ReferenceModel
    let rewardModel: RewardModel
    let format: ConversationFormat
    let source: PromptSource
    /// The world's true reward of a response text (VADER in the preference world), for the record.
    let trueReward: ((String) -> Double)?
    let settings: RLHFSettings
    public private(set) var kl: KLController
    let adam: Adam
    public let parameters: [(name: String, tensor: Tensor)]
    public var optimizer: any Optimizer { adam }
    var dataRNG: RNG
    var sampleRNG: RNG
    var minibatchRNG: RNG
    var dropoutRNG: RNG
    let heldOutPrompts: [String]
    /// One per held-out prompt, the same at every evaluation.
    let evaluationStreams: [RNG]
    /// The responses of the last evaluation, with their scores, true rewards and KL.
    public private(set) var lastSamples: [RLHFEvaluation.Sample] = []
    public private(set) var updatesDone = 0

    public init(
        policy: NanoTransformer, reference: ReferenceModel, rewardModel: RewardModel,
        format: ConversationFormat, source: @escaping PromptSource, trueReward: ((String) -> Double)? = nil,
        heldOutPrompts: [String] = [], settings: RLHFSettings, seed: UInt64
    ) throws {
        try settings.check()
        (self.policy, self.reference, self.rewardModel, self.format) = (policy, reference, rewardModel, format)
        (self.source, self.trueReward, self.settings, kl) = (source, trueReward, settings, settings.kl)
        var root = RNG(seed: seed)
        var initRNG = root.split()
        critic =
            settings.sharedCritic
            ? Critic(sharing: policy, rng: &initRNG) : try Critic(copying: rewardModel.trunk, rng: &initRNG)
        parameters =
            policy.namedParameters().map { (name: "policy.\($0.name)", tensor: $0.tensor) }
            + critic.namedParameters().map { (name: "critic.\($0.name)", tensor: $0.tensor) }
        adam = settings.optimizer.adamW(
            parameters, noDecay: Set(parameters.map(\.name).filter { $0.contains("norm") || $0.hasSuffix(".bias") }))
        (dataRNG, sampleRNG, minibatchRNG, dropoutRNG) = (root.split(), root.split(), root.split(), root.split())
        self.heldOutPrompts = heldOutPrompts
        var evaluationRNG = root.split()
        evaluationStreams = heldOutPrompts.map { _ in evaluationRNG.split() }
    }

    /// Rows of per-token values right-padded with 0 to `width`: (B, width).
    func padded(_ rows: [[Float]], width: Int) -> Tensor {
        Tensor(rows.flatMap { $0 + [Float](repeating: 0, count: width - $0.count) }, shape: [rows.count, width])
    }

    public func update() throws -> StepReport {
        let n = settings.promptsPerStep
        let prompts = (0..<n).map { _ in format.promptIds(source(&dataRNG)) }
        let rollout = try policy.generate(
            prompts: prompts, maxNewTokens: settings.maxNewTokens,
            sampling: Sampling(temperature: settings.temperature),
            stopTokens: [format.end], streams: (0..<n).map { _ in sampleRNG.split() })
        let stopped = rollout.finish.map { $0 == .stop }
        let batch = rollout.batch()
        let width = batch.width
        let referenceLogProbs = reference.logProbs(
            prompts: rollout.prompts, responses: rollout.responses, temperature: settings.temperature)
        let scores = rewardModel.score(prompts: rollout.prompts, responses: rollout.responses)
        let oldValues = withNoGrad { critic.values(batch, training: false, rng: &dropoutRNG) }
        let tokenRewards = TokenRewards(
            logProbs: rollout.logProbs, referenceLogProbs: referenceLogProbs, scores: scores, stopped: stopped,
            beta: kl.beta, settings: settings.rewards)
        let (rawAdvantages, returns) = GAE.tokenAdvantages(
            rewards: padded(tokenRewards.rewards, width: width).array, values: oldValues.array,
            lengths: rollout.lengths, truncated: stopped.map { !$0 }, gamma: settings.gamma, lambda: settings.lambda)
        let mask = batch.mask
        let real = (0..<(n * width)).filter { mask.array[$0] != 0 }
        var advantages = rawAdvantages
        if settings.whitenAdvantages {
            let whitened = AdvantageNormalization.normalized(real.map { rawAdvantages[$0] })
            for (k, index) in real.enumerated() { advantages[index] = whitened[k] }
        }
        let oldLogProbs = rollout.behaviourLogProbs()
        let reference = padded(referenceLogProbs, width: width)
        var minibatches = Minibatches(count: n)
        var (policyLosses, valueLosses, entropies, steps) = (0.0, 0.0, 0.0, 0)
        var diagnostics: [PolicyDiagnostics] = []
        for _ in 0..<settings.epochs {
            for rows in minibatches.epoch(
                size: (n + settings.minibatches - 1) / settings.minibatches, rng: &minibatchRNG)
            {
                let part = rollout.subset(rows)
                let partBatch = part.batch()
                let w = partBatch.width
                // The rollout's (B, width) rows cut to this piece's width.
                func rowsOf(_ values: [Float]) -> Tensor {
                    Tensor(rows.flatMap { Array(values[($0 * width)..<($0 * width + w)]) }, shape: [rows.count, w])
                }
                let partMask = partBatch.mask
                adam.zeroGrad()
                let hidden = policy.hiddenStates(
                    partBatch.ids, batch: partBatch.batch, time: partBatch.time, training: true, rng: &dropoutRNG)
                let current = policy.responseLogProbs(
                    partBatch, hidden: hidden, temperature: settings.temperature, entropy: true, training: true)
                let (surrogate, d) = TokenPolicyLoss.clippedSurrogate(
                    logProbs: current.logProbs, oldLogProbs: rowsOf(oldLogProbs.array), advantages: rowsOf(advantages),
                    mask: partMask, clipLow: settings.clipRange, clipHigh: settings.clipRange)
                let tokens = LossAggregation.tokenMean
                var policyLoss = tokens.reduce(surrogate, mask: partMask)
                if settings.rewards.placement == .loss && kl.beta > 0 {
                    let klTerm = settings.rewards.estimator.perToken(
                        logProbs: current.logProbs, referenceLogProbs: rowsOf(reference.array), mask: partMask)
                    policyLoss = policyLoss + tokens.reduce(klTerm, mask: partMask) * Float(kl.beta)
                }
                let entropy = current.entropy.map { tokens.reduce($0, mask: partMask) }
                let values = critic.values(
                    partBatch, hidden: settings.sharedCritic ? hidden : nil, training: true, rng: &dropoutRNG)
                let valueLoss =
                    tokens.reduce(
                        TokenValueLoss.squaredErrors(
                            values: values, oldValues: rowsOf(oldValues.array), returns: rowsOf(returns),
                            mask: partMask,
                            clip: settings.valueClipRange, clipped: settings.clipValueLoss), mask: partMask) * 0.5
                var loss = policyLoss + valueLoss * settings.valueCoefficient
                if let entropy, settings.entropyCoefficient > 0 { loss = loss - entropy * settings.entropyCoefficient }
                if let auxiliary = current.auxiliaryLoss { loss = loss + auxiliary }
                loss.backward()
                _ = clipGradNorm(parameters.map(\.tensor), maxNorm: Float(settings.optimizer.gradClip))
                adam.step(lr: Float(settings.optimizer.learningRate))
                (policyLosses, valueLosses, steps) = (
                    policyLosses + Double(policyLoss.item), valueLosses + Double(valueLoss.item), steps + 1
                )
                entropies += Double(entropy?.item ?? 0)
                diagnostics.append(d)
            }
        }
        let meanKL = tokenRewards.meanSequenceKL
        let beta = kl.beta
        kl.update(kl: meanKL, responses: n)
        updatesDone += 1
        let mean = { (xs: [Double]) in xs.reduce(0, +) / Double(Swift.max(xs.count, 1)) }
        let realValues = real.map { Double(oldValues.array[$0]) }
        var metrics: [String: Double] = [
            "rlhf/score": mean(scores.map(Double.init)), "rlhf/kl": meanKL, "rlhf/beta": beta,
            "rlhf/length": mean(rollout.lengths.map(Double.init)),
            "rlhf/truncated": mean(stopped.map { $0 ? 0 : 1 }), "loss/policy": policyLosses / Double(steps),
            "loss/value": valueLosses / Double(steps), "policy/entropy": entropies / Double(steps),
            "policy/clip_fraction": mean(diagnostics.map(\.clipFraction)),
            "policy/approx_kl": mean(diagnostics.map(\.approxKL3)),
            "value/explained_variance": ExplainedVariance.of(
                predictions: realValues.map(Float.init), targets: real.map { returns[$0] }),
        ]
        if let trueReward {
            let texts = try rollout.responses.map { try format.responseText($0) }
            metrics["rlhf/true_reward"] = mean(texts.map(trueReward))
        }
        if let bad = metrics.first(where: { !$0.value.isFinite && $0.key != "value/explained_variance" }) {
            throw LabError(.config, "rlhf: \(bad.key) is \(bad.value) at update \(updatesDone)")
        }
        return StepReport(
            metrics: metrics, shown: [("score", metrics["rlhf/score"]!), ("kl", meanKL)])
    }

    public func evaluate() throws -> StepReport {
        guard !heldOutPrompts.isEmpty else { return StepReport(metrics: [:]) }
        let evaluation = try RLHFEvaluation(
            policy: policy, reference: reference, rewardModel: rewardModel, format: format, prompts: heldOutPrompts,
            streams: evaluationStreams, maxNewTokens: settings.maxNewTokens, temperature: settings.temperature,
            trueReward: trueReward)
        lastSamples = evaluation.samples
        var shown = [("val score", evaluation.metrics["eval/score"]!), ("val kl", evaluation.metrics["eval/kl"]!)]
        if let truth = evaluation.metrics["eval/true_reward"] { shown.append(("val true", truth)) }
        return StepReport(metrics: evaluation.metrics, shown: shown)
    }

    public func exportState() -> TaskState {
        TaskState(
            rngStreams: [
                "data": dataRNG.stateWords, "sample": sampleRNG.stateWords, "minibatch": minibatchRNG.stateWords,
                "dropout": dropoutRNG.stateWords,
            ], values: ["kl.beta": [kl.beta]])
    }

    public func restore(_ state: TaskState, step: Int, path: String) throws {
        dataRNG = try state.stream("data", path: path)
        sampleRNG = try state.stream("sample", path: path)
        minibatchRNG = try state.stream("minibatch", path: path)
        dropoutRNG = try state.stream("dropout", path: path)
        guard let beta = state.values["kl.beta"]?.first, beta.isFinite, beta >= 0 else {
            throw LabError(.config, "\(path): values 'kl.beta' missing or not a finite β >= 0")
        }
        kl.beta = beta
        updatesDone = step
    }
}
