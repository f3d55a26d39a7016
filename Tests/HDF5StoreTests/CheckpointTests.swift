import Foundation
import HDF5Store
// Checkpoints and results files: full round trips, shape-mismatch reports, truncation on
// resume, and reading a checkpoint from Python with h5py alone (Scripts/inspect_h5.py).
import LabSupport
import TensorCore
import TestSupport
import Testing

func sampleState() -> TrainingState {
    var rng = RNG(seed: 5)
    let mlp = MLP(sizes: [3, 4, 2], activation: .tanh, rng: &rng)
    let opt = Adam.adamW(mlp.namedParameters())
    for p in mlp.parameters { p.grad = Tensor.full(p.shape, 0.1) }
    opt.step(lr: 0.01)
    return TrainingState(
        step: 17, parameters: mlp.namedParameters(), optimizer: opt.exportState(),
        rngStreams: ["data": rng.stateWords, "dropout": RNG(seed: 9).stateWords],
        tensors: ["obs_norm/mean": Tensor([1, 2, 3])], counters: ["cursor": 1234, "skipped": 2],
        configJSON: "{\"lr\":0.01}",
        provenance: Provenance(gitCommit: "abc", date: "2026-11-29", swiftVersion: "6.3", threads: 2, command: "t"))
}

@Suite struct CheckpointTests {
    @Test func checkpointRoundTripsEveryPart() throws {
        let path = temporaryFolder() + "/run/ckpt.h5"
        let state = sampleState()
        try Checkpoint.save(state, to: path)
        let back = try Checkpoint.load(from: path)
        #expect(back.step == 17)
        #expect(back.parameters.map(\.name) == state.parameters.map(\.name).sorted())
        for (name, tensor) in state.parameters { #expect(back.parameter(name)!.isBitIdentical(to: tensor)) }
        #expect(back.optimizer!.step == 1)
        #expect(Set(back.optimizer!.tensors.keys) == Set(state.optimizer!.tensors.keys))
        for (key, t) in state.optimizer!.tensors { #expect(back.optimizer!.tensors[key]!.isBitIdentical(to: t)) }
        #expect(back.rngStreams == state.rngStreams)
        #expect(back.tensors["obs_norm/mean"]!.array == [1, 2, 3])
        #expect(back.counters == ["cursor": 1234, "skipped": 2])
        #expect(back.configJSON == "{\"lr\":0.01}" && back.provenance == state.provenance)
        let leftovers = try FileManager.default.contentsOfDirectory(
            atPath: (path as NSString).deletingLastPathComponent)
        #expect(leftovers == ["ckpt.h5"])
    }

    @Test func restoreListsEveryMismatchByName() throws {
        let path = temporaryFolder() + "/ckpt.h5"
        try Checkpoint.save(sampleState(), to: path)
        let state = try Checkpoint.load(from: path)
        var rng = RNG(seed: 1)
        let other = MLP(sizes: [3, 5, 2], activation: .tanh, bias: true, rng: &rng)
        var params = other.namedParameters()
        params.removeLast()  // layers.1.bias missing from the model
        params.append((name: "extra.weight", tensor: Tensor.zeros([1])))
        let error = expectLabError(.hdf5) { try Checkpoint.restore(params, from: state, path: path) }
        let message = error?.message ?? ""
        #expect(message.hasPrefix("\(path): checkpoint does not fit the model: "))
        #expect(message.contains("'layers.0.weight' is [4, 3] in the checkpoint, [5, 3] in the model"))
        #expect(message.contains("'layers.0.bias' is [4] in the checkpoint, [5] in the model"))
        #expect(message.contains("'layers.1.weight' is [2, 4] in the checkpoint, [2, 5] in the model"))
        #expect(message.contains("missing 'extra.weight'"))
        #expect(message.contains("unexpected 'layers.1.bias'"))
        // A matching model restores bit for bit.
        var rng2 = RNG(seed: 2)
        let same = MLP(sizes: [3, 4, 2], activation: .tanh, rng: &rng2)
        try Checkpoint.restore(same.namedParameters(), from: state, path: path)
        #expect(same.parameter(named: "layers.1.weight")!.isBitIdentical(to: state.parameter("layers.1.weight")!))
    }

    @Test func resultsFileRoundTripsAndTruncatesForResume() throws {
        let path = temporaryFolder() + "/results.h5"
        let writer = try ResultsWriter(
            path: path,
            results: RunResults(experiment: "demo", ablation: "base", seed: 3, configJSON: "{}", provenanceJSON: "{}"))
        for step in 1...5 {
            writer.log(["loss/train": Double(10 - step), "charts/accuracy": Double(step) / 10], step: step)
        }
        writer.sample("generations", step: 5, "to be or not")
        writer.summary("loss/val_final", 4.5)
        try writer.close(status: "finished")
        var back = try RunResults.load(from: path)
        #expect(back.experiment == "demo" && back.ablation == "base" && back.seed == 3 && back.status == "finished")
        #expect(back.metrics["loss/train"] == MetricSeries(steps: [1, 2, 3, 4, 5], values: [9, 8, 7, 6, 5]))
        #expect(back.metrics["charts/accuracy"]!.values.last == 0.5)
        #expect(back.samples["generations"]!.texts == ["to be or not"])
        #expect(back.summary == ["loss/val_final": 4.5])
        back.truncate(after: 3)
        #expect(back.metrics["loss/train"]!.steps == [1, 2, 3] && back.samples["generations"]!.steps.isEmpty)
    }

    @Test func resultsAndCheckpointsAreNotMistakenForEachOther() throws {
        let folder = temporaryFolder()
        try Checkpoint.save(sampleState(), to: folder + "/c.h5")
        #expect(
            throws: LabError(
                .hdf5,
                "\(folder)/c.h5: not a results file of this project (no format attribute 'llm-pipeline-lab/results/1')")
        ) {
            try RunResults.load(from: folder + "/c.h5")
        }
        try RunResults(experiment: "x", ablation: "y", seed: 0, configJSON: "{}", provenanceJSON: "{}").save(
            to: folder + "/r.h5")
        expectLabError(.hdf5) { try Checkpoint.load(from: folder + "/r.h5") }
    }

    /// Needs python3 with h5py and numpy (Scripts/bootstrap installs them; CI has them).
    @Test func pythonReadsACheckpointWithH5pyAlone() throws {
        let path = temporaryFolder() + "/ckpt.h5"
        let state = sampleState()
        try Checkpoint.save(state, to: path)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Scripts/inspect_h5.py").standardized.path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, path, "--tensor", "params/layers.0.weight"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(
            process.terminationStatus == 0,
            "inspect_h5.py failed (is h5py installed? run Scripts/bootstrap):\n\(output)")
        #expect(output.contains("@format = llm-pipeline-lab/checkpoint/1"))
        #expect(output.contains("layers.0.weight: float32 [4, 3]"))
        #expect(output.contains("exp_avg/"))
        struct Report: Decodable {
            let shape: [Int]
            let dtype: String
            let sum: Double
            let first: [Double]
        }
        let lastLine = output.split(separator: "\n").last.map(String.init) ?? ""
        let report = try JSONDecoder().decode(Report.self, from: Data(lastLine.utf8))
        let tensor = state.parameter("layers.0.weight")!
        #expect(report.shape == [4, 3] && report.dtype == "float32")
        #expect(abs(report.sum - tensor.array.reduce(0) { $0 + Double($1) }) < 1e-9)
        #expect(report.first == tensor.array.prefix(4).map(Double.init))
    }
}
