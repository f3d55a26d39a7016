// Plain text folders through the pipeline: every .txt file under the folder a document (id its
// path, source the folder's name), a file that is not UTF-8 named and the rest read, the kept
// files written back under the same paths, a folder and a JSONL shard in one run, an earlier
// output folder refused unless overwriting is asked for (and then replaced whole); and empty
// documents through every stage that needs no checkpoint.
import DataPipeline
import Foundation
import LabSupport
import TestSupport
import Testing

@Suite struct TextFolderTests {
    @Test func aTextFolderGoesThroughThePipelineAndComesBackAsOne() throws {
        let root = temporaryFolder()
        let books = "\(root)/books"
        try FileManager.default.createDirectory(atPath: "\(books)/part-2", withIntermediateDirectories: true)
        try PipelineTests.clean.write(toFile: "\(books)/b.txt", atomically: true, encoding: .utf8)
        try PipelineTests.other.write(toFile: "\(books)/part-2/a.txt", atomically: true, encoding: .utf8)
        try PipelineTests.clean.write(toFile: "\(books)/part-2/copy.txt", atomically: true, encoding: .utf8)
        try "not a document".write(toFile: "\(books)/notes.md", atomically: true, encoding: .utf8)
        try Data([0x61, 0xFF, 0x62]).write(to: URL(fileURLWithPath: "\(books)/broken.txt"))
        let (documents, bad) = try TextFolderDocuments.read(books)
        #expect(documents.map(\.id) == ["b.txt", "part-2/a.txt", "part-2/copy.txt"])
        #expect(documents.allSatisfy { $0.source == "books" })
        #expect(bad.map(\.description) == ["\(books)/broken.txt:0: not valid UTF-8"])

        try PipelineTests.write([PipelineTests.record("j", "A page of its own.")], "\(root)/web.jsonl")
        var config = PipelineConfig()
        config.stages = [.documentDedup]
        let report = try Pipeline.run(
            inputs: [books, "\(root)/web.jsonl"], outputFolder: "\(root)/out", config: config)
        #expect(report.documentsIn == 4 && report.documentsOut == 3)
        #expect(report.badRecords.count == 1)
        // The copy of b.txt is removed; the rest come back under their paths, byte for byte.
        let out = "\(root)/out/books"
        #expect(try String(contentsOfFile: "\(out)/b.txt", encoding: .utf8) == PipelineTests.clean)
        #expect(try String(contentsOfFile: "\(out)/part-2/a.txt", encoding: .utf8) == PipelineTests.other)
        #expect(!FileManager.default.fileExists(atPath: "\(out)/part-2/copy.txt"))
        #expect(FileManager.default.fileExists(atPath: "\(root)/out/web.jsonl"))
        // Again: refused; with overwrite the folder is replaced whole (no stale file survives).
        let again = expectLabError(.config) {
            try Pipeline.run(inputs: [books], outputFolder: "\(root)/out", config: config)
        }
        #expect(again?.message == "\(out): exists (overwriting it must be asked for)")
        try "stale".write(toFile: "\(out)/stale.txt", atomically: true, encoding: .utf8)
        _ = try Pipeline.run(inputs: [books], outputFolder: "\(root)/out", config: config, overwrite: true)
        #expect(!FileManager.default.fileExists(atPath: "\(out)/stale.txt"))
        #expect(FileManager.default.fileExists(atPath: "\(out)/part-2/a.txt"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: "\(root)/out").filter {
            $0.contains(".tmp-")
        }
        #expect(leftovers.isEmpty)
    }

    @Test func anIdThatIsNotARelativeTextPathIsRefused() throws {
        let folder = "\(temporaryFolder())/out"
        for id in ["/etc/x.txt", "../x.txt", "a//b.txt", "plain"] {
            let error = expectLabError(.config) {
                try TextFolderDocuments.write([Document(id: id, text: "x", source: "s")], to: folder)
            }
            #expect(
                error?.message
                    == "\(folder): document id '\(id)' is not a relative path of a .txt file to write it under")
        }
        #expect(!FileManager.default.fileExists(atPath: folder))
    }

    /// An empty text, one of whitespace, one of a newline and one of a lone emoji: every stage
    /// takes them without a fault, and each is removed with a reason or kept, never lost.
    @Test func emptyDocumentsPassEveryStage() throws {
        let texts = ["", "   ", "\n\n", "🙂"]
        let documents = texts.enumerated().map { Document(id: "e\($0.offset)", text: $0.element, source: "web") }
        var config = PipelineConfig()
        config.stages = [.html, .pii, .documentDedup, .nearDedup, .lineDedup, .language, .classifier, .quality]
        let classifier = try QualityClassifier(reference: [PipelineTests.clean], negatives: ["buy now"])
        let run = try PipelineRun(config, languageID: LanguageIDTests.model, classifier: classifier)
        let out = run.process(documents)
        let removed = run.report.stages.map(\.removed).reduce(0, +)
        #expect(out.count + removed == documents.count)
        #expect(out.isEmpty, "\(out.map(\.id))")
    }
}
