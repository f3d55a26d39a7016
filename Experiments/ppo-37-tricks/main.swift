// ppo-37-tricks: PPO with every implementation detail a named switch (Packages/PPO), CleanRL's
// defaults as `base`, and one ablation per detail that turns exactly that detail off.
// Run on CartPole (default) or Acrobot with --set ppo.env=Acrobot-v1; the pendulum-* configs
// are the continuous-action set on Pendulum-v1.
// A checkpoint is written at the end and when stopped (--stop-at, Ctrl-C); --resume continues
// bit for bit (agent, Adam, RNG streams, environments, normalisers, episode records).
// Results: every update's metrics (PPOTrainer's header) at the global step, and the summaries
//   return/final   mean return of the episodes of the last 10 % of training
//   return/auc     mean episodic return over the whole run (area under the curve / steps)
import ExperimentKit
import Foundation
import HDF5Store
import PPO
import TensorCore

struct PPOExperimentConfig: ExperimentConfig {
    /// PPO's settings (CleanRL's defaults; see PPOConfig for one line per detail).
    var ppo = PPOConfig()

    func validate() throws {
        do { try ppo.check() } catch let e as PPOError { throw ConfigError.invalid(key: "ppo", e.message) }
    }
}

enum PPOExperiment: Experiment {
    typealias Config = PPOExperimentConfig
    static let name = "ppo-37-tricks"
    static let summary = "PPO's implementation details, each switchable: CartPole, Acrobot, Pendulum."
    static let source = SourceLocation(#filePath)

    static func run(_ run: Run<Config>) throws -> RunOutcome {
        var c = run.config.ppo
        let updates = run.totalSteps(c.updates)
        c.totalTimesteps = updates * c.batchSize
        let trainer = try PPOTrainer(c, seed: UInt64(run.seed))
        // A checkpoint holds the agent, Adam, and the trainer's state (TrainerState.swift); its
        // step is the environment step, the unit of the results rows it must agree with.
        func snapshot() -> TrainingState {
            let s = trainer.exportState()
            return run.state(
                step: trainer.globalStep, parameters: trainer.agent.namedParameters(),
                optimizer: trainer.optimizer.exportState(), rngStreams: s.rngStreams, tensors: s.tensors,
                values: s.values, counters: s.counters, model: trainer.agent.modelRecord)
        }
        if let state = run.resumeState {
            try Checkpoint.restore(trainer.agent.namedParameters(), from: state, path: run.paths.checkpoint)
            if let o = state.optimizer { try trainer.optimizer.importState(o) }
            do {
                try trainer.importState(
                    TrainerState(
                        rngStreams: state.rngStreams, values: state.values, tensors: state.tensors,
                        counters: state.counters))
            } catch let e as PPOError {
                throw ConfigError("\(run.paths.checkpoint): \(e.message)")
            }
        }
        var update = trainer.updatesDone
        var interrupted = false
        var lastReturn = Double.nan  // the progress line shows the latest rollout that ended an episode
        try trainer.train { step, metrics in
            update += 1
            run.results.log(metrics, step: step)
            lastReturn = metrics["charts/episodic_return"] ?? lastReturn
            run.report(
                step: update, total: updates, [("return", lastReturn), ("sps", metrics["perf/steps_per_s"] ?? 0)],
                unit: "updates")
            if run.shouldStop(after: update) { interrupted = true }
            return !interrupted
        }
        try run.saveCheckpoint(snapshot())
        if interrupted { return .interrupted }
        let episodes = trainer.episodes
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

ExperimentCommand<PPOExperiment>.main()
