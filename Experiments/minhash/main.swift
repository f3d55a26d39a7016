import ExperimentKit
import Foundation
// minhash: how well MinHash + LSH finds near-duplicates, measured against exact Jaccard on a
// benchmark built from real paragraphs with controlled edits, and how fast.
import LabSupport
import MinHash
import TensorCore

struct MinHashConfig: ExperimentConfig {
    /// Permutations K.
    var numPerm = 128
    /// fast64 | datasketchAffine32 | datasketchAffine64 | datasketchLegacy.
    var scheme = MinHashScheme.fast64
    /// word | char shingles, of `shingleSize` words or characters.
    var shingle = "word"
    var shingleSize = 5
    /// optimal: (bands, rows) from datasketch's rule for each threshold; fixed: fixedBands x fixedRows.
    var lsh = "optimal"
    var fixedBands = 16
    var fixedRows = 8
    /// Confirm candidates with exact Jaccard before clustering.
    var verify = true
    /// Jaccard thresholds evaluated.
    var thresholds = [0.5, 0.6, 0.7, 0.8, 0.9]
    /// Source paragraphs that get variants, and unrelated paragraphs mixed in.
    var baseDocuments = 400
    var unrelatedDocuments = 800
    /// Variants per source paragraph; each edits words at rate maxEditRate * u^2, u uniform in
    /// [0, 1), so that small edits (high Jaccard) are as common as large ones.
    var variantsPerDocument = 4
    var maxEditRate = 0.3
    /// corpora (Data/fetch) or sample (committed).
    var data = "corpora"

    init() {}

    /// Every field's range and the rules between fields, each error naming its key.
    func validate() throws {
        try Check.range("numPerm", numPerm, 1...65536)
        try Check.oneOf("shingle", shingle, ["word", "char"])
        try Check.range("shingleSize", shingleSize, 1...1024)
        try Check.oneOf("lsh", lsh, ["optimal", "fixed"])
        try Check.range("fixedBands", fixedBands, 1...65536)
        try Check.range("fixedRows", fixedRows, 1...65536)
        try Check.that(
            lsh != "fixed" || fixedBands * fixedRows <= numPerm, "fixedBands", "fixedBands x fixedRows exceeds numPerm",
            related: ["fixedRows", "numPerm"])
        try Check.that(
            !thresholds.isEmpty && thresholds.allSatisfy { $0.isFinite && $0 > 0 && $0 <= 1 }, "thresholds",
            "one or more thresholds, each in (0, 1]")
        try Check.range("baseDocuments", baseDocuments, 1...10_000_000)
        try Check.range("unrelatedDocuments", unrelatedDocuments, 0...10_000_000)
        try Check.range("variantsPerDocument", variantsPerDocument, 0...1000)
        try Check.range("maxEditRate", maxEditRate, 0...1)
        try Check.oneOf("data", data, ["corpora", "sample"])
    }

    var shingling: Shingling { shingle == "word" ? .words(shingleSize) : .characters(shingleSize) }
}

/// A variant of `text` with each word edited with probability `rate` (insert, delete or
/// substitute, equally likely), sometimes its sentences reordered or a boilerplate line added.
func variant(of text: String, rate: Double, vocabulary: [String], rng: inout RNG) -> String {
    var words: [String] = []
    for w in text.split(separator: " ") {
        if Double(rng.uniform()) < rate {
            switch rng.int(below: 3) {
            case 0: words += [String(w), vocabulary[rng.int(below: vocabulary.count)]]
            case 1: break
            default: words.append(vocabulary[rng.int(below: vocabulary.count)])
            }
        } else {
            words.append(String(w))
        }
    }
    var out = words.joined(separator: " ")
    if rng.uniform() < 0.2 {
        var sentences = out.components(separatedBy: ". ")
        rng.shuffle(&sentences)
        out = sentences.joined(separator: ". ")
    }
    if rng.uniform() < 0.2 { out += "\nAll rights reserved. Printed for the benchmark." }
    return out
}

struct PairScores {
    var precision = 0.0
    var recall = 0.0
    var f1 = 0.0
    init(predicted: Set<UInt64>, truth: Set<UInt64>) {
        let hit = Double(predicted.intersection(truth).count)
        precision = predicted.isEmpty ? 1 : hit / Double(predicted.count)
        recall = truth.isEmpty ? 1 : hit / Double(truth.count)
        f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)
    }
}

