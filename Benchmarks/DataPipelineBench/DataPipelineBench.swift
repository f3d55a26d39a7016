// The data pipeline's benchmark (Scripts/bench-data-pipeline), beside its peers on the same input
// and the same timing rule (BenchmarkSupport: median of 7 trials of enough repetitions):
//   rules   the quality stage's rules (Gopher quality and repetition, C4, FineWeb; all but Gopher's
//           alphabetic-words rule, see below) over in-memory documents, one thread, against
//           datatrove's four filters (Benchmarks/data_pipeline/peers.py)
//   lid     language identification over in-memory paragraphs, one thread, trained as the
//           experiment trains it (chapters 1-10 of each edition), against py3langid
//   stages  the whole pipeline and each stage alone through Pipeline.run (JSONL read and written),
//           on 1 and 2 threads: ours only (datatrove's reader and writer differ in kind)
// Writes the decisions (kept ids, a language per id) beside the timings for the agreement check.
import ArgumentParser
import BenchmarkSupport
import DataPipeline
import Foundation

@main
struct DataPipelineBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "data-pipeline-bench")
    @Option(help: "A folder of shard-*.jsonl as text (HTML extracted), for the rules.") var text: String
    @Option(help: "The raw corpus (shard-*.jsonl), for the whole pipeline.") var raw: String
    @Option(help: "Paragraphs (JSONL with a \"lang\" field) for language identification.") var lid: String
    @Option(help: "The editions language identification trains on (<lang>/chNN.txt).") var editions: String
    @Option(help: "Write measurements and decisions as JSON here.") var out: String
    @Flag(help: "Only the rules and language identification (the rounds after the first).") var quick = false

    func shards(_ folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).filter {
            $0.hasPrefix("shard-") && $0.hasSuffix(".jsonl")
        }.sorted().map { "\(folder)/\($0)" }
    }

    func run() throws {
        var report: [String: Any] = [:]
        // Rules.
        let documents = try shards(text).flatMap { try JSONLDocuments.read($0).documents }
        // Without Gopher's alphabetic-words rule on both sides: datatrove splits words with spaCy,
        // punctuation as words of its own, and so rejects most of this corpus by that rule alone;
        // the paper (and ours) splits at whitespace.
        var rules = QualityRules()
        rules.enabled.remove(.gopherAlphabetic)
        var kept: [String] = []
        let rulesSeconds = medianTime {
            kept = documents.filter { rules.judge($0.text).rejectedBy == nil }.map(\.id)
        }
        report["rules"] = ["documents": documents.count, "seconds": rulesSeconds, "kept": kept] as [String: Any]
        print(
            String(format: "rules: %d documents, %.0f docs/s", documents.count, Double(documents.count) / rulesSeconds))
        // Language identification.
        var training: [String: [String]] = [:]
        for language in try FileManager.default.contentsOfDirectory(atPath: editions).sorted() {
            for chapter in 1...10 {
                let path = "\(editions)/\(language)/ch\(String(format: "%02d", chapter)).txt"
                guard let t = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
                training[language, default: []] += t.split(separator: "\n").map(String.init).filter { $0.count >= 40 }
            }
        }
        let model = try LanguageID(training: training)
        let paragraphs = try JSONLDocuments.read(lid).documents
        var answers: [String: String] = [:]
        let lidSeconds = medianTime {
            answers = [:]
            for p in paragraphs { answers[p.id] = model.identify(p.text)?.language ?? "unsure" }
        }
        report["lid"] = ["documents": paragraphs.count, "seconds": lidSeconds, "language": answers] as [String: Any]
        print(
            String(format: "lid: %d paragraphs, %.0f docs/s", paragraphs.count, Double(paragraphs.count) / lidSeconds))
        // The pipeline and each stage alone, reading and writing JSONL (one trial each: seconds long).
        if !quick {
            var stages: [[String: Any]] = []
            let all: [StageName] = [.html, .pii, .documentDedup, .nearDedup, .lineDedup, .language, .quality]
            for threads in [1, 2] {
                for (name, list) in [("pipeline", all)] + all.map { ($0.rawValue, [$0]) } {
                    var config = PipelineConfig()
                    config.stages = list
                    config.threads = threads
                    config.language.keep = ["en"]
                    let inputs = try shards(list == [.html] || list == all ? raw : text)
                    let folder = NSTemporaryDirectory() + "data-pipeline-bench-\(UUID().uuidString)"
                    let start = Date()
                    let r = try Pipeline.run(
                        inputs: inputs, outputFolder: folder, config: config,
                        languageID: list.contains(.language) ? model : nil)
                    let seconds = Date().timeIntervalSince(start)
                    try? FileManager.default.removeItem(atPath: folder)
                    stages.append(["stage": name, "threads": threads, "documents": r.documentsIn, "seconds": seconds])
                    print(
                        String(format: "%@ (%d threads): %.0f docs/s", name, threads, Double(r.documentsIn) / seconds))
                }
            }
            report["stages"] = stages
        }
        try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys]).write(to: URL(fileURLWithPath: out))
    }
}
