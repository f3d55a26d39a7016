// Rule filters for pretraining documents, each a named switch with the published thresholds.
// A document is judged by the first rule it breaks (the name is the reason in the report).
//   Gopher quality (Rae et al. 2021, MassiveText, Appendix A):
//     gopher.wordCount        50 ≤ words ≤ 100,000
//     gopher.meanWordLength   3 ≤ mean word length ≤ 10 characters
//     gopher.symbolRatio      "#" and "..." (or "…") per word < 0.1 each
//     gopher.bulletLines      ≤ 90 % of lines start with a bullet (•, -, *, ‣, ◦)
//     gopher.ellipsisLines    ≤ 30 % of lines end with an ellipsis
//     gopher.alphabetic       ≥ 80 % of words hold an alphabetic character
//     gopher.stopWords        ≥ 2 of: the, be, to, of, and, that, have, with
//   Gopher repetition:
//     gopher.duplicateLines       duplicated lines ≤ 30 % of lines, their characters ≤ 20 %
//     gopher.duplicateParagraphs  the same for paragraphs (blank-line separated)
//     gopher.topNGram         the most frequent word 2/3/4-gram covers ≤ 20 / 18 / 16 % of the
//                             characters (of words)
//     gopher.duplicateNGrams  characters in duplicated word 5..10-grams ≤ 15 / 14 / 13 / 12 / 11 / 10 %
//   C4 (Raffel et al. 2020): keep only lines ending in terminal punctuation (. ! ? ") with at least
//     5 words and without "javascript"; then reject a page with fewer than 3 sentences, or holding
//     "lorem ipsum" or a curly brace ("c4.lines" changes the text; the others reject).
//   FineWeb (Penedo et al. 2024), its three custom filters:
//     fineweb.punctuation     lines ending in punctuation ≥ 12 %
//     fineweb.duplicateLines  characters in duplicated lines ≤ 10 %
//     fineweb.shortLines      lines shorter than 30 characters ≤ 67 %
// Words are whitespace-separated tokens; lines are split on "\n" with empty lines ignored. The
// character fractions here count the characters of words (whitespace not counted), and a
// duplicated n-gram covers every word of every occurrence; reference implementations differ in
// such details (datatrove counts only the repeats after the first occurrence, over all
// characters), so a document near a threshold may be judged differently there.
import Foundation

public enum QualityRule: String, Codable, Sendable, CaseIterable {
    case gopherWordCount = "gopher.wordCount"
    case gopherMeanWordLength = "gopher.meanWordLength"
    case gopherSymbolRatio = "gopher.symbolRatio"
    case gopherBulletLines = "gopher.bulletLines"
    case gopherEllipsisLines = "gopher.ellipsisLines"
    case gopherAlphabetic = "gopher.alphabetic"
    case gopherStopWords = "gopher.stopWords"
    case gopherDuplicateLines = "gopher.duplicateLines"
    case gopherDuplicateParagraphs = "gopher.duplicateParagraphs"
    case gopherTopNGram = "gopher.topNGram"
    case gopherDuplicateNGrams = "gopher.duplicateNGrams"
    case c4 = "c4"
    case finewebPunctuation = "fineweb.punctuation"
    case finewebDuplicateLines = "fineweb.duplicateLines"
    case finewebShortLines = "fineweb.shortLines"
}

public struct QualityRules: Codable, Sendable, Equatable {
    /// The rules applied, in the order listed in QualityRule.
    public var enabled: Set<QualityRule> = Set(QualityRule.allCases)

    public init(enabled: Set<QualityRule> = Set(QualityRule.allCases)) { self.enabled = enabled }

    enum CodingKeys: String, CodingKey { case enabled }

    public init(from decoder: any Decoder) throws {
        enabled = try decoder.container(keyedBy: CodingKeys.self).decode(Set<QualityRule>.self, forKey: .enabled)
    }