@inline(__always) func key(_ i: Int, _ j: Int) -> UInt64 { UInt64(min(i, j)) << 32 | UInt64(max(i, j)) }

/// Pairs (i < j) in the same cluster.
func coClustered(_ pairs: [UInt64], count: Int) -> Set<UInt64> {
    var uf = UnionFind(count: count)
    for p in pairs { uf.union(Int(p >> 32), Int(p & 0xFFFF_FFFF)) }
    var out = Set<UInt64>()
    for cluster in uf.clusters() {
        for a in 0..<cluster.count { for b in (a + 1)..<cluster.count { out.insert(key(cluster[a], cluster[b])) } }
    }
    return out
}

enum MinHashExperiment: Experiment {
    typealias Config = MinHashConfig
    static let name = "minhash"
    static let summary = "MinHash + LSH near-duplicate detection against exact Jaccard ground truth."
    static let source = SourceLocation(#filePath)
    static let resources = TaskResources(threads: 1, memory: "768M")  // Scripts/measure-resources minhash

    static func run(_ run: Run<Config>) throws -> RunOutcome {
        let c = run.config
        let root = source.repositoryRoot
        let folder = c.data == "sample" ? "\(root)/Data/sample" : "\(root)/Data/corpora/english/shakespeare"
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw LabError(.config, "\(folder): missing; run Data/fetch first (or --set data=sample)")
        }
        var paragraphs: [String] = []
        for f in files.sorted() where f.hasSuffix(".txt") && (c.data == "corpora" || f.hasPrefix("english")) {
            let text = try String(contentsOfFile: "\(folder)/\(f)", encoding: .utf8)
            paragraphs += text.components(separatedBy: "\n\n")
                .map { $0.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
                .filter { $0.split(separator: " ").count >= 30 }
        }
        // Distinct paragraphs only, so the unrelated ones are truly unrelated before editing.
        var seen = Set<String>()
        paragraphs = paragraphs.filter { seen.insert(normalizeForDedup($0)).inserted }
        var rng = RNG(seed: UInt64(run.seed))
        rng.shuffle(&paragraphs)
        let needed = c.baseDocuments + c.unrelatedDocuments
        guard paragraphs.count >= needed else {
            throw LabError(
                .config,
                "only \(paragraphs.count) paragraphs of 30+ words for \(needed) documents; lower baseDocuments")
        }
        let vocabulary = Array(Set(paragraphs.prefix(200).flatMap { $0.split(separator: " ").map(String.init) }))
            .sorted()
        var documents: [String] = []
        for p in paragraphs[..<c.baseDocuments] {
            documents.append(p)
            for _ in 0..<c.variantsPerDocument {
                documents.append(
                    variant(
                        of: p, rate: pow(Double(rng.uniform()), 2) * c.maxEditRate, vocabulary: vocabulary, rng: &rng))
            }
        }
        documents += paragraphs[c.baseDocuments..<needed]
        let shingleSets = documents.map { shingles(of: normalizeForDedup($0), c.shingling) }
        print(
            "\(documents.count) documents (\(c.baseDocuments) x \(c.variantsPerDocument + 1) near-duplicate families + \(c.unrelatedDocuments) unrelated)"
        )

        // Exact Jaccard of every pair sharing at least one shingle (inverted index).
        var postings: [[UInt8]: [Int32]] = [:]
        for (d, set) in shingleSets.enumerated() { for s in set { postings[s, default: []].append(Int32(d)) } }
        var intersections: [UInt64: Int] = [:]
        for list in postings.values where list.count > 1 && list.count < 2000 {
            for a in 0..<list.count {
                for b in (a + 1)..<list.count { intersections[key(Int(list[a]), Int(list[b])), default: 0] += 1 }
            }
        }
        var truthJaccard: [UInt64: Double] = [:]
        for (pair, inter) in intersections {
            let (i, j) = (Int(pair >> 32), Int(pair & 0xFFFF_FFFF))
            truthJaccard[pair] = Double(inter) / Double(shingleSets[i].count + shingleSets[j].count - inter)
        }

        // Signatures, timed.
        let hasher = MinHasher(numPerm: c.numPerm, seed: UInt64(run.seed) + 1, scheme: c.scheme)
        let started = Date()
        let signatures = hasher.signatures(shingleSets, threads: run.threads)
        let perSecond = Double(documents.count) / Date().timeIntervalSince(started)
        run.results.summary("perf/signatures_per_s", perSecond)

        for (step, t) in c.thresholds.enumerated() {
            let p =
                c.lsh == "fixed"
                ? LSHParameters(bands: c.fixedBands, rows: c.fixedRows)
                : LSHParameters.optimal(threshold: t, numPerm: c.numPerm)
            var index = LSHIndex(p)
            for s in signatures { _ = index.insert(s) }
            let candidates = Set(index.candidatePairs().map { key($0.0, $0.1) })
            let truth = Set(truthJaccard.filter { $0.value >= t }.keys)
            let final = c.verify ? candidates.filter { (truthJaccard[$0] ?? 0) >= t } : candidates
            let pairScores = PairScores(predicted: candidates, truth: truth)
            let clusterScores = PairScores(
                predicted: coClustered(Array(final), count: documents.count),
                truth: coClustered(Array(truth), count: documents.count))
            let x = Int((t * 100).rounded())
            run.results.log(
                [
                    "pairs/candidate_precision": pairScores.precision, "pairs/candidate_recall": pairScores.recall,
                    "pairs/candidate_f1": pairScores.f1, "clusters/precision": clusterScores.precision,
                    "clusters/recall": clusterScores.recall, "clusters/f1": clusterScores.f1,
                    "lsh/bands": Double(p.bands), "lsh/rows": Double(p.rows), "pairs/true": Double(truth.count),
                    "pairs/candidates": Double(candidates.count),
                ], step: x)
            run.report(
                step: step + 1, total: c.thresholds.count, [("t", t), ("cluster_f1", clusterScores.f1)],
                unit: "thresholds")
        }

        // The empirical S-curve at the 0.8 parameters against 1 - (1 - s^r)^b, in bins of 0.05.
        let p8 =
            c.lsh == "fixed"
            ? LSHParameters(bands: c.fixedBands, rows: c.fixedRows)
            : LSHParameters.optimal(threshold: 0.8, numPerm: c.numPerm)
        var index = LSHIndex(p8)
        for s in signatures { _ = index.insert(s) }
        let candidates = Set(index.candidatePairs().map { key($0.0, $0.1) })
        var hits = [Int](repeating: 0, count: 20)
        var totals = [Int](repeating: 0, count: 20)
        for (pair, j) in truthJaccard {
            let bin = min(Int(j * 20), 19)
            totals[bin] += 1
            if candidates.contains(pair) { hits[bin] += 1 }
        }
        for bin in 0..<20 where totals[bin] >= 5 {
            let center = (Double(bin) + 0.5) / 20
            run.results.log("scurve/empirical", step: Int(center * 100), Double(hits[bin]) / Double(totals[bin]))
            run.results.log(
                "scurve/formula", step: Int(center * 100), candidateProbability(center, bands: p8.bands, rows: p8.rows))
        }

        // Estimate error against K: mean absolute error of the Jaccard estimate over pairs with J >= 0.1.
        let wide = MinHasher(numPerm: 256, seed: UInt64(run.seed) + 1, scheme: c.scheme).signatures(
            shingleSets, threads: run.threads)
        let related = truthJaccard.filter { $0.value >= 0.1 }
        for k in [16, 32, 64, 128, 256] {
            var error = 0.0
            var bound = 0.0
            for (pair, j) in related {
                let (a, b) = (wide[Int(pair >> 32)], wide[Int(pair & 0xFFFF_FFFF)])
                error += abs(estimatedJaccard(Array(a.prefix(k)), Array(b.prefix(k))) - j)
                bound += (j * (1 - j) / Double(k)).squareRoot() * (2 / Double.pi).squareRoot()  // E|Binomial - mean|
            }
            run.results.log("estimate/mae", step: k, error / Double(max(related.count, 1)))
            run.results.log("estimate/binomial_mae", step: k, bound / Double(max(related.count, 1)))
        }
        run.results.summary("pairs/related", Double(related.count))
        for t in [0.5, 0.7, 0.9] {
            run.results.summary("pairs/above_\(Int(t * 100))", Double(truthJaccard.values.filter { $0 >= t }.count))
        }
        return .finished
    }
}

ExperimentCommand<MinHashExperiment>.main()
