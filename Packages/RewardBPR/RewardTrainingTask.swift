import ExperimentKit
import HDF5Store
// Reward-model training as the shared loop drives it: epochs over the training prompts
// (EpochOrder), each update `promptsPerBatch` prompts with all K of their responses scored in one
// forward and every labelled pair of them in the loss (PreferenceLoss.swift; the pairwise and
// margin losses see the same pairs as the K-wise one, weighted per pair instead of per prompt),
// AdamW with warmup and decay, the gradient clipped. The evaluation scores the held-out set
// (RewardEvaluation.swift) and its pairwise loss. A resumed run equals an uninterrupted one.
import LabSupport
import NanoTransformer
import PostTraining
import TensorCore

public struct RewardSettings: Codable, Sendable, Equatable {
    public var epochs = 1
    public var promptsPerBatch = 8
    public var loss = PreferenceLoss()
    /// Margin loss: m = marginScale · max(0, true r_w − true r_l).
    public var marginScale = 1.0
    public var optimizer = OptimizerSettings(learningRate: 1e-4)

    public init() {}

    public func check() throws {
        for (key, value) in [("reward.epochs", epochs), ("reward.promptsPerBatch", promptsPerBatch)] where value < 1 {
            throw LabError(.config, "\(key): \(value) must be at least 1")
        }
        if !(marginScale >= 0) { throw LabError(.config, "reward.marginScale: \(marginScale) must be >= 0") }
        if !(loss.centering >= 0) { throw LabError(.config, "reward.loss.centering: \(loss.centering) must be >= 0") }
        try optimizer.check("reward.optimizer")
    }
}

public final class RewardTrainingTask: TrainingTask {
    public let model: RewardModel
    /// The reward model's record (with its tokenizer), so every checkpoint of the run describes it.
    public let modelRecord: ModelRecord?
    let settings: RewardSettings
    let train: PreferenceData
    let heldOut: PreferenceData
    let annotator: SimulatedAnnotator
    public let parameters: [(name: String, tensor: Tensor)]
    public var optimizer: any Optimizer { training.adam }
    var training: EpochTraining
    public private(set) var updatesDone = 0
    public var totalUpdates: Int { training.totalUpdates }

    public init(
        model: RewardModel, record: ModelRecord? = nil, train: PreferenceData, heldOut: PreferenceData,
        annotator: SimulatedAnnotator, settings: RewardSettings, seed: UInt64
    ) throws {
        try settings.check()
        guard train.k == heldOut.k else {
            throw LabError(.config, "reward: training data has K = \(train.k), held-out data K = \(heldOut.k)")
        }
        (self.model, modelRecord, self.train, self.heldOut, self.annotator, self.settings) = (
            model, record, train, heldOut, annotator, settings
        )
        parameters = model.namedParameters()
        training = EpochTraining(
            parameters: parameters,
            noDecay: Set(parameters.map(\.name).filter { $0.contains("norm") || $0.hasSuffix(".bias") }),
            optimizer: settings.optimizer, examples: train.count, batchSize: settings.promptsPerBatch,
            epochs: settings.epochs, seed: seed)
    }

    /// The batch of prompts `indices` of `data`: every response, and the labelled pairs among them.
    func batch(_ data: PreferenceData, _ indices: [Int]) -> (ResponseBatch, [PreferencePair]) {
        let k = data.k
        let flatTruth = settings.loss.kind == .margin ? indices.flatMap { data.trueRewards[$0] } : nil
        let pairs = indices.enumerated().flatMap { j, i in
            PreferencePair.allPairs(
                ranking: data.ranks[i].map { j * k + $0 }, prompt: j, trueRewards: flatTruth,
                marginScale: settings.marginScale)
        }
        let prompts = indices.flatMap { Array(repeating: data.prompts[$0], count: k) }
        return (ResponseBatch(prompts: prompts, responses: indices.flatMap { data.responses[$0] }), pairs)
    }

    public func update() throws -> StepReport {
        let (batch, pairs) = self.batch(train, training.order.next(settings.promptsPerBatch))
        training.adam.zeroGrad()
        let (loss, accuracy, margin) = settings.loss(
            scores: model.scores(batch, training: true, rng: &training.dropoutRNG), pairs: pairs)
        loss.backward()
        let norm = clipGradNorm(model.parameters, maxNorm: Float(settings.optimizer.gradClip))
        let lr = training.schedule(updatesDone)
        training.adam.step(lr: lr)
        updatesDone += 1
        let value = Double(loss.item)
        return StepReport(
            metrics: [
                "loss/train": value, "train/accuracy": accuracy, "train/margin": margin, "optim/lr": Double(lr),
                "optim/grad_norm": Double(norm), "train/epoch": training.epoch(after: updatesDone),
            ], shown: [("loss", value), ("acc", accuracy)], stop: !value.isFinite)
    }

    public func evaluate() throws -> StepReport {
        let scores = model.score(
            prompts: heldOut.prompts.flatMap { Array(repeating: $0, count: heldOut.k) },
            responses: heldOut.responses.flatMap { $0 })
        let evaluation = RewardEvaluation(scores: scores, data: heldOut, annotator: annotator)
        let pairs = heldOut.pairs()
        let loss = withNoGrad {
            PreferenceLoss(kind: .pairwise)(scores: Tensor(scores, shape: [scores.count]), pairs: pairs).loss.item
        }
        var metrics = evaluation.metrics
        metrics["loss/val"] = Double(loss)
        return StepReport(
            metrics: metrics, shown: [("val acc", evaluation.labelAccuracy), ("ceiling", evaluation.bayesCeiling)])
    }

    public func exportState() -> TaskState {
        var state = TaskState()
        training.export(into: &state)
        return state
    }

    public func restore(_ state: TaskState, step: Int, path: String) throws {
        try training.restore(from: state, path: path)
        updatesDone = step
    }
}
