import ExperimentKit
import Foundation
import HDF5Store
// The kit end to end on its demo experiment: ablations x seeds into results files, compare and
// plots, bit-identical resume, Ctrl-C, a process killed while checkpointing, and one-line
// errors with a non-zero exit for every kind of bad input.
import LabSupport
import TensorCore
import TestSupport
import Testing

func options(_ arguments: [String]) throws -> ExperimentOptions {
    try ExperimentOptions.parse(arguments)
}

/// Runs the demo in-process, quietly, owning the thread count it sets (TestSupport/ThreadCount.swift).
func runDemo(_ arguments: [String]) async throws -> RunOutcome {
    var runner = ExperimentRunner<MLPDemo>(options: try options(arguments))
    runner.log = { _ in }
    return try await withThreadCount(runner.options.threads) { try runner.runAll() }
}

@Suite(.serialized) struct DemoExperimentTests {
    @Test func ablationsAndSeedsProduceResultsThatCompare() async throws {
        let out = temporaryFolder()
        _ = try await runDemo(["--all-ablations", "--seeds", "0,1", "--steps", "60", "--out", out, "--threads", "1"])
        for ablation in ["base", "sgd", "no-dropout", "relu"] {
            for seed in [0, 1] {
                let r = try RunResults.load(from: "\(out)/mlp-demo/\(ablation)/seed-\(seed).h5")
                #expect(r.status == "finished" && r.seed == seed && r.ablation == ablation)
                #expect(r.metrics["loss/train"]!.steps == (1...60).map(Int64.init))
                #expect(r.metrics["loss/val"]!.steps.last == 60)
            }
        }
    }

    @Test func sameSeedGivesIdenticalMetricsAndTheLossFalls() async throws {
        let a = temporaryFolder() + "/a"
        let b = temporaryFolder() + "/b"
        _ = try await runDemo(["--seed", "3", "--out", a, "--threads", "1"])
        _ = try await runDemo(["--seed", "3", "--out", b, "--threads", "2"])
        let ra = try RunResults.load(from: "\(a)/mlp-demo/base/seed-3.h5")
        let rb = try RunResults.load(from: "\(b)/mlp-demo/base/seed-3.h5")
        #expect(ra.metrics == rb.metrics)
        let val = ra.metrics["loss/val"]!.values
        #expect(val.last! < val.first! * 0.5, "validation loss \(val.first!) -> \(val.last!)")
        #expect(ra.metrics["charts/val_accuracy"]!.values.last! > 0.85)
    }

    @Test func resumeIsBitIdenticalToAnUninterruptedRun() async throws {
        let whole = temporaryFolder() + "/whole"
        let split = temporaryFolder() + "/split"
        let common = ["--seed", "1", "--set", "steps=150", "--set", "checkpointEvery=0", "--threads", "2"]
        #expect(try await runDemo(common + ["--out", whole]) == .finished)
        #expect(try await runDemo(common + ["--out", split, "--stop-at", "70"]) == .interrupted)
        let stopped = try RunResults.load(from: "\(split)/mlp-demo/base/seed-1.h5")
        #expect(stopped.status == "interrupted" && stopped.metrics["loss/train"]!.steps.last == 70)
        #expect(try Checkpoint.load(from: "\(split)/mlp-demo/base/seed-1.ckpt.h5").step == 70)
        #expect(
            try await runDemo(common + ["--out", split, "--resume", "\(split)/mlp-demo/base/seed-1.ckpt.h5"])
                == .finished)

        let a = try Checkpoint.load(from: "\(whole)/mlp-demo/base/seed-1.ckpt.h5")
        let b = try Checkpoint.load(from: "\(split)/mlp-demo/base/seed-1.ckpt.h5")
        #expect(a.step == 150 && b.step == 150)
        for (name, tensor) in a.parameters { #expect(b.parameter(name)!.isBitIdentical(to: tensor), "\(name)") }
        for (key, tensor) in a.optimizer!.tensors { #expect(b.optimizer!.tensors[key]!.isBitIdentical(to: tensor)) }
        #expect(a.rngStreams == b.rngStreams && a.counters == b.counters)
        let ra = try RunResults.load(from: "\(whole)/mlp-demo/base/seed-1.h5")
        let rb = try RunResults.load(from: "\(split)/mlp-demo/base/seed-1.h5")
        #expect(ra.metrics == rb.metrics && rb.status == "finished")
    }

    @Test func theCheckpointRebuildsItsNetworkFromTheFileAlone() async throws {
        let out = temporaryFolder()
        #expect(
            try await runDemo(["--out", out, "--set", "steps=20", "--set", "hidden=[8,4]", "--set", "activation=relu"])
                == .finished)
        let path = "\(out)/mlp-demo/base/seed-0.ckpt.h5"
        let loaded = try MLP.load(checkpoint: path)
        #expect(loaded.activation == .relu && loaded.layers.map { $0.weight.shape } == [[8, 2], [4, 8], [2, 4]])
        var rng = RNG(seed: 1)
        let reference = MLP(sizes: [2, 8, 4, 2], activation: .relu, rng: &rng)
        try Checkpoint.restore(reference.namedParameters(), from: try Checkpoint.load(from: path), path: path)
        let x = Tensor.randn([6, 2], rng: &rng)
        #expect(withNoGrad { loaded(x) }.array == withNoGrad { reference(x) }.array)
    }

