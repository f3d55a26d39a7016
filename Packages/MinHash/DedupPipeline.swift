// The dedup stage of a pretraining data pipeline, streaming over files of documents. Each document
// is normalised once; what is kept per document is small (its shingles as sorted 64-bit hashes,
// its signature, its countable lines' hashes), and its text is re-read only to be written.
//   1. Read, in batches worked on all threads: every line normalised (Normalization.swift), the
//      document's normalisation (its non-empty lines joined by spaces), its hash, shingles and
//      signature. An empty document (nothing left after normalisation) is dropped; exact
//      duplicates (the same normalised text) keep the first.
//   2. Near-duplicate clusters of the whole texts (LSH candidates, one sort per band; verified by
//      exact Jaccard of the sorted shingle hashes unless told not to; union-find).
//   3. Boilerplate: a line (at least `boilerplateMinLength` normalised bytes) found in at least
//      `boilerplateMinDocuments` of those clusters, a cluster counting once. Counting over clusters
//      rather than documents keeps ten near-copies of one text from making its own lines
//      "boilerplate"; counting exact duplicates once keeps a repeated one-line document.
//   4. The documents that hold boilerplate are shingled and signed again without it (their
//      normalised lines wait in a temporary spill file, not in memory), so that a shared footer
//      cannot make different documents look alike. A document that is nothing but boilerplate is
//      dropped and reported.
//   5. Near-duplicate clusters again, of the texts without boilerplate: one survivor each.
//   6. The survivors are written in input order, byte for byte as read less their boilerplate
//      lines, to a temporary file renamed over the output at the end (no kept document loses all
//      of its lines: one made only of boilerplate was dropped in step 4).
// Without line dedup, steps 2 to 4 are skipped. The report says what happened to every document
// not written: its id (position in the input, files in order) and, for a duplicate, the id of the
// document kept in its place.
// Memory: about 8 bytes per distinct shingle, 8 per LSH band and 12 per counted
// line of each distinct document; for 220,000 paragraphs, see Benchmarks/README.md. Past memory,
// the shingle hashes would go to the spill file as well and be read back for candidate pairs only.
import Dispatch
import Foundation
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
    /// A line found in at least this many distinct documents counts as boilerplate.
    public var boilerplateMinDocuments = 10
    /// Lines shorter than this (normalised bytes) are never treated as boilerplate.
    public var boilerplateMinLength = 10
    public var threads = 2

    public init() {}

    /// Checks every option; the error names it (key) and says what is allowed.
    public func validate() throws {
        func fail(_ key: String, _ reason: String) -> LabError { LabError(.dedup, key: key, reason) }
        guard (1...65536).contains(numPerm) else { throw fail("numPerm", "\(numPerm) must be in 1...65536") }
        guard threshold.isFinite && threshold > 0 && threshold <= 1 else {
            throw fail("threshold", "\(threshold) must be above 0 and at most 1")
        }
        if scheme != .fast64 && seed >= 1 << 32 {
            throw fail(
                "seed", "\(seed) must be below 2^32 for \(scheme.rawValue) (NumPy's RandomState seed, as datasketch)")
        }
        if let p = parameters {
            guard p.bands >= 1 && p.rows >= 1 && p.bands * p.rows <= numPerm else {
                throw fail(
                    "parameters",
                    "\(p.bands) bands x \(p.rows) rows must be at least 1 x 1 and at most numPerm \(numPerm)")
            }
        }
        switch shingling {
        case .words(let n), .characters(let n):
            guard (1...1024).contains(n) else { throw fail("shingling", "size \(n) must be in 1...1024") }
        }
        guard boilerplateMinDocuments >= 2 else {
            throw fail("boilerplateMinDocuments", "\(boilerplateMinDocuments) must be at least 2")
        }
        guard boilerplateMinLength >= 0 else { throw fail("boilerplateMinLength", "must be 0 or more") }
        guard (1...256).contains(threads) else { throw fail("threads", "\(threads) must be in 1...256") }
    }
}

