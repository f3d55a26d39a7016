// The pretraining loop under `mpirun`: 2 processes equal 1 process with gradient accumulation 2 at
// the same global batch bit for bit (two addends sum exactly in either order), 4 agree within float
// rounding (MPI sums four in another order than a loop), a run stopped under 2 processes resumes
// in 1, a process killed midway fails the job with its rank named, and what data parallelism cannot
// split is refused by key. Skipped where no `mpirun` is installed.
import Foundation
import HDF5Store
import TestSupport
import Testing

let mpirun = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// A short nano-transformer run (about a second a step on one thread).
func shortRun(steps: Int, accumulation: Int, out: String) -> [String] {
    [
        "--set", "steps=\(steps)", "--set", "gradAccumulation=\(accumulation)", "--set", "batchSize=4",
        "--set", "evalEvery=2", "--set", "checkpointEvery=2", "--set", "contextEvaluation=false",
        "--set", "inferenceBenchmark=false", "--threads", "1", "--out", out,
    ]
}

/// `mpirun -np n <product> arguments` (as root too; more processes than cores allowed).
func launch(_ n: Int, _ arguments: [String], product: String = "nano-transformer") throws -> ProcessResult {
    try runExecutable(
        mpirun!, ["--allow-run-as-root", "--oversubscribe", "-np", "\(n)", productPath(product)] + arguments)
}

/// Every metric but timings and every parameter of two runs: the largest difference, relative
/// to the values' size where they are above 1 (0: bit for bit).
func largestDifference(_ a: String, _ b: String) throws -> Float {
    let (ra, rb) = (try RunResults.load(from: a + ".h5"), try RunResults.load(from: b + ".h5"))
    var worst: Float = 0
    func compare(_ x: [Float], _ y: [Float], _ what: String) {
        #expect(x.count == y.count, "\(what)")
        for (u, v) in zip(x, y) where u != v { worst = max(worst, abs(u - v) / max(abs(u), abs(v), 1)) }
    }
    let timed = { (key: String) in key.hasPrefix("perf/") }
    #expect(Set(ra.metrics.keys.filter { !timed($0) }) == Set(rb.metrics.keys.filter { !timed($0) }))
    for (key, series) in ra.metrics where !timed(key) {
        #expect(series.steps == rb.metrics[key]?.steps, "\(key)")
        compare(series.values.map(Float.init), (rb.metrics[key]?.values ?? []).map(Float.init), key)
    }
    let (ca, cb) = (try Checkpoint.load(from: a + ".ckpt.h5"), try Checkpoint.load(from: b + ".ckpt.h5"))
    #expect(ca.step == cb.step && ca.parameters.map(\.name) == cb.parameters.map(\.name))
    for ((name, x), (_, y)) in zip(ca.parameters, cb.parameters) { compare(x.array, y.array, name) }
    #expect(ca.rngStreams == cb.rngStreams)
    return worst
}

