import ExperimentKit
import HDF5Store
// Supervised fine-tuning as the shared loop (ExperimentKit's TrainingLoop) drives it. Each epoch
// visits every training example once in an order drawn from the data stream; an update takes the
// next `batchSize` examples (the last one of an epoch may be smaller), splits them into
// `microBatches` pieces, and steps AdamW on
//   loss = Σ_{counted targets of the update} −log p(target) / N_update      (SFTBatch.swift)
// (plus a drop-in MLP's auxiliary losses, each weighted by its micro-batch's share of N), with
// the gradient clipped; an MoE model then ends its routing step (MoEStep: bias update, moe/* load
// metrics). The evaluation reports the response loss on held-out examples and
// whatever `extraEvaluation` measures (the harness's accuracy, in the sft experiment). A resumed
// run restores the data stream, the epoch's order and the cursor in it, so it equals an
// uninterrupted one.
import LabSupport
import MoE
import NanoTransformer
import TensorCore

public struct SFTSettings: Codable, Sendable, Equatable {
    public var epochs = 1
    public var batchSize = 16
    public var microBatches = 1
    public var layout = SFTLayout.packed
    public var lossTokens = SFTLossTokens.response
    /// Tokens per packed row (and the longest example allowed); 0: the model's context length.
    public var window = 0
    public var optimizer = OptimizerSettings(learningRate: 3e-4)
    /// Held-out examples per evaluation batch.
    public var evalBatchSize = 32

    public init() {}

    public func check() throws {
        for (key, value) in [
            ("sft.epochs", epochs), ("sft.batchSize", batchSize), ("sft.microBatches", microBatches),
            ("sft.evalBatchSize", evalBatchSize),
        ] where value < 1 {
            throw LabError(.config, "\(key): \(value) must be at least 1")
        }
        if microBatches > batchSize {
            throw LabError(.config, "sft.microBatches: \(microBatches) is more than sft.batchSize \(batchSize)")
        }
        if window < 0 { throw LabError(.config, "sft.window: \(window) must be >= 0 (0: the context length)") }
        try optimizer.check("sft.optimizer")
    }
}

public final class SFTTask: TrainingTask {
    public let model: NanoTransformer
    public let modelRecord: ModelRecord?
    let settings: SFTSettings
    let train: [SFTExample]
    let heldOut: [SFTExample]
    let window: Int
    public let parameters: [(name: String, tensor: Tensor)]
    let buffers: [(name: String, tensor: Tensor)]
    public var optimizer: any Optimizer { training.adam }
    let extraEvaluation: ((NanoTransformer) throws -> [String: Double])?
    var training: EpochTraining
    public private(set) var updatesDone = 0
    var tokensSeen = 0

    public var totalUpdates: Int { training.totalUpdates }

    public init(
        model: NanoTransformer, record: ModelRecord?, train: [SFTExample], heldOut: [SFTExample],
        settings: SFTSettings, seed: UInt64,
        extraEvaluation: ((NanoTransformer) throws -> [String: Double])? = nil
    ) throws {
        try settings.check()
        guard !train.isEmpty else { throw LabError(.config, "SFT: no training examples") }
        self.model = model
        modelRecord = record
        self.settings = settings
        self.train = train
        self.heldOut = heldOut
        window = settings.window == 0 ? model.config.contextLength : settings.window
        if window > model.config.contextLength && model.config.positionEncoding == .learned {
            throw LabError(
                .config, "sft.window: \(window) is beyond the learned positions (\(model.config.contextLength))")
        }
        parameters = model.namedParameters()
        buffers = model.namedBuffers()
        training = EpochTraining(
            parameters: parameters, noDecay: model.noDecayNames, optimizer: settings.optimizer, examples: train.count,
            batchSize: settings.batchSize, epochs: settings.epochs, seed: seed)
        self.extraEvaluation = extraEvaluation
        // Every example must fit the window (named error now, not at the update that meets it).
        _ = try SFTBatch(train + heldOut, layout: .padded, lossTokens: .all, window: window)
    }

