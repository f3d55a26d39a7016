import ExperimentKit
import HDF5Store
// Online (iterative) DPO, as TRL's OnlineDPOTrainer: every update draws `promptsPerUpdate` prompts,
// samples `samplesPerPrompt` responses to each from the current policy (stopped at <|end|> or the
// budget, on per-response streams), lets a judge score them (the reward model, or the world's true
// reward: a switch the caller makes by the judge it passes), pairs each prompt's best against its
// worst, and takes one DPO step on those pairs with the reference's log-probs computed fresh. A
// prompt whose responses the judge cannot tell apart (equal scores, or the same response) gives no
// pair and is counted. Offline DPO (DPOTask.swift) trains on a fixed file; this one on its own
// samples, which is the difference the seed's claim is about.
import LabSupport
import NanoTransformer
import PostTraining
import TensorCore

public struct OnlineDPOSettings: Codable, Sendable, Equatable {
    public var promptsPerUpdate = 8
    /// Responses sampled per prompt (K ≥ 2); the judge's best and worst make the pair.
    public var samplesPerPrompt = 2
    public var maxNewTokens = 48
    public var temperature: Float = 1
    public var loss = DPOLoss()
    public var optimizer = OptimizerSettings(learningRate: 1e-5, decay: .constant, minLearningRateRatio: 1)

    public init() {}

    public func check() throws {
        for (key, value, least) in [
            ("online.promptsPerUpdate", promptsPerUpdate, 1), ("online.samplesPerPrompt", samplesPerPrompt, 2),
            ("online.maxNewTokens", maxNewTokens, 1),
        ] where value < least {
            throw LabError(.config, "\(key): \(value) must be at least \(least)")
        }
        try Sampling(temperature: temperature).check()
        try loss.check()
        try optimizer.check("online.optimizer")
    }
}

public final class OnlineDPOTask: TrainingTask {
    /// Scores of responses (ids, with their decoded text) to their prompts (ids): higher is better.
    public typealias Judge = (_ prompts: [[Int]], _ responses: [[Int]], _ texts: [String]) throws -> [Double]

    public let model: NanoTransformer
    public let modelRecord: ModelRecord?
    let reference: ReferenceModel?
    let format: ConversationFormat
    let source: (inout RNG) -> String
    let judge: Judge
    let settings: OnlineDPOSettings
    let adam: Adam
    let schedule: LearningRateSchedule
    public let parameters: [(name: String, tensor: Tensor)]
    let buffers: [(name: String, tensor: Tensor)]
    public var optimizer: any Optimizer { adam }
    let extraEvaluation: ((NanoTransformer) throws -> [String: Double])?
    var dataRNG: RNG
    var sampleRNG: RNG
    var dropoutRNG: RNG
    public private(set) var updatesDone = 0
    /// Labelled pairs trained on so far (what offline DPO's file size is compared with).
    public private(set) var pairsSeen = 0

    /// `totalUpdates` sets the learning-rate schedule's length.
    public init(
        policy: NanoTransformer, record: ModelRecord?, reference: ReferenceModel?, format: ConversationFormat,
        source: @escaping (inout RNG) -> String, judge: @escaping Judge, settings: OnlineDPOSettings,
        totalUpdates: Int, seed: UInt64, extraEvaluation: ((NanoTransformer) throws -> [String: Double])? = nil
    ) throws {
        try settings.check()
        if settings.loss.kind.needsReference && reference == nil {
            throw LabError(.config, "online.loss.kind: \(settings.loss.kind.rawValue) needs a reference model")
        }
        (model, modelRecord, self.reference, self.format, self.source, self.judge) = (
            policy, record, reference, format, source, judge
        )
        (self.settings, self.extraEvaluation) = (settings, extraEvaluation)
        parameters = policy.namedParameters()
        buffers = policy.namedBuffers()
        adam = settings.optimizer.adamW(parameters, noDecay: policy.noDecayNames)
        schedule = settings.optimizer.schedule(totalSteps: Swift.max(totalUpdates, 1))
        var root = RNG(seed: seed)
        (dataRNG, sampleRNG, dropoutRNG) = (root.split(), root.split(), root.split())
    }

