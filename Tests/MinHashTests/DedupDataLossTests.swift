// The dedup stage never loses what it should keep, and says what happened to everything it drops:
// one test per case the issue found (an output that is an input, a repeated one-line document, a
// cluster of near-duplicates and its shared lines, CRLF text, invalid UTF-8, empty documents,
// bad options), plus the output's all-or-nothing replacement.
import Foundation
import LabSupport
import MinHash
import TestSupport
import Testing

func dedupFolder() -> String {
    let folder = NSTemporaryDirectory() + "dedup-\(UUID().uuidString)"
    try! FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    return folder
}

func writeJSONL(_ docs: [String], to path: String) throws {
    let lines = try docs.enumerated().map { i, d in
        String(
            decoding: try JSONSerialization.data(withJSONObject: ["id": i, "text": d], options: [.sortedKeys]),
            as: UTF8.self)
    }
    try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
}

func keptIds(_ path: String) throws -> [Int] {
    try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
        (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["id"] as! Int
    }
}

@Suite struct DedupDataLossTests {
    @Test func anOutputThatIsAnInputIsRefusedAndTheInputKept() throws {
        let folder = dedupFolder()
        let input = folder + "/in.txt"
        let original = Data("one document\n%\nanother one\n".utf8)
        try original.write(to: URL(fileURLWithPath: input))
        try FileManager.default.linkItem(atPath: input, toPath: folder + "/hard.txt")
        try FileManager.default.createSymbolicLink(atPath: folder + "/soft.txt", withDestinationPath: input)
        for output in [input, folder + "/./in.txt", folder + "/hard.txt", folder + "/soft.txt"] {
            let error = expectLabError(.dedup) {
                try DedupPipeline.run(
                    inputs: [input], format: .text(separator: "%"), output: output, options: DedupOptions())
            }
            #expect(error?.key == "out" && error?.message.contains("refusing to overwrite") == true, "\(output)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: input)) == original)
    }

    @Test func aRepeatedOneLineDocumentKeepsOneCopy() throws {
        let folder = dedupFolder()
        try writeJSONL(
            Array(repeating: "This one line is a whole document of its own.", count: 10) + ["Something else."],
            to: folder + "/in.jsonl")
        let report = try DedupPipeline.run(
            inputs: [folder + "/in.jsonl"], format: .jsonl(field: "text"), output: folder + "/out.jsonl",
            options: DedupOptions())
        #expect(try keptIds(folder + "/out.jsonl") == [0, 10])
        #expect(report.exactDuplicateOf == (1..<10).map { [$0, 0] })
        #expect(report.boilerplateLinesRemoved == 0 && report.emptiedByLineDedupIds.isEmpty)
    }

    /// Twelve near-copies of a text (a different last line each) form one cluster: the copy kept
    /// keeps every line, because a cluster counts its lines once. A footer on twelve different
    /// paragraphs is boilerplate and leaves each of them; a document that is only that footer is
    /// dropped and reported.
    @Test func aClusterOfNearDuplicatesKeepsItsSharedLines() throws {
        let folder = dedupFolder()
        let paragraphs = sampleParagraphs()
        let body = paragraphs[0]
        let words = [
            "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima",
        ]
        let footer = "Subscribe to our newsletter for more plays"
        var docs = words.map { body + "\nvariant " + $0 }
        docs += (1...12).map { paragraphs[$0] + "\n" + footer }
        docs.append(footer)
        try writeJSONL(docs, to: folder + "/in.jsonl")
        let report = try DedupPipeline.run(
            inputs: [folder + "/in.jsonl"], format: .jsonl(field: "text"), output: folder + "/out.jsonl",
            options: DedupOptions())
        #expect(report.nearDuplicateOf == (1..<12).map { [$0, 0] })
        #expect(report.boilerplateLinesRemoved == 12 && report.emptiedByLineDedupIds == [24])
        #expect(try keptIds(folder + "/out.jsonl") == [0] + Array(12..<24))
        let texts = try String(contentsOfFile: folder + "/out.jsonl", encoding: .utf8).split(separator: "\n").map {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["text"] as! String
        }
        #expect(texts[0] == docs[0])  // every line of the kept copy
        #expect(texts.dropFirst().allSatisfy { !$0.contains("newsletter") })
        #expect(zip(texts.dropFirst(), paragraphs[1...12]).allSatisfy { $0 == $1 })
    }

    @Test func emptyAndPunctuationOnlyDocumentsAreReportedById() throws {
        let folder = dedupFolder()
        try writeJSONL(
            ["A real document with words.", "", "   ", "!!! ... --- ???", "Another real one."], to: folder + "/in.jsonl"
        )
        let report = try DedupPipeline.run(
            inputs: [folder + "/in.jsonl"], format: .jsonl(field: "text"), output: folder + "/out.jsonl",
            options: DedupOptions())
        #expect(report.emptyDocumentIds == [1, 2, 3] && report.emptyDocuments == 3)
        #expect(try keptIds(folder + "/out.jsonl") == [0, 4])
    }

    /// CRLF text splits on "%\r\n" and is written back byte for byte, CRLFs and separator included;
    /// a document with invalid UTF-8 is written as read, not with U+FFFD.
    @Test func crlfAndInvalidUTF8AreWrittenAsRead() throws {
        let folder = dedupFolder()
        let paragraphs = sampleParagraphs().prefix(4).map {
            Array($0.replacingOccurrences(of: "\n", with: "\r\n").utf8)
        }
        let invalid: [UInt8] = [0x61, 0x62, 0xFF, 0x20, 0x63, 0xC3, 0x20, 0x64, 0x65]
        let docs = Array(paragraphs) + [paragraphs[1], invalid]
        let input = docs.map { $0 + [0x0D, 0x0A] }.joined(separator: Array("%\r\n".utf8))
        try Data(input).write(to: URL(fileURLWithPath: folder + "/in.txt"))
        let report = try DedupPipeline.run(
            inputs: [folder + "/in.txt"], format: .text(separator: "%"), output: folder + "/out.txt",
            options: DedupOptions())
        #expect(report.documentsIn == 6 && report.exactDuplicateOf == [[4, 1]])
        let expected = (Array(paragraphs) + [invalid]).map { $0 + [0x0D, 0x0A] }.joined(separator: Array("%\r\n".utf8))
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/out.txt")) == Data(expected))
    }

    @Test func badOptionsAreNamedErrors() throws {
        let folder = dedupFolder()
        try "a document\n".write(toFile: folder + "/in.txt", atomically: true, encoding: .utf8)
        func check(_ key: String, _ change: (inout DedupOptions) -> Void) {
            var options = DedupOptions()
            change(&options)
            let error = expectLabError(.dedup) {
                try DedupPipeline.run(
                    inputs: [folder + "/in.txt"], format: .text(separator: "%"), output: folder + "/o", options: options
                )
            }
            #expect(error?.key == key, "\(String(describing: error))")
        }
        check("numPerm") { $0.numPerm = 0 }
        for t in [1.5, 0, -1, .nan] { check("threshold") { $0.threshold = t } }
        check("seed") {
            $0.scheme = .datasketchAffine32
            $0.seed = 1 << 32
        }
        check("parameters") { $0.parameters = LSHParameters(bands: 20, rows: 10) }
        check("shingling") { $0.shingling = .words(0) }
        check("boilerplateMinDocuments") { $0.boilerplateMinDocuments = 1 }
        check("threads") { $0.threads = 0 }
        #expect(!FileManager.default.fileExists(atPath: folder + "/o"))
    }

    /// A run that fails leaves an existing output as it was, and no temporary file behind.
    @Test func aFailedRunLeavesTheOutputAsItWas() throws {
        let folder = dedupFolder()
        try "{\"text\": \"fine\"}\nnot json\n".write(toFile: folder + "/in.jsonl", atomically: true, encoding: .utf8)
        try "previous output\n".write(toFile: folder + "/out.jsonl", atomically: true, encoding: .utf8)
        expectLabError(.dedup) {
            try DedupPipeline.run(
                inputs: [folder + "/in.jsonl"], format: .jsonl(field: "text"), output: folder + "/out.jsonl",
                options: DedupOptions())
        }
        #expect(try String(contentsOfFile: folder + "/out.jsonl", encoding: .utf8) == "previous output\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["in.jsonl", "out.jsonl"])
    }
}