    /// The rules in QualityRule's order: a Set's own order changes from process to process, and a
    /// config written with it would not match itself on resume.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(QualityRule.allCases.filter(enabled.contains), forKey: .enabled)
    }

    static let stopWords: Set<String> = ["the", "be", "to", "of", "and", "that", "have", "with"]

    /// The document after C4's line filter (when on) and the first rule it breaks, if any.
    public func judge(_ text: String) -> (text: String, rejectedBy: QualityRule?) {
        var text = text
        func on(_ rule: QualityRule) -> Bool { enabled.contains(rule) }
        let words = Self.words(text)
        let lines = text.split(separator: "\n").map { Self.trimmed($0, Self.isSpace) }.filter { !$0.isEmpty }
        let n = Double(Swift.max(words.count, 1))
        if on(.gopherWordCount) && !(50...100_000).contains(words.count) { return (text, .gopherWordCount) }
        let lengths = words.map(\.count)
        let meanLength = Double(lengths.reduce(0, +)) / n
        if on(.gopherMeanWordLength) && !(3...10).contains(meanLength) { return (text, .gopherMeanWordLength) }
        let hashes = Double(text.filter { $0 == "#" }.count)
        let ellipses = Double(Self.occurrences(of: "...", in: text) + Self.occurrences(of: "…", in: text))
        if on(.gopherSymbolRatio) && (hashes / n >= 0.1 || ellipses / n >= 0.1) { return (text, .gopherSymbolRatio) }
        let lineCount = Double(Swift.max(lines.count, 1))
        let bullets = Double(lines.count { line in ["•", "-", "*", "‣", "◦"].contains { line.hasPrefix($0) } })
        if on(.gopherBulletLines) && bullets / lineCount > 0.9 { return (text, .gopherBulletLines) }
        let ellipsisLines = Double(lines.count { $0.hasSuffix("...") || $0.hasSuffix("…") })
        if on(.gopherEllipsisLines) && ellipsisLines / lineCount > 0.3 { return (text, .gopherEllipsisLines) }
        let alphabetic = Double(words.count { $0.contains { $0.isLetter } })
        if on(.gopherAlphabetic) && alphabetic / n < 0.8 { return (text, .gopherAlphabetic) }
        let stop = Set(words.map { Self.trimmed(Substring($0.lowercased()), Self.isPunctuation) }).intersection(
            Self.stopWords)
        if on(.gopherStopWords) && stop.count < 2 { return (text, .gopherStopWords) }
        if on(.gopherDuplicateLines) && Self.duplicated(lines, countLimit: 0.3, characterLimit: 0.2) {
            return (text, .gopherDuplicateLines)
        }
        let paragraphs = Self.pieces(of: text, separatedBy: "\n\n").map {
            Self.trimmed($0) { Self.isSpace($0) || Self.isNewline($0) }
        }.filter { !$0.isEmpty }
        if on(.gopherDuplicateParagraphs) && Self.duplicated(paragraphs, countLimit: 0.3, characterLimit: 0.2) {
            return (text, .gopherDuplicateParagraphs)
        }
        // The n-gram rules compare words by number (each distinct word hashed once, not once per
        // n-gram it is in) and count their characters once.
        let characters = Double(Swift.max(lengths.reduce(0, +), 1))
        var numbers: [String: Int32] = [:]
        let ids: [Int32] =
            on(.gopherTopNGram) || on(.gopherDuplicateNGrams)
            ? words.map { word in
                if let id = numbers[word] { return id }
                let id = Int32(numbers.count)
                numbers[word] = id
                return id
            } : []
        if on(.gopherTopNGram) {
            for (size, limit) in [(2, 0.2), (3, 0.18), (4, 0.16)]
            where Self.topNGramShare(words, ids: ids, lengths: lengths, size) / characters > limit {
                return (text, .gopherTopNGram)
            }
        }
        if on(.gopherDuplicateNGrams) {
            for (size, limit) in zip(5...10, [0.15, 0.14, 0.13, 0.12, 0.11, 0.10])
            where Self.duplicatedNGramCharacters(ids: ids, lengths: lengths, size) / characters > limit {
                return (text, .gopherDuplicateNGrams)
            }
        }
        if on(.c4) {
            let kept = text.split(separator: "\n").map { Self.trimmed($0, Self.isSpace) }.filter { line in
                let terminal = [".", "!", "?", "\""].contains { line.hasSuffix($0) }
                return terminal && Self.words(line).count >= 5
                    && !line.lowercased().contains("javascript")
            }
            text = kept.joined(separator: "\n")
            let sentences = text.filter { ".!?".contains($0) }.count
            if sentences < 3 || text.lowercased().contains("lorem ipsum") || text.contains("{") { return (text, .c4) }
        }
        let finalLines = text.split(separator: "\n").map(String.init).filter {
            !Self.trimmed(Substring($0), Self.isSpace).isEmpty
        }
        let finalCount = Double(Swift.max(finalLines.count, 1))
        if on(.finewebPunctuation) {
            let punctuated = Double(finalLines.count { $0.last.map { $0.isPunctuation } ?? false })
            if punctuated / finalCount < 0.12 { return (text, .finewebPunctuation) }
        }
        if on(.finewebDuplicateLines) {
            let total = Double(Swift.max(finalLines.map(\.count).reduce(0, +), 1))
            var seen = Set<String>()
            var duplicated = 0
            for line in finalLines { if !seen.insert(line).inserted { duplicated += line.count } }
            if Double(duplicated) / total > 0.1 { return (text, .finewebDuplicateLines) }
        }
        if on(.finewebShortLines) && Double(finalLines.count { $0.count < 30 }) / finalCount > 0.67 {
            return (text, .finewebShortLines)
        }
        return (text, nil)
    }

    /// The text split at whitespace, scalar by scalar (Character's grapheme breaking costs more
    /// and splits the same text the same way, but for a whitespace scalar a combining mark joins).
    static func words(_ text: String) -> [String] {
        var words: [String] = []
        let scalars = text.unicodeScalars
        var start = scalars.startIndex
        var inWord = false
        var i = scalars.startIndex
        while i < scalars.endIndex {
            let s = scalars[i]
            let space = s.isASCII ? (s == " " || (0x09...0x0D).contains(s.value)) : s.properties.isWhitespace
            if space {
                if inWord { words.append(String(scalars[start..<i])) }
                inWord = false
            } else if !inWord {
                (start, inWord) = (i, true)
            }
            i = scalars.index(after: i)
        }
        if inWord { words.append(String(scalars[start..<scalars.endIndex])) }
        return words
    }

    // Foundation's CharacterSet trimming and components(separatedBy:) go through NSString; these
    // do the same on Unicode scalars. whitespaces: tab and the space separators (Zs); newlines:
    // U+000A-U+000D, U+0085, U+2028, U+2029; punctuation: the P* categories.
    static func isSpace(_ s: Unicode.Scalar) -> Bool { s == "\t" || s.properties.generalCategory == .spaceSeparator }
    static func isNewline(_ s: Unicode.Scalar) -> Bool {
        (0x0A...0x0D).contains(s.value) || s.value == 0x85 || s.value == 0x2028 || s.value == 0x2029
    }
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
            .finalPunctuation, .otherPunctuation:
            return true
        default: return false
        }
    }

    /// The text without the leading and trailing scalars `drop` holds for.
    static func trimmed(_ text: Substring, _ drop: (Unicode.Scalar) -> Bool) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !drop($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !drop($0) })!
        return String(text[first..<scalars.index(after: last)])
    }

    /// Non-overlapping occurrences of `piece`, left to right.
    static func occurrences(of piece: String, in text: String) -> Int {
        pieces(of: text, separatedBy: piece).count - 1
    }

    /// The text cut at every non-overlapping occurrence of `separator`, left to right (empty pieces
    /// kept, as components(separatedBy:) keeps them).
    static func pieces(of text: String, separatedBy separator: String) -> [Substring] {
        let bytes = Array(text.utf8)
        let sep = Array(separator.utf8)
        var out: [Substring] = []
        var start = 0
        var i = 0
        let utf8 = text.utf8
        while i + sep.count <= bytes.count {
            if bytes[i] == sep[0] && Array(bytes[i..<(i + sep.count)]) == sep {
                out.append(
                    text[utf8.index(utf8.startIndex, offsetBy: start)..<utf8.index(utf8.startIndex, offsetBy: i)])
                i += sep.count
                start = i
            } else {
                i += 1
            }
        }
        out.append(text[utf8.index(utf8.startIndex, offsetBy: start)...])
        return out
    }

    /// Whether repeats (every occurrence after the first) exceed either share of items or characters.
    static func duplicated(_ items: [String], countLimit: Double, characterLimit: Double) -> Bool {
        guard !items.isEmpty else { return false }
        var seen = Set<String>()
        var (count, characters) = (0, 0)
        for item in items where !seen.insert(item).inserted {
            count += 1
            characters += item.count
        }
        let total = items.map(\.count).reduce(0, +)
        return Double(count) / Double(items.count) > countLimit
            || Double(characters) / Double(Swift.max(total, 1)) > characterLimit
    }

    /// Characters (of words) covered by the most frequent word n-gram, counted once per occurrence
    /// (a tie goes to the n-gram whose words, joined, sort first). `ids` numbers the words (equal
    /// words, equal numbers) and `lengths` holds their character counts.
    static func topNGramShare(_ words: [String], ids: [Int32], lengths: [Int], _ n: Int) -> Double {
        guard ids.count >= n else { return 0 }
        var counts: [Gram: (count: Int, first: Int)] = [:]
        counts.reserveCapacity(ids.count)
        for (i, gram) in Gram.all(ids, n).enumerated() { counts[gram, default: (0, i)].count += 1 }
        guard let most = counts.values.map(\.count).max(), most > 1 else { return 0 }
        let top = counts.values.filter { $0.count == most }.map(\.first).min { a, b in
            words[a..<(a + n)].joined() < words[b..<(b + n)].joined()
        }!
        return Double(lengths[top..<(top + n)].reduce(0, +) * most)
    }

    /// Characters of words inside any word n-gram that occurs more than once (each word once).
    static func duplicatedNGramCharacters(ids: [Int32], lengths: [Int], _ n: Int) -> Double {
        guard ids.count >= n else { return 0 }
        var first: [Gram: Int] = [:]
        first.reserveCapacity(ids.count)
        var covered = [Bool](repeating: false, count: ids.count)
        for (i, gram) in Gram.all(ids, n).enumerated() {
            if let j = first[gram] {
                for k in j..<(j + n) { covered[k] = true }
                for k in i..<(i + n) { covered[k] = true }
            } else {
                first[gram] = i
            }
        }
        return Double(ids.indices.filter { covered[$0] }.map { lengths[$0] }.reduce(0, +))
    }
}

