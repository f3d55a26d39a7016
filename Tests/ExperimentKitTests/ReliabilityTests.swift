// Nothing lost, nothing crashes: each case a fault injector found, as a test on the demo
// experiment (the runner, the checkpoint and results layer and the training loop are the ones
// every experiment uses). Exit statuses: 0 finished (or stopped by --stop-at), 1 an error, 64 a
// bad command line, 128 + n a signal n; a trap would be 132 or 133, a segfault 139.
import ExperimentKit
import Foundation
import HDF5Store
import TensorCore
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A finished demo run of `steps` steps in a fresh folder; returns the folder.
func finishedRun(steps: Int = 20, seed: Int = 0, extra: [String] = []) throws -> String {
    let out = temporaryFolder()
    let r = try runProduct("mlp-demo", ["--out", out, "--seed", "\(seed)", "--set", "steps=\(steps)"] + extra)
    #expect(r.status == 0, "\(r.stderr)")
    return out
}

/// A demo process in the background that trains until stopped.
func longRun(_ out: String, checkpointEvery: Int = 0, resume: String? = nil) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: productPath("mlp-demo"))
    process.arguments =
        ["--out", out, "--set", "steps=100000000", "--set", "checkpointEvery=\(checkpointEvery)"]
        + (resume.map { ["--resume", $0] } ?? [])
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let results = "\(out)/mlp-demo/base/seed-0.h5"
    for _ in 0..<500 where !FileManager.default.fileExists(atPath: results) { usleep(20_000) }
    usleep(200_000)
    return process
}

@Suite(.serialized) struct ReliabilityTests {
    let paths = (results: "mlp-demo/base/seed-0.h5", checkpoint: "mlp-demo/base/seed-0.ckpt.h5")

    /// Validation every 12 of 12 steps and checkpointEvery 0: both only at the end.
    @Test func cadencesAtTheEndMeanOnlyAtTheEnd() throws {
        let out = try finishedRun(steps: 12, extra: ["--set", "evalEvery=12", "--set", "checkpointEvery=0"])
        let r = try RunResults.load(from: "\(out)/\(paths.results)")
        #expect(r.status == "finished" && r.metrics["loss/val"]!.steps == [12])
        #expect(try Checkpoint.load(from: "\(out)/\(paths.checkpoint)").step == 12)
    }

    @Test func badCommandLinesAreUsageErrors() throws {
        for (arguments, text) in [
            (["--seed=-1"], "--seed -1: seeds must be 0 or more"),
            (["--seeds=-1,2"], "--seeds -1: seeds must be 0 or more"),
            (["--seeds", "3,3"], "a seed is listed twice"),
            (["--threads=100000"], "--threads 100000: must be in 1...256"),
            (["--threads=0"], "must be in 1...256"), (["--stop-at", "0"], "--stop-at 0: must be at least 1"),
            (["--resume", "x.h5", "--overwrite"], "--resume continues a run; --overwrite replaces it"),
        ] {
            let r = try runProduct("mlp-demo", arguments + ["--out", temporaryFolder()])
            #expect(r.status == 64, "\(arguments): \(r.status)")
            #expect(r.stderr.contains(text), "\(arguments): \(r.stderr)")
        }
    }

    /// Each bad value names its exact key path, its value and the layer it came from.
    @Test func badValuesNameKeyValueAndLayer() throws {
        let folder = temporaryFolder()
        let file = writeJSON(#"{"valExamples": 0}"#, "zero.json", in: folder)
        for (arguments, text) in [
            (["--set", "steps=-1"], "--set: key 'steps' = -1: must be in 1...1000000000"),
            (["--set", "batchSize=0"], "--set: key 'batchSize' = 0: must be in 1...10000000"),
            (["--set", "evalEvery=0"], "--set: key 'evalEvery' = 0: must be in 1 or more"),
            (["--config", file], "\(file): key 'valExamples' = 0: must be in 1...10000000"),
            (
                ["--set", "trainExamples=32"],
                "defaults: key 'batchSize' = 64: must not exceed trainExamples (32) (with 'trainExamples' = 32 from --set)"
            ),
            (["--set", "...=3"], "--set ...=3: '...' must be key names separated by single dots"),
            (["--set", "noise=1e999"], "noise"),
        ] {
            let r = try runProduct("mlp-demo", arguments + ["--out", temporaryFolder()])
            #expect(r.status == 1, "\(arguments): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(text), "\(arguments): \(r.stderr)")
        }
    }

    @Test func aFinishedRunIsNotReplacedWithoutOverwrite() throws {
        let out = try finishedRun(steps: 30)
        let before = try Data(contentsOf: URL(fileURLWithPath: "\(out)/\(paths.checkpoint)"))
        let again = try runProduct("mlp-demo", ["--out", out, "--set", "steps=30", "--stop-at", "10"])
        #expect(again.status == 1 && again.stderr.contains("a run exists here (status finished)"), "\(again.stderr)")
        #expect(again.stderr.contains("--resume \(out)/\(paths.checkpoint)"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(out)/\(paths.checkpoint)")) == before)
        let replaced = try runProduct(
            "mlp-demo", ["--out", out, "--set", "steps=30", "--stop-at", "10", "--overwrite"])
        #expect(replaced.status == 0, "\(replaced.stderr)")
        #expect(try RunResults.load(from: "\(out)/\(paths.results)").metrics["loss/train"]!.steps.last == 10)
        #expect(try Checkpoint.load(from: "\(out)/\(paths.checkpoint)").step == 10)
    }

    @Test func aSecondWriterFailsAtOnceNamingTheFirst() throws {
        let out = temporaryFolder()
        let first = try longRun(out)
        defer {
            first.terminate()
            first.waitUntilExit()
        }
        let second = try runProduct("mlp-demo", ["--out", out, "--overwrite", "--set", "steps=5"])
        #expect(second.status == 1)
        #expect(
            second.stderr.contains("another process (pid \(first.processIdentifier)) is writing this run"),
            "\(second.stderr)")
        #expect(first.isRunning, "the first writer goes on")
    }

