// The grpo experiment end to end at toy size: a toy reasoning-base (base-models), then every
// ablation for two steps, each evaluated at step 0 and after each step, with its sample table and
// its trained policy; a missing policy and an eval set that leaves nothing to train on are named
// errors.
import Foundation
import HDF5Store
import NanoTransformer
import TestSupport
import Testing

@Suite(.serialized) struct GRPOExperimentTests {
    /// Toy sizes; half the responses get the outlier bonus so that every group's rewards differ
    /// (the toy policy answers nothing right, and dynamic sampling needs differing rewards).
    static let toy = [
        "--set", "evalTasks=6", "--set", "evaluation.samples=2", "--set", "evaluation.passK=[1,2]", "--set",
        "evaluation.maxNewTokens=12", "--set", "grpo.maxNewTokens=12", "--set", "grpo.promptsPerStep=2", "--set",
        "grpo.rewardOutliers.share=0.5", "--set", "grpo.overlong.window=4", "--set", "evalEvery=1", "--set",
        "samplesShown=2", "--threads", "1",
    ]

    @Test func everyAblationRunsFromAToyReasoningBase() throws {
        let out = NSTemporaryDirectory() + "grpo-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        try runToyStage("base-models", ["--ablation", "base", "--steps", "4", "--out", out] + toyStage)
        let result = try runProduct("grpo", ["--all-ablations", "--steps", "2", "--out", out] + Self.toy)
        #expect(result.status == 0, "\(result.stderr)")
        let ablations = try experimentAblations("grpo")
        #expect(ablations.count == 19)
        let base = try NanoTransformer.load(checkpoint: "\(out)/base-models/base/seed-0.ckpt.h5")
        for ablation in ablations {
            let stem = "\(out)/grpo/\(ablation)/seed-0"
            let r = try RunResults.load(from: "\(stem).h5")
            try #require(r.status == "finished", "\(ablation)")
            for key in ["eval/greedy_accuracy", "eval/mean@n", "eval/pass@2", "eval/format_rate", "eval/length"] {
                #expect(r.metrics[key]?.steps == [0, 1, 2], "\(ablation): \(key)")
            }
            for key in ["train/reward", "train/length", "policy/kl", "policy/clip_low", "optim/grad_norm"] {
                #expect(r.metrics[key]?.values.count == 2, "\(ablation): \(key)")
                #expect(r.metrics[key]?.values.allSatisfy(\.isFinite) == true, "\(ablation): \(key)")
            }
            // The first step's ratios are 1: the sampler's log-probs are the recomputed ones.
            #expect(abs(try #require(r.metrics["policy/ratio_mean"]?.values.first) - 1) < 1e-3, "\(ablation)")
            #expect(
                r.samples["eval/samples"]?.steps == [0, 0, 1, 1, 2, 2],
                "\(ablation): two answers at each of 3 evaluations")
            let policy = try NanoTransformer.load(checkpoint: "\(stem).policy.h5")
            #expect(policy.config == base.config, "\(ablation)")
        }
        // Dynamic sampling kept only groups whose rewards differ.
        let dapo = try RunResults.load(from: "\(out)/grpo/dapo/seed-0.h5")
        #expect(dapo.metrics["train/zero_variance_groups_kept"]?.values == [0, 0])
    }

    @Test func aMissingPolicyAndAnEvalSetThatTakesEverythingAreNamed() throws {
        let out = NSTemporaryDirectory() + "grpo-missing-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let missing = try runProduct("grpo", ["--steps", "1", "--out", out] + Self.toy)
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("policy: \(out)/base-models/base/seed-0.ckpt.h5 does not exist"))

        try runToyStage("base-models", ["--ablation", "base", "--steps", "1", "--out", out] + toyStage)
        let small = [
            "--set", "mix.additionShare=1", "--set", "mix.additionDigits=[1,1]", "--set", "mix.chineseShare=0",
            "--set", "evalTasks=100",
        ]
        let taken = try runProduct("grpo", ["--steps", "1", "--out", out, "--overwrite"] + Self.toy + small)
        #expect(taken.status != 0)
        #expect(
            taken.stderr.contains("evalTasks: the 100 eval tasks are 100 % of what the mix draws"), "\(taken.stderr)")
    }
}
