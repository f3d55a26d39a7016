// The nano-transformer experiment end to end at toy size: every config in configs/ runs a few
// steps, and a run stopped and resumed equals an uninterrupted one bit for bit.
import Foundation
import HDF5Store
import TestSupport
import Testing

/// A toy model and data so that every ablation finishes in a second or two.
let toySettings = [
    "--set", "data=sample", "--set", "tokenizerVocab=300", "--set", "model.dModel=32", "--set", "model.layers=1",
    "--set", "model.contextLength=16", "--set", "batchSize=2", "--set", "evalBatches=1", "--set", "evalEvery=2",
    "--set", "contextFinetuneSteps=2", "--threads", "1",
]

@Suite(.serialized) struct PretrainExperimentTests {
    @Test func everyConfigRunsAFewSteps() throws {
        let out = temporaryFolder()
        let result = try runProduct(
            "nano-transformer", ["--all-ablations", "--steps", "3", "--out", out] + toySettings)
        #expect(result.status == 0, "\(result.stderr)")
        let ablations = try experimentAblations("nano-transformer")
        #expect(ablations.count == 15)
        for ablation in ablations {
            let r = try RunResults.load(from: "\(out)/nano-transformer/\(ablation)/seed-0.h5")
            #expect(r.status == "finished", "\(ablation)")
            let losses = r.metrics["loss/train"]!.values
            #expect(losses.count == 3 && losses.allSatisfy(\.isFinite), "\(ablation): \(losses)")
            #expect(r.metrics["loss/val"]!.values.last!.isFinite, "\(ablation)")
            #expect(r.summary["perf/decode_tokens_per_s_kv_cache"]! > 0, "\(ablation)")
            #expect(r.samples["generation"]?.texts.first?.hasPrefix("ROMEO:") == true, "\(ablation)")
            if ablation != "learned-positions" {
                #expect(r.metrics["context/ntk"]!.steps == [16, 32, 64], "\(ablation)")
            }
        }
        let finetuned = try RunResults.load(from: "\(out)/nano-transformer/context-finetune/seed-0.h5")
        #expect(finetuned.metrics["context/interpolation_finetuned"]!.steps == [32, 64])
        let mqa = try RunResults.load(from: "\(out)/nano-transformer/mqa/seed-0.h5")
        let base = try RunResults.load(from: "\(out)/nano-transformer/base/seed-0.h5")
        // K and V, 1 head of 8 floats, 1 layer: 64 bytes per token for MQA, 4x that for MHA.
        #expect(mqa.summary["inference/kv_cache_bytes_per_token"] == 64)
        #expect(base.summary["inference/kv_cache_bytes_per_token"] == 256)
    }

