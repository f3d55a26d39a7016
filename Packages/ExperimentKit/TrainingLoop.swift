import HDF5Store
// The one training loop every experiment shares: it owns the update count, logging, the
// evaluation cadence, checkpoints (on cadence, on stop, at the end), the stop request (Ctrl-C,
// --stop-at) and resume; an experiment supplies its update, its evaluation and whatever else its
// future depends on (RNG streams, data cursor, spike-guard history, normalisers, environments,
// reference caches, a KL controller, routing records) through TrainingTask. Resume restores the
// parameters (strictly, by name), the optimiser and the task's state, so a resumed run equals an
// uninterrupted one bit for bit (tested for every experiment that uses the loop).
import LabSupport
import TensorCore

/// Everything but parameters and optimiser that a resumed run needs, as checkpoint data.
public struct TaskState {
    public var rngStreams: [String: [UInt64]]
    public var tensors: [String: Tensor]
    /// Float64 arrays, never rounded (environment states, running statistics, episode records).
    public var values: [String: [Double]]
    public var counters: [String: Double]

    public init(
        rngStreams: [String: [UInt64]] = [:], tensors: [String: Tensor] = [:], values: [String: [Double]] = [:],
        counters: [String: Double] = [:]
    ) {
        self.rngStreams = rngStreams
        self.tensors = tensors
        self.values = values
        self.counters = counters
    }
}

extension TaskState {
    /// A saved RNG stream, checked (four words, not all zero); errors name the file and stream.
    public func stream(_ name: String, path: String) throws -> RNG {
        guard let words = rngStreams[name] else { throw LabError(.config, "\(path): no RNG stream '\(name)'") }
        do { return try RNG(checkedStateWords: words, name: name) } catch let e as LabError
            where e.domain == .tensorCore
        {
            throw LabError(.config, "\(path): \(e.message)")
        }
    }

    /// A saved counter that must be a whole number in `range`.
    public func counter(_ name: String, in range: ClosedRange<Int>, path: String) throws -> Int {
        guard let value = counters[name] else { throw LabError(.config, "\(path): no counter '\(name)'") }
        guard value.isFinite, value == value.rounded(), Double(range.lowerBound) <= value,
            value <= Double(range.upperBound)
        else { throw LabError(.config, "\(path): counter '\(name)' is \(value), not a whole number in \(range)") }
        return Int(value)
    }

    /// A saved tensor that must be there, finite, and of `shape` when given.
    public func tensor(_ name: String, shape: [Int]? = nil, path: String) throws -> Tensor {
        guard let t = tensors[name] else { throw LabError(.config, "\(path): no state tensor '\(name)'") }
        if let shape, t.shape != shape {
            throw LabError(.config, "\(path): state '\(name)' is \(t.shape), not \(shape)")
        }
        guard t.array.allSatisfy(\.isFinite) else { throw LabError(.config, "\(path): state '\(name)' is not finite") }
        return t
    }
}

/// What one update (or an evaluation) reports: metrics for the results file and what the
/// progress line shows.
public struct StepReport {
    public var metrics: [String: Double]
    public var shown: [(String, Double)]
    /// The run cannot go on (a diverged loss): the loop writes a checkpoint and ends it as finished.
    public var stop: Bool

    public init(metrics: [String: Double], shown: [(String, Double)] = [], stop: Bool = false) {
        self.metrics = metrics
        self.shown = shown
        self.stop = stop
    }
}

