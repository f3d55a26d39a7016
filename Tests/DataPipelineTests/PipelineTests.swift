// The pipeline's stages over JSONL shards: bad records reported by file and line while the rest
// goes on, metadata kept, line dedup keeping first occurrences, document dedup, the report's
// counts and samples, the same output for 1 or 2 threads and for one shard or several, a 50 MB
// document, and outputs that would overwrite an input or an earlier run refused.
import DataPipeline
import Foundation
import LabSupport
import TestSupport
import Testing

@Suite struct PipelineTests {
    static let clean = QualityRulesTests.clean
    /// Another clean page, sharing no line with `clean`.
    static let other = """
        The museum reopened its east wing after two years of careful repair work.
        Visitors can again see the painted ceiling that the storm had damaged.
        Restorers cleaned each panel by hand and replaced the broken glass above it.
        The curator said the work cost less than the city had first expected.
        A new room now shows how the ceiling looked when it was first painted.
        School groups may book free tours on weekday mornings during term time.
        The café on the ground floor will stay open until six in the evening.
        Tickets for the summer concerts in the courtyard go on sale next month.
        """

    static func write(_ lines: [String], _ path: String) throws {
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    static func record(_ id: String, _ text: String, _ extra: String = "") -> String {
        let data = try! JSONSerialization.data(withJSONObject: text, options: [.fragmentsAllowed])
        return "{\"id\": \"\(id)\", \"text\": \(String(decoding: data, as: UTF8.self))\(extra)}"
    }

    @Test func badRecordsAreNamedAndTheRestIsRead() throws {
        let folder = temporaryFolder()
        let path = "\(folder)/web.jsonl"
        var bytes = Data((Self.record("a", "first") + "\nnot json\n{\"id\": \"b\"}\n[1, 2]\n").utf8)
        // {"text":"\xFF"}: a byte that is not UTF-8 inside the string.
        bytes.append(contentsOf: [0x7B, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D, 0x0A])
        bytes.append(
            Data(("\n   \n{\"text\": \"no id\", \"lang\": \"en\", \"score\": 0.5, \"tags\": [1, \"x\"]}\n").utf8))
        try bytes.write(to: URL(fileURLWithPath: path))
        let (documents, bad) = try JSONLDocuments.read(path)
        #expect(documents.map(\.id) == ["a", "web:8"])
        #expect(documents.map(\.source) == ["web", "web"])
        #expect(
            bad.map(\.description) == [
                "\(path):2: not a JSON object", "\(path):3: no string field \"text\"", "\(path):4: not a JSON object",
                "\(path):5: not valid UTF-8",
            ])
        // Metadata keeps each value's type when written back.
        #expect(documents[1].metadata == ["lang": "\"en\"", "score": "0.5", "tags": "[1,\"x\"]"])
        try JSONLDocuments.write(documents, to: "\(folder)/out.jsonl")
        #expect(try JSONLDocuments.read("\(folder)/out.jsonl").documents == documents)
    }

    @Test func lineDedupKeepsFirstOccurrencesAndDocumentDedupTheFirstCopy() throws {
        var config = PipelineConfig()
        config.stages = [.documentDedup, .lineDedup]
        let run = try PipelineRun(config)
        let docs = [
            Document(id: "1", text: "Home | News\nThe first story.\n\nHome | News", source: "s"),
            Document(id: "2", text: "Home | News  \nA second story.", source: "s"),
            Document(id: "3", text: "Home | News\nThe first story.\n\nHome | News", source: "s"),
            Document(id: "4", text: "A second story.\nHome | News\n\n", source: "s"),
        ]
        let out = run.process(docs)
        #expect(out.map(\.id) == ["1", "2"])
        #expect(out.map(\.text) == ["Home | News\nThe first story.\n", "A second story."])
        let (dedup, lines) = (run.report.stages[0], run.report.stages[1])
        #expect(dedup.removed == 1 && dedup.reasons == ["documentDedup.duplicate": 1])
        #expect(lines.changed == 2 && lines.removed == 1 && lines.reasons == ["lineDedup.emptied": 1])
        #expect(lines.counts["lineDedup.linesRemoved"] == 4)
        #expect(lines.removedSamples.map(\.id) == ["4"])
    }

