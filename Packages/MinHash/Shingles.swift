// Text normalisation and shingling for near-duplicate detection. The normalisation is the one
// web-scale dedup uses (FineWeb / datatrove): lowercase, drop punctuation, remove diacritics,
// replace every digit by 0, collapse whitespace. Word n-grams for spaced scripts; character
// n-grams (over grapheme clusters) also work for Chinese, which has no spaces.
import Foundation

public enum Shingling: Codable, Sendable, Equatable {
    /// n consecutive words joined by one space.
    case words(Int)
    /// n consecutive characters (grapheme clusters), spaces included.
    case characters(Int)
}

/// Lowercase, punctuation removed, diacritics removed (NFD, combining marks dropped), digits
/// normalised to 0, whitespace collapsed to single spaces and trimmed.
public func normalizeForDedup(_ text: String) -> String {
    var out = String.UnicodeScalarView()
    var pendingSpace = false
    for scalar in text.lowercased().decomposedStringWithCanonicalMapping.unicodeScalars {
        let p = scalar.properties
        if p.isWhitespace {
            pendingSpace = !out.isEmpty
            continue
        }
        switch p.generalCategory {
        case .nonspacingMark, .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
            .initialPunctuation, .finalPunctuation, .otherPunctuation:
            continue
        case .decimalNumber:
            if pendingSpace { out.append(" ") }
            pendingSpace = false
            out.append("0")
        default:
            if pendingSpace { out.append(" ") }
            pendingSpace = false
            out.append(scalar)
        }
    }
    return String(out)
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