/// A word n-gram as a dictionary key: equal when its word numbers are, hashed by one 64-bit
/// polynomial of them (rolled along the text: one multiply-add per position, not n hashes).
struct Gram: Hashable {
    let ids: ArraySlice<Int32>
    let polynomial: UInt64

    static func == (a: Gram, b: Gram) -> Bool { a.polynomial == b.polynomial && a.ids == b.ids }
    func hash(into hasher: inout Hasher) { hasher.combine(polynomial) }

    /// Every n-gram of `ids`, in order.
    static func all(_ ids: [Int32], _ n: Int) -> [Gram] {
        guard ids.count >= n else { return [] }
        let base: UInt64 = 0x100_0000_01b3
        var top: UInt64 = 1  // base^(n-1)
        for _ in 1..<n { top = top &* base }
        var h: UInt64 = 0
        for k in 0..<n { h = h &* base &+ UInt64(UInt32(bitPattern: ids[k])) }
        var grams = [Gram(ids: ids[0..<n], polynomial: h)]
        grams.reserveCapacity(ids.count - n + 1)
        for i in 1...(ids.count - n) {
            h =
                (h &- UInt64(UInt32(bitPattern: ids[i - 1])) &* top) &* base
                &+ UInt64(UInt32(bitPattern: ids[i + n - 1]))
            grams.append(Gram(ids: ids[i..<(i + n)], polynomial: h))
        }
        return grams
    }
}
