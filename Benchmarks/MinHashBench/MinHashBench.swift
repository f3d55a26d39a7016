// MinHash benchmark beside datasketch (Benchmarks/hf_twin/minhash_bench.py) on the same shingle
// sets: signatures per second, and end-to-end near-duplicate clustering (signatures, LSH index,
// candidate pairs, union-find) at threshold 0.8 with K = 128, no verification. The shingle sets
// are written to a file both sides read, so datasketch-compatible mode must give the same clusters.
import ArgumentParser
import BenchmarkSupport
import Foundation
import MinHash

@main
struct MinHashBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "minhash-bench")
    @Option(parsing: .upToNextOption, help: "Text files; paragraphs are the documents.") var corpus: [String] = []
    @Option(help: "Write the documents' shingles (JSON lines) here for the Python twin.") var shingles: String
    @Option(help: "Write the clusters (JSON) here.") var clusters: String
    @Option(help: "Write measurements as JSON here.") var out: String?
    @Option(help: "Threads.") var threads = 2

    func run() throws {
        var docs: [[[UInt8]]] = []
        for path in corpus {
            for p in try String(contentsOfFile: path, encoding: .utf8).components(separatedBy: "\n\n") {
                let s = MinHash.shingles(of: normalizeForDedup(p), .words(5))
                if !s.isEmpty { docs.append(s) }
            }
        }
        // Every document twice, once with a word changed, so there are real clusters to find.
        let n = docs.count
        for i in stride(from: 0, to: n, by: 3) where docs[i].count > 4 {
            var copy = docs[i]
            copy[copy.count / 2] = Array("edited shingle \(i)".utf8)
            docs.append(copy)
        }
        let lines = docs.map { doc in
            String(
                decoding: try! JSONSerialization.data(withJSONObject: doc.map { String(decoding: $0, as: UTF8.self) }),
                as: UTF8.self)
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: shingles, atomically: true, encoding: .utf8)
        let shape = "\(docs.count) docs, K=128"
        var results: [BenchmarkResult] = []
        func report(_ name: String, _ seconds: Double) {
            results.append(BenchmarkResult(name: name, shape: shape, seconds: seconds, gflops: nil))
            print(
                String(
                    format: "%-40@ %-22@ %8.3f s  %10.0f docs/s", name as NSString, shape as NSString, seconds,
                    Double(docs.count) / seconds))
        }
        var clustersBySheme: [String: [[Int]]] = [:]
        for scheme in [MinHashScheme.fast64, .datasketchAffine32] {
            let hasher = MinHasher(numPerm: 128, seed: 1, scheme: scheme)
            var start = Date()
            let sigs = hasher.signatures(docs, threads: threads)
            report("signatures \(scheme.rawValue)", Date().timeIntervalSince(start))
            start = Date()
            let signatures = hasher.signatures(docs, threads: threads)
            var index = LSHIndex(LSHParameters.optimal(threshold: 0.8, numPerm: 128))
            for s in signatures { _ = index.insert(s) }
            var uf = UnionFind(count: docs.count)
            for (i, j) in index.candidatePairs() { uf.union(i, j) }
            clustersBySheme[scheme.rawValue] = uf.clusters()
            report("dedup end to end \(scheme.rawValue)", Date().timeIntervalSince(start))
            _ = sigs
        }
        try JSONSerialization.data(withJSONObject: clustersBySheme["datasketchAffine32"]!)
            .write(to: URL(fileURLWithPath: clusters))
        print("clusters (datasketchAffine32): \(clustersBySheme["datasketchAffine32"]!.count)")
        if let out { try writeResults(results, to: out) }
    }
}
