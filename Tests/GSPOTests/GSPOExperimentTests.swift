// The gspo experiment end to end at toy size: a toy reasoning-base and its MoE twin (base-models),
// then every ablation for two steps with μ = 2 in 2 minibatches: the MoE ones report the routing change per pass
// and per layer and the expert load, the dense ones none; every run writes its stability
// summaries; replay's update uses π_old's experts; stopped and resumed equals uninterrupted.
import Foundation
import HDF5Store
import TestSupport
import Testing

@Suite(.serialized) struct GSPOExperimentTests {
    static let toy = [
        "--set", "rl.evalTasks=6", "--set", "rl.evaluation.samples=2", "--set", "rl.evaluation.passK=[1,2]", "--set",
        "rl.evaluation.maxNewTokens=12", "--set", "rl.grpo.maxNewTokens=12", "--set", "rl.grpo.promptsPerStep=2",
        "--set", "rl.evalEvery=1", "--set", "rl.samplesShown=2", "--threads", "1",
    ]

    static func toyBases(_ out: String) throws {
        try runToyStage("base-models", ["--ablation", "base", "--steps", "4", "--out", out] + toyStage)
        try runToyStage(
            "base-models",
            ["--ablation", "base-moe", "--steps", "4", "--out", out, "--set", "moe.expertHidden=16"] + toyStage)
    }

    @Test func everyAblationRunsAndResumeEqualsAnUninterruptedRun() throws {
        let out = NSTemporaryDirectory() + "gspo-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        try Self.toyBases(out)
        let result = try runProduct("gspo", ["--all-ablations", "--steps", "2", "--out", out] + Self.toy)
        #expect(result.status == 0, "\(result.stderr)")
        let ablations = try experimentAblations("gspo")
        #expect(
            Set(ablations) == ["base", "moe-replay", "moe-token", "grpo-moe", "grpo-moe-replay", "dense", "grpo-dense"])
        for ablation in ablations {
            let r = try RunResults.load(from: "\(out)/gspo/\(ablation)/seed-0.h5")
            try #require(r.status == "finished", "\(ablation)")
            #expect(r.metrics["eval/greedy_accuracy"]?.steps == [0, 1, 2], "\(ablation)")
            for key in ["policy/clip_fraction", "policy/token_ratio_var", "policy/sequence_ratio_var", "train/reward"] {
                #expect(r.metrics[key]?.values.count == 2, "\(ablation): \(key)")
            }
            for key in ["stability/best_eval_accuracy", "stability/final_eval_accuracy", "stability/collapsed"] {
                #expect(r.summary[key] != nil, "\(ablation): \(key)")
            }
            let moe = !ablation.contains("dense")
            for key in [
                "moe/routing_change", "moe/routing_change/pass_1", "moe/routing_change/pass_2",
                "moe/routing_change/layer_0", "moe/update_routing_change", "moe/load_max_over_mean",
            ] {
                #expect((r.metrics[key]?.values.count == 2) == moe, "\(ablation): \(key)")
            }
            if ablation.hasSuffix("replay") {
                #expect(r.metrics["moe/update_routing_change"]?.values == [0, 0], "\(ablation)")
            }
        }
        // Stopped after step 1 and resumed in a new process: the same results as uninterrupted.
        let resumed = NSTemporaryDirectory() + "gspo-resumed-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: resumed) }
        try FileManager.default.createDirectory(atPath: resumed, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(out)/base-models", toPath: "\(resumed)/base-models")
        let common = ["--ablation", "moe-replay", "--steps", "2", "--out", resumed] + Self.toy
        let stop = try runProduct("gspo", common + ["--stop-at", "1"])
        #expect(stop.status == 0, "\(stop.stderr)")
        let resume = try runProduct("gspo", common + ["--resume", "\(resumed)/gspo/moe-replay/seed-0.ckpt.h5"])
        #expect(resume.status == 0, "\(resume.stderr)")
        let whole = try RunResults.load(from: "\(out)/gspo/moe-replay/seed-0.h5")
        let continued = try RunResults.load(from: "\(resumed)/gspo/moe-replay/seed-0.h5")
        for key in ["train/reward", "policy/sequence_ratio_var", "moe/routing_change", "eval/greedy_accuracy"] {
            #expect(continued.metrics[key]?.values == whole.metrics[key]?.values, "\(key)")
        }
    }

    @Test func badSettingsAreNamed() throws {
        let out = NSTemporaryDirectory() + "gspo-bad-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let clip = try runProduct("gspo", ["--out", out, "--set", "sequenceClipLow=1.5"] + Self.toy)
        #expect(clip.status != 0 && clip.stderr.contains("sequenceClipLow"), "\(clip.stderr)")
        let inner = try runProduct("gspo", ["--out", out, "--set", "rl.grpo.innerUpdates=0"] + Self.toy)
        #expect(inner.status != 0 && inner.stderr.contains("rl.grpo.innerUpdates"), "\(inner.stderr)")
        let missing = try runProduct("gspo", ["--out", out, "--steps", "1"] + Self.toy)
        #expect(missing.status != 0 && missing.stderr.contains("base-models/base-moe/seed-0.ckpt.h5 does not exist"))
    }
}