    public func update() throws -> StepReport {
        let examples = training.order.next(settings.batchSize).map { train[$0] }
        let n = min(settings.microBatches, examples.count)
        let pieces = try (0..<n).map { k in
            try SFTBatch(
                Array(examples[(examples.count * k / n)..<(examples.count * (k + 1) / n)]), layout: settings.layout,
                lossTokens: settings.lossTokens, window: window)
        }
        let counted = pieces.map(\.counted).reduce(0, +)
        let (meanLoss, norm) = GradientStep.accumulate(
            training.adam, parameters: model.parameters, microBatches: n, clip: Float(settings.optimizer.gradClip)
        ) { k in
            // GradientStep divides by n; this piece's share of the update's N, times n, undoes it.
            let share = Float(n * pieces[k].counted) / Float(counted)
            return sftLoss(pieces[k], training: true) * share
        }
        let lr = training.schedule(updatesDone)
        training.adam.step(lr: lr)
        // MoE layers: the balancing bias moves and the step's load is reported (nothing when dense).
        let routing = MoEStep.finish(model)
        updatesDone += 1
        tokensSeen += pieces.map { $0.rows * $0.time }.reduce(0, +)
        let loss = Double(meanLoss)
        let metrics: [String: Double] = [
            "loss/train": loss, "optim/lr": Double(lr), "optim/grad_norm": Double(norm!),
            "train/epoch": training.epoch(after: updatesDone), "train/tokens": Double(tokensSeen),
            "train/padding_share": 1 - Double(pieces.map { $0.ids.count - $0.padding }.reduce(0, +))
                / Double(pieces.map(\.ids.count).reduce(0, +)),
        ]
        return StepReport(
            metrics: metrics.merging(routing) { a, _ in a }, shown: [("loss", loss)], stop: !loss.isFinite)
    }

    /// Σ −log p over the batch's counted targets / N of the batch (the mean when alone), plus the
    /// auxiliary losses of a training forward.
    func sftLoss(_ batch: SFTBatch, training: Bool) -> Tensor {
        let logits = model.logits(
            batch.ids, batch: batch.rows, time: batch.time, positions: batch.positions, mask: batch.mask,
            training: training, rng: &self.training.dropoutRNG
        ).reshaped([batch.rows * batch.time, model.config.vocabSize])
        var loss = batch.loss(logits)
        if training, let auxiliary = model.auxiliaryLoss { loss = loss + auxiliary }
        return loss
    }

    /// The response loss on the held-out examples: Σ −log p / N over all of them.
    public func heldOutLoss() throws -> Double {
        guard !heldOut.isEmpty else { return .nan }
        return try withNoGrad {
            var (sum, counted) = (0.0, 0)
            for start in stride(from: 0, to: heldOut.count, by: settings.evalBatchSize) {
                let batch = try SFTBatch(
                    Array(heldOut[start..<min(start + settings.evalBatchSize, heldOut.count)]), layout: .padded,
                    lossTokens: .response, window: window)
                var unused = RNG(seed: 0)
                let logits = model.logits(
                    batch.ids, batch: batch.rows, time: batch.time, positions: batch.positions, rng: &unused
                ).reshaped([batch.rows * batch.time, model.config.vocabSize])
                sum += Double(batch.loss(logits, normalizer: 1).item)
                counted += batch.counted
            }
            return sum / Double(counted)
        }
    }

    public func evaluate() throws -> StepReport {
        var metrics = ["loss/val_response": try heldOutLoss()]
        if let extraEvaluation { metrics.merge(try extraEvaluation(model)) { a, _ in a } }
        return StepReport(
            metrics: metrics,
            shown: [("val", metrics["loss/val_response"]!)]
                + (metrics["eval/greedy_accuracy"].map { [("acc", $0)] } ?? []))
    }

    public func exportState() -> TaskState {
        var state = TaskState(
            tensors: Dictionary(uniqueKeysWithValues: buffers.map { ("buffer/" + $0.name, $0.tensor) }),
            counters: ["tokens": Double(tokensSeen)])
        training.export(into: &state)
        return state
    }

    public func restore(_ state: TaskState, step: Int, path: String) throws {
        try training.restore(from: state, path: path)
        tokensSeen = try state.counter("tokens", in: 0...Int.max / 2, path: path)
        try Checkpoint.restoreBuffers(buffers, from: state.tensors, path: path)
        updatesDone = step
    }
}