public struct DedupReport: Codable, Sendable, Equatable {
    public var documentsIn = 0
    /// Documents with nothing left after normalisation (empty, whitespace or punctuation only).
    public var emptyDocuments = 0
    /// Documents shorter than one shingle (kept: they are one shingle of all their words).
    public var shortDocuments = 0
    /// Lines removed from kept documents (boilerplate among the survivors).
    public var boilerplateLinesRemoved = 0
    /// Documents that were nothing but boilerplate lines (dropped).
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
    /// Ids (0-based positions in the input, files in order) of the documents not written, by
    /// reason; a duplicate comes as [its id, the id of the document kept in its place].
    public var emptyDocumentIds: [Int] = []
    public var emptiedByLineDedupIds: [Int] = []
    public var exactDuplicateOf: [[Int]] = []
    public var nearDuplicateOf: [[Int]] = []

    public init() {}
}

public enum DedupPipeline {
    /// What pass 1 learns about one document.
    struct Scanned {
        var hash: UInt64 = 0
        var isEmpty = true
        /// (line index, hash) of the lines long enough to count as boilerplate (a line repeated
        /// within the document is listed each time, and counted once).
        var countable: [LineHash] = []
        /// The whole normalised text's shingles and signature.
        var signed: Signed? = nil
        /// With line dedup: the normalisation and each line's range in it, for step 4.
        var normalized: [UInt8] = []
        var ranges: [Range<Int>] = []
    }

    struct LineHash {
        var line: Int32
        var hash: UInt64
    }

    struct Signed {
        var shingles: [UInt64]
        /// The LSH band keys of the signature (the signature itself is not kept).
        var bandKeys: [UInt64]
        var words: Int
    }

