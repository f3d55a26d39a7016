import ExperimentKit
import Foundation
// The pretraining corpus as BPE tokens: Shakespeare from Data/fetch (or the committed sample),
// a GPT-4-pattern byte-level BPE trained on it, one <|endoftext|> after each text.
import LabSupport
import Tokenizer

public enum CorpusTokens {
    /// The tokenizer and token file for (data, vocab), trained and written once into `folder`
    /// and read from there afterwards (every seed and ablation uses the same tokens).
    public static func load(_ c: PretrainConfig, cacheFolder folder: String, repositoryRoot root: String) throws -> (
        BPETokenizer, TokenArray
    ) {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let stem = "\(folder)/\(c.data)-bpe\(c.tokenizerVocab)"
        if let tok = try? BPETokenizer.load(from: stem + ".json"), let array = try? TokenArray(path: stem + ".bin") {
            return (tok, array)
        }
        let dir = c.data == "sample" ? "\(root)/Data/sample" : "\(root)/Data/corpora/english/shakespeare"
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
            throw LabError(.config, "\(dir): missing; run Data/fetch first (or --set data=sample)")
        }
        let texts = try files.sorted().filter {
            $0.hasSuffix(".txt") && (c.data == "corpora" || $0.hasPrefix("english"))
        }
        .map { try String(contentsOfFile: "\(dir)/\($0)", encoding: .utf8) }
        let tok = try BPETrainer.train(
            texts, options: .init(vocabSize: c.tokenizerVocab, pattern: .gpt4, specialTokens: ["<|endoftext|>"]))
        let eot = tok.specialTokens["<|endoftext|>"]!
        let ids = tok.encodeBatch(texts).flatMap { $0 + [eot] }
        try tok.save(to: stem + ".json")
        try TokenFile.write(ids, vocabSize: tok.vocabSize, to: stem + ".bin")
        print("tokenized \(texts.count) texts into \(ids.count) tokens (vocab \(tok.vocabSize)) -> \(stem).bin")
        return (tok, try TokenArray(path: stem + ".bin"))
    }
}
