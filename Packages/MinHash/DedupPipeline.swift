import Dispatch
import Foundation
// The dedup stage of a pretraining data pipeline, streaming over files of documents:
//   1. line-level dedup: a line (normalised) that appears in at least `boilerplateMinDocuments`
//      documents is boilerplate and is removed from every document (pass 1 counts lines);
//   2. exact dedup: documents whose normalised text hashes equal keep only the first;
//   3. near-duplicate removal: MinHash signatures, LSH candidates, optionally verified by exact
//      Jaccard (re-reading only the candidates), union-find clusters, one survivor per cluster.
// Memory per document is its signature and location, not its text. Writes the kept documents
// (in input order, in the input's format) and returns a report.
import LabSupport

public struct DedupOptions: Codable, Sendable {
    public var shingling = Shingling.words(5)
    public var numPerm = 112
    public var scheme = MinHashScheme.fast64
    public var seed: UInt64 = 1
    /// Jaccard threshold; (bands, rows) are chosen for it unless `parameters` is set.
    public var threshold = 0.8
    public var parameters: LSHParameters? = nil
    /// Keep only candidate pairs whose exact Jaccard reaches the threshold.
    public var verifyCandidates = true
    public var keep = KeepPolicy.first
    public var exactDedup = true
    public var lineDedup = true
    /// A line found in at least this many documents counts as boilerplate.
    public var boilerplateMinDocuments = 10
    /// Lines shorter than this (after normalisation) are never treated as boilerplate.
    public var boilerplateMinLength = 10
    public var threads = 2

    public init() {}
}

public struct DedupReport: Codable, Sendable, Equatable {
    public var documentsIn = 0
    public var emptyDocuments = 0
    public var shortDocuments = 0
    public var boilerplateLinesRemoved = 0
    public var documentsEmptiedByLineDedup = 0
    public var exactDuplicatesRemoved = 0
    public var candidatePairs = 0
    public var verifiedPairs = 0
    public var nearDuplicateClusters = 0
    public var nearDuplicatesRemoved = 0
    /// cluster size -> number of clusters of that size.
    public var clusterSizes: [String: Int] = [:]
    public var documentsOut = 0
    public var parameters = LSHParameters(bands: 0, rows: 0)
    public var seconds = 0.0
}