    public static func run(
        inputs: [String], format: DocumentFormat, output: String, options: DedupOptions
    ) throws -> DedupReport {
        try options.validate()
        try OutputFile.checkNotAnInput(output, inputs: inputs)
        let started = Date()
        var report = DedupReport()
        let hasher = MinHasher(numPerm: options.numPerm, seed: options.seed, scheme: options.scheme)
        let parameters =
            options.parameters ?? LSHParameters.optimal(threshold: options.threshold, numPerm: options.numPerm)
        report.parameters = parameters
        let shingleSize: Int
        switch options.shingling {
        case .words(let n), .characters(let n): shingleSize = n
        }
        let index = LSHIndex(parameters)
        func sign(_ normalized: [UInt8]) -> Signed {
            normalized.withUnsafeBufferPointer { text in
                let spans = shingleSpans(text, options.shingling)
                let words = text.isEmpty ? 0 : text.reduce(1) { $0 + ($1 == 0x20 ? 1 : 0) }
                return Signed(
                    shingles: spans.map(\.hash), bandKeys: index.bandKeys(hasher.signature(spans: spans, text: text)),
                    words: words)
            }
        }
        /// Near-duplicate clusters of `docs` (positions into `signed`), as positions.
        func clusters(_ docs: [Int], _ signed: [Signed]) -> [[Int]] {
            let pairs = LSHIndex.candidatePairs(
                bandKeys: docs.flatMap { signed[$0].bandKeys }, bands: parameters.bands, threads: options.threads)
            let verified =
                options.verifyCandidates
                ? parallelMap(pairs, threads: options.threads) { i, j in
                    jaccard(sortedHashes: signed[docs[i]].shingles, signed[docs[j]].shingles) >= options.threshold
                } : Array(repeating: true, count: pairs.count)
            var unionFind = UnionFind(count: docs.count)
            for (pair, ok) in zip(pairs, verified) where ok { unionFind.union(pair.0, pair.1) }
            report.candidatePairs = pairs.count
            report.verifiedPairs = verified.filter { $0 }.count
            return unionFind.clusters().map { $0.map { docs[$0] } }
        }

        // 1. Read, normalise, sign; drop empty documents and exact duplicates.
        var stream = DocumentStream(paths: inputs, format: format)
        var firstOfHash: [UInt64: Int] = [:]
        var distinct: [Int] = []  // ids of distinct non-empty documents, ascending
        var countable: [[LineHash]] = []  // per distinct document
        var signed: [Signed] = []  // per distinct document
        var lengths: [Int] = []  // text bytes, per distinct document (for --keep longest)
        let spill = options.lineDedup ? try SpillFile() : nil
        var batch: [Document] = []
        var nextId = 0
        func scanBatch() throws {
            let scanned = parallelMap(batch, threads: options.threads) { document in
                scan(document.text, options: options, sign: sign)
            }
            for (document, s) in zip(batch, scanned) {
                let id = nextId
                nextId += 1
                if s.isEmpty {
                    report.emptyDocumentIds.append(id)
                    continue
                }
                if options.exactDedup {
                    if let kept = firstOfHash[s.hash] {
                        report.exactDuplicateOf.append([id, kept])
                        continue
                    }
                    firstOfHash[s.hash] = id
                }
                distinct.append(id)
                lengths.append(document.text.count)
                countable.append(s.countable)
                signed.append(s.signed!)
                try spill?.append(s.normalized, ranges: s.ranges)
            }
            batch.removeAll(keepingCapacity: true)
        }
        try stream.forEachDocument { document in
            batch.append(document)
            if batch.count == 2048 { try scanBatch() }
        }
        try scanBatch()
        firstOfHash = [:]
        report.documentsIn = nextId
        report.emptyDocuments = report.emptyDocumentIds.count
        report.exactDuplicatesRemoved = report.exactDuplicateOf.count

        // 2-4. Boilerplate counted over near-duplicate clusters; documents holding it signed again.
        var live = Array(distinct.indices)  // positions that go on to the final clustering
        var boilerplate = Set<UInt64>()
        if let spill {
            var counts: [UInt64: Int32] = [:]
            var inCluster = [Bool](repeating: false, count: distinct.count)
            for cluster in clusters(live, signed) {
                var lines = Set<UInt64>()
                for member in cluster {
                    inCluster[member] = true
                    for line in countable[member] { lines.insert(line.hash) }
                }
                for h in lines { counts[h, default: 0] += 1 }
            }
            for position in live where !inCluster[position] {
                for h in Set(countable[position].map(\.hash)) { counts[h, default: 0] += 1 }
            }
            boilerplate = Set(counts.filter { $0.value >= Int32(options.boilerplateMinDocuments) }.keys)
            counts = [:]
            if !boilerplate.isEmpty {
                var emptied = Set<Int>()
                var position = 0
                try spill.forEachBatch(of: 2048) { documents in
                    let base = position
                    position += documents.count
                    let touched = (base..<position).filter { countable[$0].contains { boilerplate.contains($0.hash) } }
                    let resigned = parallelMap(touched, threads: options.threads) { p -> Signed? in
                        let removed = Set(countable[p].filter { boilerplate.contains($0.hash) }.map { Int($0.line) })
                        let (normalized, ranges) = documents[p - base]
                        var joined: [UInt8] = []
                        for (i, range) in ranges.enumerated() where !range.isEmpty && !removed.contains(i) {
                            if !joined.isEmpty { joined.append(0x20) }
                            joined += normalized[range]
                        }
                        return joined.isEmpty ? nil : sign(joined)
                    }
                    for (p, result) in zip(touched, resigned) {
                        if let result { signed[p] = result } else { emptied.insert(p) }
                    }
                }
                live.removeAll { emptied.contains($0) }
                report.emptiedByLineDedupIds = emptied.sorted().map { distinct[$0] }
                report.documentsEmptiedByLineDedup = emptied.count
            }
        }
        report.shortDocuments = live.filter { signed[$0].words < shingleSize }.count

        // 5. The final clusters, one survivor each.
        let final = clusters(live, signed)
        signed = []
        report.nearDuplicateClusters = final.count
        for c in final { report.clusterSizes[String(c.count), default: 0] += 1 }
        let kept = survivors(of: final, lengths: lengths, policy: options.keep)
        var keep = Set(live.map { distinct[$0] })
        for (cluster, survivor) in zip(final, kept) {
            for member in cluster where member != survivor {
                keep.remove(distinct[member])
                report.nearDuplicateOf.append([distinct[member], distinct[survivor]])
            }
        }
        report.nearDuplicateOf.sort { $0[0] < $1[0] }
        report.nearDuplicatesRemoved = report.nearDuplicateOf.count
        var removedLines: [Int: Set<Int>] = [:]  // id -> line indices
        if !boilerplate.isEmpty {
            for position in live where keep.contains(distinct[position]) {
                let lines = countable[position].filter { boilerplate.contains($0.hash) }
                if !lines.isEmpty { removedLines[distinct[position]] = Set(lines.map { Int($0.line) }) }
            }
        }

        // 6. The survivors, in input order, to a temporary file renamed over the output.
        let file = try OutputFile(output)
        let separatorLine = stream.separatorLine  // as the input writes it
        var id = 0
        var wroteOne = false
        var again = DocumentStream(paths: inputs, format: format)
        try again.forEachDocument { document in
            defer { id += 1 }
            guard keep.contains(id) else { return }
            let removed = removedLines[id] ?? []
            report.boilerplateLinesRemoved += removed.count
            switch format {
            case .jsonl(let field):
                var record = document.raw
                if !removed.isEmpty,
                    var object = try JSONSerialization.jsonObject(with: Data(document.raw)) as? [String: Any]
                {
                    object[field] = String(decoding: without(removed, document.text), as: UTF8.self)
                    record = Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
                }
                try file.write(record + [0x0A])
            case .text(let separator):
                if wroteOne { try file.write(separatorLine ?? Array((separator + "\n").utf8)) }
                var bytes = without(removed, document.raw)
                if bytes.last != 0x0A { bytes += separatorLine?.suffix(2) == [0x0D, 0x0A] ? [0x0D, 0x0A] : [0x0A] }
                try file.write(bytes)
            }
            wroteOne = true
            report.documentsOut += 1
        }
        try file.commit()
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    /// Step 1's work on one document's text: each line normalised straight into the document's
    /// normalisation (lines joined by one space), its range there kept for the line hashes and the
    /// spill file.
    static func scan(_ text: [UInt8], options: DedupOptions, sign: ([UInt8]) -> Signed) -> Scanned {
        var s = Scanned()
        var whole: [UInt8] = []
        whole.reserveCapacity(text.count)
        var ranges: [Range<Int>] = []
        text.withUnsafeBufferPointer { bytes in
            var lineStart = 0
            while lineStart < bytes.count {
                var end = lineStart
                while end < bytes.count && bytes[end] != 0x0A { end += 1 }
                var pending = !whole.isEmpty  // the line break before this line is whitespace
                let before = whole.count
                normalizeForDedup(
                    bytes: UnsafeBufferPointer(rebasing: bytes[lineStart..<end]), into: &whole, pendingSpace: &pending)
                // The line's own normalisation starts after the joining space, if one was added.
                let start = whole.count > before && before > 0 ? before + 1 : before
                ranges.append(start..<whole.count)
                lineStart = end + 1
            }
        }
        if options.lineDedup {
            whole.withUnsafeBytes { raw in
                for (index, range) in ranges.enumerated() where range.count >= max(options.boilerplateMinLength, 1) {
                    s.countable.append(
                        LineHash(line: Int32(index), hash: hash64(UnsafeRawBufferPointer(rebasing: raw[range]))))
                }
            }
            (s.normalized, s.ranges) = (whole, ranges)
        }
        s.isEmpty = whole.isEmpty
        s.hash = whole.withUnsafeBytes { hash64($0) }
        if !whole.isEmpty { s.signed = sign(whole) }
        return s
    }
}

/// The lines of UTF-8 text, each with its "\n" (the last one perhaps without).
func lines(of text: [UInt8]) -> [ArraySlice<UInt8>] {
    var out: [ArraySlice<UInt8>] = []
    var start = 0
    for i in text.indices where text[i] == 0x0A {
        out.append(text[start...i])
        start = i + 1
    }
    if start < text.count { out.append(text[start...]) }
    return out
}

/// `text` without the lines at `removed`, every other byte as it was; a text that did not end
/// with a line break does not gain one.
func without(_ removed: Set<Int>, _ text: [UInt8]) -> [UInt8] {
    guard !removed.isEmpty else { return text }
    var out = Array(lines(of: text).enumerated().filter { !removed.contains($0.offset) }.map(\.element).joined())
    if text.last != 0x0A && out.last == 0x0A {
        out.removeLast()
        if out.last == 0x0D { out.removeLast() }
    }
    return out
}

/// `transform` over `items` on `threads` threads, results in order.
func parallelMap<T, R>(_ items: [T], threads: Int, _ transform: (T) -> R) -> [R] {
    if threads <= 1 || items.count < 2 { return items.map(transform) }
    var results = [R?](repeating: nil, count: items.count)
    let chunks = min(threads * 4, items.count)
    results.withUnsafeMutableBufferPointer { buffer in
        withoutActuallyEscaping(transform) { transform in
            // Each chunk writes its own slots; the items and the transform are only read.
            let shared = UncheckedSendable((buffer, items, transform))
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let (out, items, transform) = shared.value
                for i in (items.count * c / chunks)..<(items.count * (c + 1) / chunks) { out[i] = transform(items[i]) }
            }
        }
    }
    return results.map { $0! }
}
