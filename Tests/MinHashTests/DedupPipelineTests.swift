import Foundation
// The dedup stage end to end on small files with known duplicates, in both input formats.
import LabSupport
import MinHash
import TestSupport
import Testing

func sampleParagraphs() -> [String] {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Data/sample/english-tempest.txt").standardized
    let text = try! String(contentsOf: url, encoding: .utf8)
    return text.components(separatedBy: "\n\n").filter { $0.split(separator: " ").count >= 40 }
}

@Suite struct DedupPipelineTests {
    func corpus() -> (docs: [String], nearDuplicates: Int) {
        // The 30 longest paragraphs, in text order.
        let paragraphs = sampleParagraphs()
        let longest = Set(paragraphs.indices.sorted { paragraphs[$0].count > paragraphs[$1].count }.prefix(30))
        var docs = paragraphs.indices.filter { longest.contains($0) }.map { paragraphs[$0] }
        // Exact duplicates after normalisation: case and punctuation differ.
        docs.append(docs[0].uppercased())
        docs.append(docs[1].replacingOccurrences(of: ",", with: ""))
        // A near duplicate: one word changed in a long paragraph (true Jaccard about 0.9).
        let longestDoc = docs.indices.max { docs[$0].count < docs[$1].count }!
        var words = docs[longestDoc].split(separator: " ").map(String.init)
        words[words.count / 2] = "CHANGED"
        docs.append(words.joined(separator: " "))
        // Boilerplate line in 12 documents.
        for i in 3..<15 { docs[i] += "\nSubscribe to our newsletter for more plays" }
        docs.append("")
        docs.append("too short")
        return (docs, 1)
    }

    @Test func jsonlInputKeepsOneOfEachDuplicateAndStripsBoilerplate() throws {
        let folder = NSTemporaryDirectory() + "dedup-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let (docs, _) = corpus()
        var jsonl =
            docs.enumerated().map { i, d in
                String(
                    decoding: try! JSONSerialization.data(
                        withJSONObject: ["id": i, "text": d], options: [.sortedKeys]), as: UTF8.self)
            }.joined(separator: "\n") + "\n"
        jsonl += "\n"  // a blank line is skipped
        try jsonl.write(toFile: folder + "/in.jsonl", atomically: true, encoding: .utf8)
        var options = DedupOptions()
        options.boilerplateMinDocuments = 10
        let report = try DedupPipeline.run(
            inputs: [folder + "/in.jsonl"], format: .jsonl(field: "text"), output: folder + "/out.jsonl",
            options: options)
        #expect(report.documentsIn == docs.count)
        #expect(report.exactDuplicatesRemoved == 2)
        #expect(
            report.nearDuplicatesRemoved == 1 && report.nearDuplicateClusters == 1 && report.clusterSizes == ["2": 1])
        #expect(report.boilerplateLinesRemoved == 12)
        #expect(report.emptyDocuments == 1 && report.shortDocuments == 1)
        #expect(report.documentsOut == docs.count - 2 - 1 - 1)
        #expect(report.parameters == LSHParameters.optimal(threshold: 0.8, numPerm: 112))
        let out = try String(contentsOfFile: folder + "/out.jsonl", encoding: .utf8)
        #expect(!out.contains("newsletter"))
        let ids = out.split(separator: "\n").map {
            (try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["id"] as! Int
        }
        #expect(ids == (0..<30).map { $0 } + [docs.count - 1])  // survivors in input order: the originals
    }