    @Test func resumeEqualsAnUninterruptedRun() throws {
        let whole = temporaryFolder() + "/whole"
        let split = temporaryFolder() + "/split"
        // The spike guard is on so that its history is part of what must survive the restart.
        let common =
            toySettings + [
                "--set", "steps=12", "--set", "checkpointEvery=100", "--set", "spikeGuard=true",
                "--set", "inferenceBenchmark=false", "--seed", "3",
            ]
        #expect(try runProduct("nano-transformer", common + ["--out", whole]).status == 0)
        let stopped = try runProduct("nano-transformer", common + ["--out", split, "--stop-at", "5"])
        #expect(stopped.status == 0, "\(stopped.stderr)")  // --stop-at is a stop the user asked for
        let checkpoint = "\(split)/nano-transformer/base/seed-3.ckpt.h5"
        #expect(try Checkpoint.load(from: checkpoint).step == 5)
        let resumed = try runProduct("nano-transformer", common + ["--out", split, "--resume", checkpoint])
        #expect(resumed.status == 0, "\(resumed.stderr)")

        let a = try Checkpoint.load(from: "\(whole)/nano-transformer/base/seed-3.ckpt.h5")
        let b = try Checkpoint.load(from: checkpoint)
        #expect(a.step == 12 && b.step == 12)
        for (name, tensor) in a.parameters { #expect(b.parameter(name)!.isBitIdentical(to: tensor), "\(name)") }
        for (key, tensor) in a.optimizer!.tensors { #expect(b.optimizer!.tensors[key]!.isBitIdentical(to: tensor)) }
        #expect(a.rngStreams == b.rngStreams && a.counters == b.counters)
        let ra = try RunResults.load(from: "\(whole)/nano-transformer/base/seed-3.h5")
        let rb = try RunResults.load(from: "\(split)/nano-transformer/base/seed-3.h5")
        for key in ["loss/train", "loss/val", "optim/grad_norm", "context/ntk"] {
            #expect(ra.metrics[key]!.values == rb.metrics[key]!.values, "\(key)")
        }
        #expect(ra.samples["generation"] == rb.samples["generation"])
    }

    @Test func badConfigNamesTheKeyItsValueAndItsLayer() throws {
        for (setting, expected) in [
            (
                "model.kvHeads=3",
                "--set: key 'model.kvHeads' = 3: 3 must divide heads 4 (with 'model.heads' = 4 from defaults)"
            ),
            (
                "model.heads=3",
                "defaults: key 'model.kvHeads' = 4: 4 must divide heads 3 (with 'model.heads' = 3 from --set)"
            ),
            ("model.dModel=0", "--set: key 'model.dModel' = 0: must be in 1...16384"),
            ("batchSize=0", "--set: key 'batchSize' = 0: must be in 1...65536"),
            ("model.contextLength=0", "--set: key 'model.contextLength' = 0: must be in 2...1048576"),
            ("model.contextLength=-4", "--set: key 'model.contextLength' = -4: must be in 2...1048576"),
            ("model.ropeBase=0", "--set: key 'model.ropeBase' = 0: must be a finite number above 1"),
            ("beta2=1.5", "--set: key 'beta2' = 1.5: must be a finite number in [0.0, 1.0)"),
            ("gradClip=-1", "--set: key 'gradClip' = -1: must be a finite number in (0.0, 1000000000.0]"),
            (
                "minLearningRateRatio=-1",
                "--set: key 'minLearningRateRatio' = -1: must be a finite number in [0.0, 1.0]"
            ),
            ("evalBatches=0", "--set: key 'evalBatches' = 0: must be in 1...1000000"),
            ("model.vocabSize=7", "--set: key 'model.vocabSize' cannot be set: it is the tokenizer's vocabulary"),
        ] {
            let result = try runProduct(
                "nano-transformer", ["--out", temporaryFolder()] + toySettings + ["--set", setting])
            #expect(result.status == 1, "\(setting): \(result.status)")
            #expect(result.stderr.hasPrefix("Error: \(expected)"), "\(setting): \(result.stderr)")
        }
        // A context the corpus cannot fill is named before training (no trap in the windows).
        let long = try runProduct(
            "nano-transformer", ["--out", temporaryFolder()] + toySettings + ["--set", "model.contextLength=100000"])
        #expect(long.status == 1 && long.stderr.contains("key 'model.contextLength' = 100000: the corpus ('sample')"))
    }

    @Test func zeroCadencesRunAndThePrintedModelIsTheResolvedOne() throws {
        let out = temporaryFolder()
        let result = try runProduct(
            "nano-transformer",
            ["--out", out, "--steps", "3"] + toySettings + [
                "--set", "evalEvery=3", "--set", "checkpointEvery=0", "--set", "inferenceBenchmark=false",
            ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stdout.contains(#""vocabSize":300"#) && result.stdout.contains(#""mlpHidden":96"#),
            "\(result.stdout)")
        #expect(try RunResults.load(from: "\(out)/nano-transformer/base/seed-0.h5").metrics["loss/val"]!.steps == [3])
    }
}
