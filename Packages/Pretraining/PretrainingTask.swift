import Distributed
import ExperimentKit
import Foundation
import HDF5Store
// One pretraining update, as the shared loop (ExperimentKit's TrainingLoop) drives it: random
// windows for gradAccumulation micro-batches, the gradient clipped, the loss-spike detector (always
// counting) and guard (when on), AdamW at the schedule's rate, the drop-in layers' per-step hook;
// the validation loss at the loop's cadence; and everything a resumed run needs (data and dropout
// streams, both spike histories, the drop-in layers' buffers). Under mpirun each process computes
// an equal share of the micro-batches and one all-reduce sums the gradients (data parallelism).
import LabSupport
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
    let world: Communicator
    /// Seconds in updates and, of them, in the all-reduce (waiting for the other processes included).
    var updateSeconds = 0.0
    var allReduceSeconds = 0.0

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
        world = try Communicator.world()
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
        let updateStart = Date()
        defer { updateSeconds += Date().timeIntervalSince(updateStart) }
        var lastIds: [Int] = []
        let n = c.gradAccumulation
        // The global batch: n micro-batches, each loss / n (GradientStep.accumulate's arithmetic).
        // Every process draws every window, so the data stream is one whatever the number of
        // processes, and computes its own contiguous share; one all-reduce then sums the gradients
        // and the losses. In one process that is exactly the loop it replaces.
        let mine = world.share(of: n)
        adam.zeroGrad()
        var sums: [Float] = [0, 0]  // total loss, cross-entropy
        for k in 0..<n {
            let (ids, targets) = data.batch(c.batchSize, time: time, rng: &dataRNG)
            lastIds = ids
            guard mine.contains(k) else { continue }
            let loss = model.loss(ids, targets: targets, batch: c.batchSize, time: time, rng: &dropoutRNG)
            sums[1] += loss.crossEntropy.item / Float(n)
            (loss.total * (1 / Float(n))).backward()
            sums[0] += loss.total.item / Float(n)
        }
        let reduceStart = Date()
        try world.allReduceGradients(model.parameters, sums: &sums)
        allReduceSeconds += Date().timeIntervalSince(reduceStart)
        let (total, crossEntropy) = (sums[0], sums[1])
        let norm: Float? = clipGradNorm(model.parameters, maxNorm: Float(c.gradClip))
        let gradNorm = Double(norm!)
        let lr = schedule(updatesDone)
        // Both judge the cross-entropy, comparable across configs (the total adds z-loss and MoE losses).
        _ = spikeDetector.accept(loss: Double(crossEntropy), gradNorm: gradNorm)
        let applied = !c.spikeGuard || guardRail.accept(loss: Double(crossEntropy), gradNorm: gradNorm)
        if applied { adam.step(lr: lr) }
        updatesDone += 1
        tokensSeen += c.batchSize * n * time
        // A skipped update runs no hook either (MoE's bias moves only with an applied update; the
        // skipped step's routing counts carry into the next update's).
        let layerMetrics = applied ? try afterUpdate?(model, updatesDone, lastIds) ?? [:] : [:]
        if !total.isFinite && !c.spikeGuard {
            // Diverged: parameters are NaN from here on; keep the record, skip the evaluations.
            print("warning: loss is \(total) at step \(updatesDone); the run diverged, stopping")
            diverged = true
        }
        return StepReport(
            metrics: [
                "loss/train": Double(crossEntropy), "loss/total": Double(total), "optim/lr": Double(lr),
                "optim/grad_norm": gradNorm, "train/skipped_updates": Double(guardRail.skipped),
                "train/spikes": Double(spikeDetector.skipped),
            ].merging(layerMetrics, uniquingKeysWith: { a, _ in a }), shown: [("loss", Double(crossEntropy))],
            stop: diverged)
    }

    func evaluate() throws -> StepReport {
        // Every process holds the same model: rank 0 alone measures it (the others' files are scratch).
        if world.rank > 0 { return StepReport(metrics: [:]) }
        var r = evalRNG
        let val = model.validationLoss(data, batches: c.evalBatches, batchSize: c.batchSize, time: time, rng: &r)
        let elapsed = Date().timeIntervalSince(started)
        var metrics = ["loss/val": val, "perf/tokens_per_s": Double(tokensSeen) / elapsed]
        if world.size > 1 { metrics["perf/allreduce_share"] = allReduceSeconds / max(updateSeconds, 1e-9) }
        return StepReport(metrics: metrics, shown: [("val", val)])
    }

    func agreeToStop(_ stopping: Bool) throws -> Bool {
        try world.anyProcess(stopping, what: "the stop request")
    }

    func exportState() -> TaskState {
        let (g, d) = (guardRail.state, spikeDetector.state)
        return TaskState(
            rngStreams: ["data": dataRNG.stateWords, "dropout": dropoutRNG.stateWords],
            tensors: Dictionary(uniqueKeysWithValues: buffers.map { ("buffer/" + $0.name, $0.tensor) }),
            values: [
                "spike_guard.losses": g.losses, "spike_guard.grad_norms": g.gradNorms,
                "spike_detector.losses": d.losses, "spike_detector.grad_norms": d.gradNorms,
            ],
            counters: ["skipped": Double(g.skipped), "spikes": Double(d.skipped)])
    }

    func restore(_ state: TaskState, step: Int, path: String) throws {
        dataRNG = try state.stream("data", path: path)
        dropoutRNG = try state.stream("dropout", path: path)
        func values(_ key: String) throws -> [Double] {
            guard let v = state.values[key] else { throw LabError(.config, "\(path): no values '\(key)'") }
            return v
        }
        try guardRail.restore(
            losses: values("spike_guard.losses"), gradNorms: values("spike_guard.grad_norms"),
            skipped: state.counter("skipped", in: 0...step, path: path), path: path)
        try spikeDetector.restore(
            losses: values("spike_detector.losses"), gradNorms: values("spike_detector.grad_norms"),
            skipped: state.counter("spikes", in: 0...step, path: path), path: path)
        try Checkpoint.restoreBuffers(buffers, from: state.tensors, path: path)
        updatesDone = step
    }
}
