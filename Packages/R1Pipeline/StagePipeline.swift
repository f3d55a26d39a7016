import Crypto
import Foundation
import HDF5Store
// The R1 recipe as a pipeline of named stages (zero, cold-start-data, cold-start-sft, ...): each
// stage reads what the stage before it wrote and writes its own files into <folder>/<stage>/, then
// `stage.json`, last and atomically, naming its config's SHA-256 and its input's. So:
//   - a stage whose `stage.json` exists with the same config and input is finished: skipped, its
//     files untouched (unless forced);
//   - a stage whose earlier stage has no `stage.json` cannot run: a named error, not a run on
//     nothing;
//   - a finished stage made with another config, or from another input, is never silently reused
//     or overwritten: a named error says to force it;
//   - a stage that was interrupted (files but no `stage.json`) runs again; it resumes from its
//     own checkpoint if its closure does (the stages built on the shared loop do).
import LabSupport

public struct Stage {
    public let name: String
    /// The stage's settings as JSON: what its digest is taken from.
    public let configJSON: String
    /// Runs the stage: the previous stage's folder (nil for the first) and this stage's folder.
    public let run: (_ input: String?, _ output: String) throws -> Void

    public init(name: String, configJSON: String, run: @escaping (_ input: String?, _ output: String) throws -> Void) {
        (self.name, self.configJSON, self.run) = (name, configJSON, run)
    }
}

public struct StageRecord: Codable, Equatable, Sendable {
    public var stage: String
    public var configSHA256: String
    /// The previous stage's record digest (nil for the first stage).
    public var inputSHA256: String?
}

public enum StageOutcome: Equatable, Sendable {
    case ran(String)
    case skipped(String)
}

public struct StagePipeline {
    public let folder: String
    public let stages: [Stage]

    public init(folder: String, stages: [Stage]) throws {
        let names = stages.map(\.name)
        guard Set(names).count == names.count else {
            throw LabError(.config, "r1-pipeline: stage names repeat: \(names)")
        }
        (self.folder, self.stages) = (folder, stages)
    }

    func recordPath(_ stage: String) -> String { "\(folder)/\(stage)/stage.json" }

    static func sha256(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    func record(_ stage: String) throws -> StageRecord? {
        let path = recordPath(stage)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do { return try JSONDecoder().decode(StageRecord.self, from: data) } catch {
            throw LabError(
                .config, "\(path): not a stage record (\(error.localizedDescription)); remove it or force the stage")
        }
    }

    /// Runs the stages named in `only` (all when nil), in pipeline order; `force` re-runs those
    /// even when finished.
    @discardableResult
    public func run(only: Set<String>? = nil, force: Set<String> = []) throws -> [StageOutcome] {
        let known = Set(stages.map(\.name))
        if let unknown = (only ?? []).union(force).subtracting(known).sorted().first {
            throw LabError(
                .config, "r1-pipeline: no stage '\(unknown)' (stages: \(stages.map(\.name).joined(separator: ", ")))")
        }
        var outcomes: [StageOutcome] = []
        for (k, stage) in stages.enumerated() where only?.contains(stage.name) ?? true {
            let previous = k > 0 ? stages[k - 1] : nil
            var inputDigest: String?
            if let previous {
                guard let record = try record(previous.name) else {
                    throw LabError(
                        .config,
                        "r1-pipeline: stage '\(stage.name)' needs '\(previous.name)', which has not finished (no \(recordPath(previous.name))): run it first"
                    )
                }
                guard record.configSHA256 == Self.sha256(previous.configJSON) else {
                    throw LabError(
                        .config,
                        "r1-pipeline: stage '\(previous.name)' at \(recordPath(previous.name)) was made with another config than this pipeline's; force it (--force \(previous.name)) before '\(stage.name)'"
                    )
                }
                inputDigest = Self.sha256(try String(contentsOfFile: recordPath(previous.name), encoding: .utf8))
            }
            let mine = StageRecord(
                stage: stage.name, configSHA256: Self.sha256(stage.configJSON), inputSHA256: inputDigest)
            if let existing = try record(stage.name), !force.contains(stage.name) {
                guard existing == mine else {
                    throw LabError(
                        .config,
                        "r1-pipeline: stage '\(stage.name)' at \(recordPath(stage.name)) was made with another config or input; force it (--force \(stage.name)) to run it again"
                    )
                }
                outcomes.append(.skipped(stage.name))
                continue
            }
            let output = "\(folder)/\(stage.name)"
            try? FileManager.default.removeItem(atPath: recordPath(stage.name))  // forced: unfinished until done
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            try stage.run(previous.map { "\(folder)/\($0.name)" }, output)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try writeFileDurably(Array(try encoder.encode(mine)), to: recordPath(stage.name) + ".tmp")
            guard rename(recordPath(stage.name) + ".tmp", recordPath(stage.name)) == 0 else {
                throw LabError(.config, "\(recordPath(stage.name)): cannot move the stage record into place")
            }
            outcomes.append(.ran(stage.name))
        }
        return outcomes
    }
}
