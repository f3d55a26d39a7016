// The r1-pipeline experiment end to end at toy size (a toy reasoning-base and student from
// base-models, a toy chat-base and reward model for final-rl): every stage runs and writes its
// files; a finished stage is kept untouched; a stage stopped midway resumes and the pipeline ends
// as an uninterrupted one, which is itself the same for the same seed; a missing or foreign
// earlier stage, a missing base and an empty data set are named errors; every ablation's config
// resolves.
import Foundation
import HDF5Store
import TestSupport
import Testing

@Suite(.serialized) struct R1PipelineExperimentTests {
    /// The inputs, made once: base-models/{base,base-small}, base-models/chat-base, reward-bpr/base.
    static let inputs: Result<(folder: String, quotations: String), any Error> = Result {
        let folder = NSTemporaryDirectory() + "r1-inputs-\(UUID().uuidString)"
        let quotations = try toyQuotations()
        try runToyStage("base-models", ["--ablation", "base", "--steps", "4", "--out", folder] + toyStage)
        try runToyStage(
            "base-models",
            ["--ablation", "base-small", "--steps", "4", "--out", folder] + toyStage + [
                "--set", "model.dModel=16", "--set", "model.heads=1", "--set", "model.kvHeads=1",
            ])
        try makeToyChatBase(out: folder, quotations: quotations)
        try makeToyRewardModels(out: folder, quotations: quotations)
        return (folder, quotations)
    }

    /// A fresh --out holding the inputs.
    static func out(_ name: String = #function) throws -> String {
        let (inputs, _) = try Self.inputs.get()
        let out = NSTemporaryDirectory() + "r1-\(name.prefix(while: { $0 != "(" }))-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        for folder in ["base-models", "reward-bpr"] {
            try FileManager.default.copyItem(atPath: "\(inputs)/\(folder)", toPath: "\(out)/\(folder)")
        }
        return out
    }

    /// Every stage at toy size: 2 updates, 2 prompts x G 2, a few samples; the filters keep every
    /// sample (a toy model answers nothing right), so every SFT stage has data.
    static func toy() throws -> [String] {
        let (_, quotations) = try Self.inputs.get()
        var sets = [
            "evalTasks=6", "evaluation.samples=2", "evaluation.passK=[1,2]", "evaluation.maxNewTokens=12",
            "evaluation.promptsPerBatch=4", "preferencePrompts=3", "quotations=\(quotations)",
            "rejectionSampling.preferenceExamples=4",
        ]
        for rl in ["zero", "reasoningRL", "finalRL.stage", "distill.rl"] {
            sets += [
                "\(rl).grpo.maxNewTokens=12", "\(rl).grpo.promptsPerStep=2", "\(rl).grpo.groupSize=2",
                "\(rl).evalEvery=1", "\(rl).checkpointEvery=1",
            ]
        }
        for sampling in ["coldStartData", "rejectionSampling", "distill"] {
            sets += [
                "\(sampling).sampling.prompts=4", "\(sampling).sampling.samples=2",
                "\(sampling).sampling.maxNewTokens=12", "\(sampling).filter.rules=[]",
            ]
        }
        for sft in ["coldStartSFT", "sft2", "distill.sft"] {
            sets += ["\(sft).sft.batchSize=4", "\(sft).sft.epochs=1"]
        }
        sets += ["finalRL.preferenceShare=0.5"]
        return sets.flatMap { ["--set", $0] } + ["--steps", "2", "--threads", "1"]
    }

    static let stages = [
        "zero", "cold-start-data", "cold-start-sft", "reasoning-rl", "rejection-sampling", "sft-2", "final-rl",
        "distill", "student-rl",
    ]

    static func stem(_ out: String, _ stage: String, _ ablation: String = "base") -> String {
        "\(out)/r1-pipeline/\(stage)/\(ablation)/seed-0"
    }

