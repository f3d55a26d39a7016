// Pre-tokenisation: the text is split into chunks by the GPT-2 or the GPT-4 (cl100k) pattern,
// and BPE never merges across chunks. Both patterns are implemented as hand-written scanners,
// one function per pattern whose branches follow the pattern's alternatives in order; a test
// checks them against Python's `regex` module on a large set of strings.
//
// GPT-2:  's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// GPT-4:  (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//         ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+

public enum SplitPattern: String, Codable, Sendable, CaseIterable {
    case gpt2
    case gpt4

    /// The regular expression this scanner implements (for export to HF `tokenizers`).
    public var regex: String {
        switch self {
        case .gpt2: #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
        case .gpt4:
            #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        }
    }
}

extension CharClass {
    var isWhitespace: Bool { self == .space || self == .newline || self == .whitespace }
    /// [^\s\p{L}\p{N}]
    var isOther: Bool { self == .symbol || self == .apostrophe }
}

/// Splits characters `chars` into chunks; calls `emit(firstChar, endChar)` for each.
func splitChunks(_ chars: [ScannedChar], pattern: SplitPattern, _ emit: (Int, Int) -> Void) {
    let n = chars.count
    var i = 0
    while i < n {
        let end = pattern == .gpt2 ? gpt2Match(chars, i) : gpt4Match(chars, i)
        emit(i, end)
        i = end
    }
}

/// End of the run of characters from `i` whose class satisfies `test`.
@inline(__always)
func run(_ chars: [ScannedChar], from i: Int, _ test: (CharClass) -> Bool) -> Int {
    var j = i
    while j < chars.count && test(chars[j].cls) { j += 1 }
    return j
}

/// 's 't 're 've 'm 'll 'd at i; returns the end. With `ignoreCase` (GPT-4's `(?i:...)`),
/// letters match either case, and 's also matches U+017F (long s), which case-folds to s.
@inline(__always)
func contraction(_ chars: [ScannedChar], _ i: Int, ignoreCase: Bool) -> Int? {
    guard chars[i].cls == .apostrophe, i + 1 < chars.count else { return nil }
    func letter(_ k: Int) -> UInt32 {
        guard k < chars.count else { return 0 }
        let v = chars[k].value
        if ignoreCase {
            if v >= 0x41 && v <= 0x5A { return v + 32 }
            if v == 0x17F { return 0x73 }  // ſ folds to s
        }
        return v
    }
    switch letter(i + 1) {
    case 0x73, 0x74, 0x6D, 0x64: return i + 2  // s t m d
    case 0x72, 0x76: return letter(i + 2) == 0x65 ? i + 3 : nil  // re ve
    case 0x6C: return letter(i + 2) == 0x6C ? i + 3 : nil  // ll
    default: return nil
    }
}

/// \s+(?!\S) then \s+: a whitespace run, minus its last character when a non-space follows and
/// the run is longer than one (so the last space can prefix the next word).
@inline(__always)
func whitespaceMatch(_ chars: [ScannedChar], _ i: Int) -> Int {
    let k = run(chars, from: i) { $0.isWhitespace }
    if k == chars.count || k - i == 1 { return k }
    return k - 1
}

func gpt2Match(_ chars: [ScannedChar], _ i: Int) -> Int {
    if let end = contraction(chars, i, ignoreCase: false) { return end }
    let c = chars[i].cls
    // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': an optional U+0020, then a run of one class.
    let start = c == .space && i + 1 < chars.count ? i + 1 : i
    let first = chars[start].cls
    if first == .letter { return run(chars, from: start) { $0 == .letter } }
    if first == .number { return run(chars, from: start) { $0 == .number } }
    if first.isOther { return run(chars, from: start) { $0.isOther } }
    return whitespaceMatch(chars, i)
}

func gpt4Match(_ chars: [ScannedChar], _ i: Int) -> Int {
    if let end = contraction(chars, i, ignoreCase: true) { return end }
    let c = chars[i].cls
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if c == .letter { return run(chars, from: i) { $0 == .letter } }
    if c != .newline && c != .number && i + 1 < chars.count && chars[i + 1].cls == .letter {
        return run(chars, from: i + 1) { $0 == .letter }
    }
    // \p{N}{1,3}
    if c == .number { return min(run(chars, from: i) { $0 == .number }, i + 3) }
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    let start = c == .space && i + 1 < chars.count ? i + 1 : i
    if chars[start].cls.isOther {
        let end = run(chars, from: start) { $0.isOther }
        return run(chars, from: end) { $0 == .newline }
    }
    // \s*[\r\n]+ : up to and including the last newline of the whitespace run.
    let k = run(chars, from: i) { $0.isWhitespace }
    var last = k - 1
    while last >= i && chars[last].cls != .newline { last -= 1 }
    if last >= i { return last + 1 }
    // \s+(?!\S) | \s+
    return whitespaceMatch(chars, i)
}
