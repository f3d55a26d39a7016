import Foundation
// Streaming documents from files: JSONL (one object per line, text in a named field) or plain
// text with a separator line between documents. Each document carries its file and byte offset
// so a later pass can re-read it without keeping the text in memory.
import LabSupport

public enum DocumentFormat: Codable, Sendable, Equatable {
    /// One JSON object per line; the document is the string in `field`.
    case jsonl(field: String)
    /// Plain text; a line equal to `separator` (for example "%" or "") ends a document.
    case text(separator: String)
}

public struct DocumentLocation: Sendable, Hashable {
    public let file: Int
    public let offset: UInt64
    public let length: Int
}

/// Reads documents one at a time; the file is read in blocks, never whole.
struct DocumentStream {
    let paths: [String]
    let format: DocumentFormat

    /// Calls `body(text, rawRecord, location)` for every document of every file, in order.
    func forEachDocument(_ body: (String, Data, DocumentLocation) throws -> Void) throws {
        for (fileIndex, path) in paths.enumerated() {
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw LabError(.dedup, "\(path): cannot open")
            }
            defer { try? handle.close() }
            var reader = LineReader(handle: handle)
            var lineNumber = 0
            var pending = Data()
            var pendingStart: UInt64 = 0
            func flushText() throws {
                defer { pending.removeAll(keepingCapacity: true) }
                guard !pending.isEmpty else { return }
                var raw = pending
                if raw.last == 0x0A { raw.removeLast() }
                let text = String(decoding: raw, as: UTF8.self)
                try body(text, raw, DocumentLocation(file: fileIndex, offset: pendingStart, length: pending.count))
            }
            while let (line, offset) = try reader.next() {
                lineNumber += 1
                switch format {
                case .jsonl(let field):
                    let trimmed = line.last == 0x0A ? line.dropLast() : line[...]
                    if trimmed.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                    guard let object = try? JSONSerialization.jsonObject(with: Data(trimmed)) as? [String: Any] else {
                        throw LabError(.dedup, "\(path):\(lineNumber): not a JSON object")
                    }
                    guard let text = object[field] as? String else {
                        throw LabError(.dedup, "\(path):\(lineNumber): no string field '\(field)'")
                    }
                    try body(text, Data(trimmed), DocumentLocation(file: fileIndex, offset: offset, length: line.count))
                case .text(let separator):
                    let content = String(decoding: line.last == 0x0A ? line.dropLast() : line[...], as: UTF8.self)
                    if content == separator {
                        try flushText()
                        pendingStart = offset + UInt64(line.count)
                    } else {
                        if pending.isEmpty { pendingStart = offset }
                        pending.append(line)
                    }
                }
            }
            try flushText()
        }
    }

    /// Re-reads one document's text.
    func read(_ location: DocumentLocation) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: paths[location.file]) else {
            throw LabError(.dedup, "\(paths[location.file]): cannot open")
        }
        defer { try? handle.close() }
        try handle.seek(toOffset: location.offset)
        var data = try handle.read(upToCount: location.length) ?? Data()
        switch format {
        case .jsonl(let field):
            if data.last == 0x0A { data.removeLast() }
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            return object?[field] as? String ?? ""
        case .text:
            if data.last == 0x0A { data.removeLast() }
            return String(decoding: data, as: UTF8.self)
        }
    }
}

/// Lines of a file with their byte offsets, read in 1 MiB blocks.
struct LineReader {
    let handle: FileHandle
    var buffer = Data()
    var bufferOffset: UInt64 = 0
    var position = 0
    var eof = false

    init(handle: FileHandle) { self.handle = handle }

    mutating func next() throws -> (Data, UInt64)? {
        while true {
            if let newline = buffer[position...].firstIndex(of: 0x0A) {
                let line = buffer[position...newline]
                let offset = bufferOffset + UInt64(position - buffer.startIndex)
                position = newline + 1
                return (Data(line), offset)
            }
            if eof {
                guard position < buffer.endIndex else { return nil }
                let line = buffer[position...]
                let offset = bufferOffset + UInt64(position - buffer.startIndex)
                position = buffer.endIndex
                return (Data(line), offset)
            }
            let consumed = position - buffer.startIndex
            buffer = Data(buffer[position...])
            bufferOffset += UInt64(consumed)
            position = buffer.startIndex
            let more = try handle.read(upToCount: 1 << 20) ?? Data()
            if more.isEmpty { eof = true } else { buffer.append(more) }
        }
    }
}
