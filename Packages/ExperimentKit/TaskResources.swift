// What one run of an experiment needs from a cluster: the threads it is given (Slurm's
// --cpus-per-task) and the memory to ask for (Slurm's --mem). Each experiment declares its own in
// its main.swift, from a measurement (Scripts/measure-resources: the peak resident memory of its
// ablations' short runs, with headroom); `<experiment> --resources` prints it, and `lab sweep` asks
// for it unless --threads or --mem say otherwise.
import Foundation
import LabSupport

public struct TaskResources: Codable, Sendable, Equatable {
    /// Threads per run: results do not depend on them (bit for bit), so a study gains more from
    /// more runs at a time than from more threads per run.
    public var threads: Int
    /// Slurm's --mem: a whole number with a unit K, M, G or T.
    public var memory: String

    public init(threads: Int = 1, memory: String) {
        self.threads = threads
        self.memory = memory
    }

    /// The declaration as `--resources` prints it (one JSON line).
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// Parses what `--resources` printed; `source` names the executable in errors.
    public static func parse(_ text: String, source: String) throws -> TaskResources {
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
            let resources = try? JSONDecoder().decode(TaskResources.self, from: Data(line.utf8))
        else {
            throw LabError(
                .config, "\(source) --resources: expected a JSON line with threads and memory, got '\(text)'")
        }
        return resources
    }
}
