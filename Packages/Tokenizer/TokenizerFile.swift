import Foundation
// Saving and loading: the project's own JSON format, and export to a HF `tokenizers`
// tokenizer.json (BPE model over GPT-2's byte-to-character map) that the real library loads and
// that encodes to the same ids.
import LabSupport

extension BPETokenizer {
    static let format = "llm-pipeline-lab/bpe/1"

    struct Stored: Codable {
        var format: String
        var pattern: SplitPattern
        var merges: [[Int]]
        var specialTokens: [String]
    }

    /// Special tokens in id order.
    public var specialTokensInOrder: [String] { specialTokens.sorted { $0.value < $1.value }.map(\.key) }

    /// The project's JSON for this tokenizer (what `save` writes and checkpoints embed).
    public func json() -> Data {
        let stored = Stored(
            format: Self.format, pattern: pattern, merges: merges.map { [$0.left, $0.right] },
            specialTokens: specialTokensInOrder)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(stored)) ?? Data()  // plain strings and integers always encode
    }

    public func save(to path: String) throws {
        try json().write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    public static func load(from path: String) throws -> BPETokenizer {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LabError(.tokenizer, "\(path): no such file")
        }
        return try decode(json: data, source: path)
    }

    /// A tokenizer from the project's JSON; errors name `source` (a file, or a checkpoint's key).
    public static func decode(json data: Data, source: String) throws -> BPETokenizer {
        let stored: Stored
        do {
            stored = try JSONDecoder().decode(Stored.self, from: data)
        } catch {
            throw LabError(.tokenizer, "\(source): not a tokenizer of this project (\(error))")
        }
        guard stored.format == format else {
            throw LabError(.tokenizer, "\(source): unknown format '\(stored.format)'")
        }
        guard stored.merges.allSatisfy({ $0.count == 2 }) else {
            throw LabError(.tokenizer, "\(source): a merge is not a pair")
        }
        do {
            return try BPETokenizer(
                pattern: stored.pattern, merges: stored.merges.map { ($0[0], $0[1]) },
                specialTokens: stored.specialTokens)
        } catch let error as LabError where error.domain == .tokenizer {
            throw LabError(.tokenizer, "\(source): \(error.message)")
        }
    }

    /// This tokenizer with `tokens` added as special tokens after the existing ones: existing ids
    /// keep their meaning, the new ones take ids vocabSize, vocabSize + 1, ... (the rows a
    /// model's NanoTransformer.resizedVocabulary adds).
    public func addingSpecialTokens(_ tokens: [String]) throws -> BPETokenizer {
        if let duplicate = tokens.first(where: { specialTokens[$0] != nil }) {
            throw LabError(.tokenizer, "addingSpecialTokens: '\(duplicate)' is already a special token")
        }
        return try BPETokenizer(pattern: pattern, merges: merges, specialTokens: specialTokensInOrder + tokens)
    }

    /// A token's string in GPT-2's byte-level alphabet.
    func byteLevelString(_ id: Int) -> String { String(tokenBytes[id].map { byteToUnicode[Int($0)] }) }

    /// The HF `tokenizers` tokenizer.json for this tokenizer. Ids are the same as ours.
    public func huggingFaceJSON() throws -> Data {
        var vocab: [String: Int] = [:]
        for id in 0..<tokenBytes.count { vocab[byteLevelString(id)] = id }
        let byteLevel: [String: Any] = [
            "type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": pattern == .gpt2,
        ]
        let preTokenizer: [String: Any] =
            pattern == .gpt2
            ? byteLevel
            : [
                "type": "Sequence",
                "pretokenizers": [
                    ["type": "Split", "pattern": ["Regex": pattern.regex], "behavior": "Isolated", "invert": false],
                    byteLevel,
                ],
            ]
        let root: [String: Any] = [
            "version": "1.0",
            "truncation": NSNull(), "padding": NSNull(), "normalizer": NSNull(), "post_processor": NSNull(),
            "added_tokens": specialTokensInOrder.map { name -> [String: Any] in
                [
                    "id": specialTokens[name]!, "content": name, "single_word": false, "lstrip": false, "rstrip": false,
                    "normalized": false, "special": true,
                ]
            },
            "pre_tokenizer": preTokenizer,
            "decoder": ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true],
            "model": [
                "type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
                "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                "vocab": vocab,
                "merges": merges.map { [byteLevelString($0.left), byteLevelString($0.right)] },
            ] as [String: Any],
        ]
        return try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys])
    }

    public func exportHuggingFace(to path: String) throws {
        try huggingFaceJSON().write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