    /// Each prompt's best against its worst response by the judge; prompts it cannot split give none.
    public static func pairs(prompts: [[Int]], responses: [[Int]], scores: [Double], k: Int) -> [DPOPair] {
        prompts.indices.compactMap { p -> DPOPair? in
            let group = (p * k)..<((p + 1) * k)
            // The first of equal scores wins, so the pairing never depends on an unstable sort.
            let best = group.max { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 > $1) }!
            let worst = group.min { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }!
            guard scores[best] > scores[worst], responses[best] != responses[worst] else { return nil }
            return DPOPair(prompt: prompts[p], chosen: responses[best], rejected: responses[worst])
        }
    }

    public func update() throws -> StepReport {
        let (n, k) = (settings.promptsPerUpdate, settings.samplesPerPrompt)
        let prompts = (0..<n).map { _ in format.promptIds(source(&dataRNG)) }
        let rollout = try model.generate(
            prompts: prompts, samplesPerPrompt: k, maxNewTokens: settings.maxNewTokens,
            sampling: Sampling(temperature: settings.temperature), stopTokens: [format.end],
            streams: (0..<(n * k)).map { _ in sampleRNG.split() })
        let texts = try rollout.responses.map { try format.responseText($0) }
        let scores = try judge(rollout.prompts, rollout.responses, texts)
        guard scores.count == rollout.count, scores.allSatisfy(\.isFinite) else {
            throw LabError(
                .config,
                "online dpo: the judge gave \(scores.count) scores for \(rollout.count) responses, or one not finite")
        }
        let pairs = Self.pairs(prompts: prompts, responses: rollout.responses, scores: scores, k: k)
        let mean = { (xs: [Double]) in xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count) }
        var metrics: [String: Double] = [
            "online/judge_score": mean(scores), "online/pairs": Double(pairs.count),
            "online/ties": Double(n - pairs.count), "online/length": mean(rollout.lengths.map(Double.init)),
            "online/truncated": mean(rollout.finish.map { $0 == .length ? 1 : 0 }),
        ]
        let lr = schedule(updatesDone)
        if !pairs.isEmpty {
            let referenceSums = reference.map { ref -> (chosen: [Float], rejected: [Float]) in
                let sums = ref.logProbs(
                    prompts: pairs.map(\.prompt) + pairs.map(\.prompt),
                    responses: pairs.map(\.chosen) + pairs.map(\.rejected)
                ).map { $0.reduce(0, +) }
                return (Array(sums[..<pairs.count]), Array(sums[pairs.count...]))
            }
            adam.zeroGrad()
            let (out, chosen, rejected) = dpoForward(
                model, settings.loss, pairs: pairs, reference: referenceSums, training: true, rng: &dropoutRNG)
            var loss = out.loss
            if let auxiliary = model.auxiliaryLoss { loss = loss + auxiliary }
            loss.backward()
            let norm = clipGradNorm(model.parameters, maxNorm: Float(settings.optimizer.gradClip))
            adam.step(lr: lr)
            let value = Double(out.loss.item)
            guard value.isFinite else {
                throw LabError(.config, "online dpo: loss/train is \(value) at update \(updatesDone + 1)")
            }
            metrics.merge([
                "loss/train": value, "rewards/chosen": out.chosenReward, "rewards/rejected": out.rejectedReward,
                "rewards/margin": out.rewardMargin, "rewards/accuracy": out.rewardAccuracy, "logps/chosen": chosen,
                "logps/rejected": rejected, "optim/grad_norm": Double(norm),
            ]) { a, _ in a }
        }
        pairsSeen += pairs.count
        updatesDone += 1
        metrics["optim/lr"] = Double(lr)
        metrics["online/pairs_seen"] = Double(pairsSeen)
        return StepReport(
            metrics: metrics, shown: [("judge", metrics["online/judge_score"]!), ("pairs", Double(pairs.count))])
    }

    public func evaluate() throws -> StepReport {
        StepReport(metrics: try extraEvaluation?(model) ?? [:])
    }

    public func exportState() -> TaskState {
        TaskState(
            rngStreams: [
                "data": dataRNG.stateWords, "sample": sampleRNG.stateWords, "dropout": dropoutRNG.stateWords,
            ], tensors: Dictionary(uniqueKeysWithValues: buffers.map { ("buffer/" + $0.name, $0.tensor) }),
            counters: ["pairs_seen": Double(pairsSeen)])
    }

    public func restore(_ state: TaskState, step: Int, path: String) throws {
        dataRNG = try state.stream("data", path: path)
        sampleRNG = try state.stream("sample", path: path)
        dropoutRNG = try state.stream("dropout", path: path)
        try Checkpoint.restoreBuffers(buffers, from: state.tensors, path: path)
        guard let seen = state.counters["pairs_seen"], seen >= 0 else {
            throw LabError(.config, "\(path): counters 'pairs_seen' missing: not an online DPO checkpoint")
        }
        pairsSeen = Int(seen)
        updatesDone = step
    }
}
