// One pretraining update, as the shared loop (ExperimentKit's TrainingLoop) drives it: random
// windows for gradAccumulation micro-batches, the gradient clipped, the loss-spike detector (always
// counting) and guard (when on), AdamW at the schedule's rate, the drop-in layers' per-step hook;
// the validation loss at the loop's cadence; and everything a resumed run needs (data and dropout
// streams, both spike histories, the drop-in layers' buffers).
import ExperimentKit
import Foundation
import HDF5Store
import NanoTransformer
import TensorCore

final class PretrainingTask: TrainingTask {
    let model: NanoTransformer
    let modelRecord: ModelRecord?
    let data: TokenWindows
    let c: PretrainConfig
    let total: Int
    let afterUpdate: Pretraining.AfterUpdate?
    let adam: Adam
    let schedule: LearningRateSchedule
    let buffers: [(name: String, tensor: Tensor)]
    let parameters: [(name: String, tensor: Tensor)]
    var optimizer: any Optimizer { adam }
    var dataRNG: RNG
    var dropoutRNG: RNG
    let evalRNG = RNG(seed: 99)  // the same validation windows for every run
    var guardRail: SpikeGuard
    /// The same test, always on and never skipping: counts spikes in every run, guarded or not.
    var spikeDetector: SpikeGuard
    private(set) var updatesDone = 0
    private(set) var diverged = false
    var tokensSeen = 0
    let started = Date()

    init(
        model: NanoTransformer, record: ModelRecord, data: TokenWindows, settings c: PretrainConfig, total: Int,
        dataRNG: RNG, dropoutRNG: RNG, afterUpdate: Pretraining.AfterUpdate?
    ) throws {
        self.model = model
        modelRecord = record
        self.data = data
        self.c = c
        self.total = total
        self.dataRNG = dataRNG
        self.dropoutRNG = dropoutRNG
        self.afterUpdate = afterUpdate
        parameters = model.namedParameters()
        buffers = model.namedBuffers()
        adam = Adam.adamW(
            parameters, beta2: Float(c.beta2), eps: 1e-8, weightDecay: Float(c.weightDecay), noDecay: model.noDecayNames
        )
        schedule = LearningRateSchedule(
            peak: Float(c.learningRate), warmupSteps: c.warmupSteps, totalSteps: c.steps, decay: .cosine,
            floor: Float(c.learningRate * c.minLearningRateRatio))
        guardRail = SpikeGuard(window: c.spikeWindow, threshold: c.spikeZ)
        spikeDetector = SpikeGuard(window: c.spikeWindow, threshold: c.spikeZ)
    }

    var time: Int { model.config.contextLength }

    func update() throws -> StepReport {
        var lastIds: [Int] = []
        let (loss, norm) = GradientStep.accumulate(
            adam, parameters: model.parameters, microBatches: c.gradAccumulation, clip: Float(c.gradClip)
        ) { _ in
            let (ids, targets) = data.batch(c.batchSize, time: time, rng: &dataRNG)
            lastIds = ids
            return model.loss(ids, targets: targets, batch: c.batchSize, time: time, rng: &dropoutRNG).total
        }
        let gradNorm = Double(norm!)
        let lr = schedule(updatesDone)
        _ = spikeDetector.accept(loss: Double(loss), gradNorm: gradNorm)
        if !c.spikeGuard || guardRail.accept(loss: Double(loss), gradNorm: gradNorm) { adam.step(lr: lr) }
        updatesDone += 1
        tokensSeen += c.batchSize * c.gradAccumulation * time
        let layerMetrics = try afterUpdate?(model, updatesDone, lastIds) ?? [:]
        if !loss.isFinite && !c.spikeGuard {
            // Diverged: parameters are NaN from here on; keep the record, skip the evaluations.
            print("warning: loss is \(loss) at step \(updatesDone); the run diverged, stopping")
            diverged = true
        }
        return StepReport(
            metrics: [
                "loss/train": Double(loss), "optim/lr": Double(lr), "optim/grad_norm": gradNorm,
                "train/skipped_updates": Double(guardRail.skipped), "train/spikes": Double(spikeDetector.skipped),
            ].merging(layerMetrics, uniquingKeysWith: { a, _ in a }), shown: [("loss", Double(loss))], stop: diverged)
    }

    func evaluate() throws -> StepReport {
        var r = evalRNG
        let val = model.validationLoss(data, batches: c.evalBatches, batchSize: c.batchSize, time: time, rng: &r)
        let elapsed = Date().timeIntervalSince(started)
        return StepReport(
            metrics: ["loss/val": val, "perf/tokens_per_s": Double(tokensSeen) / elapsed], shown: [("val", val)])
    }

    func exportState() -> TaskState {
        let g = guardRail.state
        let d = spikeDetector.state
        return TaskState(
            rngStreams: ["data": dataRNG.stateWords, "dropout": dropoutRNG.stateWords],
            tensors: ["spike_guard": g.history, "spike_detector": d.history].merging(
                buffers.map { ("buffer/" + $0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a }),
            counters: ["skipped": Double(g.skipped), "spikes": Double(d.skipped)])
    }

    func restore(_ state: TaskState, step: Int, path: String) throws {
        dataRNG = try state.stream("data", path: path)
        dropoutRNG = try state.stream("dropout", path: path)
        try guardRail.restore(
            history: state.tensor("spike_guard", path: path),
            skipped: state.counter("skipped", in: 0...step, path: path),
            path: path)
        try spikeDetector.restore(
            history: state.tensor("spike_detector", path: path),
            skipped: state.counter("spikes", in: 0...step, path: path),
            path: path)
        try Checkpoint.restoreBuffers(buffers, from: state.tensors, path: path)
        updatesDone = step
    }
}
