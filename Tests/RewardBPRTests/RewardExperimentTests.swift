// The reward-bpr experiment end to end at toy size: a toy chat policy (base-models' chat stages on
// a fortunes-style file, sampled at temperature 0.5, where it ends its answers), then every
// ablation: the preference files it writes hold K finished responses per prompt ranked by the
// annotator, the held-out metrics are there, the saved reward model loads from its file alone and
// is centred on the policy's samples, and a missing policy is a named error.
import Foundation
import HDF5Store
import LabSupport
import RewardBPR
import TestSupport
import Testing

@Suite(.serialized) struct RewardExperimentTests {
    @Test func everyAblationRunsFromAToyChatPolicy() throws {
        let out = NSTemporaryDirectory() + "reward-bpr-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let folder = try toyQuotations()
        let quotations = ["--set", "quotations=\(folder)"]
        try makeToyChatBase(out: out, quotations: folder)
        let toy =
            [
                "--set", "prompts=12", "--set", "heldOutPrompts=6", "--set", "sampling.maxNewTokens=96", "--set",
                "sampling.attempts=4", "--set", "sampling.temperature=0.5", "--set", "evalEvery=2", "--threads", "1",
            ] + quotations
        let result = try runProduct("reward-bpr", ["--all-ablations", "--steps", "3", "--out", out] + toy)
        #expect(result.status == 0, "\(result.stderr)")
        let ablations = try experimentAblations("reward-bpr")
        #expect(ablations.count == 12)
        for ablation in ablations {
            let stem = "\(out)/reward-bpr/\(ablation)/seed-0"
            let r = try RunResults.load(from: "\(stem).h5")
            try #require(r.status == "finished", "\(ablation)")
            #expect(try #require(r.metrics["loss/train"]).values.allSatisfy { $0.isFinite }, "\(ablation)")
            for key in [
                "eval/label_accuracy", "eval/truth_accuracy", "eval/bayes_ceiling", "eval/spearman", "loss/val",
            ] {
                #expect(r.metrics[key]?.values.last?.isFinite == true, "\(ablation): \(key)")
            }
            #expect(r.summary["reward/centre_shift"]?.isFinite == true, "\(ablation)")
            let data = try PreferenceData.load(from: "\(stem).preferences.h5")
            #expect(data.count >= 1 && Double(data.count) == r.summary["data/train_prompts"], "\(ablation)")
            #expect(data.k == (ablation == "k2" ? 2 : ablation == "k8" ? 8 : 4), "\(ablation)")
            // The trained reward model is saved centred and self-describing; the run's checkpoint
            // holds the same model before the centring shift.
            if ablation == "base" {
                let saved = try RewardModel.load(checkpoint: "\(stem).reward-model.h5")
                let beforeCentring = try RewardModel.load(checkpoint: "\(stem).ckpt.h5")
                let prompts = data.prompts.flatMap { Array(repeating: $0, count: data.k) }
                let responses = data.responses.flatMap { $0 }
                let centred = saved.score(prompts: prompts, responses: responses)
                #expect(abs(centred.reduce(0, +) / Float(centred.count)) < 1e-4)
                let shift = try #require(r.summary["reward/centre_shift"])
                for (a, b) in zip(beforeCentring.score(prompts: prompts, responses: responses), centred) {
                    #expect(abs(Double(a - b) - shift) < 1e-4)
                }
                let error = #expect(throws: LabError.self) {
                    try RewardModel.load(checkpoint: "\(out)/base-models/chat-base/seed-0.ckpt.h5")
                }
                #expect(error?.message.contains("'nano-transformer', not a 'reward-model'") == true)
            }
            // The annotator's ranks follow the truth exactly at tau 0.
            if ablation == "tau-0" {
                for (ranks, rewards) in zip(data.ranks, data.trueRewards) {
                    #expect(zip(ranks, ranks.dropFirst()).allSatisfy { rewards[$0] >= rewards[$1] })
                }
            }
        }
    }

    @Test func aMissingPolicyIsANamedError() throws {
        let out = NSTemporaryDirectory() + "reward-bpr-missing-\(UUID().uuidString)"
        let result = try runProduct("reward-bpr", ["--steps", "1", "--out", out])
        #expect(result.status != 0)
        #expect(
            result.stderr.contains("policy: \(out)/base-models/chat-base/seed-0.ckpt.h5 does not exist"),
            "\(result.stderr)")
    }
}
