import ExperimentKit
import Foundation
// tokenizer: compression of byte-level BPE against vocabulary size, for the GPT-2 and GPT-4
// pre-tokenisation patterns, on English, Chinese and mixed text, training vs held-out.
// Metrics use the vocabulary size as their step, so `lab compare` plots compression curves.
import LabSupport
import TensorCore
import Tokenizer

struct TokenizerConfig: ExperimentConfig {
    /// Pre-tokenisation pattern: gpt2 | gpt4.
    var pattern = SplitPattern.gpt4
    /// Tie rule between equally frequent pairs: firstOccurrence (minbpe) | huggingFace.
    var tieRule = TieRule.firstOccurrence
    /// Vocabulary sizes to evaluate (the tokenizer is trained once, to the largest).
    var vocabSizes = [512, 1024, 2048, 4096, 8192, 16384]
    /// Languages the tokenizer is trained on: any of english, chinese.
    var trainOn = ["english", "chinese"]
    /// Corpora: "corpora" (Data/fetch) or "sample" (the committed test sample).
    var data = "corpora"
    /// Share of documents held out from training.
    var heldOutFraction = 0.1
    /// Bytes of each evaluation set (per language and split) used for measuring.
    var evalBytes = 1_000_000
    /// Minimum pair count for a merge.
    var minFrequency = 2

    init() {}

    /// Every field's range and the rules between fields, each error naming its key.
    func validate() throws {
        try Check.that(
            !vocabSizes.isEmpty && vocabSizes.allSatisfy { (257...(1 << 20)).contains($0) }, "vocabSizes",
            "one or more sizes, each in 257...\(1 << 20)")
        try Check.range("heldOutFraction", heldOutFraction, 0...0.9, openHigh: true)
        try Check.that(
            !trainOn.isEmpty && trainOn.allSatisfy({ ["english", "chinese"].contains($0) }), "trainOn",
            "must list english and/or chinese")
        try Check.oneOf("data", data, ["corpora", "sample"])
        try Check.range("evalBytes", evalBytes, 1...1_000_000_000)
        try Check.range("minFrequency", minFrequency, 1...1_000_000_000)
    }
}

func documents(_ folders: [String]) throws -> [String] {
    var docs: [String] = []
    for folder in folders {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) else {
            throw LabError(.config, "\(folder): missing; run Data/fetch first (or --set data=sample)")
        }
        let files =
            isDirectory.boolValue
            ? (try FileManager.default.contentsOfDirectory(atPath: folder)).filter { $0.hasSuffix(".txt") }.sorted()
                .map { "\(folder)/\($0)" }
            : [folder]
        for file in files {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            docs += text.components(separatedBy: "\n\n").filter {
                !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
            }
        }
    }
    return docs
}

/// Words for tokens-per-word: whitespace-separated runs, with each CJK character its own word.
func wordCount(_ text: String) -> Int {
    var count = 0
    var inWord = false
    for scalar in text.unicodeScalars {
        let v = scalar.value
        let cjk = (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x3040...0x30FF).contains(v)
        if cjk {
            count += 1
            inWord = false
        } else if scalar.properties.isWhitespace {
            inWord = false
        } else if !inWord {
            count += 1
            inWord = true
        }
    }
    return count
}

/// The first `bytes` bytes' worth of whole documents.
func prefix(_ docs: [String], bytes: Int) -> String {
    var out: [String] = []
    var total = 0
    for d in docs where total < bytes {
        out.append(d)
        total += d.utf8.count
    }
    return out.joined(separator: "\n\n")
}

