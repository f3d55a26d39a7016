import Crypto
import ExperimentKit
import Foundation
import HDF5Store
// The R1 recipe as a pipeline of named stages (zero, cold-start-data, cold-start-sft, ...): each
// stage reads what the stage it names as its input wrote, writes its own files, then its record
// (`recordPath`), last and atomically, naming its config's SHA-256 and its input's record's. So:
//   - a stage whose record exists with the same config and input is finished: skipped, its files
//     untouched (unless forced);
//   - a stage whose input has no record cannot run: a named error, not a run on nothing;
//   - a finished stage made with another config, or from another input, is never silently reused
//     or overwritten: a named error says to force it;
//   - a stage that was interrupted (files but no record) runs again; it resumes from its own
//     checkpoint when it has one (the stages built on the shared loop do);
//   - a stage that stops early (Ctrl-C, --stop-at) ends the pipeline there, without a record.
import LabSupport

public struct Stage {
    public let name: String
    /// The stage's settings as text: what its digest is taken from.
    public let configJSON: String
    /// The stage whose output it reads (nil: none of the pipeline's).
    public let input: String?
    /// Where its record goes.
    public let recordPath: String
    /// Runs the stage; `forced`: replace what an earlier run of it left.
    public let run: (_ forced: Bool) throws -> RunOutcome

    public init(
        name: String, configJSON: String, input: String?, recordPath: String,
        run: @escaping (_ forced: Bool) throws -> RunOutcome
    ) {
        (self.name, self.configJSON, self.input, self.recordPath, self.run) = (
            name, configJSON, input, recordPath, run
        )
    }
}

public struct StageRecord: Codable, Equatable, Sendable {
    public var stage: String
    public var configSHA256: String
    /// The input stage's record digest (nil when it reads none).
    public var inputSHA256: String?
}

public enum StageOutcome: Equatable, Sendable {
    case ran(String)
    case skipped(String)
    case interrupted(String)
}

public struct StagePipeline {
    public let stages: [Stage]

    public init(stages: [Stage]) throws {
        let names = stages.map(\.name)
        guard Set(names).count == names.count else {
            throw LabError(.config, "r1-pipeline: stage names repeat: \(names)")
        }
        for stage in stages {
            if let input = stage.input, !names.prefix(while: { $0 != stage.name }).contains(input) {
                throw LabError(.config, "r1-pipeline: stage '\(stage.name)' reads '\(input)', which is not before it")
            }
        }
        self.stages = stages
    }

    static func sha256(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func record(_ path: String) throws -> StageRecord? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do { return try JSONDecoder().decode(StageRecord.self, from: data) } catch {
            throw LabError(
                .config, "\(path): not a stage record (\(error.localizedDescription)); remove it or force the stage")
        }
    }

    /// Runs the stages named in `only` (all when nil), in pipeline order; `force` re-runs those
    /// even when finished. Stops at the first stage that stops early.
    @discardableResult
    public func run(only: Set<String>? = nil, force: Set<String> = []) throws -> [StageOutcome] {
        let byName = Dictionary(uniqueKeysWithValues: stages.map { ($0.name, $0) })
        if let unknown = (only ?? []).union(force).subtracting(byName.keys).sorted().first {
            throw LabError(
                .config, "r1-pipeline: no stage '\(unknown)' (stages: \(stages.map(\.name).joined(separator: ", ")))")
        }
        var outcomes: [StageOutcome] = []
        for stage in stages where only?.contains(stage.name) ?? true {
            var inputDigest: String?
            if let name = stage.input, let input = byName[name] {
                guard let record = try Self.record(input.recordPath) else {
                    throw LabError(
                        .config,
                        "r1-pipeline: stage '\(stage.name)' needs '\(name)', which has not finished (no \(input.recordPath)): run it first"
                    )
                }
                guard record.configSHA256 == Self.sha256(input.configJSON) else {
                    throw LabError(
                        .config,
                        "r1-pipeline: stage '\(name)' at \(input.recordPath) was made with another config than this pipeline's; force it (--force \(name)) before '\(stage.name)'"
                    )
                }
                inputDigest = Self.sha256(try String(contentsOfFile: input.recordPath, encoding: .utf8))
            }
            let mine = StageRecord(
                stage: stage.name, configSHA256: Self.sha256(stage.configJSON), inputSHA256: inputDigest)
            let forced = force.contains(stage.name)
            if !forced, let existing = try Self.record(stage.recordPath) {  // forced: even a damaged one goes
                guard existing == mine else {
                    throw LabError(
                        .config,
                        "r1-pipeline: stage '\(stage.name)' at \(stage.recordPath) was made with another config or input; force it (--force \(stage.name)) to run it again"
                    )
                }
                outcomes.append(.skipped(stage.name))
                continue
            }
            if FileManager.default.fileExists(atPath: stage.recordPath) {
                try FileManager.default.removeItem(atPath: stage.recordPath)  // forced: unfinished until done
            }
            guard case .finished = try stage.run(forced) else {
                outcomes.append(.interrupted(stage.name))
                return outcomes
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let temporary = stage.recordPath + ".tmp"
            try writeFileDurably(Array(try encoder.encode(mine)), to: temporary)
            guard rename(temporary, stage.recordPath) == 0 else {
                throw LabError(.config, "\(stage.recordPath): cannot move the stage record into place")
            }
            outcomes.append(.ran(stage.name))
        }
        return outcomes
    }
}
