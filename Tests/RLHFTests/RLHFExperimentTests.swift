// The ppo-rlhf experiment end to end at toy size: a toy chat policy (base-models' chat stages),
// reward models from reward-bpr (base, prompts-500, prompts-6000 at toy size), then every ablation:
// the evaluation at step 0 and at the end, the per-iteration diagnostics, the text samples, the
// trained policy saved on its own and loadable, resume equal to an uninterrupted run (on another
// thread count), and a missing reward model named.
import Foundation
import HDF5Store
import LabSupport
import NanoTransformer
import TestSupport
import Testing

@Suite(.serialized) struct RLHFExperimentTests {
    @Test func everyAblationRunsFromAToyChatPolicyAndRewardModel() throws {
        let out = NSTemporaryDirectory() + "ppo-rlhf-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let folder = try toyQuotations()
        let quotations = ["--set", "quotations=\(folder)"]
        try makeToyChatBase(out: out, quotations: folder)
        try makeToyRewardModels(out: out, quotations: folder, ablations: ["base", "prompts-500", "prompts-6000"])
        let toy =
            [
                "--set", "heldOutPrompts=4", "--set", "rlhf.promptsPerStep=4", "--set", "rlhf.minibatches=2",
                "--set", "rlhf.maxNewTokens=16", "--set", "evalEvery=2", "--set", "samplesShown=2", "--threads", "1",
            ] + quotations
        let result = try runProduct("ppo-rlhf", ["--all-ablations", "--steps", "3", "--out", out] + toy)
        #expect(result.status == 0, "\(result.stderr)")
        let ablations = try experimentAblations("ppo-rlhf")
        #expect(ablations.count == 13)
        let chatBase = try NanoTransformer.load(checkpoint: "\(out)/base-models/chat-base/seed-0.ckpt.h5")
        for ablation in ablations {
            let stem = "\(out)/ppo-rlhf/\(ablation)/seed-0"
            let r = try RunResults.load(from: "\(stem).h5")
            try #require(r.status == "finished", "\(ablation)")
            for key in ["rlhf/score", "rlhf/true_reward", "rlhf/kl", "loss/policy", "loss/value", "policy/entropy"] {
                #expect(r.metrics[key]?.values.count == 3, "\(ablation): \(key)")
                #expect(r.metrics[key]?.values.allSatisfy(\.isFinite) == true, "\(ablation): \(key)")
            }
            // Evaluated at the start, after update 2 and after the last one.
            for key in ["eval/score", "eval/true_reward", "eval/kl", "eval/sqrt_kl", "eval/length", "eval/true_gain"] {
                #expect(r.metrics[key]?.steps == [0, 2, 3], "\(ablation): \(key)")
            }
            // At the start the policy is its reference.
            #expect(abs(try #require(r.metrics["eval/kl"]?.values.first)) < 1e-3, "\(ablation)")
            #expect(r.metrics["eval/true_gain"]?.values.first == 0, "\(ablation)")
            #expect(r.samples["eval/samples"]?.steps == [0, 0, 3, 3], "\(ablation)")
            // Gao's picture: gains against round(100 √KL), increasing, starting at (0, 0).
            let overopt = try #require(r.metrics["overopt/true_gain"])
            #expect(overopt.steps.first == 0 && overopt.values.first == 0, "\(ablation)")
            #expect(zip(overopt.steps, overopt.steps.dropFirst()).allSatisfy { $0 < $1 }, "\(ablation)")
            #expect(r.metrics["overopt/score_gain"]?.steps == overopt.steps, "\(ablation)")
            let beta = try #require(r.metrics["rlhf/beta"]?.values)
            if ablation == "adaptive" { #expect(beta.last != beta.first) } else { #expect(Set(beta).count == 1) }
            // The trained policy stands on its own, and it moved.
            let policy = try NanoTransformer.load(checkpoint: "\(stem).policy.h5")
            let moved = zip(policy.namedParameters(), chatBase.namedParameters()).contains {
                $0.tensor.array != $1.tensor.array
            }
            #expect(moved, "\(ablation)")
        }
    }

    /// Stopped after update 2 and resumed on 1 thread, the base run ends as the uninterrupted one
    /// on 2 threads: every metric (the step-0 evaluation logged once), the text samples and the
    /// trained policy.
    @Test func resumeEqualsAnUninterruptedRun() throws {
        let out = NSTemporaryDirectory() + "ppo-rlhf-resume-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let folder = try toyQuotations()
        let quotations = ["--set", "quotations=\(folder)"]
        try makeToyChatBase(out: out, quotations: folder)
        try makeToyRewardModels(out: out, quotations: folder)
        let common =
            [
                "--steps", "4", "--set", "heldOutPrompts=4", "--set", "rlhf.promptsPerStep=4", "--set",
                "rlhf.minibatches=2", "--set", "rlhf.maxNewTokens=16", "--set", "evalEvery=1", "--set",
                "checkpointEvery=1", "--set", "policy=\(out)/base-models/chat-base/seed-0.ckpt.h5", "--set",
                "rewardModel=\(out)/reward-bpr/base/seed-0.reward-model.h5", "--threads", "1",
            ] + quotations
        // The uninterrupted run on 2 threads, the split one on 1: equal also across thread counts.
        #expect(try runProduct("ppo-rlhf", common + ["--out", "\(out)/whole", "--threads", "2"]).status == 0)
        #expect(try runProduct("ppo-rlhf", common + ["--out", "\(out)/split", "--stop-at", "2"]).status == 0)
        let stem = "\(out)/split/ppo-rlhf/base/seed-0"
        #expect(try RunResults.load(from: "\(stem).h5").status == "interrupted")
        let resumed = try runProduct("ppo-rlhf", common + ["--out", "\(out)/split", "--resume", "\(stem).ckpt.h5"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let a = try RunResults.load(from: "\(out)/whole/ppo-rlhf/base/seed-0.h5")
        let b = try RunResults.load(from: "\(stem).h5")
        #expect(b.status == "finished" && a.metrics == b.metrics && a.samples == b.samples && a.summary == b.summary)
        #expect(a.metrics["eval/kl"]?.steps == [0, 1, 2, 3, 4])
        let p = try Checkpoint.load(from: "\(out)/whole/ppo-rlhf/base/seed-0.policy.h5")
        let q = try Checkpoint.load(from: "\(stem).policy.h5")
        for (name, tensor) in p.parameters { #expect(q.parameter(name)!.isBitIdentical(to: tensor), "\(name)") }
    }

    @Test func aMissingRewardModelIsANamedError() throws {
        let out = NSTemporaryDirectory() + "ppo-rlhf-missing-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let policy = "\(out)/policy.h5"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try Data("not a checkpoint".utf8).write(to: URL(fileURLWithPath: policy))
        let result = try runProduct("ppo-rlhf", ["--steps", "1", "--out", out, "--set", "policy=\(policy)"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("rewardModel: \(out)/reward-bpr/base/seed-0.reward-model.h5 does not exist"))
    }
}
