// Streaming documents from files, byte for byte: JSONL (one object per line, the text in a named
// field) or plain text with a separator line between documents. Every document keeps its raw
// bytes, so what the dedup stage writes is what it read (invalid UTF-8 and CRLF line ends
// included). Reading is linear in the input however long a line is: the reader never rescans
// bytes it has already searched for a newline.
import Foundation
import LabSupport

public enum DocumentFormat: Codable, Sendable, Equatable {
    /// One JSON object per line; the document is the string in `field`.
    case jsonl(field: String)
    /// Plain text; a line equal to `separator` (for example "%" or "", a trailing CR ignored)
    /// ends a document.
    case text(separator: String)
}

public struct DocumentLocation: Sendable, Hashable {
    public let file: Int
    public let offset: UInt64
    public let length: Int
}

/// One document: its raw record (a JSONL line without its newline; a text document's lines
/// with their own line ends) and its text as UTF-8 (the JSON string; for text, the raw bytes).
struct Document {
    var raw: [UInt8]
    var text: [UInt8]
    var location: DocumentLocation
}

/// Reads documents one at a time; a file is read in blocks, never whole.
struct DocumentStream {
    let paths: [String]
    let format: DocumentFormat

    /// The raw line that separates text documents, as the input writes it (CRLF kept).
    private(set) var separatorLine: [UInt8]? = nil

    init(paths: [String], format: DocumentFormat) {
        self.paths = paths
        self.format = format
    }

    /// Calls `body` for every document of every file, in order.
    mutating func forEachDocument(_ body: (Document) throws -> Void) throws {
        for (fileIndex, path) in paths.enumerated() {
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw LabError(.dedup, "\(path): cannot open")
            }
            defer { try? handle.close() }
            var reader = LineReader(handle: handle, path: path)
            var lineNumber = 0
            var pending: [UInt8] = []
            var pendingStart: UInt64 = 0
            func flushText() throws {
                defer { pending.removeAll(keepingCapacity: true) }
                guard !pending.isEmpty else { return }
                try body(
                    Document(
                        raw: pending, text: pending,
                        location: DocumentLocation(file: fileIndex, offset: pendingStart, length: pending.count)))
            }
            while let (line, offset) = try reader.next() {
                lineNumber += 1
                var content = line.last == 0x0A ? line.dropLast() : line[...]
                switch format {
                case .jsonl(let field):
                    if content.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                    guard let object = try? JSONSerialization.jsonObject(with: Data(content)) as? [String: Any] else {
                        throw LabError(.dedup, "\(path):\(lineNumber): not a JSON object")
                    }
                    guard let text = object[field] as? String else {
                        throw LabError(.dedup, "\(path):\(lineNumber): no string field '\(field)'")
                    }
                    try body(
                        Document(
                            raw: Array(content), text: Array(text.utf8),
                            location: DocumentLocation(file: fileIndex, offset: offset, length: line.count)))
                case .text(let separator):
                    if content.last == 0x0D { content = content.dropLast() }
                    if content.elementsEqual(separator.utf8) {
                        if separatorLine == nil { separatorLine = line }
                        try flushText()
                        pendingStart = offset + UInt64(line.count)
                    } else {
                        if pending.isEmpty { pendingStart = offset }
                        pending += line
                    }
                }
            }
            try flushText()
        }
    }
}

/// Lines of a file (each with its newline, the last one perhaps without) and their byte offsets,
/// read in 1 MiB blocks. Each byte is searched once; the buffer is compacted only when the
/// consumed part is at least half of it, so a line of any length costs time linear in it.
public struct LineReader {
    let handle: FileHandle
    let path: String
    var buffer: [UInt8] = []
    var start = 0  // first byte not yet returned
    var searched = 0  // buffer[start ..< searched] holds no newline
    var bufferOffset: UInt64 = 0  // file offset of buffer[0]
    var eof = false
    /// Bytes handed to the newline search so far (the test of linear reading counts them).
    public private(set) var searchedBytes = 0

    /// Reads `handle`; errors name `path`.
    public init(handle: FileHandle, path: String) {
        self.handle = handle
        self.path = path
    }

    /// The next line with its newline (the last one perhaps without), and its byte offset.
    public mutating func next() throws -> ([UInt8], UInt64)? {
        while true {
            let from = max(start, searched)
            let newline: Int? = buffer.withUnsafeBufferPointer { b in
                guard from < b.count, let base = b.baseAddress,
                    let hit = memchr(base + from, 0x0A, b.count - from)
                else { return nil }
                return UnsafePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - base
            }
            searchedBytes += (newline.map { $0 + 1 } ?? buffer.count) - from
            if let newline {
                let line = Array(buffer[start...newline])
                let offset = bufferOffset + UInt64(start)
                start = newline + 1
                searched = start
                return (line, offset)
            }
            searched = buffer.count
            if eof {
                guard start < buffer.count else { return nil }
                let line = Array(buffer[start...])
                let offset = bufferOffset + UInt64(start)
                start = buffer.count
                return (line, offset)
            }
            if start > 0 && start * 2 >= buffer.count {
                buffer.removeFirst(start)
                bufferOffset += UInt64(start)
                searched -= start
                start = 0
            }
            let more: Data
            do { more = try handle.read(upToCount: 1 << 20) ?? Data() } catch {
                throw LabError(.dedup, "\(path): cannot read at byte \(bufferOffset + UInt64(buffer.count)): \(error)")
            }
            if more.isEmpty { eof = true } else { buffer.append(contentsOf: more) }
        }
    }
}
