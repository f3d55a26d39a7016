// The data-pipeline experiment end to end on a small dirty corpus written here (its faults
// recorded per document as Data/dirty-corpus records them) with language identification trained
// on two editions: every fault is caught, no clean document is lost, and every ablation runs; a
// missing corpus is a named error.
import Foundation
import HDF5Store
import TestSupport
import Testing

@Suite(.serialized) struct DataPipelineExperimentTests {
    static func corpus() throws -> (input: String, editions: String) {
        let folder = temporaryFolder()
        let editions = "\(folder)/editions"
        for lang in ["en", "fr"] {
            try FileManager.default.createDirectory(atPath: "\(editions)/\(lang)", withIntermediateDirectories: true)
            try LanguageIDTests.fixture.train[lang]!.joined(separator: "\n")
                .write(toFile: "\(editions)/\(lang)/ch01.txt", atomically: true, encoding: .utf8)
        }
        let french = LanguageIDTests.fixture.heldout.filter { $0.lang == "fr" }.prefix(8).map(\.text)
            .joined(separator: "\n")
        let letters = Array("qzxv")
        var words: [String] = []
        for i in 0..<80 { words.append(String(repeating: String(letters[i % 4]), count: 2 + i % 7) + "kj") }
        let gibberish = words.joined(separator: " ")
        let pii = PipelineTests.clean + "\nContact jane.7@example.org or call +1 (555) 234-5678; server 192.168.1.20."
        let records: [(String, String, [String], String?)] = [
            ("a", pii, ["pii"], nil), ("b", PipelineTests.other, [], nil), ("c", pii, ["pii", "duplicate"], "a"),
            ("d", french, ["foreign"], nil), ("e", gibberish, ["gibberish"], nil),
        ]
        let lines = try records.map { id, text, injected, copy in
            let object: [String: Any] = [
                "id": id, "text": text, "source": "web", "injected": injected, "copy_of": copy ?? NSNull(),
            ]
            return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        }
        try FileManager.default.createDirectory(atPath: "\(folder)/dirty", withIntermediateDirectories: true)
        try (lines.joined(separator: "\n") + "\n").write(
            toFile: "\(folder)/dirty/shard-0.jsonl", atomically: true, encoding: .utf8)
        return ("\(folder)/dirty", editions)
    }

    @Test func everyFaultIsCaughtAndEveryAblationRuns() throws {
        let (input, editions) = try Self.corpus()
        let out = temporaryFolder()
        let set = ["--set", "input=\(input)", "--set", "languageTraining=\(editions)", "--threads", "1"]
        let result = try runProduct("data-pipeline", ["--all-ablations", "--out", out] + set)
        #expect(result.status == 0, "\(result.stderr)")
        let base = try RunResults.load(from: "\(out)/data-pipeline/base/seed-0.h5")
        #expect(base.status == "finished")
        let expected: [String: Double] = [
            "docs/in": 5, "docs/out": 2, "truth/duplicate/removed": 1, "truth/foreign/removed": 1,
            "truth/gibberish/removed": 1, "truth/pii/scrubbed": 1, "truth/clean/removed": 0,
            // Language identification is unsure of the gibberish as well as sure of the French.
            "stage/documentDedup/removed": 1, "stage/language/removed": 2,
        ]
        for (key, value) in expected {
            #expect(base.summary[key] == value, "\(key): \(String(describing: base.summary[key]))")
        }
        let kept = try String(contentsOfFile: "\(out)/data-pipeline/base/seed-0.cleaned/shard-0.jsonl", encoding: .utf8)
        #expect(kept.contains("<EMAIL>") && kept.contains("<PHONE>") && kept.contains("<IP>"))
        // Without the pii stage nothing is scrubbed; without document dedup the copy is kept.
        let noPII = try RunResults.load(from: "\(out)/data-pipeline/no-pii/seed-0.h5")
        #expect(noPII.summary["truth/pii/scrubbed"] == 0)
        let noDedup = try RunResults.load(from: "\(out)/data-pipeline/no-document-dedup/seed-0.h5")
        #expect(noDedup.summary["truth/duplicate/removed"] == 1, "near-dup dedup catches the exact copy too")
        #expect(try experimentAblations("data-pipeline").count == 9)
    }

    @Test func aMissingCorpusIsNamed() throws {
        let out = temporaryFolder()
        let result = try runProduct("data-pipeline", ["--out", out, "--set", "input=\(out)/nothing", "--threads", "1"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("input: \(out)/nothing holds no shard-*.jsonl (Data/dirty-corpus writes them)"))
    }
}
