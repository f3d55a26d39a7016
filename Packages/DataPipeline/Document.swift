// A document of the pipeline: an id, its text, the source it came from, and the rest of its
// record kept as metadata. JSONL records read as {"id": ..., "text": ..., "source": ..., ...}; a
// record without an id gets "<file stem>:<line>", without a source its file's stem. Every other
// field is kept in metadata as its JSON text ("\"web\"", "42", "[1,2]"), so a record written back
// holds the same values and types.
import Foundation

public struct Document: Sendable, Equatable {
    public var id: String
    public var text: String
    public var source: String
    /// Field name → the value's JSON text.
    public var metadata: [String: String]

    public init(id: String, text: String, source: String, metadata: [String: String] = [:]) {
        (self.id, self.text, self.source, self.metadata) = (id, text, source, metadata)
    }
}

/// A record the reader could not turn into a document: where it is and why (the rest is read on).
public struct BadRecord: Sendable, Equatable, Codable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var reason: String

    public var description: String { "\(file):\(line): \(reason)" }
}
