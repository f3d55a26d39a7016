import Dispatch
import Foundation
// Byte-level BPE (Sennrich et al. 2016; GPT-2's byte-level variant, Radford et al. 2019).
// Ids 0..<256 are the bytes themselves, merge i creates id 256 + i, special tokens follow.
// Any byte string encodes (there is no unknown token) and decodes back to the same bytes.
import LabSupport
import Synchronization

public final class BPETokenizer: Sendable {
    public let pattern: SplitPattern
    /// merges[i] = (left, right) creates id 256 + i.
    public let merges: [(left: Int, right: Int)]
    /// Special tokens and their ids (after the merges).
    public let specialTokens: [String: Int]
    /// The bytes of every non-special id.
    let tokenBytes: [[UInt8]]
    /// rank of a pair: its merge index.
    let ranks: [UInt64: Int32]
    let cache = Mutex<[[UInt8]: [Int32]]>([:])
    static let cacheLimit = 200_000

    public init(pattern: SplitPattern, merges: [(left: Int, right: Int)], specialTokens: [String] = []) throws {
        self.pattern = pattern
        self.merges = merges
        var bytes = (0..<256).map { [UInt8($0)] }
        var ranks: [UInt64: Int32] = [:]
        for (i, m) in merges.enumerated() {
            guard m.left >= 0, m.left < bytes.count, m.right >= 0, m.right < bytes.count else {
                throw LabError(.tokenizer, "merge \(i) (\(m.left), \(m.right)) refers to an id not defined before it")
            }
            guard ranks[pairKey(m.left, m.right)] == nil else {
                throw LabError(.tokenizer, "merge \(i) (\(m.left), \(m.right)) appears twice")
            }
            ranks[pairKey(m.left, m.right)] = Int32(i)
            bytes.append(bytes[m.left] + bytes[m.right])
        }
        tokenBytes = bytes
        self.ranks = ranks
        var specials: [String: Int] = [:]
        for (i, s) in specialTokens.enumerated() {
            guard !s.isEmpty, specials[s] == nil else {
                throw LabError(.tokenizer, "special token '\(s)' is empty or repeated")
            }
            specials[s] = 256 + merges.count + i
        }
        self.specialTokens = specials
    }

    public var vocabSize: Int { 256 + merges.count + specialTokens.count }

    /// The bytes of a token (a special token's UTF-8 text).
    public func bytes(of id: Int) -> [UInt8] {
        if id < tokenBytes.count { return tokenBytes[id] }
        return specialTokens.first { $0.value == id }.map { Array($0.key.utf8) } ?? []
    }

    // MARK: Encoding

    /// Which special tokens may be produced from text. A special token's string inside text is
    /// matched leftmost first, then longest, byte for byte (no Unicode equivalence).
    public enum AllowedSpecial: Sendable {
        /// None: a special token's string is ordinary text (tiktoken's default; HF with
        /// `encode_special_tokens = True`). Safe for untrusted text.
        case none
        /// Every special token (HF `tokenizers`' default, for every text).
        case all
        case some(Set<String>)

        /// HF `tokenizers`' behaviour: every added token is matched in any text. An exported
        /// tokenizer.json encodes as this does (`.none` there needs `encode_special_tokens`).
        public static let huggingFace = AllowedSpecial.all
    }

    /// Encodes text. Special-token strings become their ids only when allowed; otherwise they
    /// are ordinary text. The default differs from HF's (see `AllowedSpecial.huggingFace`): text
    /// from users cannot inject a special token unless the caller allows it.
    public func encode(_ text: String, allowedSpecial: AllowedSpecial = .none) -> [Int] {
        var out: [Int] = []
        for (segment, special) in splitSpecial(text, allowedSpecial) {
            if let special { out.append(special) } else { encodeOrdinary(Array(segment), into: &out) }
        }
        return out
    }

