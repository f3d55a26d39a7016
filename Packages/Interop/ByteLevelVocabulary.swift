import Foundation
// Our byte-level BPE tokenizer beside Hugging Face's tokenizer.json. Ours numbers its ids by
// construction (0..<256 the bytes, 256 + i merge i's result, special tokens after); a tokenizer
// trained elsewhere numbers the same tokens in its own order, so importing one rebuilds ours from
// its merges and returns the map from our ids to its ids (the embedding's rows move with it).
// The byte-to-character alphabet (GPT-2's) is read from the Tokenizer package's own export, so
// it is written in one place.
import LabSupport
import Tokenizer

public struct ByteLevelVocabulary {
    /// Each id's string in the byte-level alphabet (special tokens as their text), in our id order.
    public let tokens: [String]
    /// Merges as pairs of strings, in rank order.
    public let merges: [(left: String, right: String)]
    /// Which ids are special tokens.
    public let special: Set<Int>

    /// The vocabulary of one of our tokenizers, as its tokenizer.json writes it. Two merges that
    /// spell the same bytes cannot be written (HF keeps one id per string): a named error.
    public init(_ tokenizer: BPETokenizer) throws {
        let root = try Self.parse(try tokenizer.huggingFaceJSON(), source: "tokenizer.json")
        let model = root["model"] as? [String: Any] ?? [:]
        let vocab = model["vocab"] as? [String: Int] ?? [:]
        let ordinary = tokenizer.vocabSize - tokenizer.specialTokens.count
        var tokens = [String](repeating: "", count: tokenizer.vocabSize)
        for (text, id) in vocab { tokens[id] = text }
        if vocab.count != ordinary {
            let missing = (0..<ordinary).first { tokens[$0].isEmpty } ?? 0
            throw LabError(
                .tokenizer,
                "token \(missing) spells the same bytes as another merge's result: a Hugging Face vocabulary keeps one id per string"
            )
        }
        for (text, id) in tokenizer.specialTokens { tokens[id] = text }
        self.tokens = tokens
        merges = tokenizer.merges.map { (tokens[$0.left], tokens[$0.right]) }
        special = Set(tokenizer.specialTokens.values)
    }

    /// GPT-2's alphabet: the character standing for each byte.
    public static let byteCharacters: [String] = {
        let json = (try? BPETokenizer(pattern: .gpt2, merges: []).huggingFaceJSON()) ?? Data()
        let root = (try? JSONSerialization.jsonObject(with: json)) as? [String: Any]
        let vocab = (root?["model"] as? [String: Any])?["vocab"] as? [String: Int] ?? [:]
        var out = [String](repeating: "", count: 256)
        for (text, id) in vocab where id < 256 { out[id] = text }
        return out
    }()

