// The context of one run: its resolved config and seed, the results writer, progress output,
// checkpoints, resume state, and the stop request (Ctrl-C or --stop-at).
import Foundation
import HDF5Store
import TensorCore

public final class Run<Config: ExperimentConfig> {
    public let experiment: String
    public let ablation: String
    public let seed: Int
    public let config: Config
    public let configJSON: JSONValue
    public let threads: Int
    public let paths: RunPaths
    /// The --out folder, where a run finds what earlier stages wrote (the policy it starts from).
    /// Under mpirun a process of rank above 0 writes its own files in a scratch folder (`paths`)
    /// but reads from here.
    public let inputs: String
    public let results: ResultsWriter
    /// Set when the run resumes from a checkpoint: restore everything from it, start after its step.
    public let resumeState: TrainingState?
    let stepsOverride: Int?
    let stopAtStep: Int?
    let progress: Progress
    /// Computed once: it runs git, too slow to repeat at every checkpoint.
    public let provenance: Provenance

    init(
        experiment: String, ablation: String, seed: Int, config: ResolvedConfig<Config>, threads: Int,
        paths: RunPaths, inputs: String, results: ResultsWriter, resumeState: TrainingState?, stepsOverride: Int?,
        stopAtStep: Int?
    ) {
        self.experiment = experiment
        self.ablation = ablation
        self.seed = seed
        self.config = config.value
        self.configJSON = config.json
        self.threads = threads
        self.paths = paths
        self.inputs = inputs
        self.results = results
        self.resumeState = resumeState
        self.stepsOverride = stepsOverride
        self.stopAtStep = stopAtStep
        self.progress = Progress(label: "\(experiment)/\(ablation) seed \(seed)")
        self.provenance = Provenance.current(threads: threads)
    }

    /// The run's length: `configured`, unless `--steps` shortened it (smoke runs).
    public func totalSteps(_ configured: Int) -> Int { stepsOverride.map { min($0, configured) } ?? configured }

    /// True when the run must stop after `step` (1-based count of steps done): Ctrl-C or --stop-at.
    public func shouldStop(after step: Int) -> Bool {
        Interrupt.requested || (stopAtStep.map { step >= $0 } ?? false)
    }

    /// Prints the progress line (throttled) with the given metrics.
    public func report(step: Int, total: Int, _ metrics: [(String, Double)] = [], unit: String = "steps") {
        progress.update(step: step, total: total, metrics: metrics, unit: unit)
    }

    /// A training state with this run's config and provenance filled in.
    public func state(
        step: Int, parameters: [(name: String, tensor: Tensor)], optimizer: OptimizerState? = nil,
        rngStreams: [String: [UInt64]] = [:], tensors: [String: Tensor] = [:], values: [String: [Double]] = [:],
        counters: [String: Double] = [:], model: ModelRecord? = nil
    ) -> TrainingState {
        var counters = counters
        counters["seed"] = Double(seed)
        return TrainingState(
            step: step, parameters: parameters, optimizer: optimizer, rngStreams: rngStreams, tensors: tensors,
            values: values, counters: counters, configJSON: configJSON.jsonString, provenance: provenance, model: model)
    }

    /// Writes the checkpoint (atomically) and flushes the results so both agree on the step.
    public func saveCheckpoint(_ state: TrainingState) throws {
        try results.flush()
        try Checkpoint.save(state, to: paths.checkpoint)
    }
}
