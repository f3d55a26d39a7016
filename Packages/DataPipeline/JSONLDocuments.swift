// JSONL in and out. Reading streams a file line by line (MinHash's LineReader: a line of any
// length, read in blocks, never the whole file at once); a line that is not valid UTF-8, not a
// JSON object, or has no string "text" is a BadRecord naming the file and line, and reading goes
// on. Writing goes to a temporary file beside the output, renamed over it at the end, so an
// interrupted run never leaves half a file under the output's name.
import Foundation
import LabSupport
import MinHash

public enum JSONLDocuments {
    /// Every document of `path` in order, and the records that could not be read.
    public static func read(_ path: String) throws -> (documents: [Document], bad: [BadRecord]) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw LabError(.config, "\(path): cannot open for reading")
        }
        defer { try? handle.close() }
        let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        var reader = LineReader(handle: handle, path: path)
        var documents: [Document] = []
        var bad: [BadRecord] = []
        var number = 0
        while let (bytes, _) = try reader.next() {
            number += 1
            var line = bytes[...]
            while let last = line.last, last == 0x0A || last == 0x0D { line = line.dropLast() }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }  // a blank line is no record
            switch parse(Array(line), stem: stem, number: number) {
            case .success(let d): documents.append(d)
            case .failure(let reason): bad.append(BadRecord(file: path, line: number, reason: reason.message))
            }
        }
        return (documents, bad)
    }

    struct Reason: Error { var message: String }

    static func parse(_ line: [UInt8], stem: String, number: Int) -> Result<Document, Reason> {
        guard String(validating: line, as: UTF8.self) != nil else {
            return .failure(Reason(message: "not valid UTF-8"))
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
            return .failure(Reason(message: "not a JSON object"))
        }
        guard let text = object["text"] as? String else {
            return .failure(Reason(message: "no string field \"text\""))
        }
        var metadata: [String: String] = [:]
        for (key, value) in object where !["id", "text", "source"].contains(key) {
            if let data = try? JSONSerialization.data(
                withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes])
            {
                metadata[key] = String(decoding: data, as: UTF8.self)
            }
        }
        let id = (object["id"] as? String) ?? (object["id"] as? NSNumber).map { "\($0)" } ?? "\(stem):\(number)"
        return .success(Document(id: id, text: text, source: (object["source"] as? String) ?? stem, metadata: metadata))
    }

    /// One JSON object per document: id, text, source and the metadata values (JSON text; one
    /// that is not valid JSON is written as a string), keys sorted.
    public static func record(_ d: Document) -> String {
        var object: [String: Any] = ["id": d.id, "text": d.text, "source": d.source]
        for (key, value) in d.metadata {
            object[key] =
                (try? JSONSerialization.jsonObject(with: Data(value.utf8), options: [.fragmentsAllowed])) ?? value
        }
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// Writes `documents` to `path` through a temporary file renamed over it.
    public static func write(_ documents: [Document], to path: String) throws {
        let temporary = path + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        var text = ""
        for d in documents {
            text += record(d)
            text += "\n"
        }
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: temporary, toPath: path)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw LabError(.config, "\(path): cannot write: \(error.localizedDescription)")
        }
    }
}
