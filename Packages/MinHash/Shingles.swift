// Shingling of normalised text (Normalization.swift) for near-duplicate detection: word n-grams
// for spaced scripts; character n-grams (over grapheme clusters) also work for Chinese, which has
// no spaces. Two forms: shingles as bytes (the definition, and what the MinHash experiment
// measures), and shingles as sorted distinct 64-bit hashes of those bytes (what the dedup stage
// keeps per document: 8 bytes a shingle, Jaccard by merging two sorted arrays).
import Foundation

public enum Shingling: Codable, Sendable, Equatable {
    /// n consecutive words joined by one space.
    case words(Int)
    /// n consecutive characters (grapheme clusters), spaces included.
    case characters(Int)
}

/// The distinct shingles of normalised text, as UTF-8 bytes, in first-seen order. A text shorter
/// than n yields one shingle of all of it; an empty text yields none.
public func shingles(of normalized: String, _ kind: Shingling) -> [[UInt8]] {
    var seen = Set<[UInt8]>()
    var out: [[UInt8]] = []
    func add(_ s: Substring) {
        let bytes = Array(s.utf8)
        if seen.insert(bytes).inserted { out.append(bytes) }
    }
    switch kind {
    case .words(let n):
        let words = normalized.split(separator: " ")
        if words.isEmpty { return [] }
        if words.count < n {
            add(normalized[...])
        } else {
            for i in 0...(words.count - n) { add(words[i..<(i + n)].joined(separator: " ")[...]) }
        }
    case .characters(let n):
        let chars = Array(normalized)
        if chars.isEmpty { return [] }
        if chars.count < n {
            add(normalized[...])
        } else {
            for i in 0...(chars.count - n) { add(String(chars[i..<(i + n)])[...]) }
        }
    }
    return out
}

/// Exact Jaccard similarity |A ∩ B| / |A ∪ B| of two shingle sets (1 for two empty sets).
public func jaccard(_ a: [[UInt8]], _ b: [[UInt8]]) -> Double {
    if a.isEmpty && b.isEmpty { return 1 }
    let sa = Set(a)
    let sb = Set(b)
    let inter = sa.intersection(sb).count
    return Double(inter) / Double(sa.count + sb.count - inter)
}

/// A shingle's bytes within the normalised text, and their 64-bit hash.
struct ShingleSpan {
    var hash: UInt64
    var start: Int32
    var end: Int32
}

/// The shingles of normalised text as spans, one per distinct hash, sorted by hash: the same
/// shingles as `shingles(of:_:)` (word n-grams are the byte ranges from a word's start to the
/// n-th word's end, since normalised words are separated by single spaces).
func shingleSpans(_ text: UnsafeBufferPointer<UInt8>, _ kind: Shingling) -> [ShingleSpan] {
    guard !text.isEmpty else { return [] }
    // Boundaries: starts[i] ..< ends[i] is unit i (a word, or a grapheme cluster).
    var starts: [Int32] = []
    var ends: [Int32] = []
    let n: Int
    switch kind {
    case .words(let size):
        n = size
        starts.append(0)
        for i in 0..<text.count where text[i] == 0x20 {
            ends.append(Int32(i))
            starts.append(Int32(i + 1))
        }
        ends.append(Int32(text.count))
    case .characters(let size):
        n = size
        let string = String(decoding: text, as: UTF8.self)
        var offset = 0
        for character in string {
            starts.append(Int32(offset))
            offset += character.utf8.count
            ends.append(Int32(offset))
        }
    }
    let raw = UnsafeRawBufferPointer(text)
    func span(_ a: Int32, _ b: Int32) -> ShingleSpan {
        ShingleSpan(hash: hash64(UnsafeRawBufferPointer(rebasing: raw[Int(a)..<Int(b)])), start: a, end: b)
    }
    var spans: [ShingleSpan]
    if starts.count < n {
        spans = [span(0, Int32(text.count))]
    } else {
        spans = (0...(starts.count - n)).map { span(starts[$0], ends[$0 + n - 1]) }
    }
    spans.sort { $0.hash < $1.hash }
    var distinct = 0
    for i in spans.indices where i == 0 || spans[i].hash != spans[distinct - 1].hash {
        spans[distinct] = spans[i]
        distinct += 1
    }
    spans.removeLast(spans.count - distinct)
    return spans
}

/// The distinct shingles of normalised text as sorted 64-bit hashes of their bytes (the set the
/// dedup stage keeps per document and verifies candidates with).
public func shingleHashes(normalized: [UInt8], _ kind: Shingling) -> [UInt64] {
    normalized.withUnsafeBufferPointer { shingleSpans($0, kind).map(\.hash) }
}

/// Jaccard similarity of two sorted arrays of distinct hashes (1 for two empty sets).
public func jaccard(sortedHashes a: [UInt64], _ b: [UInt64]) -> Double {
    if a.isEmpty && b.isEmpty { return 1 }
    var (i, j, shared) = (0, 0, 0)
    while i < a.count && j < b.count {
        if a[i] == b[j] {
            shared += 1
            i += 1
            j += 1
        } else if a[i] < b[j] {
            i += 1
        } else {
            j += 1
        }
    }
    return Double(shared) / Double(a.count + b.count - shared)
}