    /// A page with one word changed is a near-duplicate of the first (Jaccard of 5-word shingles
    /// about 0.9), removed; a page that shares half its lines is not; the order decides which stays.
    @Test func nearDedupKeepsTheFirstOfNearCopies() throws {
        var config = PipelineConfig()
        config.stages = [.nearDedup]
        let run = try PipelineRun(config)
        let lines = Self.clean.split(separator: "\n")
        let edited = Self.clean.replacingOccurrences(of: "the firemen", with: "the police")
        let half = (lines.prefix(4) + Self.other.split(separator: "\n").prefix(4)).joined(separator: "\n")
        let out = run.process([
            Document(id: "a", text: Self.clean, source: "s"), Document(id: "b", text: edited, source: "s"),
            Document(id: "c", text: half, source: "s"), Document(id: "d", text: Self.other, source: "s"),
        ])
        #expect(out.map(\.id) == ["a", "c", "d"])
        #expect(run.report.stages[0].reasons == ["nearDedup.duplicate": 1])
        var bad = PipelineConfig()
        bad.nearDedup.threshold = 0
        #expect(expectLabError(.config) { try bad.check() }?.message.hasPrefix("nearDedup.threshold") == true)
    }

    @Test func eachStageCountsWhatItDid() throws {
        let html = "<!DOCTYPE html><html><body><nav>Home</nav><p>\(Self.clean)</p><script>x()</script></body></html>"
        let docs = [
            Document(id: "page", text: html, source: "web"),
            Document(
                id: "mail", text: Self.other + "\nWrite to jane@example.com or call 020 7946 0958.", source: "web"),
            Document(id: "short", text: "Buy now!", source: "web"),
        ]
        var config = PipelineConfig()
        config.samplesPerReason = 1
        let run = try PipelineRun(config)
        let out = run.process(docs)
        let byName = Dictionary(uniqueKeysWithValues: run.report.stages.map { ($0.name, $0) })
        try #require(out.map(\.id) == ["page", "mail"], "\(byName["quality"]!.reasons)")
        #expect(!out[0].text.contains("<") && !out[0].text.contains("x()") && out[0].text.contains("The river rose"))
        #expect(out[1].text.contains("<EMAIL>") && out[1].text.contains("<PHONE>"))
        #expect(byName["html"]?.changed == 1 && byName["html"]?.kept == 3)
        #expect(byName["pii"]?.counts == ["pii.EMAIL": 1, "pii.PHONE": 1] && byName["pii"]?.changed == 1)
        #expect(byName["quality"]?.reasons == ["gopher.wordCount": 1])
        #expect(
            byName["quality"]?.removedSamples == [
                RemovedSample(id: "short", reason: "gopher.wordCount", excerpt: "Buy now!")
            ])
        #expect(run.report.documentsIn == 3 && run.report.documentsOut == 2)
    }

    /// 1 or 2 threads, one shard or three: the same documents out as one run in memory, and the
    /// same report counts (with every stage, and without line dedup, where the count is known).
    @Test func threadsAndShardsDoNotChangeTheOutput() throws {
        let folder = temporaryFolder()
        // Pages that repeat every 12 (the dedup stages remove the repeats), some with an address
        // to scrub, some too short to keep.
        let texts = (0..<60).map { i in
            let page = "Report number \(i % 12) was filed by the clerk this morning.\n" + Self.clean
            return i % 7 == 0
                ? "Write to box\(i)@example.org for the news.\n" + page : (i % 11 == 5 ? "Too short." : page)
        }
        let records = texts.enumerated().map { Self.record("d\($0.offset)", $0.element) }
        try Self.write(records, "\(folder)/all.jsonl")
        for k in 0..<3 { try Self.write(Array(records[(20 * k)..<(20 * k + 20)]), "\(folder)/part-\(k).jsonl") }
        let documents = try JSONLDocuments.read("\(folder)/all.jsonl").documents
        for (n, stages) in [PipelineConfig().stages, [.html, .pii, .documentDedup, .quality]].enumerated() {
            func run(_ inputs: [String], threads: Int) throws -> ([Document], PipelineReport) {
                var config = PipelineConfig()
                (config.threads, config.stages) = (threads, stages)
                let report = try Pipeline.run(
                    inputs: inputs, outputFolder: "\(folder)/o\(n)-\(inputs.count)-\(threads)", config: config)
                return (try report.outputs.flatMap { try JSONLDocuments.read($0).documents }, report)
            }
            var config = PipelineConfig()
            (config.threads, config.stages) = (1, stages)
            let memory = try PipelineRun(config)
            let expected = memory.process(documents)
            // Sources differ (each shard's file stem), ids and texts may not.
            func content(_ ds: [Document]) -> [[String]] { ds.map { [$0.id, $0.text] } }
            let (one, r1) = try run(["\(folder)/all.jsonl"], threads: 1)
            let (two, r2) = try run(["\(folder)/all.jsonl"], threads: 2)
            let (shards, r3) = try run((0..<3).map { "\(folder)/part-\($0).jsonl" }, threads: 2)
            #expect(one == expected && two == expected && !expected.isEmpty, "\(stages)")
            #expect(content(shards) == content(expected), "\(stages)")
            #expect(r1.stages == memory.report.stages && r2.stages == r1.stages && r3.stages == r1.stages)
            #expect(FileManager.default.fileExists(atPath: "\(folder)/o\(n)-3-2/report.json"))
            if n == 1 {
                // Each of the 12 reports once without a mail line (report 0 first at i = 12, report
                // 5 at i = 17 after the short i = 5, report 7 at i = 19), and the 9 pages with a
                // mail line (i = 0, 7, ..., 56: each its own address).
                #expect(expected.count == 12 + 9, "\(expected.map(\.id))")
            }
        }
    }

    @Test func aFiftyMegabyteDocumentPasses() throws {
        let folder = temporaryFolder()
        let line = String(repeating: "The long document goes on and on. ", count: 50_000_000 / 34)
        try Self.write([Self.record("big", line), Self.record("small", "A small one.")], "\(folder)/big.jsonl")
        var config = PipelineConfig()
        config.stages = [.documentDedup, .lineDedup]
        let report = try Pipeline.run(inputs: ["\(folder)/big.jsonl"], outputFolder: "\(folder)/out", config: config)
        let out = try JSONLDocuments.read("\(folder)/out/big.jsonl").documents
        #expect(out.map(\.id) == ["big", "small"] && out[0].text.utf8.count == line.utf8.count)
        #expect(report.badRecords.isEmpty)
    }

    @Test func outputsThatWouldOverwriteAreRefused() throws {
        let folder = temporaryFolder()
        try Self.write([Self.record("a", Self.clean)], "\(folder)/in.jsonl")
        let onto = expectLabError(.config) {
            try Pipeline.run(inputs: ["\(folder)/in.jsonl"], outputFolder: folder, config: PipelineConfig())
        }
        #expect(onto?.message == "\(folder)/in.jsonl: is an input; the output folder must not hold the inputs")
        _ = try Pipeline.run(inputs: ["\(folder)/in.jsonl"], outputFolder: "\(folder)/out", config: PipelineConfig())
        let again = expectLabError(.config) {
            try Pipeline.run(inputs: ["\(folder)/in.jsonl"], outputFolder: "\(folder)/out", config: PipelineConfig())
        }
        #expect(again?.message.hasSuffix("exists (overwriting it must be asked for)") == true)
        _ = try Pipeline.run(
            inputs: ["\(folder)/in.jsonl"], outputFolder: "\(folder)/out", config: PipelineConfig(), overwrite: true)
        var twice = PipelineConfig()
        twice.stages = [.pii, .pii]
        #expect(expectLabError(.config) { try twice.check() }?.message == "stages: pii is listed twice")
        let missing = expectLabError(.config) {
            try Pipeline.run(inputs: ["\(folder)/gone.jsonl"], outputFolder: "\(folder)/o", config: PipelineConfig())
        }
        #expect(missing?.message == "\(folder)/gone.jsonl: cannot open for reading")
    }
}
