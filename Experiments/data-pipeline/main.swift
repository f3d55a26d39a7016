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
//   classifier/threshold, classifier/auc_clean_vs_gibberish   with the classifier stage: its score
//                           threshold (the input's classifierRemoveShare quantile) and how well
//                           it ranks fault-free documents above gibberish
// Files beside the results: seed-N.cleaned/ (the output shards and report.json).
// The classifier and perplexity stages (ablations with-classifier, with-perplexity) train or load
// their models first (see `classifier`, `perplexityModel`); with modelStudy.train raw or cleaned
// the run goes on to pretrain on that mix (ModelStudy.swift, its metrics listed there).
import LabSupport
import ModelStore
import NanoTransformer
import Tokenizer

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
    /// The classifier stage's training, DCLM's recipe at this corpus's scale: the reference is the
    /// fault-free documents of one split of the ids (unit in [0.1, 0.2): apart from the model
    /// study's held-out set), the negatives the raw documents of another (unit in [0.8, 1)), all as
    /// text (HTML extracted).
    var classifier = QualityClassifier.Settings()
    /// The classifier stage's threshold is the score below which this share of the input's
    /// documents fall (DCLM and FineWeb-Edu keep a top share by score, not a fixed probability).
    var classifierRemoveShare = 0.1
    /// The perplexity stage's model: a nano-transformer checkpoint (`Scripts/pretrain-base` writes
    /// this one, trained on Shakespeare); its per-source cutoffs are fitted on the documents of
    /// one split of the ids (unit in [0.2, 0.45)), as text.
    var perplexityModel = "runs/nano-transformer/base/seed-0.ckpt.h5"
    var modelStudy = ModelStudyConfig()

    static var derivedKeys: [String: String] {
        [
            "pipeline.perplexity.buckets": "the cutoffs are fitted on a split of the input",
            "pipeline.minQualityScore": "it is the input's score quantile at classifierRemoveShare",
            "modelStudy.mixing.chunks": "it is the token budget (steps x batchSize x gradAccumulation x contextLength)",
            "modelStudy.mixing.seed": "it is the run's seed",
            "modelStudy.pretraining.model.vocabSize": "it is the tokenizer's vocabulary",
            "modelStudy.pretraining.data": "the run trains on its mix, not on a named corpus",
        ]
    }

    func validate() throws {
        if input.isEmpty { throw LabError.invalid(key: "input", "names no folder") }
        do { try pipeline.check() } catch let e as LabError { throw LabError(.config, "pipeline.\(e.message)") }
        try modelStudy.validate()
        try Check.range("classifierRemoveShare", classifierRemoveShare, 0.0...0.99)
        do { try classifier.check() } catch let e as LabError { throw LabError(.config, "classifier.\(e.message)") }
        if modelStudy.train == .cleaned && pipeline.stages.isEmpty {
            throw LabError.invalid(key: "modelStudy.train", "cleaned needs a pipeline with stages")
        }
    }
}

enum DataPipelineExperiment: Experiment {
    typealias Config = DataPipelineExperimentConfig
    static let name = "data-pipeline"
    static let summary = "The cleaning pipeline on a dirty corpus, each stage checked against the faults it holds."
    static let source = SourceLocation(#filePath)
    static let resources = TaskResources(threads: 1, memory: "768M")  // Scripts/measure-resources data-pipeline

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
        let input = try shards.flatMap { try JSONLDocuments.read($0).documents }
        var classifier: QualityClassifier? = nil
        if c.pipeline.stages.contains(.classifier) {
            let reference = input.filter { faults($0).isEmpty && (0.1..<0.2).contains(ModelStudy.unit($0.id)) }
            let negatives = input.filter { ModelStudy.unit($0.id) >= 0.8 }
            guard !reference.isEmpty && !negatives.isEmpty else {
                throw LabError(
                    .config,
                    "classifier: the input's reference split holds \(reference.count) fault-free documents and its negative split \(negatives.count) documents: \(input.count) documents are too few to train on"
                )
            }
            classifier = try QualityClassifier(
                reference: reference.map(HTMLText.plainText(of:)), negatives: negatives.map(HTMLText.plainText(of:)),
                settings: c.classifier)
            let scores = input.map { classifier!.score(HTMLText.plainText(of: $0)) }
            config.minQualityScore = scores.sorted()[Int(c.classifierRemoveShare * Double(scores.count - 1))]
            // How well the score ranks fault-free documents above gibberish, over the whole input
            // (AUC: the chance a random clean document outscores a random gibberish one).
            let clean = zip(input, scores).filter { faults($0.0).isEmpty }.map(\.1)
            let gibberish = zip(input, scores).filter { faults($0.0).contains("gibberish") }.map(\.1)
            if !clean.isEmpty && !gibberish.isEmpty {
                let wins = clean.reduce(0.0) { total, c in
                    total + gibberish.reduce(0.0) { $0 + (c > $1 ? 1 : c == $1 ? 0.5 : 0) }
                }
                run.results.summary("classifier/auc_clean_vs_gibberish", wins / Double(clean.count * gibberish.count))
            }
            run.results.summary("classifier/threshold", config.minQualityScore)
            print("classifier: trained on \(reference.count) reference and \(negatives.count) negative documents")
        }
        var scorer: PerplexityScorer? = nil
        if c.pipeline.stages.contains(.perplexity) {
            let path = c.perplexityModel.hasPrefix("/") ? c.perplexityModel : "\(root)/\(c.perplexityModel)"
            guard FileManager.default.fileExists(atPath: path) else {
                throw LabError(
                    .config, "perplexityModel: \(path) does not exist (Scripts/pretrain-base writes it)")
            }
            let model = try NanoTransformer.load(checkpoint: path)
            let ppl = try PerplexityScorer(model: model, tokenizer: try BPETokenizer.load(checkpoint: path))
            var sample: [String: [Double]] = [:]
            for d in input where (0.2..<0.45).contains(ModelStudy.unit(d.id)) {
                if let value = ppl.perplexity(HTMLText.plainText(of: d)) { sample[d.source, default: []].append(value) }
            }
            config.perplexity.buckets = PerplexityBuckets(sample: sample)
            scorer = ppl
            print(
                "perplexity cutoffs (p33, p66) per source: "
                    + config.perplexity.buckets.cutoffs.sorted { $0.key < $1.key }
                    .map { "\($0.key) \($0.value.map { String(format: "%.1f", $0) })" }.joined(separator: ", "))
        }
        let out = run.paths.results.replacingOccurrences(of: ".h5", with: ".cleaned")
        let started = Date()
        let report = try Pipeline.run(
            inputs: shards, outputFolder: out, config: config, languageID: languageID, classifier: classifier,
            scorer: scorer, overwrite: true)
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
        let output = try report.outputs.flatMap { try JSONLDocuments.read($0).documents }
        let kept = Dictionary(output.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
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
        guard c.modelStudy.train != .none else { return .finished }
        return try ModelStudy.run(run, input: input, cleaned: output, isClean: { faults($0).isEmpty }, root: root)
    }

    /// The faults the corpus injected into a document (its "injected" field).
    static func faults(_ d: Document) -> Set<String> {
        guard let json = d.metadata["injected"],
            let list = try? JSONDecoder().decode([String].self, from: Data(json.utf8))
        else { return [] }
        return Set(list)
    }
}

ExperimentCommand<DataPipelineExperiment>.main()
