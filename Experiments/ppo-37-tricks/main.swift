import ExperimentKit
import Foundation
import HDF5Store
// ppo-37-tricks: PPO with every implementation detail a named switch (Packages/PPO), CleanRL's
// defaults as `base`, and one ablation per detail that turns exactly that detail off.
// Run on CartPole (default) or Acrobot with --set ppo.env=Acrobot-v1; the pendulum-* configs
// are the continuous-action set on Pendulum-v1.
// A checkpoint is written at the end and when stopped (--stop-at, Ctrl-C); --resume continues
// bit for bit (agent, Adam, RNG streams, environments, normalisers, episode records). The loop
// is ExperimentKit's TrainingLoop, shared with every experiment.
// Results: every update's metrics (PPOTrainer's header) at the global step, and the summaries
//   return/final   mean return of the episodes of the last 10 % of training
//   return/auc     mean episodic return over the whole run (area under the curve / steps)
import LabSupport
import PPO
import TensorCore

struct PPOExperimentConfig: ExperimentConfig {
    /// PPO's settings (CleanRL's defaults; see PPOConfig for one line per detail).
    var ppo = PPOConfig()

    func validate() throws {
        do { try ppo.check() } catch let e as LabError where e.domain == .ppo {
            guard let key = e.key else { throw LabError(.config, e.message) }
            throw LabError.invalid(key: "ppo.\(key)", e.reason, related: e.related.map { "ppo.\($0)" })
        }
    }
}

enum PPOExperiment: Experiment {
    typealias Config = PPOExperimentConfig
    static let name = "ppo-37-tricks"
    static let summary = "PPO's implementation details, each switchable: CartPole, Acrobot, Pendulum."
    static let source = SourceLocation(#filePath)
    static let resources = TaskResources(threads: 1, memory: "256M")  // Scripts/measure-resources ppo-37-tricks

    static func run(_ run: Run<Config>) throws -> RunOutcome {
        var c = run.config.ppo
        let updates = run.totalSteps(c.updates)
        c.totalTimesteps = updates * c.batchSize
        let task = PPOTask(try PPOTrainer(c, seed: UInt64(run.seed)))
        // Checkpoints only at the end and when stopped; their step is the environment step, the
        // unit of the results rows they must agree with.
        let outcome = try TrainingLoop(unit: "updates").run(task, in: run, total: updates)
        if case .interrupted = outcome { return outcome }
        let episodes = task.trainer.episodes
        let lastTenth = episodes.filter { $0.step > c.totalTimesteps * 9 / 10 }
        if !lastTenth.isEmpty {
            run.results.summary("return/final", lastTenth.map(\.episodeReturn).reduce(0, +) / Double(lastTenth.count))
        }
        if !episodes.isEmpty {
            run.results.summary("return/auc", episodes.map(\.episodeReturn).reduce(0, +) / Double(episodes.count))
        }
        run.results.summary("train/episodes", Double(episodes.count))
        return .finished
    }
}

/// PPO's trainer as the shared loop drives it: one update per loop step, logged at the global
/// environment step; the trainer's state (TrainerState.swift) is the task's state.
final class PPOTask: TrainingTask {
    let trainer: PPOTrainer
    /// The latest rollout that ended an episode, for the progress line.
    var lastReturn = Double.nan

    init(_ trainer: PPOTrainer) { self.trainer = trainer }

    var parameters: [(name: String, tensor: Tensor)] { trainer.agent.namedParameters() }
    var optimizer: any Optimizer { trainer.optimizer }
    var modelRecord: ModelRecord? { trainer.agent.modelRecord }
    var updatesDone: Int { trainer.updatesDone }
    var resultsStep: Int { trainer.globalStep }

    func update() throws -> StepReport {
        let metrics = try trainer.update()
        lastReturn = metrics["charts/episodic_return"] ?? lastReturn
        return StepReport(metrics: metrics, shown: [("return", lastReturn), ("sps", metrics["perf/steps_per_s"] ?? 0)])
    }

    func exportState() -> TaskState {
        let s = trainer.exportState()
        return TaskState(rngStreams: s.rngStreams, tensors: s.tensors, values: s.values, counters: s.counters)
    }

    func restore(_ state: TaskState, step: Int, path: String) throws {
        do {
            try trainer.importState(
                TrainerState(
                    rngStreams: state.rngStreams, values: state.values, tensors: state.tensors, counters: state.counters
                ))
        } catch let e as LabError where e.domain == .ppo {
            throw LabError(.config, "\(path): \(e.message)")
        }
    }
}

ExperimentCommand<PPOExperiment>.main()