public enum DedupPipeline {
    public static func run(
        inputs: [String], format: DocumentFormat, output: String, options: DedupOptions
    ) throws -> DedupReport {
        let started = Date()
        var report = DedupReport()
        let stream = DocumentStream(paths: inputs, format: format)
        let shingleSize: Int = { if case .words(let n) = options.shingling { return n } else { return 1 } }()

        // Pass 1: in how many documents each normalised line occurs.
        var lineDocuments: [UInt64: Int] = [:]
        if options.lineDedup {
            try stream.forEachDocument { text, _, _ in
                var seen = Set<UInt64>()
                for line in text.split(separator: "\n") {
                    let normalized = normalizeForDedup(String(line))
                    guard normalized.count >= options.boilerplateMinLength else { continue }
                    if seen.insert(hash64(Array(normalized.utf8))).inserted {
                        lineDocuments[hash64(Array(normalized.utf8)), default: 0] += 1
                    }
                }
            }
        }
        func stripBoilerplate(_ text: String) -> (String, Int) {
            guard options.lineDedup else { return (text, 0) }
            var removed = 0
            let kept = text.split(separator: "\n", omittingEmptySubsequences: false).filter { line in
                let normalized = normalizeForDedup(String(line))
                if normalized.count >= options.boilerplateMinLength,
                    lineDocuments[hash64(Array(normalized.utf8)), default: 0] >= options.boilerplateMinDocuments
                {
                    removed += 1
                    return false
                }
                return true
            }
            return (kept.joined(separator: "\n"), removed)
        }

        // Pass 2: exact dedup and signatures, in batches signed on all threads.
        let hasher = MinHasher(numPerm: options.numPerm, seed: options.seed, scheme: options.scheme)
        var exactSeen = Set<UInt64>()
        var locations: [DocumentLocation] = []  // documents that reach near-dup detection
        var documentIndex: [Int] = []  // their index among all input documents
        var lengths: [Int] = []
        var signatures: [[UInt64]] = []
        var dropped = Set<Int>()  // input indices removed by exact dedup or emptied
        var batch: [[[UInt8]]] = []
        func flushBatch() {
            signatures += hasher.signatures(batch, threads: options.threads)
            batch.removeAll(keepingCapacity: true)
        }
        var index = 0
        try stream.forEachDocument { text, _, location in
            defer { index += 1 }
            report.documentsIn += 1
            let (stripped, removedLines) = stripBoilerplate(text)
            report.boilerplateLinesRemoved += removedLines
            let normalized = normalizeForDedup(stripped)
            if normalized.isEmpty {
                if removedLines > 0 { report.documentsEmptiedByLineDedup += 1 } else { report.emptyDocuments += 1 }
                dropped.insert(index)
                return
            }
            if options.exactDedup && !exactSeen.insert(hash64(Array(normalized.utf8))).inserted {
                report.exactDuplicatesRemoved += 1
                dropped.insert(index)
                return
            }
            if normalized.split(separator: " ").count < shingleSize { report.shortDocuments += 1 }
            batch.append(shingles(of: normalized, options.shingling))
            locations.append(location)
            documentIndex.append(index)
            lengths.append(stripped.utf8.count)
            if batch.count == 4096 { flushBatch() }
        }
        flushBatch()

        // LSH candidates, optional verification, clusters.
        let parameters =
            options.parameters ?? LSHParameters.optimal(threshold: options.threshold, numPerm: options.numPerm)
        report.parameters = parameters
        var lsh = LSHIndex(parameters)
        for sig in signatures { _ = lsh.insert(sig) }
        let candidates = lsh.candidatePairs()
        report.candidatePairs = candidates.count
        var unionFind = UnionFind(count: signatures.count)
        var shingleCache: [Int: [[UInt8]]] = [:]
        func shinglesOf(_ i: Int) throws -> [[UInt8]] {
            if let hit = shingleCache[i] { return hit }
            let s = shingles(
                of: normalizeForDedup(stripBoilerplate(try stream.read(locations[i])).0), options.shingling)
            if shingleCache.count > 10_000 { shingleCache.removeAll() }
            shingleCache[i] = s
            return s
        }
        for (i, j) in candidates {
            if options.verifyCandidates, try jaccard(shinglesOf(i), shinglesOf(j)) < options.threshold { continue }
            report.verifiedPairs += 1
            unionFind.union(i, j)
        }
        let clusters = unionFind.clusters()
        report.nearDuplicateClusters = clusters.count
        for c in clusters { report.clusterSizes[String(c.count), default: 0] += 1 }
        let keep = Set(survivors(of: clusters, lengths: lengths, policy: options.keep))
        for cluster in clusters {
            for member in cluster where !keep.contains(member) {
                dropped.insert(documentIndex[member])
                report.nearDuplicatesRemoved += 1
            }
        }

        // Pass 3: write the survivors in input order and format.
        FileManager.default.createFile(atPath: output, contents: nil)
        guard let out = FileHandle(forWritingAtPath: output) else { throw LabError(.dedup, "\(output): cannot write") }
        defer { try? out.close() }
        index = 0
        var first = true
        try stream.forEachDocument { text, raw, _ in
            defer { index += 1 }
            guard !dropped.contains(index) else { return }
            let (stripped, removed) = stripBoilerplate(text)
            switch format {
            case .jsonl(let field):
                var record = raw
                if removed > 0, var object = try JSONSerialization.jsonObject(with: raw) as? [String: Any] {
                    object[field] = stripped
                    record = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                }
                out.write(record + Data("\n".utf8))
            case .text(let separator):
                if !first { out.write(Data((separator + "\n").utf8)) }
                out.write(Data((stripped + "\n").utf8))
            }
            first = false
            report.documentsOut += 1
        }
        report.seconds = Date().timeIntervalSince(started)
        return report
    }
}
