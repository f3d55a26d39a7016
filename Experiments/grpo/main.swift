import ExperimentKit
import GRPO

// grpo: GRPO and its fixes (Dr. GRPO, DAPO, GAPO, RLOO) from reasoning-base on the reasoning world's
// arithmetic, rewarded by TinyZero's rule (1 right, 0.1 any other answer, 0 no answer tag) in the R1
// template. The reference (for the k3 KL term, and for reporting KL when β = 0) is reasoning-base.
// Training prompts come from the same mix as the eval set but never repeat one of its prompts.
// Metrics (results file):
//   train/reward, train/accuracy, train/format_rate, train/length, train/length_correct,
//   train/length_wrong, train/stop_rate, train/zero_variance_groups, train/sampling_rounds,
//   train/zero_variance_groups_kept, policy/clip_low, policy/clip_high, policy/ratio_mean,
//   policy/ratio_max, policy/clip_fraction, policy/token_ratio_var, policy/sequence_ratio_var,
//   policy/entropy, policy/kl, policy/loss, alarm/nonfinite_loss, optim/grad_norm, optim/lr,
//   and moe/* for an MoE policy
//                                  per step, on its rollout (GRPOTask.swift)
//   eval/greedy_accuracy, eval/mean@n, eval/pass@k, eval/format_rate, eval/stop_rate, eval/length,
//   eval/length_correct, eval/length_wrong
//                                  on the fixed eval set at step 0 and every evalEvery
//                                  (PostTraining's Evaluation.swift)
//   samples eval/samples: the greedy answers to the first eval prompts at every evaluation
//   summaries stability/*          best and final eval accuracy, divergence, collapse (GRPORun.swift)
// Files beside the results: seed-N.policy.h5, the trained policy (self-describing).
// The config and the run are GRPORun.swift's (Packages/GRPO), shared with the gspo experiment.

enum GRPOExperiment: Experiment {
    typealias Config = GRPOExperimentConfig
    static let name = "grpo"
    static let summary = "GRPO, Dr. GRPO, DAPO, GAPO and RLOO from reasoning-base on verifiable arithmetic."
    static let source = SourceLocation(#filePath)
    static let resources = TaskResources(threads: 1, memory: "2816M")  // Scripts/measure-resources grpo
    static let dataParallel = true  // under mpirun -np N, grpo.shards a multiple of N (Notebooks-md/scale-out.md)

    static func run(_ run: Run<Config>) throws -> RunOutcome {
        try GRPORun.run(run, run.config, settings: run.config.grpo)
    }
}

ExperimentCommand<GRPOExperiment>.main()