/// An experiment's training as the loop drives it.
public protocol TrainingTask: AnyObject {
    /// What the loop checkpoints and restores by name, and the optimiser's state with it.
    var parameters: [(name: String, tensor: Tensor)] { get }
    var optimizer: any Optimizer { get }
    /// The model's self-description for the checkpoint (nil: the checkpoint only resumes the run).
    var modelRecord: ModelRecord? { get }
    /// Updates done so far; the task restores it with its state on resume.
    var updatesDone: Int { get }
    /// The step the results file and the checkpoint record for the state now (default: updates;
    /// PPO records environment steps).
    var resultsStep: Int { get }
    /// Runs one update (advancing updatesDone by one) and reports it.
    func update() throws -> StepReport
    /// Evaluation at the loop's cadence and after the last update.
    func evaluate() throws -> StepReport
    /// The task's own state for a checkpoint.
    func exportState() -> TaskState
    /// Restores it (and updatesDone, from `step` or its own counters); errors name the missing entry.
    func restore(_ state: TaskState, step: Int, path: String) throws
    /// Whether to stop after this update, agreed by every process of a data-parallel run: a
    /// signal reaches them at slightly different times, and all must stop after the same update
    /// (one that went on would wait for the others forever). Default: this process's own answer.
    func agreeToStop(_ stopping: Bool) throws -> Bool
}

extension TrainingTask {
    public var modelRecord: ModelRecord? { nil }
    public var resultsStep: Int { updatesDone }
    public func evaluate() throws -> StepReport { StepReport(metrics: [:]) }
    public func agreeToStop(_ stopping: Bool) throws -> Bool { stopping }
}

public struct TrainingLoop {
    /// Evaluate every this many updates (0: only after the last one).
    public var evalEvery: Int
    /// Checkpoint every this many updates (0: only at the end and when stopped).
    public var checkpointEvery: Int
    /// What the progress line counts.
    public var unit: String

    public init(evalEvery: Int = 0, checkpointEvery: Int = 0, unit: String = "steps") {
        precondition(evalEvery >= 0 && checkpointEvery >= 0, "TrainingLoop: cadences must not be negative")
        self.evalEvery = evalEvery
        self.checkpointEvery = checkpointEvery
        self.unit = unit
    }

    /// Restores the task when the run resumes, then updates it until `total` updates are done or a
    /// stop is requested. Returns .interrupted when stopped early (a checkpoint was written).
    public func run<Config>(_ task: some TrainingTask, in run: Run<Config>, total: Int) throws -> RunOutcome {
        if let state = run.resumeState {
            let path = run.paths.checkpoint
            try Checkpoint.restore(task.parameters, from: state, path: path)
            if let bad = task.parameters.first(where: { !$0.tensor.array.allSatisfy(\.isFinite) }) {
                throw LabError(.config, "\(path): parameter '\(bad.name)' is not finite: nothing to continue from")
            }
            guard let o = state.optimizer else {
                throw LabError(.config, "\(path): no /optimizer group: the run cannot continue where it stopped")
            }
            do { try task.optimizer.importState(o) } catch let e as LabError where e.domain == .tensorCore {
                throw LabError(.config, "\(path): \(e.message)")
            }
            try task.restore(
                TaskState(
                    rngStreams: state.rngStreams, tensors: state.tensors, values: state.values, counters: state.counters
                ),
                step: state.step, path: run.paths.checkpoint)
        }
        func checkpoint() throws {
            let s = task.exportState()
            try run.saveCheckpoint(
                run.state(
                    step: task.resultsStep, parameters: task.parameters, optimizer: task.optimizer.exportState(),
                    rngStreams: s.rngStreams, tensors: s.tensors, values: s.values, counters: s.counters,
                    model: task.modelRecord))
        }
        while task.updatesDone < total {
            let report = try task.update()
            let step = task.updatesDone
            run.results.log(report.metrics, step: task.resultsStep)
            var shown = report.shown
            if (evalEvery > 0 && step % evalEvery == 0) || step == total {
                let evaluation = try task.evaluate()
                if !evaluation.metrics.isEmpty { run.results.log(evaluation.metrics, step: task.resultsStep) }
                shown += evaluation.shown
            }
            run.report(step: step, total: total, shown, unit: unit)
            let stopping = try task.agreeToStop(run.shouldStop(after: step))
            if stopping || (checkpointEvery > 0 && step % checkpointEvery == 0) { try checkpoint() }
            if stopping && step < total { return .interrupted }
            if report.stop {
                try checkpoint()
                return .finished
            }
        }
        try checkpoint()
        return .finished
    }
}