enum TokenizerExperiment: Experiment {
    typealias Config = TokenizerConfig
    static let name = "tokenizer"
    static let summary = "Byte-level BPE compression vs vocabulary size, GPT-2 vs GPT-4 patterns, en/zh/mixed."
    static let source = SourceLocation(#filePath)
    static let resources = TaskResources(threads: 1, memory: "256M")  // Scripts/measure-resources tokenizer

    static func run(_ run: Run<Config>) throws -> RunOutcome {
        let config = run.config
        let root = source.repositoryRoot
        let sources: [String: [String]] =
            config.data == "sample"
            ? [
                "english": [
                    "\(root)/Data/sample/english-tempest.txt", "\(root)/Data/sample/english-romeo-and-juliet.txt",
                ],
                "chinese": ["\(root)/Data/sample/chinese-tang300.txt"],
            ]
            : [
                "english": [
                    "\(root)/Data/corpora/english/shakespeare", "\(root)/Data/corpora/english/fortunes",
                    "\(root)/Data/corpora/aligned/debian-reference/en",
                ],
                "chinese": [
                    "\(root)/Data/corpora/chinese/fortunes-zh", "\(root)/Data/corpora/aligned/debian-reference/zh-cn",
                ],
            ]
        // Split documents into training and held-out sets with the run's seed.
        var rng = RNG(seed: UInt64(run.seed))
        var train: [String: [String]] = [:]
        var heldOut: [String: [String]] = [:]
        for language in ["english", "chinese"] {
            var docs = try documents(sources[language]!)
            rng.shuffle(&docs)
            let cut = Int(Double(docs.count) * config.heldOutFraction)
            heldOut[language] = Array(docs[..<cut])
            train[language] = Array(docs[cut...])
        }
        let trainingTexts = config.trainOn.flatMap { train[$0]! }
        let trainBytes = trainingTexts.reduce(0) { $0 + $1.utf8.count }
        print(
            "training on \(trainingTexts.count) documents, \(trainBytes) bytes (\(config.trainOn.joined(separator: "+")))"
        )

        let largest = config.vocabSizes.max()!
        let started = Date()
        let full = try BPETrainer.train(
            trainingTexts,
            options: .init(
                vocabSize: largest, pattern: config.pattern, minFrequency: config.minFrequency, tieRule: config.tieRule)
        )
        let trainSeconds = Date().timeIntervalSince(started)
        run.results.summary("perf/train_seconds", trainSeconds)
        run.results.summary("train/bytes", Double(trainBytes))
        run.results.summary("train/merges", Double(full.merges.count))
        print(String(format: "trained %d merges in %.1f s", full.merges.count, trainSeconds))
        // What the vocabulary learns first: the first merges, as text.
        let first = (0..<min(40, full.merges.count)).map { i -> String in
            String(decoding: full.bytes(of: 256 + i), as: UTF8.self).debugDescription
        }
        run.results.sample("first_merges", step: 0, first.joined(separator: " "))

        // Evaluation sets: a fixed budget of bytes per language and split; mixed = both halves.
        var sets: [(String, String)] = []
        for split in ["train", "heldout"] {
            let pool = split == "train" ? train : heldOut
            let en = prefix(pool["english"]!, bytes: config.evalBytes)
            let zh = prefix(pool["chinese"]!, bytes: config.evalBytes)
            sets += [
                ("en/\(split)", en), ("zh/\(split)", zh),
                (
                    "mixed/\(split)",
                    prefix(pool["english"]!, bytes: config.evalBytes / 2) + "\n\n"
                        + prefix(pool["chinese"]!, bytes: config.evalBytes / 2)
                ),
            ]
        }
        for (index, vocab) in config.vocabSizes.sorted().enumerated() {
            let k = min(vocab - 256, full.merges.count)
            let tok = try BPETokenizer(pattern: config.pattern, merges: Array(full.merges.prefix(k)))
            var shown: [(String, Double)] = []
            for (name, text) in sets {
                let encodeStart = Date()
                let ids = tok.encode(text)
                let seconds = Date().timeIntervalSince(encodeStart)
                let bytesPerToken = Double(text.utf8.count) / Double(max(ids.count, 1))
                run.results.log("bytes_per_token/\(name)", step: vocab, bytesPerToken)
                run.results.log(
                    "tokens_per_word/\(name)", step: vocab, Double(ids.count) / Double(max(wordCount(text), 1)))
                if name == "en/heldout" {
                    run.results.log("perf/encode_mb_per_s", step: vocab, Double(text.utf8.count) / 1e6 / seconds)
                }
                if name.hasSuffix("heldout") { shown.append(("bpt " + name, bytesPerToken)) }
            }
            run.report(step: index + 1, total: config.vocabSizes.count, shown, unit: "sizes")
        }
        return .finished
    }
}

ExperimentCommand<TokenizerExperiment>.main()
