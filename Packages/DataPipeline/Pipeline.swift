// The pipeline: shards in (JSONL files, or folders of text files), the configured stages in
// order, one shard out per shard in (same name, same kind, in the output folder), and a report of
// what each stage kept, changed and removed, with the first removed documents of each reason and
// every record that could not be read. Shards are taken in order and each shard's documents in
// order; a stage that judges documents alone runs on all threads over a shard and its decisions
// are collected in input order, so the output and the report are the same for any thread count.
// Nothing is lost: a bad record is reported by file and line and the rest of its shard goes on,
// an output shard is written to a temporary name and renamed, an existing output is refused
// unless overwriting is asked for, and no output may be an input.
import Dispatch
import Foundation
import LabSupport

public struct PipelineConfig: Codable, Sendable, Equatable {
    public var stages: [StageName] = [.html, .pii, .documentDedup, .nearDedup, .lineDedup, .quality]
    public var quality = QualityRules()
    public var nearDedup = NearDedupSettings()
    public var language = LanguageFilter()
    public var perplexity = PerplexityFilter()
    /// The classifier stage removes documents scoring below this.
    public var minQualityScore = 0.5
    /// Removed documents kept in the report per stage and reason.
    public var samplesPerReason = 3
    /// Characters of a removed document's text in its sample.
    public var excerptLength = 160
    public var threads = 2

    public init() {}

    public func check() throws {
        if let twice = stages.first(where: { s in stages.filter { $0 == s }.count > 1 }) {
            throw LabError(.config, "stages: \(twice.rawValue) is listed twice")
        }
        try nearDedup.check()
        try language.check()
        if !(0...1).contains(minQualityScore) {
            throw LabError(.config, "minQualityScore: \(minQualityScore) must be in [0, 1]")
        }
        if samplesPerReason < 0 { throw LabError(.config, "samplesPerReason: \(samplesPerReason) must be >= 0") }
        if excerptLength < 0 { throw LabError(.config, "excerptLength: \(excerptLength) must be >= 0") }
        if !(1...256).contains(threads) { throw LabError(.config, "threads: \(threads) must be in 1...256") }
    }
}

public struct PipelineReport: Codable, Sendable, Equatable {
    public var documentsIn = 0
    public var documentsOut = 0
    public var stages: [StageReport] = []
    public var badRecords: [BadRecord] = []
    public var outputs: [String] = []
}

/// The stages with what the ordered ones remember, for one run over many shards.
public final class PipelineRun {
    let config: PipelineConfig
    let perDocument: [StageName: PerDocumentStage]
    let ordered: [StageName: OrderedStage]
    public private(set) var report = PipelineReport()

    /// `languageID`, `classifier`, `scorer`: the models the language, classifier and perplexity
    /// stages use (needed when those stages are configured).
    public init(
        _ config: PipelineConfig, languageID: LanguageID? = nil, classifier: QualityClassifier? = nil,
        scorer: PerplexityScorer? = nil
    ) throws {
        try config.check()
        if config.stages.contains(.perplexity) && scorer == nil {
            throw LabError(.config, "stages: perplexity needs a language model to score with")
        }
        if config.stages.contains(.language) && languageID == nil {
            throw LabError(.config, "stages: language needs a language identification model")
        }
        if config.stages.contains(.classifier) && classifier == nil {
            throw LabError(.config, "stages: classifier needs a quality classifier")
        }
        if let unknown = config.language.keep.first(where: { !(languageID?.languages.contains($0) ?? true) }) {
            throw LabError(
                .config,
                "language.keep: '\(unknown)' is not a language of the model (\(languageID!.languages.joined(separator: ", ")))"
            )
        }
        self.config = config
        perDocument = Dictionary(
            uniqueKeysWithValues: config.stages.filter { !$0.isOrdered }.map {
                (
                    $0,
                    PerDocumentStage(
                        name: $0, rules: config.quality, languageFilter: config.language, languageID: languageID,
                        classifier: classifier, minQualityScore: config.minQualityScore)
                )
            })
        ordered = Dictionary(
            uniqueKeysWithValues: config.stages.filter(\.isOrdered).map {
                ($0, OrderedStage($0, near: config.nearDedup, scorer: scorer, perplexityFilter: config.perplexity))
            })
        report.stages = config.stages.map { StageReport(name: $0.rawValue) }
    }

