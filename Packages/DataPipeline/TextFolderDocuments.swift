// Plain text folders in and out. A folder is one shard: every .txt file under it (searched
// recursively, taken in sorted order of their paths) is a document whose id is its path under the
// folder, whose source is the folder's name and whose text is the file; a file that is not UTF-8
// is a BadRecord naming it (line 0: the whole file), and reading goes on. Written back as a folder
// holding the kept documents under the same paths, built beside the output under a temporary name
// and renamed into place, so an interrupted run leaves no half-written folder under its name.
import Foundation
import LabSupport

public enum TextFolderDocuments {
    /// Whether `path` is a folder (a text-folder shard) rather than a JSONL file.
    public static func isFolder(_ path: String) -> Bool {
        var folder: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &folder) && folder.boolValue
    }

    /// Every .txt file of `folder` as a document, in path order, and the files that could not be read.
    public static func read(_ folder: String) throws -> (documents: [Document], bad: [BadRecord]) {
        guard isFolder(folder), let walker = FileManager.default.enumerator(atPath: folder) else {
            throw LabError(.config, "\(folder): cannot open the folder for reading")
        }
        let source = (folder as NSString).lastPathComponent
        let paths = walker.compactMap { $0 as? String }.filter { $0.hasSuffix(".txt") }.sorted()
        var documents: [Document] = []
        var bad: [BadRecord] = []
        for path in paths {
            guard let data = FileManager.default.contents(atPath: "\(folder)/\(path)") else {
                bad.append(BadRecord(file: "\(folder)/\(path)", line: 0, reason: "cannot be read"))
                continue
            }
            guard let text = String(validating: data, as: UTF8.self) else {
                bad.append(BadRecord(file: "\(folder)/\(path)", line: 0, reason: "not valid UTF-8"))
                continue
            }
            documents.append(Document(id: path, text: text, source: source))
        }
        return (documents, bad)
    }

    /// The documents as a folder of text files named by their ids (relative paths without "..").
    public static func write(_ documents: [Document], to folder: String) throws {
        for d in documents {
            let parts = d.id.split(separator: "/", omittingEmptySubsequences: false)
            if d.id.hasPrefix("/") || parts.contains("..") || parts.contains("") || !d.id.hasSuffix(".txt") {
                throw LabError(
                    .config, "\(folder): document id '\(d.id)' is not a relative path of a .txt file to write it under")
            }
        }
        let manager = FileManager.default
        let temporary = "\(folder).tmp-\(UUID().uuidString)"
        do {
            try manager.createDirectory(atPath: temporary, withIntermediateDirectories: true)
            for d in documents {
                let path = "\(temporary)/\(d.id)"
                try manager.createDirectory(
                    atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try Data(d.text.utf8).write(to: URL(fileURLWithPath: path))
            }
            if manager.fileExists(atPath: folder) { try manager.removeItem(atPath: folder) }
            try manager.moveItem(atPath: temporary, toPath: folder)
        } catch {
            try? manager.removeItem(atPath: temporary)
            throw LabError(.config, "\(folder): cannot write the text folder (\(error.localizedDescription))")
        }
    }
}