    /// Encodes arbitrary bytes (invalid UTF-8 included) without special tokens.
    public func encode(bytes: [UInt8]) -> [Int] {
        var out: [Int] = []
        encodeOrdinary(bytes, into: &out)
        return out
    }

    /// Encodes many texts on all threads (results in input order).
    public func encodeBatch(_ texts: [String], allowedSpecial: AllowedSpecial = .none, threads: Int = 2) -> [[Int]] {
        var results = [[Int]](repeating: [], count: texts.count)
        let chunks = max(1, min(threads, texts.count))
        results.withUnsafeMutableBufferPointer { buffer in
            let out = UncheckedSendable(buffer)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                for i in (texts.count * c / chunks)..<(texts.count * (c + 1) / chunks) {
                    out.value[i] = encode(texts[i], allowedSpecial: allowedSpecial)
                }
            }
        }
        return results
    }

    /// The text's bytes cut at every allowed special token: runs of ordinary bytes (nil id) and
    /// special tokens (their id). Matching is on bytes, leftmost first, then longest, as HF's
    /// added-token matcher does: String comparison would match canonically equivalent text (a
    /// decomposed "e\u{301}" for "é") and never inside a grapheme cluster.
    func splitSpecial(_ text: String, _ allowed: AllowedSpecial) -> [(bytes: ArraySlice<UInt8>, special: Int?)] {
        let bytes = Array(text.utf8)
        let names: [String]
        switch allowed {
        case .none: return [(bytes[...], nil)]
        case .all: names = Array(specialTokens.keys)
        case .some(let set): names = specialTokens.keys.filter { set.contains($0) }
        }
        if names.isEmpty { return [(bytes[...], nil)] }
        let longestFirst = names.map { (bytes: Array($0.utf8), id: specialTokens[$0]!) }
            .sorted { ($0.bytes.count, $1.id) > ($1.bytes.count, $0.id) }
        var firstBytes = [Bool](repeating: false, count: 256)
        for name in longestFirst { firstBytes[Int(name.bytes[0])] = true }
        var out: [(bytes: ArraySlice<UInt8>, special: Int?)] = []
        var (runStart, i) = (0, 0)
        while i < bytes.count {
            if firstBytes[Int(bytes[i])],
                let match = longestFirst.first(where: {
                    i + $0.bytes.count <= bytes.count && bytes[i..<(i + $0.bytes.count)].elementsEqual($0.bytes)
                })
            {
                if i > runStart { out.append((bytes[runStart..<i], nil)) }
                out.append((bytes[i..<i], match.id))
                i += match.bytes.count
                runStart = i
            } else {
                i += 1
            }
        }
        if runStart < bytes.count { out.append((bytes[runStart...], nil)) }
        return out
    }

    func encodeOrdinary(_ bytes: [UInt8], into out: inout [Int]) {
        var chars: [ScannedChar] = []
        bytes.withUnsafeBufferPointer { buffer in
            scanCharacters(buffer, into: &chars)
            splitChunks(chars, pattern: pattern) { first, end in
                let start = chars[first].start
                let stop = end < chars.count ? chars[end].start : buffer.count
                encodeChunk(UnsafeBufferPointer(rebasing: buffer[start..<stop]), into: &out)
            }
        }
    }

    /// One chunk: from the cache, or by merging.
    func encodeChunk(_ chunk: UnsafeBufferPointer<UInt8>, into out: inout [Int]) {
        if chunk.count == 1 {
            out.append(Int(chunk[0]))
            return
        }
        let key = Array(chunk)
        if let hit = cache.withLock({ $0[key] }) {
            for id in hit { out.append(Int(id)) }
            return
        }
        let ids = mergeByRank(chunk)
        if chunk.count <= 64 {
            cache.withLock { c in
                if c.count >= Self.cacheLimit { c.removeAll(keepingCapacity: true) }
                c[key] = ids
            }
        }
        for id in ids { out.append(Int(id)) }
    }

    /// Applies merges lowest rank first, leftmost first, as tiktoken and HF do. A linked list of
    /// symbols and a heap of (rank, position) keep this O(n log n) even for a megabyte of one
    /// letter, where rescanning for the best pair would be quadratic.
    func mergeByRank(_ chunk: UnsafeBufferPointer<UInt8>) -> [Int32] {
        let n = chunk.count
        var token = chunk.map { Int32($0) }
        var next = Array(1...n).map { Int32($0) }  // n means none
        var prev = (0..<n).map { Int32($0 - 1) }
        var alive = [Bool](repeating: true, count: n)
        var heap = MinHeap()
        func push(_ i: Int) {
            let j = Int(next[i])
            guard j < n, let rank = ranks[pairKey(Int(token[i]), Int(token[j]))] else { return }
            heap.push(UInt64(UInt32(rank)) << 32 | UInt64(i))
        }
        for i in 0..<(n - 1) { push(i) }
        while let top = heap.pop() {
            let rank = Int(top >> 32)
            let i = Int(top & 0xFFFF_FFFF)
            let j = Int(next[i])
            guard alive[i], j < n else { continue }
            let m = merges[rank]
            guard Int(token[i]) == m.left, Int(token[j]) == m.right else { continue }
            token[i] = Int32(256 + rank)
            alive[j] = false
            next[i] = next[j]
            if Int(next[j]) < n { prev[Int(next[j])] = Int32(i) }
            if prev[i] >= 0 { push(Int(prev[i])) }
            push(i)
        }
        var ids: [Int32] = []
        var i = 0
        while i < n {
            ids.append(token[i])
            i = Int(next[i])
        }
        return ids
    }

    // MARK: Decoding

    /// The bytes of a sequence of ids (special tokens give their text). Unknown ids are an error.
    public func decodeBytes(_ ids: [Int]) throws -> [UInt8] {
        var out: [UInt8] = []
        for id in ids {
            guard id >= 0 && id < vocabSize else {
                throw LabError(.tokenizer, "token id \(id) is outside the vocabulary 0..<\(vocabSize)")
            }
            out += bytes(of: id)
        }
        return out
    }

    /// The text of a sequence of ids. Strict by default: bytes that are not valid UTF-8 are an
    /// error; with `lossy`, they become U+FFFD.
    public func decode(_ ids: [Int], lossy: Bool = false) throws -> String {
        let bytes = try decodeBytes(ids)
        if lossy { return String(decoding: bytes, as: UTF8.self) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw LabError(
                .tokenizer, "the ids decode to bytes that are not valid UTF-8 (use lossy: true to replace them)")
        }
        return text
    }

    /// Chunks of text as the pattern splits them (byte ranges), for inspection and tests.
    func chunkRanges(_ bytes: [UInt8]) -> [Range<Int>] { pretokenize(bytes, pattern: pattern) }
}

/// Byte ranges of the chunks `pattern` splits `bytes` into.
public func pretokenize(_ bytes: [UInt8], pattern: SplitPattern) -> [Range<Int>] {
    var chars: [ScannedChar] = []
    var out: [Range<Int>] = []
    bytes.withUnsafeBufferPointer { scanCharacters($0, into: &chars) }
    splitChunks(chars, pattern: pattern) { first, end in
        out.append(chars[first].start..<(end < chars.count ? chars[end].start : bytes.count))
    }
    return out
}

@inline(__always) func pairKey(_ a: Int, _ b: Int) -> UInt64 { UInt64(UInt32(a)) << 32 | UInt64(UInt32(b)) }

/// A binary min-heap of UInt64 keys.
struct MinHeap {
    var items: [UInt64] = []

    mutating func push(_ x: UInt64) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if items[parent] <= items[i] { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() -> UInt64? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if items.isEmpty { return first }
        items[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var m = i
            if l < items.count && items[l] < items[m] { m = l }
            if r < items.count && items[r] < items[m] { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
        return first
    }
}
