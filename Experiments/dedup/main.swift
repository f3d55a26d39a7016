// dedup: the dedup stage of a data pipeline as a command (Packages/MinHash/DedupPipeline.swift).
//   dedup in1.jsonl in2.jsonl --out kept.jsonl --report report.json
//   dedup fortunes.txt --separator % --out kept.txt --threshold 0.7 --shingle char:5
import ArgumentParser
import Foundation
import LabSupport
import MinHash

struct Dedup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dedup",
        abstract: "Remove boilerplate lines, exact and near-duplicate documents (MinHash + LSH) from files.")

    @Argument(help: "Input files (JSONL, or text with --separator).") var inputs: [String]
    @Option(help: "Where to write the kept documents.") var out: String
    @Option(help: "Where to write the JSON report (default: stdout).") var report: String?
    @Option(help: "JSONL field holding the text.") var field = "text"
    @Option(help: "Read plain text: a line equal to this ends a document (\"\" for blank lines).") var separator:
        String?
    @Option(help: "Jaccard threshold, above 0 and at most 1.") var threshold = 0.8
    @Option(help: "MinHash permutations K (1...65536).") var numPerm = 112
    @Option(help: "Seed of the hash functions (below 2^32 for the datasketch schemes).") var seed: UInt64 = 1
    @Option(help: "Bands x rows, e.g. 14x8 (default: chosen for the threshold as datasketch does).") var bands: String?
    @Option(help: "fast64 | datasketchAffine32 | datasketchAffine64 | datasketchLegacy.") var scheme = "fast64"
    @Option(help: "Shingles: word:N or char:N.") var shingle = "word:5"
    @Option(help: "Which member of a cluster survives: first | longest.") var keep = "first"
    @Option(help: "A line in at least this many documents is boilerplate.") var boilerplateMinDocuments = 10
    @Flag(help: "Do not confirm candidate pairs with exact Jaccard.") var noVerify = false
    @Flag(help: "Skip line-level dedup.") var noLineDedup = false
    @Flag(help: "Skip exact dedup.") var noExactDedup = false
    @Option(help: "Threads (1...256) for normalising, signing and verifying.") var threads = 2

    func run() throws {
        var options = DedupOptions()
        options.threshold = threshold
        options.numPerm = numPerm
        options.seed = seed
        guard let s = MinHashScheme(rawValue: scheme) else { throw ValidationError("unknown --scheme '\(scheme)'") }
        options.scheme = s
        let parts = shingle.split(separator: ":")
        guard parts.count == 2, let n = Int(parts[1]), n > 0, ["word", "char"].contains(parts[0]) else {
            throw ValidationError("--shingle must be word:N or char:N, got '\(shingle)'")
        }
        options.shingling = parts[0] == "word" ? .words(n) : .characters(n)
        if let bands {
            let br = bands.split(separator: "x").compactMap { Int($0) }
            guard br.count == 2 else { throw ValidationError("--bands must be BxR, e.g. 14x8, got '\(bands)'") }
            options.parameters = LSHParameters(bands: br[0], rows: br[1])
        }
        guard let policy = KeepPolicy(rawValue: keep) else { throw ValidationError("--keep must be first or longest") }
        options.keep = policy
        options.verifyCandidates = !noVerify
        options.lineDedup = !noLineDedup
        options.exactDedup = !noExactDedup
        options.boilerplateMinDocuments = boilerplateMinDocuments
        options.threads = threads
        let format: DocumentFormat = separator.map { .text(separator: $0) } ?? .jsonl(field: field)
        let result: DedupReport
        do {
            result = try DedupPipeline.run(inputs: inputs, format: format, output: out, options: options)
        } catch let error as LabError where error.domain == .dedup && error.key != nil {
            throw ValidationError("\(Self.flag(error.key!)): \(error.reason)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let json = try encoder.encode(result)
        if let report {
            try json.write(to: URL(fileURLWithPath: report))
        } else {
            print(String(decoding: json, as: UTF8.self))
        }
        FileHandle.standardError.write(
            Data(
                "dedup: \(result.documentsIn) documents in, \(result.documentsOut) kept (\(result.exactDuplicatesRemoved) exact, \(result.nearDuplicatesRemoved) near duplicates, \(result.boilerplateLinesRemoved) boilerplate lines removed)\n"
                    .utf8))
    }
}

extension Dedup {
    /// The command-line flag of a DedupOptions key.
    static func flag(_ key: String) -> String {
        let names = [
            "parameters": "--bands", "shingling": "--shingle", "out": "--out", "numPerm": "--num-perm",
            "boilerplateMinDocuments": "--boilerplate-min-documents",
        ]
        return names[key] ?? "--\(key)"
    }
}

Dedup.main()
