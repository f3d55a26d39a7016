import Foundation
import HDF5Store
// The data a sampling stage leaves for the SFT stage after it (cold-start-data, rejection-
// sampling): (prompt, response) pairs as text, each marked reasoning or preference, written as
// JSON to a temporary file and renamed (a reader never sees half a file). Reading it back checks
// it: a missing, damaged or empty file is a named error, never an SFT on nothing.
import LabSupport

public struct ReasoningDataSet: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case reasoning, preference }

    public struct Example: Codable, Sendable, Equatable {
        public var prompt: String
        public var response: String
        public var kind: Kind

        public init(prompt: String, response: String, kind: Kind) {
            (self.prompt, self.response, self.kind) = (prompt, response, kind)
        }
    }

    public var examples: [Example]

    public init(examples: [Example]) { self.examples = examples }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let temporary = path + ".tmp"
        try writeFileDurably(Array(try encoder.encode(self)), to: temporary)
        guard rename(temporary, path) == 0 else {
            throw LabError(
                .config, "\(path): cannot move the data set into place (\(String(cString: strerror(errno))))")
        }
    }

    public static func load(from path: String) throws -> ReasoningDataSet {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LabError(.config, "\(path): no data set here (the stage that makes it has not run)")
        }
        let set: ReasoningDataSet
        do { set = try JSONDecoder().decode(ReasoningDataSet.self, from: data) } catch {
            throw LabError(
                .config, "\(path): not a data set (\(error.localizedDescription)); force the stage that makes it")
        }
        guard !set.examples.isEmpty else {
            throw LabError(
                .config, "\(path): the data set is empty (every sample was rejected): nothing to fine-tune on")
        }
        return set
    }
}
