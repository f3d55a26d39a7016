// The GRPO loop under `mpirun`: each process generates its share of a step's rollout shards and
// computes its share of the gradient's parts; 2 processes equal 1 process with the same
// `grpo.shards` bit for bit, for a dense policy with a KL term (grpo), with dynamic sampling
// drawing several rounds (grpo's dapo) and for an MoE policy with routing replay and the sequence
// ratio (gspo); a run stopped under 2 processes resumes in 1; shards that the processes cannot
// share equally are refused by key. Skipped where no `mpirun` is installed.
import Foundation
import HDF5Store
import TestSupport
import Testing

// In DataParallelTests' serialized suite: another suite's processes would leave scratch folders
// while that suite checks that its own are gone.
extension DataParallelTests {
    /// Toy sizes (GRPOExperimentTests'), 2 prompts of 8 samples a step, `prefix` the config's
    /// nesting (gspo's GRPO run is under `rl`). The toy policy answers nothing right: a bonus on
    /// half the responses gives the groups advantages, so the runs train (and the comparison
    /// could fail: without it every gradient but the KL's is 0).
    static func grpoToy(_ prefix: String, shards: Int) -> [String] {
        [
            "evalTasks=6", "evaluation.samples=2", "evaluation.passK=[1,2]", "evaluation.maxNewTokens=12",
            "grpo.maxNewTokens=12", "grpo.overlong.window=4", "grpo.promptsPerStep=2", "grpo.rewardOutliers.share=0.5",
            "evalEvery=2",
            "checkpointEvery=1",
            "samplesShown=2", "grpo.shards=\(shards)",
        ].flatMap { ["--set", prefix + $0] } + ["--threads", "1"]
    }

    /// The toy reasoning-base and its MoE twin, under `out`/bases.
    static func grpoBases(_ out: String) throws -> String {
        let bases = out + "/bases"
        try runToyStage("base-models", ["--ablation", "base", "--steps", "4", "--out", bases] + toyStage)
        try runToyStage(
            "base-models",
            ["--ablation", "base-moe", "--steps", "4", "--out", bases, "--set", "moe.expertHidden=16"] + toyStage)
        return bases
    }

    /// A folder for one run's --out that sees the toy bases.
    static func runFolder(_ out: String, _ name: String, bases: String) throws -> String {
        let folder = "\(out)/\(name)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: "\(folder)/base-models", withDestinationPath: "\(bases)/base-models")
        return folder
    }

    @Test func grpoTwoProcessesEqualOneWithTheSameShardsAndAStoppedRunResumesInOne() throws {
        let out = temporaryFolder()
        let bases = try Self.grpoBases(out)
        // dapo: dynamic sampling; a rarer bonus leaves groups whose rewards are all equal, so a
        // step draws more rounds, every process in step with the others.
        let rarer = ["--set", "grpo.rewardOutliers.share=0.1", "--set", "grpo.maxSamplingRounds=20"]
        for (product, ablation, prefix, extra) in [
            ("grpo", "base", "", []), ("grpo", "dapo", "", rarer), ("gspo", "moe-replay", "rl.", []),
        ] {
            let arguments = ["--ablation", ablation, "--steps", "3"] + Self.grpoToy(prefix, shards: 2) + extra
            let one = try Self.runFolder(out, "\(product)-\(ablation)-one", bases: bases)
            let single = try runProduct(product, arguments + ["--out", one])
            #expect(single.status == 0, "\(single.stderr)")
            let two = try Self.runFolder(out, "\(product)-\(ablation)-two", bases: bases)
            let split = try launch(2, arguments + ["--out", two], product: product)
            try #require(split.status == 0, "\(split.stderr)")
            #expect(split.stdout.contains("data parallel: process 0 of 2"), "\(split.stdout)")
            let run = "\(product)/\(ablation)/seed-0"
            #expect(try largestDifference("\(one)/\(run)", "\(two)/\(run)") == 0, "\(product) \(ablation)")
            // The runs trained: every step had a gradient.
            let norms = try RunResults.load(from: "\(two)/\(run).h5").metrics["optim/grad_norm"]?.values ?? []
            #expect(norms.count == 3 && norms.allSatisfy { $0 > 0 }, "\(product): \(norms)")
            if ablation == "dapo" {
                let rounds =
                    try RunResults.load(from: "\(two)/\(run).h5").metrics["train/sampling_rounds"]?.values ?? []
                #expect(rounds.contains { $0 > 1 }, "dynamic sampling drew more than one round: \(rounds)")
            }
        }
        // Stopped after step 2 under 2 processes, resumed in 1: the uninterrupted run's end.
        let arguments = ["--ablation", "base", "--steps", "3"] + Self.grpoToy("", shards: 2)
        let stopped = try Self.runFolder(out, "grpo-stopped", bases: bases)
        let first = try launch(2, arguments + ["--out", stopped, "--stop-at", "2"], product: "grpo")
        #expect(first.status == 0, "\(first.stderr)")
        let run = "grpo/base/seed-0"
        let resumed = try runProduct("grpo", arguments + ["--out", stopped, "--resume", "\(stopped)/\(run).ckpt.h5"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try largestDifference("\(out)/grpo-base-one/\(run)", "\(stopped)/\(run)") == 0)
    }

    @Test func grpoShardsTheProcessesCannotShareAreRefusedByKey() throws {
        let out = temporaryFolder()
        let bases = try Self.grpoBases(out)
        let folder = try Self.runFolder(out, "odd", bases: bases)
        let odd = try launch(2, ["--steps", "1", "--out", folder] + Self.grpoToy("", shards: 1), product: "grpo")
        #expect(odd.status != 0 && odd.stderr.contains("grpo.shards: 1: 2 processes"), "\(odd.stderr)")
    }
}
