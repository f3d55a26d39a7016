// ppo-37-tricks: PPO with every implementation detail a named switch (Packages/PPO), CleanRL's
// defaults as `base`, and one ablation per detail that turns exactly that detail off.
// Run on CartPole (default) or Acrobot with --set ppo.env=Acrobot-v1; the pendulum-* configs
// are the continuous-action set on Pendulum-v1.
// Results: every update's metrics (PPOTrainer's header) at the global step, and the summaries
//   return/final   mean return of the episodes of the last 10 % of training
//   return/auc     mean episodic return over the whole run (area under the curve / steps)
import ExperimentKit
import Foundation
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
    static var configsDirectory: String { source.configsDirectory }

    static func run(_ run: Run<Config>) throws -> RunOutcome {
        if run.resumeState != nil {
            throw ConfigError("ppo-37-tricks runs take under two minutes and do not resume; run again without --resume")
        }
        var c = run.config.ppo
        let updates = run.totalSteps(c.updates)
        c.totalTimesteps = updates * c.batchSize
        let trainer = try PPOTrainer(c, seed: UInt64(run.seed))
        var update = 0
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
