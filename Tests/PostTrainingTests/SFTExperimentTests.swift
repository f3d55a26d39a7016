// The base models and the sft experiment end to end at toy size: the three base models are made
// in order (each stage reading the one before), every sft ablation runs from the reasoning base,
// a stage stopped and resumed equals an uninterrupted one (also for the MoE base), and a missing
// base is a named error.
import Foundation
import HDF5Store
import LabSupport
import ModelStore
import NanoTransformer
import PostTraining
import TensorCore
import TestSupport
import Testing
import Tokenizer

@Suite(.serialized) struct SFTExperimentTests {
    @Test func baseModelsThenEverySFTAblation() throws {
        let out = NSTemporaryDirectory() + "sft-\(UUID().uuidString)"
        let quotations = ["--set", "quotations=\(try toyQuotations())"]
        for ablation in ["base", "chat-pretrain", "chat-base"] {
            let result = try runProduct(
                "base-models", ["--ablation", ablation, "--steps", "4", "--out", out] + toyStage + quotations)
            #expect(result.status == 0, "\(ablation): \(result.stderr)")
            let r = try RunResults.load(from: "\(out)/base-models/\(ablation)/seed-0.h5")
            #expect(r.status == "finished", "\(ablation)")
            #expect(r.metrics["loss/train"]!.values.allSatisfy { $0.isFinite }, "\(ablation)")
            #expect(r.metrics["loss/val_response"]!.values.last!.isFinite, "\(ablation)")
            // Each base is a self-describing checkpoint whose tokenizer has the format's tokens.
            let path = "\(out)/base-models/\(ablation)/seed-0.ckpt.h5"
            let model = try NanoTransformer.load(checkpoint: path)
            let format = try ConversationFormat(tokenizer: BPETokenizer.load(checkpoint: path))
            #expect(model.config.vocabSize == format.tokenizer.vocabSize)
        }
        let reasoning = try RunResults.load(from: "\(out)/base-models/base/seed-0.h5")
        #expect(reasoning.metrics["eval/greedy_accuracy"] != nil)
        let chat = try RunResults.load(from: "\(out)/base-models/chat-base/seed-0.h5")
        #expect(chat.metrics["eval/true_reward"]!.values.last!.isFinite)

        let sft = try runProduct("sft", ["--all-ablations", "--steps", "3", "--out", out] + toyStage)
        #expect(sft.status == 0, "\(sft.stderr)")
        let ablations = try experimentAblations("sft")
        #expect(Set(ablations) == ["base", "all-tokens", "padded", "epochs-3", "data-2000", "data-32000", "noisy"])
        for ablation in ablations {
            let r = try RunResults.load(from: "\(out)/sft/\(ablation)/seed-0.h5")
            #expect(r.status == "finished", "\(ablation)")
            #expect(r.metrics["loss/train"]!.values.count == 3, "\(ablation)")
            for key in ["loss/val_response", "eval/greedy_accuracy", "eval/pass@2", "eval/format_rate", "eval/length"] {
                #expect(r.metrics[key]?.values.last?.isFinite == true, "\(ablation): \(key)")
            }
            #expect(r.metrics["perf/tokens_per_s"]!.values.last! > 0, "\(ablation)")
        }
        let padded = try RunResults.load(from: "\(out)/sft/padded/seed-0.h5")
        let packed = try RunResults.load(from: "\(out)/sft/base/seed-0.h5")
        #expect(
            padded.metrics["train/padding_share"]!.values.last! > packed.metrics["train/padding_share"]!.values.last!)
        try? FileManager.default.removeItem(atPath: out)
    }

    @Test func aStageStoppedAndResumedEqualsAnUninterruptedOne() throws {
        let whole = NSTemporaryDirectory() + "sft-whole-\(UUID().uuidString)"
        let split = NSTemporaryDirectory() + "sft-split-\(UUID().uuidString)"
        let common = ["--ablation", "base", "--steps", "8", "--set", "evalEvery=4", "--seed", "2"] + toyStage
        #expect(try runProduct("base-models", common + ["--out", whole]).status == 0)
        let stopped = try runProduct("base-models", common + ["--out", split, "--stop-at", "5"])
        #expect(stopped.status == 0, "\(stopped.stderr)")
        let checkpoint = "\(split)/base-models/base/seed-2.ckpt.h5"
        let resumed = try runProduct("base-models", common + ["--out", split, "--resume", checkpoint])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let a = try RunResults.load(from: "\(whole)/base-models/base/seed-2.h5")
        let b = try RunResults.load(from: "\(split)/base-models/base/seed-2.h5")
        for key in ["loss/train", "loss/val_response", "eval/greedy_accuracy", "optim/grad_norm"] {
            #expect(a.metrics[key] == b.metrics[key], "\(key)")
        }
        let wholeModel = try Checkpoint.load(from: "\(whole)/base-models/base/seed-2.ckpt.h5")
        let splitModel = try Checkpoint.load(from: checkpoint)
        for (name, tensor) in wholeModel.parameters {
            let other = try #require(splitModel.parameter(name))
            #expect(
                Array(UnsafeBufferPointer(start: tensor.data, count: tensor.count))
                    == Array(UnsafeBufferPointer(start: other.data, count: other.count)), "\(name)")
        }
        try? FileManager.default.removeItem(atPath: whole)
        try? FileManager.default.removeItem(atPath: split)
    }

    /// reasoning-base-moe at toy size: every MLP an MoE layer in the checkpoint, the load reported
    /// per update and the balancing bias moved; stopped and resumed equals uninterrupted (the bias
    /// is in the checkpoint); a bad MoE field is named.
    @Test func theMoEBaseTrainsBalancesAndResumes() throws {
        let whole = NSTemporaryDirectory() + "sft-moe-\(UUID().uuidString)"
        let split = NSTemporaryDirectory() + "sft-moe-split-\(UUID().uuidString)"
        defer { for f in [whole, split] { try? FileManager.default.removeItem(atPath: f) } }
        let common = ["--ablation", "base-moe", "--steps", "6", "--set", "moe.expertHidden=16"] + toyStage
        let result = try runProduct("base-models", common + ["--out", whole])
        #expect(result.status == 0, "\(result.stderr)")
        let r = try RunResults.load(from: "\(whole)/base-models/base-moe/seed-0.h5")
        #expect(r.metrics["moe/load_max_over_mean"]?.values.count == 6)
        let checkpoint = "\(whole)/base-models/base-moe/seed-0.ckpt.h5"
        let model = try NanoTransformer.load(checkpoint: checkpoint)
        #expect(model.routedLayers.count == 1)
        let bias = try #require(model.namedBuffers().first { $0.name.hasSuffix("routing_bias") }?.tensor)
        #expect(bias.array.contains { $0 != 0 }, "aux-loss-free balancing moves the bias")

        #expect(try runProduct("base-models", common + ["--out", split, "--stop-at", "3"]).status == 0)
        let resumed = try runProduct(
            "base-models", common + ["--out", split, "--resume", "\(split)/base-models/base-moe/seed-0.ckpt.h5"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let b = try RunResults.load(from: "\(split)/base-models/base-moe/seed-0.h5")
        for key in ["loss/train", "moe/load_cv", "loss/val_response"] {
            #expect(r.metrics[key] == b.metrics[key], "\(key)")
        }

        let bad = try runProduct("base-models", common + ["--out", split, "--overwrite", "--set", "moe.topK=9"])
        #expect(bad.status != 0 && bad.stderr.contains("moe.topK"), "\(bad.stderr)")
    }

    @Test func aMissingBaseIsANamedError() throws {
        let out = NSTemporaryDirectory() + "sft-missing-\(UUID().uuidString)"
        let result = try runProduct("sft", ["--steps", "1", "--out", out] + toyStage)
        #expect(result.status != 0)
        #expect(
            result.stderr.contains("initFrom: \(out)/base-models/base/seed-0.ckpt.h5 does not exist"),
            "\(result.stderr)")
        // An sft stage keeps its checkpoint's MLP: asking for another is refused, not ignored.
        var c = SFTExperimentConfig()
        c.mlp = .moe
        let refused = expectLabError(.config) { try c.validate() }
        #expect(refused?.message.hasPrefix("key 'mlp': an sft stage keeps the MLP") == true)
        c.stage = .pretrain
        try c.validate()
    }

    @Test func theMixDrawsEveryFormatLanguageAndMixing() throws {
        var mix = ArithmeticMix()
        (mix.chineseShare, mix.mixedLanguageShare, mix.answerOnlyShare, mix.emptyThinkShare) = (0.5, 1, 0.2, 0.2)
        var rng = RNG(seed: 5)
        var counts: [String: Int] = [:]
        for _ in 0..<400 {
            let (task, language) = mix.task(rng: &rng)
            let (prompt, response) = mix.example(task, language, rng: &rng)
            #expect(prompt == task.prompt(language))
            let parsed = ParsedResponse(response)
            #expect(parsed.wellFormed || response.hasPrefix("<answer>"), "\(response)")
            #expect(parsed.number == task.answer, "no wrong steps asked: \(response)")
            let words = RuleReward.wordCounts(parsed.think ?? "")
            let kind =
                response.hasPrefix("<answer>")
                ? "answerOnly"
                : parsed.think == "" ? "emptyThink" : words.english > 0 && words.chinese > 0 ? "mixed" : "one"
            counts[kind, default: 0] += 1
        }
        #expect(counts["answerOnly", default: 0] > 50 && counts["emptyThink", default: 0] > 50)
        #expect(counts["mixed", default: 0] > 50, "\(counts)")
        var bad = ArithmeticMix()
        bad.additionDigits = [3, 1]
        let error = expectLabError(.config) { try bad.check("mix") }
        #expect(error?.message.hasPrefix("mix.additionDigits") == true)
    }
}
