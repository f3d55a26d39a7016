// The dpo experiment end to end at toy size: a toy chat policy and reward model (base-models,
// reward-bpr), then every ablation: offline runs train on the preference file's pairs (fewer when
// the true reward orders them), online runs on their own samples, and every run is scored on fresh
// samples at step 0 and at the end and leaves its trained policy; a missing preference file is
// named.
import Foundation
import HDF5Store
import LabSupport
import NanoTransformer
import TestSupport
import Testing

@Suite(.serialized) struct DPOExperimentTests {
    @Test func everyAblationRunsFromAToyChatPolicy() throws {
        let out = NSTemporaryDirectory() + "dpo-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let folder = try toyQuotations()
        try makeToyChatBase(out: out, quotations: folder)
        try makeToyRewardModels(out: out, quotations: folder)
        let toy = [
            "--set", "quotations=\(folder)", "--set", "heldOutPrompts=4", "--set", "online.promptsPerUpdate=4",
            "--set", "online.maxNewTokens=16", "--set", "evalEvery=2", "--threads", "1",
        ]
        let result = try runProduct("dpo", ["--all-ablations", "--steps", "3", "--out", out] + toy)
        #expect(result.status == 0, "\(result.stderr)")
        let ablations = try experimentAblations("dpo")
        #expect(ablations.count == 10)
        let chatBase = try NanoTransformer.load(checkpoint: "\(out)/base-models/chat-base/seed-0.ckpt.h5")
        for ablation in ablations {
            let stem = "\(out)/dpo/\(ablation)/seed-0"
            let r = try RunResults.load(from: "\(stem).h5")
            try #require(r.status == "finished", "\(ablation)")
            for key in ["eval/true_reward", "eval/kl", "eval/score", "eval/length"] {
                #expect(r.metrics[key]?.steps == [0, 2, 3], "\(ablation): \(key)")
            }
            #expect(abs(try #require(r.metrics["eval/kl"]?.values.first)) < 1e-3, "\(ablation)")
            if ablation.hasPrefix("online") {
                #expect(r.metrics["online/pairs_seen"]?.values.count == 3, "\(ablation)")
            } else {
                #expect(r.metrics["loss/train"]?.values.allSatisfy(\.isFinite) == true, "\(ablation)")
                #expect(r.metrics["loss/val"] != nil, "\(ablation)")
                let pairs = try #require(r.summary["data/train_pairs"])
                #expect(ablation == "truth-labels" ? pairs <= 48 : pairs == 48, "\(ablation): \(pairs) pairs")
            }
            let policy = try NanoTransformer.load(checkpoint: "\(stem).policy.h5")
            #expect(policy.config == chatBase.config, "\(ablation)")
        }
    }

    @Test func aMissingPreferenceFileIsANamedError() throws {
        let out = NSTemporaryDirectory() + "dpo-missing-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let policy = "\(out)/policy.h5"
        try Data("not a checkpoint".utf8).write(to: URL(fileURLWithPath: policy))
        let result = try runProduct(
            "dpo", ["--steps", "1", "--out", out, "--set", "policy=\(policy)", "--set", "rewardModel=\(policy)"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("preferences: \(out)/reward-bpr/base/seed-0.preferences.h5 does not exist"))
    }
}
