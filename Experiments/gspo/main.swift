import ExperimentKit
import GRPO
import GSPO
// gspo: GSPO against GRPO on a dense and on an MoE policy of the same active parameters, with and
// without Routing Replay, from the reasoning world's base models (base-models/base and base-moe),
// with μ = 2 passes over each rollout in 2 minibatches (4 optimiser steps per rollout, as the GSPO
// paper splits its batches), so that π drifts from π_old between the rollout and the update.
// `method` picks the importance ratio:
//   grpo        the token ratio π/π_old, clip (grpo.loss.clipLow, clipHigh)
//   gspo        the sequence ratio exp(mean log π/π_old), clip (sequenceClipLow, sequenceClipHigh)
//   gspoToken   GSPO-token: the sequence ratio's value, each token's own gradient (same clip)
// Everything else (rollouts, rewards, advantages, KL, the loop) is the grpo experiment's run
// (Packages/GRPO/GRPORun.swift), so a difference between arms is the ratio's (and replay's).
// Metrics: the grpo experiment's, of which the study reads
//   eval/greedy_accuracy, eval/mean@n, train/reward   accuracy curves
//   policy/clip_fraction, policy/clip_low, policy/clip_high     shares of tokens clipped
//   policy/token_ratio_var, policy/sequence_ratio_var           ratio variance of each update
//   moe/routing_change, moe/routing_change/pass_J, moe/routing_change/layer_L
//                             share of sampled tokens whose experts the updated routers choose
//                             differently from π_old (after the last pass, after pass J, per layer)
//   moe/update_routing_change the update's forwards against π_old's experts (0 with replay)
//   moe/load_max_over_mean, moe/load_cv   π_old's expert load on the rollout
//   summaries stability/*     best and final eval accuracy, divergence, collapse
import LabSupport

struct GSPOExperimentConfig: ExperimentConfig {
    enum Method: String, Codable, Sendable { case grpo, gspo, gspoToken }

    var method = Method.gspo
    /// GSPO's clip range on the sequence ratio (the paper's 3e-4 / 4e-4).
    var sequenceClipLow: Float = 3e-4
    var sequenceClipHigh: Float = 4e-4
    /// The run: policy, tasks, evaluation and GRPO's settings (routing replay is rl.grpo.routingReplay).
    var rl: GRPOExperimentConfig = {
        var c = GRPOExperimentConfig()
        c.policy = "base-models/base-moe"
        c.steps = 100
        c.evalEvery = 20
        (c.grpo.innerUpdates, c.grpo.minibatches) = (2, 2)
        return c
    }()

    func validate() throws {
        do { try rl.validate() } catch let error as LabError { throw LabError(.config, "rl.\(error.message)") }
        for (key, value) in [("sequenceClipLow", sequenceClipLow), ("sequenceClipHigh", sequenceClipHigh)]
        where !(value >= 0 && value < 1) {
            throw LabError.invalid(key: key, "\(value) must be in [0, 1)")
        }
    }

    /// The GRPO settings of the method.
    var settings: GRPOSettings {
        switch method {
        case .grpo: rl.grpo
        case .gspo, .gspoToken:
            GSPO.settings(
                rl.grpo, tokenLevel: method == .gspoToken, clipLow: sequenceClipLow, clipHigh: sequenceClipHigh)
        }
    }
}

enum GSPOExperiment: Experiment {
    typealias Config = GSPOExperimentConfig
    static let name = "gspo"
    static let summary = "GSPO vs GRPO on dense and MoE policies, with and without routing replay."
    static let source = SourceLocation(#filePath)
    static let resources = TaskResources(threads: 1, memory: "2560M")  // Scripts/measure-resources gspo
    static let dataParallel = true  // under mpirun -np N, grpo.shards a multiple of N (Notebooks-md/scale-out.md)

    static func run(_ run: Run<Config>) throws -> RunOutcome {
        var hooks = GRPORunHooks()
        hooks.keyPrefix = "rl."
        return try GRPORun.run(run, run.config.rl, settings: run.config.settings, hooks: hooks)
    }
}

ExperimentCommand<GSPOExperiment>.main()