    @Test func textInputWithSeparatorAndInvalidUTF8() throws {
        let folder = NSTemporaryDirectory() + "dedup-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let (docs, _) = corpus()
        var data = Data(docs.joined(separator: "\n%\n").utf8)
        data += Data("\n%\n".utf8) + Data([0x61, 0xFF, 0x62, 0x20, 0xC3, 0x0A])  // invalid UTF-8 document
        try data.write(to: URL(fileURLWithPath: folder + "/in.txt"))
        var options = DedupOptions()
        options.scheme = .datasketchAffine32
        options.lineDedup = false
        let report = try DedupPipeline.run(
            inputs: [folder + "/in.txt"], format: .text(separator: "%"), output: folder + "/out.txt", options: options)
        #expect(report.documentsIn == docs.count + 1)
        #expect(report.exactDuplicatesRemoved == 2 && report.nearDuplicatesRemoved == 1)
        // The output holds the invalid bytes as read ("%", then the last document), compared as bytes.
        let out = [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder + "/out.txt")))
        #expect(out.split(separator: 0x0A).filter { $0 == [0x25] }.count == report.documentsOut - 1)
        #expect(Array(out.suffix(8)) == [0x25, 0x0A, 0x61, 0xFF, 0x62, 0x20, 0xC3, 0x0A])
    }

    @Test func badInputIsReportedWithFileAndLine() throws {
        let folder = NSTemporaryDirectory() + "dedup-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try "{\"text\": \"ok\"}\nnot json\n".write(toFile: folder + "/bad.jsonl", atomically: true, encoding: .utf8)
        #expect(throws: LabError(.dedup, "\(folder)/bad.jsonl:2: not a JSON object")) {
            try DedupPipeline.run(
                inputs: [folder + "/bad.jsonl"], format: .jsonl(field: "text"), output: folder + "/o",
                options: DedupOptions())
        }
        try "{\"body\": \"ok\"}\n".write(toFile: folder + "/field.jsonl", atomically: true, encoding: .utf8)
        #expect(throws: LabError(.dedup, "\(folder)/field.jsonl:1: no string field 'text'")) {
            try DedupPipeline.run(
                inputs: [folder + "/field.jsonl"], format: .jsonl(field: "text"), output: folder + "/o",
                options: DedupOptions())
        }
        #expect(throws: LabError(.dedup, "\(folder)/absent: cannot open")) {
            try DedupPipeline.run(
                inputs: [folder + "/absent"], format: .text(separator: ""), output: folder + "/o",
                options: DedupOptions())
        }
    }
}

@Suite struct MinHashExperimentTests {
    /// Every ablation of Experiments/minhash runs on the committed sample and writes results.
    @Test func everyAblationRunsOnTheSample() throws {
        let out = temporaryFolder()
        let result = try runProduct(
            "minhash",
            [
                "--all-ablations", "--out", out, "--set", "data=sample", "--set", "baseDocuments=30",
                "--set", "unrelatedDocuments=40",
            ])
        #expect(result.status == 0, "\(result.stderr)")
        let ablations = try experimentAblations("minhash")
        #expect(ablations.count == 10)
        for ablation in ablations {
            #expect(FileManager.default.fileExists(atPath: "\(out)/minhash/\(ablation)/seed-0.h5"), "\(ablation)")
        }
    }
}

@Suite struct DedupCommandTests {
    @Test func commandWritesKeptDocumentsAndReportAndRejectsBadOptions() throws {
        let folder = NSTemporaryDirectory() + "dedup-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let paragraphs = Array(sampleParagraphs().prefix(10))
        try (paragraphs + [paragraphs[0]]).joined(separator: "\n%\n").write(
            toFile: folder + "/in.txt", atomically: true, encoding: .utf8)
        func run(_ arguments: [String]) throws -> (Int32, String) {
            let result = try runProduct("dedup", arguments)
            return (result.status, result.stderr)
        }
        let (status, message) = try run([
            folder + "/in.txt", "--separator", "%", "--out", folder + "/out.txt", "--report", folder + "/r.json",
        ])
        #expect(status == 0, "\(message)")
        let report = try JSONDecoder().decode(
            DedupReport.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/r.json")))
        #expect(report.documentsIn == 11 && report.exactDuplicatesRemoved == 1 && report.documentsOut == 10)
        let (bad, error) = try run([folder + "/in.txt", "--out", folder + "/o", "--shingle", "words5"])
        #expect(bad != 0 && error.contains("--shingle must be word:N or char:N"))
        // Every bad option is named by its flag, with what is allowed, and nothing is written.
        for (arguments, message) in [
            (["--num-perm", "0"], "--num-perm: 0 must be in 1...65536"),
            (["--threshold", "1.5"], "--threshold: 1.5 must be above 0 and at most 1"),
            (["--threshold", "0"], "--threshold: 0.0 must be above 0 and at most 1"),
            (["--seed", "4294967296", "--scheme", "datasketchAffine32"], "--seed: 4294967296 must be below 2^32"),
            (["--bands", "20x10"], "--bands: 20 bands x 10 rows must be at least 1 x 1 and at most numPerm 112"),
            (["--threads", "0"], "--threads: 0 must be in 1...256"),
            (["--separator", "%", "--out", folder + "/in.txt"], "refusing to overwrite it"),
        ] {
            let (status, error) = try run([folder + "/in.txt", "--out", folder + "/o"] + arguments)
            #expect(status != 0 && error.contains(message), "\(arguments): \(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: folder + "/o"))
    }
}
