import Foundation
// Training byte-level BPE: split the corpus into chunks, count each distinct chunk once (with its
// frequency), then repeatedly merge the most frequent adjacent pair. Pair counts are updated
// incrementally, only in the chunks that contain the merged pair (never a full recount), and a
// max-heap with lazy invalidation finds the next pair.
//
// Ties between equally frequent pairs are broken by a named rule:
//   .firstOccurrence  the pair seen earliest in the corpus (chunk order, then position), as
//                     Karpathy's minbpe does (its worked example "aaabdaaabac" needs it);
//   .huggingFace      the smaller pair in HF `tokenizers` ids (its BpeTrainer orders equal counts
//                     by pair, and numbers the 256 byte characters by their code point), which
//                     reproduces HF's merges exactly.
import LabSupport

public enum TieRule: String, Codable, Sendable {
    case firstOccurrence
    case huggingFace
}

public struct BPETrainingOptions: Sendable {
    /// Vocabulary size including the 256 bytes and the special tokens.
    public var vocabSize: Int
    public var pattern: SplitPattern
    /// Stop when the best pair occurs fewer times than this (HF's `min_frequency`).
    public var minFrequency: Int
    public var tieRule: TieRule
    public var specialTokens: [String]

    public init(
        vocabSize: Int, pattern: SplitPattern = .gpt4, minFrequency: Int = 1, tieRule: TieRule = .firstOccurrence,
        specialTokens: [String] = []
    ) {
        self.vocabSize = vocabSize
        self.pattern = pattern
        self.minFrequency = minFrequency
        self.tieRule = tieRule
        self.specialTokens = specialTokens
    }
}

/// GPT-2's byte-to-character map (bytes_to_unicode): printable bytes map to themselves, the other
/// 68, in order, to U+0100 onwards. Space is U+0120 ('Ġ'), newline U+010A ('Ċ').
public let byteToUnicode: [Character] = {
    let printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
    var map = [Character](repeating: " ", count: 256)
    for b in printable { map[b] = Character(Unicode.Scalar(UInt32(b))!) }
    var n = 0
    for b in 0..<256 where !printable.contains(b) {
        map[b] = Character(Unicode.Scalar(UInt32(256 + n))!)
        n += 1
    }
    return map
}()

/// HF's id of each byte during training: the rank of its character among all 256 by code point.
let huggingFaceByteIds: [Int] = {
    let order = (0..<256).sorted {
        byteToUnicode[$0].unicodeScalars.first!.value < byteToUnicode[$1].unicodeScalars.first!.value
    }
    var ids = [Int](repeating: 0, count: 256)
    for (rank, byte) in order.enumerated() { ids[byte] = rank }
    return ids
}()

public enum BPETrainer {
    /// Trains on `texts` (each split into chunks on its own).
    public static func train(_ texts: [String], options: BPETrainingOptions) throws -> BPETokenizer {
        let targetMerges = options.vocabSize - 256 - options.specialTokens.count
        guard targetMerges >= 0 else {
            throw LabError(
                .tokenizer,
                "vocabSize \(options.vocabSize) is below 256 bytes + \(options.specialTokens.count) special tokens")
        }
        var (words, counts) = countChunks(texts, pattern: options.pattern)
        var state = PairState(words: words, counts: counts)
        words = []
        counts = []
        var merges: [(left: Int, right: Int)] = []
        var heap = PairHeap(rule: options.tieRule)
        for (pair, count) in state.pairCounts where count > 0 { heap.push(count, pair) }

        while merges.count < targetMerges {
            guard let (pair, count) = nextPair(&heap, &state, rule: options.tieRule) else { break }
            if count < max(options.minFrequency, 1) { break }
            let newId = Int32(256 + merges.count)
            merges.append((Int(pair >> 32), Int(pair & 0xFFFF_FFFF)))
            let increased = state.merge(pair, into: newId)
            for p in increased { heap.push(state.pairCounts[p] ?? 0, p) }
        }
        return try BPETokenizer(pattern: options.pattern, merges: merges, specialTokens: options.specialTokens)
    }

    /// Distinct chunks in order of first appearance, and how often each occurs.
    static func countChunks(_ texts: [String], pattern: SplitPattern) -> ([[Int32]], [Int]) {
        var index: [[UInt8]: Int] = [:]
        var words: [[Int32]] = []
        var counts: [Int] = []
        for text in texts {
            let bytes = Array(text.utf8)
            for range in pretokenize(bytes, pattern: pattern) {
                let chunk = Array(bytes[range])
                if let i = index[chunk] {
                    counts[i] += 1
                } else {
                    index[chunk] = words.count
                    words.append(chunk.map { Int32($0) })
                    counts.append(1)
                }
            }
        }
        return (words, counts)
    }

