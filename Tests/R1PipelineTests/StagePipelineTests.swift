import Foundation
// The stage pipeline: stages run in order and leave a record; a finished stage is skipped with its
// files untouched; forcing re-runs it; a stage whose input is missing, or made with another config,
// or a finished stage whose config changed, is a named error; an interrupted stage runs again.
import LabSupport
import R1Pipeline
import TestSupport
import Testing

@Suite struct StagePipelineTests {
    /// Three stages that each append their name to the previous stage's text, in <folder>/<stage>/.
    static func pipeline(
        _ folder: String, config: [String: String] = [:], counter: Counter, stopping: String? = nil
    ) throws -> StagePipeline {
        let names = ["zero", "cold-start-data", "cold-start-sft"]
        return try StagePipeline(
            stages: names.enumerated().map { k, name in
                let input = k > 0 ? names[k - 1] : nil
                return Stage(
                    name: name, configJSON: config[name] ?? "{}", input: input,
                    recordPath: "\(folder)/\(name)/stage.json"
                ) { _ in
                    counter.runs.append(name)
                    let before =
                        try input.map { try String(contentsOfFile: "\(folder)/\($0)/out.txt", encoding: .utf8) } ?? ""
                    try FileManager.default.createDirectory(
                        atPath: "\(folder)/\(name)", withIntermediateDirectories: true)
                    try (before + name + ";").write(
                        toFile: "\(folder)/\(name)/out.txt", atomically: true, encoding: .utf8)
                    return name == stopping ? .interrupted : .finished
                }
            })
    }

    final class Counter: @unchecked Sendable { var runs: [String] = [] }

    @Test func stagesRunSkipAndForce() throws {
        let folder = temporaryFolder()
        let counter = Counter()
        let p = try Self.pipeline(folder, counter: counter)
        #expect(try p.run() == [.ran("zero"), .ran("cold-start-data"), .ran("cold-start-sft")])
        #expect(
            try String(contentsOfFile: "\(folder)/cold-start-sft/out.txt", encoding: .utf8)
                == "zero;cold-start-data;cold-start-sft;")
        let before =
            try FileManager.default.attributesOfItem(atPath: "\(folder)/zero/out.txt")[.modificationDate] as? Date
        #expect(try p.run() == [.skipped("zero"), .skipped("cold-start-data"), .skipped("cold-start-sft")])
        let after =
            try FileManager.default.attributesOfItem(atPath: "\(folder)/zero/out.txt")[.modificationDate] as? Date
        #expect(before == after && counter.runs.count == 3)
        // Forcing one stage re-runs it; with the same config and input it writes the same record (a
        // stage is deterministic for its seed), so the next stage still counts as finished.
        #expect(try p.run(only: ["cold-start-data"], force: ["cold-start-data"]) == [.ran("cold-start-data")])
        #expect(try p.run(only: ["cold-start-sft"]) == [.skipped("cold-start-sft")])
        // An interrupted stage (files, no record) runs again.
        try FileManager.default.removeItem(atPath: "\(folder)/cold-start-sft/stage.json")
        #expect(try p.run(only: ["cold-start-sft"]) == [.ran("cold-start-sft")])
    }

    @Test func missingOrForeignInputsAreNamedErrors() throws {
        let folder = temporaryFolder()
        let counter = Counter()
        let p = try Self.pipeline(folder, counter: counter)
        let missing = expectLabError(.config) { try p.run(only: ["cold-start-sft"]) }
        #expect(
            missing?.message.contains("'cold-start-sft' needs 'cold-start-data'") == true,
            "\(String(describing: missing))")
        try p.run()
        // The same folder with another config for zero: its finished output is not reused.
        let other = try Self.pipeline(folder, config: ["zero": #"{"rule":"drGRPO"}"#], counter: counter)
        let foreign = expectLabError(.config) { try other.run(only: ["cold-start-data"]) }
        #expect(foreign?.message.contains("stage 'zero'") == true && foreign?.message.contains("--force zero") == true)
        let changed = expectLabError(.config) { try other.run(only: ["zero"]) }
        #expect(changed?.message.contains("another config") == true)
        #expect(try other.run(only: ["zero"], force: ["zero"]) == [.ran("zero")])
        let unknown = expectLabError(.config) { try p.run(only: ["distil"]) }
        #expect(unknown?.message.contains("no stage 'distil'") == true)
        expectLabError(.config) { try StagePipeline(stages: p.stages + p.stages) }
        // A stage may only read a stage before it.
        let backwards = expectLabError(.config) { try StagePipeline(stages: p.stages.reversed()) }
        #expect(backwards?.message.contains("which is not before it") == true, "\(String(describing: backwards))")
    }

    /// A damaged record is never read as finished (nor as unfinished): a named error says which.
    @Test func aDamagedRecordIsANamedError() throws {
        let folder = temporaryFolder()
        let counter = Counter()
        let p = try Self.pipeline(folder, counter: counter)
        try p.run()
        try Data("{\"stage\": 1".utf8).write(to: URL(fileURLWithPath: "\(folder)/zero/stage.json"))
        let damaged = expectLabError(.config) { try p.run(only: ["cold-start-data"]) }
        #expect(damaged?.message.contains("\(folder)/zero/stage.json: not a stage record") == true)
        #expect(try p.run(only: ["zero"], force: ["zero"]) == [.ran("zero")])
    }

    /// A stage that stops early ends the pipeline there, without a record; the next run runs it
    /// again and goes on.
    @Test func aStoppedStageEndsThePipelineWithoutARecord() throws {
        let folder = temporaryFolder()
        let counter = Counter()
        let stopping = try Self.pipeline(folder, counter: counter, stopping: "cold-start-data")
        #expect(try stopping.run() == [.ran("zero"), .interrupted("cold-start-data")])
        #expect(!FileManager.default.fileExists(atPath: "\(folder)/cold-start-data/stage.json"))
        let p = try Self.pipeline(folder, counter: counter)
        #expect(try p.run() == [.skipped("zero"), .ran("cold-start-data"), .ran("cold-start-sft")])
    }
}
