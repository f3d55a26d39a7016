// The dedup normalisation (FineWeb / datatrove's): lowercase, drop punctuation, remove diacritics,
// replace every digit by 0, collapse whitespace. Two versions of one function:
//   normalizeForDedupReference: the definition, scalar by scalar over String's Unicode views
//     (lowercased, then NFD; White_Space collapses; Mn and P* drop; Nd becomes 0);
//   normalizeForDedup(bytes:): the fast one, on UTF-8 bytes. ASCII bytes go through a 128-entry
//     table built from the reference's own classification; each maximal run of non-ASCII bytes
//     takes the reference path. Splitting at ASCII bytes changes nothing: an ASCII character is
//     never decomposed, never reordered against a combining mark, and lowercasing here has no
//     context (Swift's lowercased maps Σ to σ in every position).
// The tests hold the fast version equal to the reference on the corpora and on random strings.
import Foundation

/// What the normalisation does with one scalar (after lowercasing and NFD).
enum NormalizedScalar: Equatable {
    case whitespace
    case drop
    case emit(Unicode.Scalar)
}

@inline(__always) func classifyForDedup(_ scalar: Unicode.Scalar) -> NormalizedScalar {
    let p = scalar.properties
    if p.isWhitespace { return .whitespace }
    switch p.generalCategory {
    case .nonspacingMark, .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
        .initialPunctuation, .finalPunctuation, .otherPunctuation:
        return .drop
    case .decimalNumber: return .emit("0")
    default: return .emit(scalar)
    }
}

/// The definition: lowercase, NFD, then each scalar classified; whitespace collapsed and trimmed.
public func normalizeForDedupReference(_ text: String) -> String {
    var out = String.UnicodeScalarView()
    var pendingSpace = false
    for scalar in text.lowercased().decomposedStringWithCanonicalMapping.unicodeScalars {
        switch classifyForDedup(scalar) {
        case .whitespace: pendingSpace = !out.isEmpty
        case .drop: continue
        case .emit(let s):
            if pendingSpace { out.append(" ") }
            pendingSpace = false
            out.append(s)
        }
    }
    return String(out)
}

/// For each ASCII byte: `asciiWhitespace`, `asciiDrop`, or the byte to emit (lowercased; digits
/// 0). Every ASCII character lowercases and decomposes to one ASCII character, so the two markers
/// (non-ASCII values) cannot be confused with output.
let asciiWhitespace: UInt8 = 0xFF
let asciiDrop: UInt8 = 0xFE
let asciiNormalization: [UInt8] = (0..<128).map { byte in
    let scalar = Unicode.Scalar(UInt8(byte))
    let lowered = String(scalar).lowercased().unicodeScalars.first!
    switch classifyForDedup(lowered) {
    case .whitespace: return asciiWhitespace
    case .drop: return asciiDrop
    case .emit(let s): return UInt8(s.value)
    }
}

/// Appends the normalisation of UTF-8 `bytes` to `out` (invalid UTF-8 reads as U+FFFD, as
/// String(decoding:) does). `pendingSpace` carries a whitespace run across calls, so lines
/// normalised one after another into one buffer give the whole text's normalisation.
func normalizeForDedup(bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8], pendingSpace: inout Bool) {
    var i = 0
    let n = bytes.count
    while i < n {
        let byte = bytes[i]
        if byte < 0x80 {
            let action = asciiNormalization[Int(byte)]
            if action == asciiWhitespace {
                pendingSpace = !out.isEmpty
            } else if action != asciiDrop {
                if pendingSpace { out.append(0x20) }
                pendingSpace = false
                out.append(action)
            }
            i += 1
            continue
        }
        var end = i + 1
        while end < n && bytes[end] >= 0x80 { end += 1 }
        let run = String(decoding: UnsafeBufferPointer(rebasing: bytes[i..<end]), as: UTF8.self)
        for scalar in run.lowercased().decomposedStringWithCanonicalMapping.unicodeScalars {
            switch classifyForDedup(scalar) {
            case .whitespace: pendingSpace = !out.isEmpty
            case .drop: continue
            case .emit(let s):
                if pendingSpace { out.append(0x20) }
                pendingSpace = false
                UTF8.encode(s) { out.append($0) }
            }
        }
        i = end
    }
}

/// The normalisation of UTF-8 bytes, as bytes.
public func normalizeForDedup(bytes: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var pendingSpace = false
    bytes.withUnsafeBufferPointer { normalizeForDedup(bytes: $0, into: &out, pendingSpace: &pendingSpace) }
    return out
}

/// The normalisation of a string (the fast version).
public func normalizeForDedup(_ text: String) -> String {
    String(decoding: normalizeForDedup(bytes: Array(text.utf8)), as: UTF8.self)
}
