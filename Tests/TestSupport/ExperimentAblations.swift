// An experiment's ablations as its tests see them: one per config file beside its source.
import Foundation

/// The ablation names of an experiment: the stems of `Experiments/<experiment>/configs/*.json`.
public func experimentAblations(_ experiment: String, testFile: String = #filePath) throws -> [String] {
    let folder = URL(fileURLWithPath: testFile).deletingLastPathComponent()
        .appendingPathComponent("../../Experiments/\(experiment)/configs").standardized.path
    return try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".json") }
        .map { String($0.dropLast(5)) }.sorted()
}