@Suite(.serialized, .enabled(if: mpirun != nil, "no mpirun (Scripts/bootstrap installs openmpi-bin)"))
struct DataParallelTests {
    @Test func twoProcessesEqualOneWithAccumulationTwoBitForBit() throws {
        let out = temporaryFolder()
        let one = try runProduct("nano-transformer", shortRun(steps: 4, accumulation: 2, out: "\(out)/one"))
        #expect(one.status == 0, "\(one.stderr)")
        let scratch = { Set(try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())) }
        let before = try scratch()
        let two = try launch(2, shortRun(steps: 4, accumulation: 2, out: "\(out)/two"))
        #expect(two.status == 0, "\(two.stderr)")
        #expect(two.stdout.contains("data parallel: process 0 of 2") && !two.stdout.contains("process 1 of 2"))
        let run = "nano-transformer/base/seed-0"
        #expect(try largestDifference("\(out)/one/\(run)", "\(out)/two/\(run)") == 0)
        // Only rank 0 wrote: the other process's scratch folder is gone.
        #expect(!(try scratch().subtracting(before)).contains { $0.hasPrefix("lab-rank-1-of-2-") })
        #expect(try RunResults.load(from: "\(out)/two/\(run).h5").metrics["perf/allreduce_share"] != nil)
    }

    @Test func fourProcessesAgreeWithinRounding() throws {
        let out = temporaryFolder()
        _ = try runProduct("nano-transformer", shortRun(steps: 2, accumulation: 4, out: "\(out)/one"))
        let four = try launch(4, shortRun(steps: 2, accumulation: 4, out: "\(out)/four"))
        #expect(four.status == 0, "\(four.stderr)")
        let run = "nano-transformer/base/seed-0"
        let difference = try largestDifference("\(out)/one/\(run)", "\(out)/four/\(run)")
        #expect(difference < 1e-5, "\(difference)")
    }

    @Test func aRunStoppedUnderTwoProcessesResumesInOne() throws {
        let out = temporaryFolder()
        let run = "nano-transformer/base/seed-0"
        let stopped = try launch(2, shortRun(steps: 4, accumulation: 2, out: "\(out)/split") + ["--stop-at", "2"])
        #expect(stopped.status == 0, "\(stopped.stderr)")
        let resumed = try runProduct(
            "nano-transformer",
            shortRun(steps: 4, accumulation: 2, out: "\(out)/split") + ["--resume", "\(out)/split/\(run).ckpt.h5"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        _ = try runProduct("nano-transformer", shortRun(steps: 4, accumulation: 2, out: "\(out)/whole"))
        #expect(try largestDifference("\(out)/whole/\(run)", "\(out)/split/\(run)") == 0)
    }

    @Test func whatCannotBeSplitIsRefusedByKey() throws {
        let out = temporaryFolder()
        let odd = try launch(2, shortRun(steps: 2, accumulation: 3, out: out))
        #expect(odd.status != 0 && odd.stderr.contains("key 'gradAccumulation' = 3"), "\(odd.stderr)")
        let dropout = try launch(
            2, shortRun(steps: 2, accumulation: 2, out: out + "/d") + ["--set", "model.dropout=0.1"])
        #expect(dropout.status != 0 && dropout.stderr.contains("key 'model.dropout'"), "\(dropout.stderr)")
        // MoE's bias balancing reads one process's routing counts.
        let moe = try launch(
            2, ["--steps", "1", "--set", "training.gradAccumulation=2", "--out", out + "/m"], product: "moe")
        #expect(moe.status != 0 && moe.stderr.contains("MoE's bias balancing"), "\(moe.stderr)")
        // An experiment that does not train data parallel would train a copy per process.
        let copies = try launch(2, ["--steps", "5", "--out", out + "/c"], product: "mlp-demo")
        #expect(copies.status != 0 && copies.stderr.contains("mlp-demo trains as one process"), "\(copies.stderr)")
    }

    @Test func aKilledProcessFailsTheJobAndTheLastCheckpointResumes() throws {
        let out = temporaryFolder()
        let run = "nano-transformer/base/seed-0"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: mpirun!)
        process.arguments =
            ["--allow-run-as-root", "--oversubscribe", "-np", "2", productPath("nano-transformer")]
            + shortRun(steps: 16, accumulation: 2, out: out)
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Once a checkpoint is on disk, kill the process of rank 1.
        let checkpoint = "\(out)/\(run).ckpt.h5"
        for _ in 0..<600 where !FileManager.default.fileExists(atPath: checkpoint) { usleep(100_000) }
        #expect(FileManager.default.fileExists(atPath: checkpoint))
        let rank1 = try #require(processes(under: process.processIdentifier).first { rankOf($0) == 1 })
        kill(rank1, SIGKILL)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(stderr.contains("rank 1") && stderr.contains("signal 9"), "\(stderr)")
        let results = try RunResults.load(from: "\(out)/\(run).h5")
        #expect(results.status != "finished")
        // The last checkpoint resumes (here in one process) to the end an uninterrupted run reaches.
        let resumed = try runProduct(
            "nano-transformer", shortRun(steps: 16, accumulation: 2, out: out) + ["--resume", checkpoint])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        _ = try runProduct("nano-transformer", shortRun(steps: 16, accumulation: 2, out: out + "/whole"))
        #expect(try largestDifference("\(out)/whole/\(run)", "\(out)/\(run)") == 0)
    }
}

extension DataParallelTests {
    /// A stop signal (a scheduler's SIGTERM) reaches the processes at their own moments; here it
    /// reaches rank 1 alone. They agree to stop after the same update, rank 0 checkpoints, and
    /// the run resumes to the end an uninterrupted one reaches.
    @Test func aSignalStopsEveryProcessAfterTheSameUpdate() throws {
        let out = temporaryFolder()
        let run = "nano-transformer/base/seed-0"
        let arguments = shortRun(steps: 40, accumulation: 2, out: out) + ["--set", "checkpointEvery=4"]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: mpirun!)
        process.arguments =
            ["--allow-run-as-root", "--oversubscribe", "-np", "2", productPath("nano-transformer")] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Once training is under way (its first checkpoint is written), signal rank 1.
        for _ in 0..<600 where !FileManager.default.fileExists(atPath: "\(out)/\(run).ckpt.h5") { usleep(100_000) }
        let rank1 = try #require(processes(under: process.processIdentifier).first { rankOf($0) == 1 })
        kill(rank1, SIGTERM)
        process.waitUntilExit()
        let stopped = try RunResults.load(from: "\(out)/\(run).h5")
        let step = try Checkpoint.load(from: "\(out)/\(run).ckpt.h5").step
        #expect(stopped.status == "interrupted")
        #expect(step > 4 && step < 40)
        #expect(stopped.metrics["loss/train"]?.steps.last.map(Int.init) == step)
        let resumed = try launch(2, arguments + ["--resume", "\(out)/\(run).ckpt.h5"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        _ = try runProduct("nano-transformer", arguments.map { $0 == out ? out + "/whole" : $0 })
        #expect(try largestDifference("\(out)/whole/\(run)", "\(out)/\(run)") == 0)
    }
}

/// The descendants of `pid` (mpirun's launcher forks the ranks).
func processes(under pid: Int32) -> [Int32] {
    var found: [Int32] = []
    var frontier = [pid]
    while let p = frontier.popLast() {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(p)/task")) ?? []
        for t in tasks {
            let text = (try? String(contentsOfFile: "/proc/\(p)/task/\(t)/children", encoding: .utf8)) ?? ""
            for child in text.split(separator: " ").compactMap({ Int32($0) }) {
                found.append(child)
                frontier.append(child)
            }
        }
    }
    return found
}

/// The rank a launched process was given (from its environment), nil for another process.
func rankOf(_ pid: Int32) -> Int? {
    guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return nil }
    for entry in data.split(separator: 0) {
        let text = String(decoding: entry, as: UTF8.self)
        if text.hasPrefix("OMPI_COMM_WORLD_RANK=") { return Int(text.dropFirst("OMPI_COMM_WORLD_RANK=".count)) }
    }
    return nil
}