    @Test func everyStageRunsWritesItsFilesAndIsKeptWhenFinished() throws {
        let out = try Self.out()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let result = try runProduct("r1-pipeline", ["--out", out] + Self.toy())
        #expect(result.status == 0, "\(result.stderr)")
        for stage in Self.stages {
            let stem = Self.stem(out, stage)
            let results = try RunResults.load(from: "\(stem).h5")
            #expect(results.status == "finished" && results.experiment == "r1-pipeline/\(stage)", "\(stage)")
            #expect(FileManager.default.fileExists(atPath: "\(stem).stage.json"), "\(stage)")
            let makesData = ["cold-start-data", "rejection-sampling", "distill"].contains(stage)
            let makesPolicy = !["cold-start-data", "rejection-sampling"].contains(stage)
            #expect(FileManager.default.fileExists(atPath: "\(stem).data.json") == makesData, "\(stage)")
            #expect(FileManager.default.fileExists(atPath: "\(stem).policy.h5") == makesPolicy, "\(stage)")
            if makesPolicy {
                #expect(results.metrics["eval/greedy_accuracy"] != nil, "\(stage)")
                #expect(results.metrics["eval/mixing_rate"] != nil && results.summary["pref/true_reward"] != nil)
            }
            if makesData { #expect(results.summary["data/kept"] == results.summary["data/samples"], "\(stage)") }
        }
        // The RL stages' "aha" curves over training, and the preference examples in the mix.
        let rl = try RunResults.load(from: "\(Self.stem(out, "reasoning-rl")).h5")
        #expect(rl.metrics["train/reasoning_words"]?.steps == [1, 2] && rl.metrics["train/self_corrections"] != nil)
        #expect(
            try RunResults.load(from: "\(Self.stem(out, "rejection-sampling")).h5").summary["data/preference_examples"]
                == 4)
        let summary = try RunResults.load(from: "\(Self.stem(out, "summary")).h5")
        #expect(
            summary.summary["final-rl/eval/greedy_accuracy"] != nil && summary.summary["cold-start-data/data/kept"] == 8
        )
        // The models it starts from, as zero's and student-rl's step-0 evaluations.
        let zero = try RunResults.load(from: "\(Self.stem(out, "zero")).h5")
        #expect(
            summary.summary["reasoning-base/eval/greedy_accuracy"] == zero.metrics["eval/greedy_accuracy"]?.values.first
        )
        #expect(summary.summary["reasoning-base-small/eval/mean@n"] != nil)
        // The whole pipeline again in another folder, same seed: every stage's final numbers equal
        // bit for bit (the pipeline is deterministic for its seed).
        let twin = try Self.out()
        defer { try? FileManager.default.removeItem(atPath: twin) }
        #expect(try runProduct("r1-pipeline", ["--out", twin] + Self.toy()).status == 0)
        let other = try RunResults.load(from: "\(Self.stem(twin, "summary")).h5")
        #expect(other.summary.count == summary.summary.count && summary.summary.count > 40)
        for (key, value) in summary.summary { #expect(other.summary[key]?.bitPattern == value.bitPattern, "\(key)") }
        // Run again: every stage is kept, its files untouched.
        let dates = try Self.stages.map {
            try FileManager.default.attributesOfItem(atPath: "\(Self.stem(out, $0)).h5")[.modificationDate] as? Date
        }
        let again = try runProduct("r1-pipeline", ["--out", out] + Self.toy())
        #expect(again.status == 0, "\(again.stderr)")
        #expect(
            again.stdout.contains("zero: finished before, kept")
                && again.stdout.contains("student-rl: finished before, kept"))
        let after = try Self.stages.map {
            try FileManager.default.attributesOfItem(atPath: "\(Self.stem(out, $0)).h5")[.modificationDate] as? Date
        }
        #expect(dates == after)
        // Forcing one stage runs it again (and only it, with --stage).
        let forced = try runProduct("r1-pipeline", ["--out", out, "--stage", "sft-2", "--force", "sft-2"] + Self.toy())
        #expect(forced.status == 0 && !forced.stdout.contains("finished before"), "\(forced.stderr)")
    }

    /// Stopped after zero's first update and run again: zero resumes, the later stages run, and
    /// every stage's results equal those of an uninterrupted run (itself run twice: the same).
    @Test func aStoppedStageResumesAndThePipelineIsDeterministic() throws {
        let whole = try Self.out()
        let split = try Self.out()
        defer { for f in [whole, split] { try? FileManager.default.removeItem(atPath: f) } }
        let stages = ["--stage", "zero", "--stage", "cold-start-data", "--stage", "cold-start-sft"]
        #expect(try runProduct("r1-pipeline", ["--out", whole] + stages + Self.toy()).status == 0)
        let stop = try runProduct("r1-pipeline", ["--out", split, "--stop-at", "1"] + stages + Self.toy())
        #expect(stop.status == 0, "\(stop.stderr)")
        #expect(try RunResults.load(from: "\(Self.stem(split, "zero")).h5").status == "interrupted")
        #expect(!FileManager.default.fileExists(atPath: "\(Self.stem(split, "zero")).stage.json"))
        #expect(!FileManager.default.fileExists(atPath: "\(Self.stem(split, "cold-start-data")).h5"))
        let resumed = try runProduct("r1-pipeline", ["--out", split] + stages + Self.toy())
        #expect(resumed.status == 0, "\(resumed.stderr)")
        for stage in ["zero", "cold-start-data", "cold-start-sft"] {
            let a = try RunResults.load(from: "\(Self.stem(whole, stage)).h5")
            let b = try RunResults.load(from: "\(Self.stem(split, stage)).h5")
            // Every metric but the throughput (wall-clock time).
            let keys = Set(a.metrics.keys).union(b.metrics.keys).filter { !$0.hasPrefix("perf/") }
            for key in keys {  // bit for bit (an empty held-out set's loss is NaN in both)
                let (x, y) = (a.metrics[key], b.metrics[key])
                #expect(
                    x?.steps == y?.steps && x?.values.map(\.bitPattern) == y?.values.map(\.bitPattern),
                    "\(stage): \(key)")
            }
            #expect(a.summary == b.summary && a.samples == b.samples, "\(stage)")
        }
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: "\(Self.stem(whole, "cold-start-data")).data.json"))
                == Data(contentsOf: URL(fileURLWithPath: "\(Self.stem(split, "cold-start-data")).data.json")))
        let p = try Checkpoint.load(from: "\(Self.stem(whole, "cold-start-sft")).policy.h5")
        let q = try Checkpoint.load(from: "\(Self.stem(split, "cold-start-sft")).policy.h5")
        for (name, tensor) in p.parameters { #expect(q.parameter(name)!.isBitIdentical(to: tensor), "\(name)") }
    }

    @Test func missingOrForeignInputsAreNamedErrors() throws {
        let out = try Self.out()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let toy = try Self.toy()
        // A stage whose earlier stage has not run.
        let missing = try runProduct("r1-pipeline", ["--out", out, "--stage", "cold-start-sft"] + toy)
        #expect(
            missing.status != 0
                && missing.stderr.contains(
                    "'cold-start-sft' needs 'cold-start-data', which has not finished (no \(Self.stem(out, "cold-start-data")).stage.json)"
                ), "\(missing.stderr)")
        // zero made with another reward: cold-start-data does not build on it.
        #expect(try runProduct("r1-pipeline", ["--out", out, "--stage", "zero"] + toy).status == 0)
        let foreign = try runProduct(
            "r1-pipeline", ["--out", out, "--stage", "cold-start-data", "--set", "zero.reward.format=0.5"] + toy)
        #expect(
            foreign.status != 0 && foreign.stderr.contains("stage 'zero'") && foreign.stderr.contains("--force zero"))
        // A filter that keeps nothing: the SFT stage after it says so.
        let strict = ["--set", "coldStartData.filter.rules=[\"correct\"]"]
        #expect(try runProduct("r1-pipeline", ["--out", out, "--stage", "cold-start-data"] + toy + strict).status == 0)
        let empty = try runProduct("r1-pipeline", ["--out", out, "--stage", "cold-start-sft"] + toy + strict)
        #expect(empty.status != 0 && empty.stderr.contains("the data set is empty"), "\(empty.stderr)")
        // No base: the error names the file and what makes it.
        let noBase = try runProduct("r1-pipeline", ["--out", out + "-empty", "--set", "base=\(out)/none.h5"] + toy)
        try? FileManager.default.removeItem(atPath: out + "-empty")
        #expect(noBase.status != 0 && noBase.stderr.contains("\(out)/none.h5 does not exist"), "\(noBase.stderr)")
        // No student: the error names its key and file.
        let noStudent = try runProduct(
            "r1-pipeline", ["--out", out, "--stage", "student-rl", "--set", "distill.student=\(out)/none.h5"] + toy)
        #expect(noStudent.status != 0 && noStudent.stderr.contains("distill.student: \(out)/none.h5 does not exist"))
        // An unknown stage, and --resume.
        let unknown = try runProduct("r1-pipeline", ["--out", out, "--stage", "distil"] + toy)
        #expect(unknown.status != 0 && unknown.stderr.contains("no stage 'distil'"))
        let resume = try runProduct("r1-pipeline", ["--out", out, "--resume", "x.h5"] + toy)
        #expect(resume.status != 0 && resume.stderr.contains("stages resume by themselves"))
    }

    @Test func everyAblationResolves() throws {
        let ablations = try experimentAblations("r1-pipeline")
        #expect(Set(ablations) == ["base", "no-language-reward", "no-cold-start", "cold-start-small", "zero-dr-grpo"])
        let list = try runProduct("r1-pipeline", ["--list-ablations"])
        #expect(list.status == 0 && ablations.allSatisfy { list.stdout.contains($0) })
    }
}