    /// Pops the best pair whose count is current; for `.firstOccurrence`, among all pairs tied at
    /// the top count, the one seen first.
    static func nextPair(_ heap: inout PairHeap, _ state: inout PairState, rule: TieRule) -> (UInt64, Int)? {
        func popValid() -> (UInt64, Int)? {
            while let (count, pair) = heap.pop() {
                let current = state.pairCounts[pair] ?? 0
                if current == count && count > 0 { return (pair, count) }
                if current > 0 && current < count { heap.push(current, pair) }  // decreased: requeue
            }
            return nil
        }
        guard let best = popValid() else { return nil }
        guard rule == .firstOccurrence else { return best }
        var tied = [best]
        while let top = heap.peekCount, top == best.1, let next = popValid() {
            if next.1 == best.1 {
                tied.append(next)
            } else {
                heap.push(next.1, next.0)
                break
            }
        }
        if tied.count == 1 { return best }
        let chosen = tied.min { state.firstOccurrence($0.0) < state.firstOccurrence($1.0) }!
        for t in tied where t.0 != chosen.0 { heap.push(t.1, t.0) }
        return chosen
    }
}

/// Words (as token ids), their counts, pair counts and where each pair occurs.
struct PairState {
    var words: [[Int32]]
    let counts: [Int]
    var pairCounts: [UInt64: Int] = [:]
    /// Words that contain (or once contained) a pair; checked before use.
    var pairWords: [UInt64: [Int32]] = [:]

    init(words: [[Int32]], counts: [Int]) {
        self.words = words
        self.counts = counts
        for (w, word) in words.enumerated() where word.count > 1 {
            for k in 0..<(word.count - 1) {
                let p = pairKey(Int(word[k]), Int(word[k + 1]))
                pairCounts[p, default: 0] += counts[w]
                if pairWords[p]?.last != Int32(w) { pairWords[p, default: []].append(Int32(w)) }
            }
        }
    }

    /// (word index, position) of the first occurrence of `pair`.
    func firstOccurrence(_ pair: UInt64) -> (Int, Int) {
        let (a, b) = (Int32(pair >> 32), Int32(truncatingIfNeeded: pair & 0xFFFF_FFFF))
        for w in (pairWords[pair] ?? []).sorted() {
            let word = words[Int(w)]
            for k in 0..<max(word.count - 1, 0) where word[k] == a && word[k + 1] == b { return (Int(w), k) }
        }
        return (Int.max, Int.max)
    }

    /// Replaces `pair` by `newId` in every word containing it (left to right, non-overlapping),
    /// updating pair counts. Returns the pairs whose count grew.
    mutating func merge(_ pair: UInt64, into newId: Int32) -> Set<UInt64> {
        let (a, b) = (Int32(pair >> 32), Int32(truncatingIfNeeded: pair & 0xFFFF_FFFF))
        var increased = Set<UInt64>()
        var seen = Set<Int32>()
        for w in pairWords[pair] ?? [] where seen.insert(w).inserted {
            let word = words[Int(w)]
            guard word.count > 1 else { continue }
            var merged: [Int32] = []
            merged.reserveCapacity(word.count)
            var k = 0
            var changed = false
            while k < word.count {
                if k + 1 < word.count && word[k] == a && word[k + 1] == b {
                    merged.append(newId)
                    k += 2
                    changed = true
                } else {
                    merged.append(word[k])
                    k += 1
                }
            }
            guard changed else { continue }
            let c = counts[Int(w)]
            for k in 0..<(word.count - 1) { pairCounts[pairKey(Int(word[k]), Int(word[k + 1])), default: 0] -= c }
            for k in 0..<max(merged.count - 1, 0) {
                let p = pairKey(Int(merged[k]), Int(merged[k + 1]))
                pairCounts[p, default: 0] += c
                if merged[k] == newId || merged[k + 1] == newId {
                    increased.insert(p)
                    if pairWords[p]?.last != w { pairWords[p, default: []].append(w) }
                }
            }
            words[Int(w)] = merged
        }
        pairCounts[pair] = 0
        pairWords[pair] = nil
        return increased
    }
}

/// A max-heap on (count, then the tie rule's order) with lazy invalidation.
struct PairHeap {
    let rule: TieRule
    /// Key: count high bits, then the inverted tie key, so the largest key is the best pair.
    var items: [(key: UInt64, tie: UInt64, pair: UInt64, count: Int)] = []

    init(rule: TieRule) { self.rule = rule }

    func tieKey(_ pair: UInt64) -> UInt64 {
        guard rule == .huggingFace else { return 0 }
        let a = Int(pair >> 32)
        let b = Int(pair & 0xFFFF_FFFF)
        let ha = a < 256 ? huggingFaceByteIds[a] : a
        let hb = b < 256 ? huggingFaceByteIds[b] : b
        return ~(UInt64(UInt32(ha)) << 32 | UInt64(UInt32(hb)))  // smaller pair = larger key
    }

    @inline(__always) func better(_ x: Int, _ y: Int) -> Bool {
        items[x].count != items[y].count ? items[x].count > items[y].count : items[x].tie > items[y].tie
    }

    mutating func push(_ count: Int, _ pair: UInt64) {
        guard count > 0 else { return }
        items.append((0, tieKey(pair), pair, count))
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !better(i, parent) { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    var peekCount: Int? { items.first?.count }

    mutating func pop() -> (Int, UInt64)? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1
                let r = l + 1
                var m = i
                if l < items.count && better(l, m) { m = l }
                if r < items.count && better(r, m) { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return (first.count, first.pair)
    }
}