    /// The documents that pass every stage, in order; the report counts them.
    public func process(_ documents: [Document]) -> [Document] {
        report.documentsIn += documents.count
        var current = documents
        for (k, name) in config.stages.enumerated() {
            var counts: [String: Int] = [:]
            let decisions: [StageDecision]
            if let stage = ordered[name] {
                decisions = current.map { stage.apply($0, counts: &counts) }
            } else {
                let stage = perDocument[name]!
                (decisions, counts) = Self.parallel(current, threads: config.threads, stage)
            }
            var next: [Document] = []
            var r = report.stages[k]
            r.documentsIn += current.count
            for (key, n) in counts { r.counts[key, default: 0] += n }
            for (before, decision) in zip(current, decisions) {
                switch decision {
                case .keep(let d):
                    r.kept += 1
                    if d.text != before.text { r.changed += 1 }
                    next.append(d)
                case .remove(let reason):
                    r.removed += 1
                    r.reasons[reason, default: 0] += 1
                    if r.removedSamples.count(where: { $0.reason == reason }) < config.samplesPerReason {
                        r.removedSamples.append(
                            RemovedSample(
                                id: before.id, reason: reason, excerpt: String(before.text.prefix(config.excerptLength))
                            ))
                    }
                }
            }
            report.stages[k] = r
            current = next
        }
        report.documentsOut += current.count
        return current
    }

    /// The stage over the documents in contiguous chunks (in parallel when `threads` > 1); the
    /// decisions in input order and the counts summed in chunk order.
    static func parallel(_ documents: [Document], threads: Int, _ stage: PerDocumentStage) -> (
        [StageDecision], [String: Int]
    ) {
        let chunks = Swift.max(1, Swift.min(threads * 4, documents.count))
        var results = [([StageDecision], [String: Int])](repeating: ([], [:]), count: chunks)
        results.withUnsafeMutableBufferPointer { buffer in
            // Each chunk writes its own slot; the documents and the stage are only read.
            let shared = UncheckedSendable((buffer, documents))
            let work: @Sendable (Int) -> Void = { c in
                let (out, documents) = shared.value
                var counts: [String: Int] = [:]
                let range = (documents.count * c / chunks)..<(documents.count * (c + 1) / chunks)
                out[c] = (documents[range].map { stage.apply($0, counts: &counts) }, counts)
            }
            if threads > 1 && chunks > 1 {
                DispatchQueue.concurrentPerform(iterations: chunks, execute: work)
            } else {
                (0..<chunks).forEach(work)
            }
        }
        var counts: [String: Int] = [:]
        for (_, c) in results { for (k, n) in c { counts[k, default: 0] += n } }
        return (results.flatMap(\.0), counts)
    }

    /// Reads `input`, processes it and writes the survivors to `output`: a JSONL file, or a
    /// folder of text files written back as one (TextFolderDocuments.swift).
    public func run(shard input: String, to output: String) throws {
        let folder = TextFolderDocuments.isFolder(input)
        let (documents, bad) = try folder ? TextFolderDocuments.read(input) : JSONLDocuments.read(input)
        report.badRecords += bad
        let kept = process(documents)
        try folder ? TextFolderDocuments.write(kept, to: output) : JSONLDocuments.write(kept, to: output)
        report.outputs.append(output)
    }
}

public enum Pipeline {
    /// Every input shard through the stages into `outputFolder` (one output per input, same
    /// name); the report is also written there as `report.json`.
    public static func run(
        inputs: [String], outputFolder: String, config: PipelineConfig, languageID: LanguageID? = nil,
        classifier: QualityClassifier? = nil, scorer: PerplexityScorer? = nil, overwrite: Bool = false
    ) throws -> PipelineReport {
        let run = try PipelineRun(config, languageID: languageID, classifier: classifier, scorer: scorer)
        let names = inputs.map { ($0 as NSString).lastPathComponent }
        if let twice = names.first(where: { n in names.filter { $0 == n }.count > 1 }) {
            throw LabError(.config, "\(twice): two inputs have this name, and their outputs would collide")
        }
        let outputs = names.map { "\(outputFolder)/\($0)" } + ["\(outputFolder)/report.json"]
        let resolved = Set(inputs.map { URL(fileURLWithPath: $0).standardizedFileURL.resolvingSymlinksInPath().path })
        for output in outputs {
            if resolved.contains(URL(fileURLWithPath: output).standardizedFileURL.resolvingSymlinksInPath().path) {
                throw LabError(.config, "\(output): is an input; the output folder must not hold the inputs")
            }
            if !overwrite && FileManager.default.fileExists(atPath: output) {
                throw LabError(.config, "\(output): exists (overwriting it must be asked for)")
            }
        }
        do {
            try FileManager.default.createDirectory(atPath: outputFolder, withIntermediateDirectories: true)
        } catch {
            throw LabError(.config, "\(outputFolder): cannot create the output folder")
        }
        for (input, output) in zip(inputs, outputs) { try run.run(shard: input, to: output) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(run.report).write(to: URL(fileURLWithPath: outputs.last!), options: .atomic)
        return run.report
    }
}
