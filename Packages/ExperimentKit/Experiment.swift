import Foundation
// An experiment: a name, a config type, the folder of its ablation configs, and a `run` that
// trains for one (ablation, seed) pair through a `Run` context.
import LabSupport

public protocol Experiment {
    associatedtype Config: ExperimentConfig
    /// kebab-case name: the executable, the runs/ folder, results files' `experiment` attribute.
    static var name: String { get }
    /// One line for `--help` and `lab list`.
    static var summary: String { get }
    /// Where its files are: `SourceLocation(#filePath)` in its main.swift.
    static var source: SourceLocation { get }
    /// Runs (or resumes, when `run.resumeState` is set) one run.
    static func run(_ run: Run<Config>) throws -> RunOutcome
    /// Whether its run trains data parallel when `mpirun -np N` starts it (the pretraining loop
    /// does); otherwise N processes would each train a copy, and the runner refuses.
    static var dataParallel: Bool { get }
    /// What one run needs from a cluster (threads, memory), measured: `lab sweep` asks for it.
    static var resources: TaskResources { get }
}

extension Experiment {
    public static var dataParallel: Bool { false }

    /// The experiment's `configs/` folder, beside its main.swift.
    public static var configsDirectory: String { source.configsDirectory }
}

public enum RunOutcome: Sendable, Equatable {
    case finished
    /// Stopped early (Ctrl-C or `--stop-at`) after writing a checkpoint.
    case interrupted
}

/// Where a run's files go: `<out>/<experiment>/<ablation>/seed-<n>.h5` for results and
/// `seed-<n>.ckpt.h5` beside it for the checkpoint.
public struct RunPaths: Sendable {
    public let results: String
    public let checkpoint: String

    public init(out: String, experiment: String, ablation: String, seed: Int) {
        let folder = "\(out)/\(experiment)/\(ablation)"
        results = "\(folder)/seed-\(seed).h5"
        checkpoint = "\(folder)/seed-\(seed).ckpt.h5"
    }
}

/// The ablations in a configs folder: every `*.json` but `base.json`, with `_description`.
public func listAblations(in directory: String) throws -> [(name: String, description: String)] {
    guard let files = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
        throw LabError(.config, "\(directory): no configs folder")
    }
    var out: [(String, String)] = [("base", try description(of: "\(directory)/base.json") ?? "the base config")]
    for file in files.sorted() where file.hasSuffix(".json") && file != "base.json" {
        out.append((String(file.dropLast(5)), try description(of: "\(directory)/\(file)") ?? ""))
    }
    return out
}

func description(of path: String) throws -> String? {
    guard let layer = try ConfigLayer.file(path, optional: true) else { return nil }
    if case .string(let text) = layer.values["_description"] { return text }
    return nil
}
