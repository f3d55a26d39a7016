// Where an experiment's files are, derived from the `#filePath` of its main.swift: its configs
// folder beside it and the repository root two levels up (Experiments/<name>/main.swift).
import Foundation

public struct SourceLocation: Sendable {
    public let folder: URL

    /// `filePath`: `#filePath` of a file in Experiments/<name>/.
    public init(_ filePath: String) { folder = URL(fileURLWithPath: filePath).deletingLastPathComponent() }

    public var configsDirectory: String { folder.appendingPathComponent("configs").path }

    public var repositoryRoot: String { folder.appendingPathComponent("../..").standardized.path }
}
