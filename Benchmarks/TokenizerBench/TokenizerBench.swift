// Tokenizer benchmark: BPE training seconds and encoding MB/s against HF `tokenizers`
// (Benchmarks/hf_twin/tokenizer_bench.py) on the same corpus, vocabulary and pattern (GPT-2,
// HF tie rule, so both learn the same merges), single-threaded and on 2 threads; and the
// pathological case, up to 2 MB of one letter with no whitespace (one pre-tokenisation chunk).
// The training documents end with one run of 4,096 a's, so the vocabulary has the merges a one-
// letter run needs (aa, aaaa, ... up to 4,096): without them the run stays one token per byte and
// the case measures nothing but the merge loop's bookkeeping.
import ArgumentParser
import BenchmarkSupport
import Foundation
import Tokenizer

/// The training document that gives the vocabulary its one-letter merges (the twin adds the same).
let oneLetterRun = String(repeating: "a", count: 4096)
let oneLetterSizes = [125_000, 250_000, 500_000, 1_000_000, 2_000_000]

extension BPETokenizer {
    /// Whether a merge joins two tokens made only of the letter a.
    func isOneLetterMerge(_ merge: (left: Int, right: Int)) -> Bool {
        ((try? decodeBytes([merge.left, merge.right])) ?? []).allSatisfy { $0 == UInt8(ascii: "a") }
    }
}

@main
struct TokenizerBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tokenizer-bench")

    @Option(parsing: .upToNextOption, help: "Text files forming the corpus.") var corpus: [String] = []
    @Option(help: "Vocabulary size.") var vocabSize = 8192
    @Option(help: "Write measurements as JSON to this file.") var out: String?

    func run() throws {
        let texts = try corpus.map { try String(contentsOfFile: $0, encoding: .utf8) }
        let documents = texts.flatMap { $0.components(separatedBy: "\n\n") } + [oneLetterRun]
        let megabytes = Double(texts.reduce(0) { $0 + $1.utf8.count }) / 1e6
        var results: [BenchmarkResult] = []
        func report(_ name: String, _ seconds: Double, _ detail: String) {
            results.append(BenchmarkResult(name: name, shape: detail, seconds: seconds, gflops: nil))
            print(String(format: "%-34@ %-26@ %9.3f s", name as NSString, detail as NSString, seconds))
        }
        let shape = String(format: "%.1f MB, vocab %d", megabytes, vocabSize)
        var start = Date()
        let tok = try BPETrainer.train(
            documents, options: .init(vocabSize: vocabSize, pattern: .gpt2, tieRule: .huggingFace))
        report("train", Date().timeIntervalSince(start), shape)
        for threads in [1, 2] {
            let fresh = try BPETokenizer(pattern: .gpt2, merges: tok.merges)  // cold cache
            start = Date()
            let ids = fresh.encodeBatch(documents, threads: threads)
            let seconds = Date().timeIntervalSince(start)
            report("encode \(threads) thread\(threads == 1 ? "" : "s")", seconds, shape)
            print(String(format: "    %.1f MB/s, %d tokens", megabytes / seconds, ids.reduce(0) { $0 + $1.count }))
        }
        let huge = String(repeating: "a", count: oneLetterSizes.last!)
        let runMerges = tok.merges.filter { tok.isOneLetterMerge($0) }.count
        print("    \(runMerges) merges made only of a's")
        for size in oneLetterSizes {
            let fresh = try BPETokenizer(pattern: .gpt2, merges: tok.merges)
            start = Date()
            _ = fresh.encode(String(huge.prefix(size)))
            report("encode one letter x \(size)", Date().timeIntervalSince(start), "no whitespace")
        }
        if let out { try writeResults(results, to: out) }
    }
}
