import ExperimentKit
import Foundation
import HDF5Store
// The shared training loop on a counting task: when it evaluates, when it checkpoints, what a stop
// request and a task's own stop do, and that resume hands the task back exactly what it saved.
import LabSupport
import TensorCore
import TestSupport
import Testing

struct CountingConfig: ExperimentConfig {
    var steps = 7
    var evalEvery = 3
    var checkpointEvery = 0
    /// The task asks to stop (as a diverged loss does) after this update (0: never).
    var stopAfter = 0
}

/// A task whose one parameter counts its updates; its state is a counter the loop must carry.
final class CountingTask: TrainingTask {
    let weight = Tensor.zeros([1]).requiringGrad()
    let adam: Adam
    let stopAfter: Int
    var log: [String] = []
    var extra = 0.0
    private(set) var updatesDone = 0

    init(stopAfter: Int) {
        self.stopAfter = stopAfter
        adam = Adam(["w": weight].map { (name: $0.key, tensor: $0.value) })
    }

    var parameters: [(name: String, tensor: Tensor)] { [(name: "w", tensor: weight)] }
    var optimizer: any Optimizer { adam }

    func update() throws -> StepReport {
        weight.data[0] += 1
        extra += 0.5
        updatesDone += 1
        log.append("u\(updatesDone)")
        return StepReport(metrics: ["count": Double(updatesDone)], stop: updatesDone == stopAfter)
    }

    func evaluate() throws -> StepReport {
        log.append("e\(updatesDone)")
        return StepReport(metrics: ["eval": extra])
    }

    func exportState() -> TaskState { TaskState(counters: ["extra": extra]) }

    func restore(_ state: TaskState, step: Int, path: String) throws {
        guard let e = state.counters["extra"] else { throw LabError(.config, "\(path): no counter 'extra'") }
        extra = e
        updatesDone = step
    }
}

enum CountingExperiment: Experiment {
    typealias Config = CountingConfig
    static let name = "counting"
    static let summary = "The training loop's test task."
    static let source = SourceLocation(#filePath)
    static let resources = TaskResources(memory: "256M")
    nonisolated(unsafe) static var lastTask: CountingTask?

    static func run(_ run: Run<Config>) throws -> RunOutcome {
        let task = CountingTask(stopAfter: run.config.stopAfter)
        lastTask = task
        return try TrainingLoop(evalEvery: run.config.evalEvery, checkpointEvery: run.config.checkpointEvery)
            .run(task, in: run, total: run.totalSteps(run.config.steps))
    }
}

@Suite(.serialized) struct TrainingLoopTests {
    func run(_ arguments: [String]) async throws -> (RunOutcome, CountingTask, RunResults, String) {
        let out = arguments.firstIndex(of: "--out").map { arguments[$0 + 1] } ?? temporaryFolder()
        let configs = temporaryFolder() + "/configs"  // the task's only config: the defaults
        try FileManager.default.createDirectory(atPath: configs, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: configs + "/base.json"))
        var runner = ExperimentRunner<CountingExperiment>(
            options: try ExperimentOptions.parse(
                arguments + ["--configs", configs] + (arguments.contains("--out") ? [] : ["--out", out])))
        runner.log = { _ in }
        let outcome = try await withThreadCount(runner.options.threads) { try runner.runAll() }
        let results = try RunResults.load(from: "\(out)/counting/base/seed-0.h5")
        return (outcome, CountingExperiment.lastTask!, results, "\(out)/counting/base/seed-0.ckpt.h5")
    }

    @Test func evaluatesOnItsCadenceAndAfterTheLastUpdate() async throws {
        let (outcome, task, results, checkpoint) = try await run([])
        #expect(outcome == .finished)
        #expect(task.log == ["u1", "u2", "u3", "e3", "u4", "u5", "u6", "e6", "u7", "e7"])
        #expect(
            results.metrics["eval"]!.steps == [3, 6, 7] && results.metrics["count"]!.values == [1, 2, 3, 4, 5, 6, 7])
        let state = try Checkpoint.load(from: checkpoint)
        #expect(state.step == 7 && state.counters["extra"] == 3.5 && state.parameter("w")!.array == [7])
        // evalEvery 0: only after the last update.
        let (_, only, _, _) = try await run(["--set", "evalEvery=0"])
        #expect(only.log.filter { $0.hasPrefix("e") } == ["e7"])
    }

    @Test func aStopRequestCheckpointsAndResumeContinuesExactly() async throws {
        let out = temporaryFolder()
        let (stopped, _, partial, checkpoint) = try await run(["--stop-at", "4", "--out", out])
        #expect(stopped == .interrupted && partial.metrics["count"]!.steps.last == 4)
        #expect(try Checkpoint.load(from: checkpoint).step == 4)
        let (resumed, task, results, _) = try await run(["--resume", checkpoint, "--out", out])
        #expect(resumed == .finished)
        #expect(task.log == ["u5", "u6", "e6", "u7", "e7"], "the restored counter and state, not a fresh start")
        #expect(
            results.metrics["eval"]!.values == [1.5, 3, 3.5]
                && results.metrics["count"]!.values == [1, 2, 3, 4, 5, 6, 7])
        #expect(try Checkpoint.load(from: checkpoint).parameter("w")!.array == [7])
    }

    @Test func checkpointsOnItsCadenceAndEndsWhenTheTaskStops() async throws {
        let out = temporaryFolder()
        let (outcome, task, results, checkpoint) = try await run([
            "--set", "stopAfter=5", "--set", "checkpointEvery=2", "--out", out,
        ])
        #expect(outcome == .finished && task.log.last == "u5" && results.status == "finished")
        #expect(try Checkpoint.load(from: checkpoint).step == 5, "the task's stop writes a checkpoint")
        let (_, _, _, cadence) = try await run(["--set", "checkpointEvery=2", "--steps", "3", "--stop-at", "3"])
        #expect(try Checkpoint.load(from: cadence).step == 3)
    }
}
