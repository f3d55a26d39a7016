import DataPipeline
import ExperimentKit
import Foundation
// data-pipeline: the cleaning pipeline on the dirty corpus (Data/dirty-corpus), each stage's work
// checked against the faults the corpus records per document. Language identification is trained
// on the Debian Reference's editions (Data/fetch), chapters 1-10.
// Summaries (results file):
//   docs/in, docs/out, docs/bad_records, perf/docs_per_s
//   stage/<name>/removed, stage/<name>/changed   what each stage did (PipelineRun's report)
//   truth/<fault>/removed   the share of documents injected with <fault> (foreign, gibberish)
//                           that did not reach the output; for duplicate and near, the share of
//                           (original, copy) pairs of which at most one reached it
//   truth/pii/scrubbed      the share of kept documents injected with PII whose e-mail, phone and
//                           IP address are all gone
//   truth/boilerplate/left  kept copies of the injected boilerplate lines per line (1: only the
//                           first occurrence stays, as line dedup keeps it)
//   truth/clean/removed     the share of documents with no fault that did not reach the output
// Files beside the results: seed-N.cleaned/ (the output shards and report.json).
import LabSupport

struct DataPipelineExperimentConfig: ExperimentConfig {
    /// A folder of shard-*.jsonl (relative to the repository, or absolute).
    var input = "Data/dirty"
    var pipeline: PipelineConfig = {
        var c = PipelineConfig()
        c.stages = [.html, .pii, .documentDedup, .nearDedup, .lineDedup, .language, .quality]
        c.language.keep = ["en"]
        return c
    }()
    /// The editions language identification trains on (a folder of <lang>/chNN.txt).
    var languageTraining = "Data/corpora/aligned/debian-reference"

    func validate() throws {
        if input.isEmpty { throw LabError.invalid(key: "input", "names no folder") }
        do { try pipeline.check() } catch let e as LabError { throw LabError(.config, "pipeline.\(e.message)") }
    }
}

enum DataPipelineExperiment: Experiment {
    typealias Config = DataPipelineExperimentConfig
    static let name = "data-pipeline"
    static let summary = "The cleaning pipeline on a dirty corpus, each stage checked against the faults it holds."
    static let source = SourceLocation(#filePath)

    static func run(_ run: Run<Config>) throws -> RunOutcome {
        let c = run.config
        let root = source.repositoryRoot
        let folder = c.input.hasPrefix("/") ? c.input : "\(root)/\(c.input)"
        let shards = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { $0.hasPrefix("shard-") && $0.hasSuffix(".jsonl") }.sorted().map { "\(folder)/\($0)" }
        guard !shards.isEmpty else {
            throw LabError(.config, "input: \(folder) holds no shard-*.jsonl (Data/dirty-corpus writes them)")
        }
        var languageID: LanguageID? = nil
        if c.pipeline.stages.contains(.language) {
            let editions = c.languageTraining.hasPrefix("/") ? c.languageTraining : "\(root)/\(c.languageTraining)"
            var texts: [String: [String]] = [:]
            for language in ((try? FileManager.default.contentsOfDirectory(atPath: editions)) ?? []).sorted() {
                for chapter in 1...10 {
                    let path = "\(editions)/\(language)/ch\(String(format: "%02d", chapter)).txt"
                    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
                    texts[language, default: []] += text.split(separator: "\n").map(String.init).filter {
                        $0.count >= 40
                    }
                }
            }
            guard !texts.isEmpty else {
                throw LabError(.config, "languageTraining: \(editions) holds no editions (Data/fetch fetches them)")
            }
            languageID = try LanguageID(training: texts)
        }
        var config = c.pipeline
        config.threads = run.threads
        let out = run.paths.results.replacingOccurrences(of: ".h5", with: ".cleaned")
        let started = Date()
        let report = try Pipeline.run(
            inputs: shards, outputFolder: out, config: config, languageID: languageID, overwrite: true)
        let seconds = Date().timeIntervalSince(started)

        run.results.summary("docs/in", Double(report.documentsIn))
        run.results.summary("docs/out", Double(report.documentsOut))
        run.results.summary("docs/bad_records", Double(report.badRecords.count))
        run.results.summary("perf/docs_per_s", Double(report.documentsIn) / seconds)
        for stage in report.stages {
            run.results.summary("stage/\(stage.name)/removed", Double(stage.removed))
            run.results.summary("stage/\(stage.name)/changed", Double(stage.changed))
        }
        // What reached the output, against what each document was given.
        let input = try shards.flatMap { try JSONLDocuments.read($0).documents }
        let output = try report.outputs.flatMap { try JSONLDocuments.read($0).documents }
        let kept = Dictionary(output.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        func faults(_ d: Document) -> Set<String> {
            guard let json = d.metadata["injected"],
                let list = try? JSONDecoder().decode([String].self, from: Data(json.utf8))
            else { return [] }
            return Set(list)
        }
        func original(_ d: Document) -> String? {
            d.metadata["copy_of"].flatMap { try? JSONDecoder().decode(String.self, from: Data($0.utf8)) }
        }
        for fault in ["foreign", "gibberish", "duplicate", "near"] {
            let given = input.filter { faults($0).contains(fault) }
            guard !given.isEmpty else { continue }
            let handled = given.count { d in
                guard fault == "duplicate" || fault == "near", let o = original(d) else { return kept[d.id] == nil }
                return kept[d.id] == nil || kept[o] == nil
            }
            run.results.summary("truth/\(fault)/removed", Double(handled) / Double(given.count))
        }
        let pii = input.filter { faults($0).contains("pii") }.compactMap { kept[$0.id] }
        if !pii.isEmpty {
            let scrubbed = pii.count {
                !$0.text.contains("@example.org") && !$0.text.contains("(555)") && !$0.text.contains("192.168.")
            }
            run.results.summary("truth/pii/scrubbed", Double(scrubbed) / Double(pii.count))
        }
        let lines = [
            "Subscribe to our newsletter for the latest updates!", "This site uses cookies to improve your experience.",
            "Copyright 2024 All rights reserved.",
        ]
        let left = lines.map { line in output.map { $0.text.components(separatedBy: line).count - 1 }.reduce(0, +) }
        run.results.summary("truth/boilerplate/left", Double(left.reduce(0, +)) / Double(lines.count))
        let clean = input.filter { faults($0).isEmpty }
        run.results.summary("truth/clean/removed", Double(clean.count { kept[$0.id] == nil }) / Double(clean.count))
        print(
            "\(report.documentsIn) documents in, \(report.documentsOut) out in \(String(format: "%.1f", seconds)) s; "
                + report.stages.map { "\($0.name) -\($0.removed)" }.joined(separator: ", "))
        return .finished
    }
}

ExperimentCommand<DataPipelineExperiment>.main()