    /// SIGTERM (a scheduler's stop) and SIGHUP (a closed terminal) stop like Ctrl-C: a checkpoint
    /// of the last step, results marked interrupted, exit 128 + the signal.
    @Test(arguments: [SIGTERM, SIGHUP, SIGINT])
    func aStopSignalCheckpointsAndMarksTheRunInterrupted(signal: Int32) throws {
        let out = temporaryFolder()
        let process = try longRun(out)
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        #expect(process.terminationStatus == 128 + signal)
        let r = try RunResults.load(from: "\(out)/\(paths.results)")
        let state = try Checkpoint.load(from: "\(out)/\(paths.checkpoint)")
        #expect(r.status == "interrupted" && state.step > 0 && Int64(state.step) == r.metrics["loss/train"]!.steps.last)
        // And it resumes.
        let resumed = try runProduct(
            "mlp-demo", ["--out", out, "--set", "steps=\(state.step + 5)", "--resume", "\(out)/\(paths.checkpoint)"])
        #expect(resumed.status == 1 && resumed.stderr.contains("different config"), "another length is another config")
    }

    @Test func resumeNeedsTheRunsReadableHistory() throws {
        let out = temporaryFolder()
        let stopped = try runProduct("mlp-demo", ["--out", out, "--set", "steps=40", "--stop-at", "20"])
        #expect(stopped.status == 0, "--stop-at is a stop the user asked for: \(stopped.stderr)")
        let results = "\(out)/\(paths.results)"
        let resume = ["--out", out, "--set", "steps=40", "--resume", "\(out)/\(paths.checkpoint)"]
        // Damaged: the digest catches it; resume and lab both refuse.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: results)))
        let saved = bytes
        let file = try HDF5File(path: results, mode: .readWrite)
        try file.write([Double](repeating: 1, count: 20), shape: [20], to: "metrics/loss/train/value")
        file.close()
        for (product, arguments) in [("mlp-demo", resume), ("lab", ["show", results]), ("lab", ["compare", results])] {
            let r = try runProduct(product, arguments)
            #expect(r.status == 1 && r.stderr.contains("does not match its checksum"), "\(product): \(r.stderr)")
        }
        // Missing: an error, not a history that starts at step 20.
        try FileManager.default.removeItem(atPath: results)
        let missing = try runProduct("mlp-demo", resume)
        #expect(missing.status == 1 && missing.stderr.contains("no results file to continue"), "\(missing.stderr)")
        // Whole again: it resumes, saying what it drops.
        bytes = saved
        try Data(bytes).write(to: URL(fileURLWithPath: results))
        let ok = try runProduct("mlp-demo", resume)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try RunResults.load(from: results).metrics["loss/train"]!.steps.count == 40)
    }

    /// Checkpoints edited through HDF5 and re-sealed (a valid file, a valid digest, bad values):
    /// each is a named error at resume, never a trap or a quiet resume.
    @Test func editedCheckpointValuesAreNamedErrors() throws {
        let out = temporaryFolder()
        #expect(try runProduct("mlp-demo", ["--out", out, "--set", "steps=40", "--stop-at", "20"]).status == 0)
        let path = "\(out)/\(paths.checkpoint)"
        let original = try Checkpoint.load(from: path)
        let cases: [(String, (inout TrainingState) -> Void)] = [
            ("counter 'cursor' is nan", { $0.counters["cursor"] = .nan }),
            ("counter 'cursor' is 5000", { $0.counters["cursor"] = 5000 }),
            ("checkpoint is from seed 5", { $0.counters["seed"] = 5 }),
            ("no counter 'seed'", { $0.counters["seed"] = nil }),
            ("not a permutation", { $0.tensors["permutation"]!.data[0] = $0.tensors["permutation"]!.data[1] }),
            ("needs 4 words, not all zero", { $0.rngStreams["shuffle"] = [0, 0, 0, 0] }),
            ("no RNG stream 'dropout'", { $0.rngStreams["dropout"] = nil }),
            ("no /optimizer group", { $0.optimizer = nil }),
            ("is not finite", { $0.parameters[0].tensor.data[0] = .infinity }),
            ("missing 'layers.0.bias'", { $0.parameters.removeAll { $0.name == "layers.0.bias" } }),
            (
                "exp_avg_sq",
                { $0.optimizer!.tensors[$0.optimizer!.tensors.keys.first { $0.hasPrefix("exp_avg_sq") }!]!.fill(-1) }
            ),
        ]
        for (text, edit) in cases {
            var state = try Checkpoint.load(from: path)
            edit(&state)
            try Checkpoint.save(state, to: path)
            let r = try runProduct("mlp-demo", ["--out", out, "--set", "steps=40", "--resume", path])
            #expect(r.status == 1 && r.stderr.contains(text), "\(text): status \(r.status), \(r.stderr)")
            try Checkpoint.save(original, to: path)
        }
        #expect(try runProduct("mlp-demo", ["--out", out, "--set", "steps=40", "--resume", path]).status == 0)
    }

    @Test func temporariesLeftByAKilledWriterAreRemovedAtStart() throws {
        let out = try finishedRun(steps: 10)
        let stale = "\(out)/mlp-demo/base/seed-0.ckpt.h5.tmp-2147483646"
        _ = FileManager.default.createFile(atPath: stale, contents: Data(count: 1000))
        let r = try runProduct("mlp-demo", ["--out", out, "--set", "steps=10", "--overwrite"])
        #expect(r.status == 0 && r.stdout.contains("removed \(stale)"), "\(r.stdout)")
        #expect(!FileManager.default.fileExists(atPath: stale))
    }

    @Test func anUnwritablePlotFolderIsOneLine() throws {
        let out = try finishedRun(steps: 5)
        let blocker = "\(out)/file"
        _ = FileManager.default.createFile(atPath: blocker, contents: Data())
        let r = try runProduct("lab", ["compare", "\(out)/mlp-demo", "--plots", "\(blocker)/plots"])
        #expect(
            r.status == 1
                && r.stderr == "Error: \(blocker)/plots: cannot write mlp-demo-loss-train.svg: Not a directory\n")
    }

    /// A full disk (a 1 MB tmpfs as --out): a named ENOSPC error, exit 1, the results file marked
    /// failed, never a crash. Needs root to mount a tmpfs (CI's machines and this
    /// project's have it); elsewhere the writer's ENOSPC path is covered by IntegrityTests'
    /// /dev/full case.
    @Test(.enabled(if: getuid() == 0)) func aFullDiskEndsTheRunWithANamedError() throws {
        let mount = temporaryFolder() + "/small"
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        let mounted = Process()
        mounted.executableURL = URL(fileURLWithPath: "/bin/mount")
        mounted.arguments = ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mount]
        try mounted.run()
        mounted.waitUntilExit()
        try #require(mounted.terminationStatus == 0, "cannot mount a tmpfs here")
        defer {
            let unmount = Process()
            unmount.executableURL = URL(fileURLWithPath: "/bin/umount")
            unmount.arguments = [mount]
            try? unmount.run()
            unmount.waitUntilExit()
        }
        // A wide network: its checkpoint (weights and Adam's moments) does not fit 1 MB.
        let r = try runProduct(
            "mlp-demo",
            ["--out", mount, "--set", "hidden=[256,256]", "--set", "steps=50", "--set", "checkpointEvery=5"])
        #expect(r.status == 1, "exit \(r.status)")
        #expect(r.stderr.contains("No space left on device (errno 28)"), "\(r.stderr)")
        // The failed checkpoint's temporary is deleted first, so the results file has room to say so.
        #expect(try RunResults.load(from: "\(mount)/\(paths.results)").status == "failed")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: "\(mount)/mlp-demo/base")
        #expect(!leftovers.contains { $0.contains(".tmp-") }, "no temporary left: \(leftovers)")
    }
}
