// Where a run or checkpoint came from: git commit, date, Swift version, threads, command line.
import Foundation

public struct Provenance: Codable, Sendable, Equatable {
    public var gitCommit: String
    public var date: String
    public var swiftVersion: String
    public var threads: Int
    public var command: String

    public init(gitCommit: String, date: String, swiftVersion: String, threads: Int, command: String) {
        self.gitCommit = gitCommit
        self.date = date
        self.swiftVersion = swiftVersion
        self.threads = threads
        self.command = command
    }

    /// The provenance of the current process. The git commit is that of the checkout holding the
    /// running executable (where it was built: `.build/release/...` of a clone), wherever the run
    /// is started from; "+dirty" when that checkout has uncommitted changes to the code a result
    /// depends on (Package.swift, Packages/, Experiments/: an edited note does not make a run
    /// dirty); "unknown" for an executable outside any git checkout.
    public static func current(threads: Int) -> Provenance {
        Provenance(
            gitCommit: gitCommit(), date: ISO8601DateFormatter().string(from: Date()), swiftVersion: swiftVersion,
            threads: threads, command: CommandLine.arguments.joined(separator: " "))
    }

    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    static var swiftVersion: String {
        #if compiler(>=6.4)
            "6.4+"
        #elseif compiler(>=6.3)
            "6.3"
        #elseif compiler(>=6.2)
            "6.2"
        #elseif compiler(>=6.1)
            "6.1"
        #else
            "6.0"
        #endif
    }

    /// What a run's results depend on, from the repository root (lab's staleness check looks at
    /// the same paths).
    public static let codePaths = ["Package.swift", "Packages", "Experiments"]

    static func gitCommit() -> String {
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        let folder = (executable as NSString).deletingLastPathComponent
        guard let head = run("/usr/bin/env", ["git", "-C", folder, "rev-parse", "HEAD"]) else { return "unknown" }
        let dirty =
            run(
                "/usr/bin/env",
                ["git", "-C", folder, "status", "--porcelain", "--untracked-files=no", "--"]
                    + codePaths.map { ":/" + $0 }
            ).map { !$0.isEmpty } ?? false
        return head + (dirty ? "+dirty" : "")
    }

    /// Runs a command; its trimmed standard output, or nil when it cannot start or fails.
    public static func run(_ executable: String, _ arguments: [String]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
