// lab sweep: the plan's checks, the Slurm scripts it writes, each task's decision (skip, resume,
// start again, start) and the same task list run here, where a stopped run resumes to the end an
// uninterrupted run reaches. Scripts/slurm-check runs it on a real single-node Slurm.
import ExperimentKit
import Foundation
import HDF5Store
import LabNotes
import LabSupport
import TestSupport
import Testing

@Suite(.serialized) struct SweepTests {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..")
        .standardized.path
    var build: String { (productPath("mlp-demo") as NSString).deletingLastPathComponent }

    func plan(
        ablations: [String]? = ["base", "relu"], seeds: [Int] = [0, 1], memory: String? = "2G", time: String? = nil,
        threads: Int? = 1, out: String = "/tmp/sweep-out", buildFolder: String? = nil
    ) throws -> Sweep {
        try Sweep.plan(
            experiment: "mlp-demo", ablations: ablations, seeds: seeds, sets: ["steps=60"], out: out, threads: threads,
            memory: memory, time: time, partition: nil, then: .compare, root: root, buildFolder: buildFolder ?? build)
    }

    @Test func planChecksItsInputsBeforeWriting() throws {
        #expect(try plan(ablations: nil).tasks.count == 8)  // every ablation (base, no-dropout, relu, sgd) x 2
        #expect(try plan().tasks.map { "\($0.ablation)/\($0.seed)" } == ["base/0", "base/1", "relu/0", "relu/1"])
        #expect(expectLabError(.config) { try plan(ablations: ["base", "nope"]) }?.message.contains("'nope'") == true)
        #expect(expectLabError(.config) { try plan(seeds: [0, 0]) }?.message.contains("--seeds") == true)
        #expect(expectLabError(.config) { try plan(seeds: [-1]) } != nil)
        #expect(expectLabError(.config) { try plan(memory: "lots") }?.message.contains("--mem") == true)
        #expect(expectLabError(.config) { try plan(time: "soon") }?.message.contains("--time") == true)
        #expect(expectLabError(.config) { try plan(threads: 0) }?.message.contains("--threads") == true)
        #expect(
            expectLabError(.config) { try plan(buildFolder: "/nonexistent") }?.message.contains(
                "/nonexistent/mlp-demo") == true)
        #expect(
            expectLabError(.config) {
                try Sweep.plan(
                    experiment: "no-such", ablations: nil, seeds: [0], sets: [], out: "x", threads: 1, memory: "1G",
                    time: nil, partition: nil, then: .none, root: root, buildFolder: build)
            }?.message.contains("no-such") == true)
    }

    /// Without --threads and --mem a task asks for what the experiment declares it needs (its
    /// `--resources`); each given option replaces its half; a declaration that is not one is named.
    @Test func resourcesComeFromTheExperimentUnlessGiven() throws {
        let printed = try runProduct("mlp-demo", ["--resources"])
        #expect(printed.status == 0, "\(printed.stderr)")
        let declared = try TaskResources.parse(printed.stdout, source: "mlp-demo")
        let sweep = try plan(memory: nil, threads: nil)
        #expect(sweep.threads == declared.threads && sweep.memory == declared.memory)
        #expect(sweep.arrayScript().contains("#SBATCH --mem=\(declared.memory)\n"))
        let mixed = try plan(memory: nil, threads: 2)
        #expect(mixed.threads == 2 && mixed.memory == declared.memory)
        #expect(try plan(memory: "3G", threads: nil).memory == "3G")
        let error = expectLabError(.config) { try TaskResources.parse("Usage: ...", source: "x") }
        #expect(error?.message.contains("x --resources: expected a JSON line") == true)
    }

    /// The array script lists tasks as words: an ablation file named with a space is refused.
    @Test func anAblationNameMustBeOneWord() throws {
        let fake = temporaryFolder()
        try FileManager.default.createDirectory(
            atPath: "\(fake)/Experiments/demo/configs", withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: "\(fake)/Experiments/demo/configs/two words.json"))
        #expect(
            FileManager.default.createFile(
                atPath: "\(fake)/demo", contents: Data(), attributes: [.posixPermissions: 0o755]))
        let error = expectLabError(.config) {
            try Sweep.plan(
                experiment: "demo", ablations: nil, seeds: [0], sets: [], out: fake, threads: 1, memory: "1G",
                time: nil, partition: nil, then: .none, root: fake, buildFolder: fake)
        }
        #expect(error?.message.contains("ablation 'two words'") == true)
    }

    @Test func arrayScriptHasOneTaskPerRunAndResourcesFromThePlan() throws {
        let sweep = try plan(memory: "3G", time: "0:30:00", threads: 2)
        let script = sweep.arrayScript()
        for line in [
            "#SBATCH --array=0-3", "#SBATCH --cpus-per-task=2", "#SBATCH --mem=3G", "#SBATCH --time=0:30:00",
            "#SBATCH --requeue", "#SBATCH --output=/tmp/sweep-out/mlp-demo/sweep/slurm-%A_%a.out",
            "tasks=('base 0' 'base 1' 'relu 0' 'relu 1')", "log=/tmp/sweep-out/mlp-demo/\"$ablation/seed-$seed.log\"",
        ] {
            #expect(script.contains(line + "\n"), "\(line)")
        }
        #expect(
            script.contains(
                "exec \(sweep.lab) sweep-task --plan /tmp/sweep-out/mlp-demo/sweep/sweep.json --ablation \"$ablation\" --seed \"$seed\" >> \"$log\" 2>&1"
            ))
        let then = try #require(sweep.thenScript())
        #expect(then.contains("--kill-on-invalid-dep=yes") && then.contains(" compare /tmp/sweep-out/mlp-demo "))
        #expect(then.contains("> /tmp/sweep-out/mlp-demo/sweep/compare.md"))
        #expect(sweep.log(of: sweep.tasks[3]) == "/tmp/sweep-out/mlp-demo/relu/seed-1.log")
    }

    @Test func eachTaskDecidesFromItsFiles() throws {
        let out = temporaryFolder()
        let paths = (results: "\(out)/r.h5", checkpoint: "\(out)/r.ckpt.h5")
        #expect(SweepAction.decide(results: paths.results, checkpoint: paths.checkpoint) == .start)
        // A run stopped at step 20: results and checkpoint, so it resumes.
        _ = try runProduct("mlp-demo", ["--out", out, "--steps", "60", "--stop-at", "20"])
        let run = "\(out)/mlp-demo/base/seed-0"
        #expect(
            SweepAction.decide(results: run + ".h5", checkpoint: run + ".ckpt.h5")
                == .resume(checkpoint: run + ".ckpt.h5"))
        #expect(
            SweepAction.resume(checkpoint: "c").experimentArguments(
                ablation: "a", seed: 3, out: "o", threads: 1, sets: ["k=v"])
                == ["--ablation", "a", "--seed", "3", "--out", "o", "--threads", "1", "--set", "k=v", "--resume", "c"])
        // Without its checkpoint (killed before the first one) it starts again, replacing the results.
        try FileManager.default.removeItem(atPath: run + ".ckpt.h5")
        guard case .restart(let reason) = SweepAction.decide(results: run + ".h5", checkpoint: run + ".ckpt.h5") else {
            Issue.record("not a restart")
            return
        }
        #expect(reason.contains("status interrupted"))
        #expect(
            SweepAction.restart(reason: "").experimentArguments(
                ablation: "a", seed: 0, out: "o", threads: 1, sets: [])?.last == "--overwrite")
        // Damaged results, no checkpoint: nothing to continue either.
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: paths.results))
        #expect(
            SweepAction.decide(results: paths.results, checkpoint: paths.checkpoint)
                == .restart(
                    reason: "\(paths.results): unreadable and no checkpoint to continue from"))
        // Finished: skipped.
        let finished = try runProduct("mlp-demo", ["--out", out, "--steps", "30", "--seed", "1"])
        #expect(finished.status == 0, "\(finished.stderr)")
        let done = "\(out)/mlp-demo/base/seed-1"
        #expect(SweepAction.decide(results: done + ".h5", checkpoint: done + ".ckpt.h5") == .skip)
        #expect(SweepAction.skip.experimentArguments(ablation: "a", seed: 0, out: "o", threads: 1, sets: []) == nil)
    }

    @Test func localSweepResumesAStoppedRunAndSkipsFinishedOnes() throws {
        let out = temporaryFolder()
        let arguments = [
            "sweep", "mlp-demo", "--ablations", "base,relu", "--seeds", "0,1", "--set", "steps=60", "--out", out,
            "--local", "2", "--root", root,
        ]
        // One run of the study stopped midway beforehand, as a preempted task leaves it.
        let stopped = try runProduct(
            "mlp-demo", ["--out", out, "--set", "steps=60", "--seed", "0", "--stop-at", "20", "--threads", "1"])
        #expect(FileManager.default.fileExists(atPath: "\(out)/mlp-demo/base/seed-0.ckpt.h5"), "\(stopped.stderr)")
        let first = try runProduct("lab", arguments)
        #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
        #expect(first.stdout.contains("| base | 2 |") && first.stdout.contains("| relu | 2 |"))
        #expect(FileManager.default.fileExists(atPath: "\(out)/mlp-demo/sweep/compare.md"))
        for (a, s) in [("base", 0), ("base", 1), ("relu", 0), ("relu", 1)] {
            #expect(try RunResults.load(from: "\(out)/mlp-demo/\(a)/seed-\(s).h5").status == "finished")
        }
        let log = try String(contentsOfFile: "\(out)/mlp-demo/base/seed-0.log", encoding: .utf8)
        #expect(log.contains("seed-0.ckpt.h5: resuming"))
        // The resumed run equals an uninterrupted one, point for point.
        let twin = temporaryFolder()
        _ = try runProduct("mlp-demo", ["--out", twin, "--set", "steps=60", "--seed", "0", "--threads", "1"])
        let (a, b) = (
            try RunResults.load(from: "\(out)/mlp-demo/base/seed-0.h5"),
            try RunResults.load(from: "\(twin)/mlp-demo/base/seed-0.h5")
        )
        for key in ["loss/train", "loss/val", "charts/val_accuracy"] {
            #expect(a.metrics[key]?.values == b.metrics[key]?.values && a.metrics[key]?.steps == b.metrics[key]?.steps)
        }
        // Again: every task finds its finished results and skips.
        let again = try runProduct("lab", arguments + ["--then", "none"])
        #expect(again.status == 0, "\(again.stderr)")
        for (a, s) in [("base", 0), ("base", 1), ("relu", 0), ("relu", 1)] {
            let text = try String(contentsOfFile: "\(out)/mlp-demo/\(a)/seed-\(s).log", encoding: .utf8)
            #expect(text.hasSuffix("finished; skipped\n"), "\(a) \(s)")
        }
        // Another study (other overrides) into the same folder is refused: it would skip these runs.
        let other = try runProduct(
            "lab",
            ["sweep", "mlp-demo", "--seeds", "0", "--set", "steps=61", "--out", out, "--local", "1", "--root", root])
        #expect(other.status != 0 && other.stderr.contains("sweep/sweep.json") && other.stderr.contains("steps=60"))
        // A task that fails is named with its log, and the sweep exits non-zero.
        let bad = temporaryFolder()
        let failing = try runProduct(
            "lab",
            ["sweep", "mlp-demo", "--seeds", "0", "--set", "steps=-1", "--out", bad, "--local", "1", "--root", root])
        #expect(failing.status != 0 && failing.stdout.contains("failed: base seed 0"), "\(failing.stdout)")
        // The Slurm scripts without Slurm: written, and a submit command printed.
        let slurm = temporaryFolder()
        let scripts = try runProduct(
            "lab",
            ["sweep", "mlp-demo", "--seeds", "0", "--set", "steps=60", "--out", slurm, "--slurm", "--root", root])
        #expect(scripts.status == 0, "\(scripts.stderr)")
        #expect(scripts.stdout.contains("sbatch --parsable \(slurm)/mlp-demo/sweep/array.sbatch"))
        #expect(FileManager.default.isExecutableFile(atPath: "\(slurm)/mlp-demo/sweep/then.sbatch"))
        let flags = try runProduct("lab", ["sweep", "mlp-demo", "--seeds", "0", "--out", bad])
        #expect(flags.status != 0 && flags.stderr.contains("--slurm and --local"))
    }
}