    @Test func resumeRefusesACheckpointOfAnotherConfig() async throws {
        let out = temporaryFolder()
        _ = try await runDemo(["--out", out, "--set", "steps=20", "--set", "hidden=[8]"])
        let error = await expectLabError(.config) {
            try await runDemo(["--out", out, "--set", "steps=20", "--resume", "\(out)/mlp-demo/base/seed-0.ckpt.h5"])
        }
        #expect(error?.message.contains("checkpoint was written with a different config (keys: hidden)") == true)
    }
}

@Suite(.serialized) struct CommandLineTests {
    /// Runs a product expecting failure: a non-zero exit and one line on stderr containing `text`.
    func expectOneLineError(_ product: String, _ arguments: [String], contains text: String) throws {
        let result = try runProduct(product, arguments)
        #expect(result.status != 0, "\(product) \(arguments) should fail")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.stderr)")
        #expect(result.stderr.contains(text), "stderr: \(result.stderr)")
    }

    @Test func badInputsGiveOneLineErrorsAndNonZeroExit() throws {
        let folder = temporaryFolder()
        let malformed = writeJSON(#"{"steps": }"#, "malformed.json", in: folder)
        try expectOneLineError(
            "mlp-demo", ["--config", malformed, "--out", folder], contains: "\(malformed): malformed JSON")
        let unknown = writeJSON(#"{"lr": 0.1}"#, "unknown.json", in: folder)
        try expectOneLineError(
            "mlp-demo", ["--config", unknown, "--out", folder], contains: "\(unknown): unknown key 'lr'")
        let wrongType = writeJSON(#"{"dropout": "high"}"#, "type.json", in: folder)
        try expectOneLineError(
            "mlp-demo", ["--config", wrongType, "--out", folder],
            contains: "\(wrongType): key 'dropout' must be a number, got a string")
        try expectOneLineError(
            "mlp-demo", ["--set", "dropout=1.5", "--out", folder],
            contains: "--set: key 'dropout' = 1.5: must be a finite number in [0.0, 1.0)")
        try expectOneLineError(
            "mlp-demo", ["--ablation", "nope", "--out", folder], contains: "unknown ablation 'nope'")
        try expectOneLineError(
            "lab", ["compare", "\(folder)/no-runs-here"], contains: "no-runs-here: no such file or folder")

        try RunResults(experiment: "mlp-demo", ablation: "base", seed: 0, configJSON: "{}", provenanceJSON: "{}")
            .save(to: "\(folder)/mixed/a.h5")
        try RunResults(experiment: "other", ablation: "base", seed: 0, configJSON: "{}", provenanceJSON: "{}")
            .save(to: "\(folder)/mixed/b.h5")
        try expectOneLineError("lab", ["compare", "\(folder)/mixed"], contains: "results of experiment 'other'")

        let notHDF5 = writeJSON("plain text", "notes.h5", in: folder)
        try expectOneLineError("lab", ["show", notHDF5], contains: "\(notHDF5): not an HDF5 file")
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/mixed/a.h5"))
        let truncated = "\(folder)/truncated.h5"
        try data.prefix(data.count / 3).write(to: URL(fileURLWithPath: truncated))
        try expectOneLineError("lab", ["show", truncated], contains: "\(truncated): truncated or corrupt HDF5 file")

        _ = try runProduct("mlp-demo", ["--out", folder, "--set", "steps=10", "--set", "hidden=[4]"])
        try expectOneLineError(
            "mlp-demo", ["--out", folder, "--set", "steps=10", "--resume", "\(folder)/mlp-demo/base/seed-0.ckpt.h5"],
            contains: "different config (keys: hidden)")
    }

    @Test func listAndShowDescribeWhatExists() throws {
        let list = try runProduct("lab", ["list"])
        #expect(list.status == 0 && list.stdout.contains("mlp-demo") && list.stdout.contains("sgd"))
        let folder = temporaryFolder()
        _ = try runProduct("mlp-demo", ["--out", folder, "--set", "steps=30"])
        let show = try runProduct("lab", ["show", "\(folder)/mlp-demo/base/seed-0.h5"])
        #expect(show.status == 0 && show.stdout.contains("status finished") && show.stdout.contains("loss/val"))
    }

    @Test func ctrlCFlushesResultsAndWritesACheckpoint() throws {
        let folder = temporaryFolder()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: productPath("mlp-demo"))
        process.arguments = ["--out", folder, "--set", "steps=1000000", "--set", "checkpointEvery=0"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let results = "\(folder)/mlp-demo/base/seed-0.h5"
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: results) { usleep(20_000) }
        usleep(300_000)
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        #expect(process.terminationStatus == 130)
        let r = try RunResults.load(from: results)
        #expect(r.status == "interrupted")
        let state = try Checkpoint.load(from: "\(folder)/mlp-demo/base/seed-0.ckpt.h5")
        #expect(state.step > 0 && Int64(state.step) == r.metrics["loss/train"]!.steps.last)
    }

    @Test func killingTheProcessWhileItCheckpointsNeverLeavesABrokenCheckpoint() throws {
        let folder = temporaryFolder()
        let checkpoint = "\(folder)/mlp-demo/base/seed-0.ckpt.h5"
        var lastStep = 0
        for round in 0..<6 {
            // Each round resumes from the checkpoint the previous kill left behind.
            let process = Process()
            process.executableURL = URL(fileURLWithPath: productPath("mlp-demo"))
            process.arguments =
                ["--out", folder, "--set", "steps=1000000", "--set", "checkpointEvery=1"]
                + (round == 0 ? [] : ["--resume", checkpoint])
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Wait (up to 10 s, for a loaded machine) until this round has checkpointed a new step.
            for _ in 0..<500 where ((try? Checkpoint.load(from: checkpoint))?.step ?? 0) <= lastStep {
                usleep(20_000)
            }
            usleep(UInt32(30_000 + 37_000 * round))  // a different moment of the write loop each round
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let state = try Checkpoint.load(from: checkpoint)
            #expect(state.parameters.count == 6)
            #expect(state.step > lastStep, "round \(round): step \(state.step) after \(lastStep)")
            lastStep = state.step
            #expect(try RunResults.load(from: "\(folder)/mlp-demo/base/seed-0.h5").experiment == "mlp-demo")
        }
    }
}

@Suite struct ExtendsTests {
    @Test func anAblationLayersOverTheOneItExtends() async throws {
        let configs = temporaryFolder() + "/configs"
        try FileManager.default.createDirectory(atPath: configs, withIntermediateDirectories: true)
        _ = writeJSON(#"{"steps": 9}"#, "base.json", in: configs)
        _ = writeJSON(#"{"steps": 5, "batchSize": 16}"#, "family.json", in: configs)
        _ = writeJSON(#"{"_extends": "family", "batchSize": 8}"#, "child.json", in: configs)
        _ = writeJSON(#"{"_extends": "loop-b"}"#, "loop-a.json", in: configs)
        _ = writeJSON(#"{"_extends": "loop-a"}"#, "loop-b.json", in: configs)
        _ = writeJSON(#"{"_extends": "missing"}"#, "orphan.json", in: configs)
        let out = temporaryFolder()
        _ = try await runDemo(["--ablation", "child", "--configs", configs, "--out", out, "--threads", "1"])
        let r = try RunResults.load(from: "\(out)/mlp-demo/child/seed-0.h5")
        // steps from family (over base), batchSize from the child (over family).
        #expect(r.metrics["loss/train"]!.steps.count == 5)
        #expect(r.configJSON.contains(#""batchSize":8"#), "\(r.configJSON)")
        await expectLabError(.config) {
            _ = try await runDemo(["--ablation", "loop-a", "--configs", configs, "--out", out])
        }
        do {
            _ = try await runDemo(["--ablation", "orphan", "--configs", configs, "--out", out])
            Issue.record("an _extends of a missing ablation must fail")
        } catch let e as LabError where e.domain == .config {
            #expect(e.description.contains("orphan.json") && e.description.contains("missing"), "\(e)")
        }
    }
}
