// UTF-8 bytes as a sequence of characters with byte offsets, classified the way the
// pre-tokenisation patterns see them. Invalid UTF-8 (stray continuation bytes, overlongs,
// surrogates, truncated sequences) becomes one "symbol" character per byte, so any byte string
// can be split and every byte lands in exactly one chunk.

/// How a pattern sees one character.
enum CharClass: UInt8 {
    case letter  // \p{L}
    case number  // \p{N}
    case space  // U+0020, the optional prefix of " ?\p{L}+"
    case newline  // \r or \n
    case whitespace  // other \s (White_Space property)
    case apostrophe  // '
    case symbol  // everything else, and invalid bytes
}

struct ScannedChar {
    var start: Int  // byte offset
    var length: Int  // bytes
    var cls: CharClass
    var value: UInt32  // the scalar; UInt32.max for an invalid byte
}

/// Class of a Unicode scalar: letters L*, numbers N*, White_Space as Python's `regex` does.
@inline(__always)
func classify(_ scalar: Unicode.Scalar) -> CharClass {
    let v = scalar.value
    if v < 128 { return asciiClasses[Int(v)] }
    let p = scalar.properties
    if p.isWhitespace { return .whitespace }
    switch p.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
    case .decimalNumber, .letterNumber, .otherNumber: return .number
    default: return .symbol
    }
}

let asciiClasses: [CharClass] = (0..<128).map { v -> CharClass in
    switch v {
    case 0x0A, 0x0D: return .newline
    case 0x20: return .space
    case 0x09, 0x0B, 0x0C: return .whitespace
    case 0x27: return .apostrophe
    case 0x30...0x39: return .number
    case 0x41...0x5A, 0x61...0x7A: return .letter
    default: return .symbol
    }
}

/// Decodes UTF-8 strictly (no overlongs, no surrogates, max U+10FFFF); each byte of an invalid
/// sequence becomes its own symbol character.
func scanCharacters(_ bytes: UnsafeBufferPointer<UInt8>, into chars: inout [ScannedChar]) {
    chars.removeAll(keepingCapacity: true)
    var i = 0
    let n = bytes.count
    while i < n {
        let b0 = bytes[i]
        if b0 < 0x80 {
            chars.append(ScannedChar(start: i, length: 1, cls: asciiClasses[Int(b0)], value: UInt32(b0)))
            i += 1
            continue
        }
        var length = 0
        var value: UInt32 = 0
        var minimum: UInt32 = 0
        if b0 & 0xE0 == 0xC0 {
            (length, value, minimum) = (2, UInt32(b0 & 0x1F), 0x80)
        } else if b0 & 0xF0 == 0xE0 {
            (length, value, minimum) = (3, UInt32(b0 & 0x0F), 0x800)
        } else if b0 & 0xF8 == 0xF0 {
            (length, value, minimum) = (4, UInt32(b0 & 0x07), 0x10000)
        }
        var valid = length > 0 && i + length <= n
        if valid {
            for k in 1..<length {
                let b = bytes[i + k]
                if b & 0xC0 != 0x80 {
                    valid = false
                    break
                }
                value = value << 6 | UInt32(b & 0x3F)
            }
        }
        if valid, value >= minimum, value <= 0x10FFFF, !(0xD800...0xDFFF).contains(value),
            let scalar = Unicode.Scalar(value)
        {
            chars.append(ScannedChar(start: i, length: length, cls: classify(scalar), value: value))
            i += length
        } else {
            chars.append(ScannedChar(start: i, length: 1, cls: .symbol, value: UInt32.max))
            i += 1
        }
    }
}

/// Whether the patterns treat a scalar as a letter (\p{L}), a number (\p{N}) or whitespace (\s).
public func patternClass(of scalar: Unicode.Scalar) -> (letter: Bool, number: Bool, whitespace: Bool) {
    let c = classify(scalar)
    return (c == .letter, c == .number, c.isWhitespace)
}
