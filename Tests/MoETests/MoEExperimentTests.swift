// The moe experiment end to end at toy size: every config in configs/ runs a few steps and
// records the MoE metrics, and a run stopped and resumed equals an uninterrupted one bit for bit,
// routing bias included.
import Foundation
import HDF5Store
import TestSupport
import Testing

/// A toy model and data so that every ablation finishes in a second or two.
let toySettings = [
    "--set", "training.data=sample", "--set", "training.tokenizerVocab=300", "--set", "training.model.dModel=32",
    "--set", "training.model.layers=1", "--set", "training.model.contextLength=16", "--set",
    "training.batchSize=2", "--set", "training.evalBatches=1", "--set", "training.evalEvery=2", "--set",
    "training.model.mlpHidden=48", "--set", "moe.expertHidden=16", "--set", "routingChangeEvery=2", "--threads", "1",
]

@Suite(.serialized) struct MoEExperimentTests {
    @Test func everyConfigRunsAFewStepsAndRecordsTheRouting() throws {
        let out = temporaryFolder()
        let result = try runProduct("moe", ["--all-ablations", "--steps", "4", "--out", out] + toySettings)
        #expect(result.status == 0, "\(result.stderr)")
        let ablations = try experimentAblations("moe")
        #expect(ablations.count == 12)
        for ablation in ablations {
            let r = try RunResults.load(from: "\(out)/moe/\(ablation)/seed-0.h5")
            #expect(r.status == "finished", "\(ablation)")
            let val = r.metrics["loss/val"]!.values
            #expect(!val.isEmpty && val.allSatisfy { $0.isFinite }, "\(ablation)")
            let dense = ablation.hasPrefix("dense")
            #expect((r.metrics["moe/load_max_over_mean"] == nil) == dense, "\(ablation)")
            if !dense {
                #expect(r.metrics["moe/load_cv"]!.values.count == 4, "\(ablation)")
                #expect(r.metrics["moe/routing_change"]!.steps == [2, 4], "\(ablation)")
                let entropy = r.metrics["moe/router_entropy"]!.values
                #expect(entropy.allSatisfy { $0 > 0 }, "\(ablation)")
                #expect(r.summary["model/active_parameters"]! < r.summary["model/parameters"]!, "\(ablation)")
            } else {
                #expect(r.summary["model/active_parameters"] == r.summary["model/parameters"])
            }
            let dropped = r.metrics["moe/dropped_fraction"]?.values ?? []
            #expect(dropped.contains { $0 > 0 } == ablation.hasPrefix("capacity"), "\(ablation): \(dropped)")
        }
        // No shared expert, 9 routed top-3: the same active and total parameters as base.
        let base = try RunResults.load(from: "\(out)/moe/base/seed-0.h5")
        let noShared = try RunResults.load(from: "\(out)/moe/no-shared/seed-0.h5")
        let dense = try RunResults.load(from: "\(out)/moe/dense/seed-0.h5")
        #expect(
            noShared.summary["model/active_parameters"]! - base.summary["model/active_parameters"]! == 32,
            "one more router row of dModel 32")
        #expect(dense.summary["model/parameters"]! < base.summary["model/active_parameters"]!)
    }

    @Test func resumeEqualsAnUninterruptedRunWithTheRoutingBias() throws {
        let whole = temporaryFolder() + "/whole"
        let split = temporaryFolder() + "/split"
        let common =
            toySettings + ["--set", "training.steps=10", "--set", "training.checkpointEvery=100", "--seed", "2"]
        #expect(try runProduct("moe", common + ["--out", whole]).status == 0)
        let stopped = try runProduct("moe", common + ["--out", split, "--stop-at", "5"])
        #expect(stopped.status == 0, "\(stopped.stderr)")  // --stop-at is a stop the user asked for
        let checkpoint = "\(split)/moe/base/seed-2.ckpt.h5"
        let halfway = try Checkpoint.load(from: checkpoint)
        #expect(halfway.tensors["buffer/blocks.0.mlp.routing_bias"]!.array.contains { $0 != 0 })
        let resumed = try runProduct("moe", common + ["--out", split, "--resume", checkpoint])
        #expect(resumed.status == 0, "\(resumed.stderr)")

        let a = try Checkpoint.load(from: "\(whole)/moe/base/seed-2.ckpt.h5")
        let b = try Checkpoint.load(from: checkpoint)
        #expect(a.step == 10 && b.step == 10)
        for (name, tensor) in a.parameters { #expect(b.parameter(name)!.isBitIdentical(to: tensor), "\(name)") }
        for (key, tensor) in a.tensors { #expect(b.tensors[key]!.isBitIdentical(to: tensor), "\(key)") }
        let ra = try RunResults.load(from: "\(whole)/moe/base/seed-2.h5")
        let rb = try RunResults.load(from: "\(split)/moe/base/seed-2.h5")
        for key in ["loss/train", "loss/val", "moe/load_cv", "moe/routing_change", "moe/router_entropy"] {
            #expect(ra.metrics[key]!.values == rb.metrics[key]!.values, "\(key)")
        }
    }

    @Test func badConfigNamesTheKey() throws {
        let result = try runProduct("moe", ["--out", temporaryFolder(), "--set", "moe.topK=9"] + toySettings)
        #expect(result.status != 0)
        #expect(result.stderr.contains("moe.topK"), "\(result.stderr)")
    }

    /// An update the spike guard skips runs no per-step hook: MoE's bias moves, and its metrics
    /// are logged, only for applied updates.
    @Test func aSkippedUpdateRunsNoHook() throws {
        let out = temporaryFolder()
        // A window of 10 and a tiny threshold: after the window fills, most updates are skipped.
        let r = try runProduct(
            "moe",
            ["--out", out, "--steps", "24"] + toySettings + [
                "--set", "training.spikeGuard=true", "--set", "training.spikeWindow=10", "--set",
                "training.spikeZ=0.001",
                "--set", "training.inferenceBenchmark=false", "--set", "training.contextEvaluation=false",
            ])
        #expect(r.status == 0, "\(r.stderr)")
        let results = try RunResults.load(from: "\(out)/moe/base/seed-0.h5")
        let skipped = Int(results.metrics["train/skipped_updates"]!.values.last!)
        #expect(skipped > 0 && skipped < 24, "\(skipped)")
        #expect(results.metrics["moe/load_cv"]!.steps.count == 24 - skipped)
        #expect(results.metrics["loss/train"]!.steps.count == 24)
    }
}