    static func parse(_ data: Data, source: String) throws -> [String: Any] {
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw LabError(.tokenizer, "\(source): not a JSON object")
        }
        return root
    }

    /// Our tokenizer from a Hugging Face tokenizer.json (byte-level BPE, GPT-2 or GPT-4 split),
    /// and for each of our ids the id it has there.
    public static func importTokenizer(json data: Data, source: String) throws -> (
        tokenizer: BPETokenizer, theirID: [Int]
    ) {
        func fail(_ why: String) -> LabError { LabError(.tokenizer, "\(source): \(why)") }
        let root = try parse(data, source: source)
        guard let model = root["model"] as? [String: Any], model["type"] as? String == "BPE" else {
            throw fail("model.type is '\((root["model"] as? [String: Any])?["type"] ?? "none")', not BPE")
        }
        if let normalizer = root["normalizer"], !(normalizer is NSNull) {
            throw fail("a normalizer (\(normalizer)) changes the text before BPE; ours has none")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = model[key], !(v is NSNull), (v as? String) != "" {
                throw fail("model.\(key) '\(v)' is not byte-level BPE")
            }
        }
        let pattern = try splitPattern(root["pre_tokenizer"], source: source)
        guard let vocab = model["vocab"] as? [String: Int] else { throw fail("model.vocab is not a string-to-id map") }
        let rawMerges = model["merges"] as? [Any] ?? []
        var merges: [(String, String)] = []
        for (i, m) in rawMerges.enumerated() {
            if let s = m as? String {
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw fail("merge \(i) '\(s)' is not two tokens") }
                merges.append((String(parts[0]), String(parts[1])))
            } else if let pair = m as? [String], pair.count == 2 {
                merges.append((pair[0], pair[1]))
            } else {
                throw fail("merge \(i) is neither 'a b' nor [a, b]")
            }
        }
        // Added tokens (specials) keep their text; the ones also in the BPE vocabulary leave it.
        let added = (root["added_tokens"] as? [[String: Any]] ?? []).compactMap { t -> (String, Int)? in
            guard let content = t["content"] as? String, let id = t["id"] as? Int else { return nil }
            return (content, id)
        }.sorted { $0.1 < $1.1 }
        let addedTexts = Set(added.map(\.0))
        var ourID: [String: Int] = [:]
        var theirID: [Int] = []
        for (b, text) in byteCharacters.enumerated() {
            guard let id = vocab[text] else {
                throw fail("byte 0x\(String(b, radix: 16)) ('\(text)') has no token: not a byte-level vocabulary")
            }
            ourID[text] = b
            theirID.append(id)
        }
        var ourMerges: [(left: Int, right: Int)] = []
        for (i, (left, right)) in merges.enumerated() {
            guard let l = ourID[left], let r = ourID[right] else {
                throw fail("merge \(i) ('\(left)' '\(right)') uses a token no earlier merge made")
            }
            let result = left + right
            guard let id = vocab[result] else {
                throw fail("merge \(i) makes '\(result)', which is not in model.vocab")
            }
            guard ourID[result] == nil else {
                throw fail("merge \(i) makes '\(result)' again: one string from two merges has no id of its own here")
            }
            ourID[result] = 256 + i
            ourMerges.append((l, r))
            theirID.append(id)
        }
        if let stray = vocab.first(where: { ourID[$0.key] == nil && !addedTexts.contains($0.key) }) {
            throw fail("token '\(stray.key)' (id \(stray.value)) is neither a byte nor a merge's result")
        }
        let specials = added.filter { ourID[$0.0] == nil }
        theirID += specials.map(\.1)
        guard Set(theirID).count == theirID.count else { throw fail("two tokens share one id") }
        let tokenizer = try BPETokenizer(pattern: pattern, merges: ourMerges, specialTokens: specials.map(\.0))
        return (tokenizer, theirID)
    }

    /// GPT-2's split (ByteLevel with its regex) or GPT-4's (a Split by that regex, then ByteLevel).
    static func splitPattern(_ preTokenizer: Any?, source: String) throws -> SplitPattern {
        func fail(_ why: String) -> LabError { LabError(.tokenizer, "\(source): pre_tokenizer: \(why)") }
        guard let p = preTokenizer as? [String: Any] else { throw fail("missing") }
        func isByteLevel(_ p: [String: Any], regex: Bool) -> Bool {
            p["type"] as? String == "ByteLevel" && (p["add_prefix_space"] as? Bool ?? false) == false
                && (p["use_regex"] as? Bool ?? true) == regex
        }
        if isByteLevel(p, regex: true) { return .gpt2 }
        if p["type"] as? String == "Sequence", let steps = p["pretokenizers"] as? [[String: Any]], steps.count == 2,
            steps[0]["type"] as? String == "Split", isByteLevel(steps[1], regex: false),
            let regex = (steps[0]["pattern"] as? [String: Any])?["Regex"] as? String,
            let pattern = SplitPattern.allCases.first(where: { $0.regex == regex })
        {
            return pattern
        }
        throw fail("not ByteLevel with GPT-2's split, nor GPT-4's split then ByteLevel (and no prefix space)")
    }
}
