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
//   C4 (Raffel et al. 2020; datatrove's C4QualityFilter defaults): per line, drop a line holding a
//     word over 1,000 characters, strip Wikipedia citations ("[12]", "[edit]", "[citation
//     needed]"), keep it only if it ends in terminal punctuation (. ? ! " ') but not "..." and has
//     at least 3 words, reject the page if a kept line holds "lorem ipsum" or a curly brace, drop
//     a line holding "javascript" or a cookie/terms/privacy-policy phrase; then reject a page whose
//     kept lines hold fewer than 5 sentences ("c4" changes the text; its rejections are the page's).
//   FineWeb (Penedo et al. 2024; datatrove's FineWebQualityFilter defaults), on the text C4 left:
//     fineweb.punctuation     non-empty lines ending in a sentence terminal (Unicode's
//                             Sentence_Terminal: . ! ? and their kin in other scripts) ≥ 12 %
//     fineweb.shortLines      lines of ≤ 30 characters ≤ 67 %
//     fineweb.duplicateLines  characters in repeated lines (after their first) ≤ 1 % of the
//                             text's characters other than newlines
//     fineweb.newlines        newlines ≤ 0.3 per word (a word here also counts its leading and
//                             trailing punctuation as one token each, as spaCy's words do)
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
    case finewebShortLines = "fineweb.shortLines"
    case finewebDuplicateLines = "fineweb.duplicateLines"
    case finewebNewlines = "fineweb.newlines"
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
            var kept: [String] = []
            var sentences = 0
            for raw in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
                let line = Self.withoutCitations(Self.trimmed(raw) { Self.isSpace($0) || Self.isNewline($0) })
                let lineWords = Self.words(line)
                if lineWords.contains(where: { $0.unicodeScalars.count > 1000 }) { continue }
                let terminal = [".", "?", "!", "\"", "'"].contains { line.hasSuffix($0) } && !line.hasSuffix("...")
                guard terminal && lineWords.count >= 3 else { continue }
                let lower = line.lowercased()
                if Self.holds(lower, "lorem ipsum") || line.contains("{") { return (text, .c4) }
                if Self.holds(lower, "javascript") || Self.policyPhrases.contains(where: { Self.holds(lower, $0) }) {
                    continue
                }
                sentences += Self.sentenceCount(line)
                kept.append(line)
            }
            text = Self.trimmed(Substring(kept.joined(separator: "\n"))) { Self.isSpace($0) || Self.isNewline($0) }
            if sentences < 5 { return (text, .c4) }
        }
        // FineWeb cuts at "\n" only and does not trim its lines (trailing spaces hide a full stop).
        let finalLines = Self.pieces(of: text, separatedBy: "\n").filter {
            !Self.trimmed($0) { Self.isSpace($0) || Self.isNewline($0) }.isEmpty
        }
        let finalCount = Double(Swift.max(finalLines.count, 1))
        if on(.finewebPunctuation) {
            let punctuated = Double(finalLines.count { $0.unicodeScalars.last?.properties.isSentenceTerminal ?? false })
            if punctuated / finalCount < 0.12 { return (text, .finewebPunctuation) }
        }
        if on(.finewebShortLines) && Double(finalLines.count { $0.unicodeScalars.count <= 30 }) / finalCount > 0.67 {
            return (text, .finewebShortLines)
        }
        if on(.finewebDuplicateLines) {
            let total = Double(Swift.max(text.unicodeScalars.count { $0 != "\n" }, 1))
            var seen = Set<Substring>()
            var duplicated = 0
            for line in finalLines where !seen.insert(line).inserted { duplicated += line.unicodeScalars.count }
            if Double(duplicated) / total > 0.01 { return (text, .finewebDuplicateLines) }
        }
        if on(.finewebNewlines) {
            let newlines = Double(text.unicodeScalars.count { $0 == "\n" })
            if newlines / Double(Swift.max(Self.tokenCount(text), 1)) > 0.3 { return (text, .finewebNewlines) }
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
            if isWhitespace(s) {
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

    static let policyPhrases = [
        "terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies",
    ]

    /// The line without Wikipedia-style citation marks: "[" digits "]", "[edit]", "[citation needed]".
    static func withoutCitations(_ line: String) -> String {
        guard line.contains("[") else { return line }
        return line.replacing(#/\[\d*\]|\[edit\]|\[citation needed\]/#, with: "")
    }

    /// Sentences in a line as a rule-based splitter counts them: one ends at a run of . ! ? (closing
    /// quotes and brackets may follow) before whitespace or the end of the line, and text after the
    /// last such end is one more ("3.5" does not end one; "a.m. today" and "e.g. this" do).
    static func sentenceCount(_ line: String) -> Int {
        var (count, pending, inEnd) = (0, false, false)
        for s in line.unicodeScalars {
            if inEnd {
                if ".!?\"')]”’".unicodeScalars.contains(s) { continue }
                inEnd = false
                if isWhitespace(s) { (count, pending) = (count + 1, false) } else { pending = true }
            } else if s == "." || s == "!" || s == "?" {
                inEnd = true
            } else if !isWhitespace(s) {
                pending = true
            }
        }
        if inEnd { (count, pending) = (count + 1, false) }
        return count + (pending ? 1 : 0)
    }

    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s.isASCII ? (s == " " || (0x09...0x0D).contains(s.value)) : s.properties.isWhitespace
    }

    /// Whether `piece` occurs in `text`, byte for byte (String.contains(String) goes through
    /// NSString with Foundation imported, and costs more than the rest of C4's line filter).
    static func holds(_ text: String, _ piece: String) -> Bool {
        var (text, piece) = (text, piece)
        return text.withUTF8 { t in
            piece.withUTF8 { p in
                guard let first = p.first, t.count >= p.count else { return p.isEmpty }
                return (0...(t.count - p.count)).contains { i in
                    t[i] == first && t[i..<(i + p.count)].elementsEqual(p)
                }
            }
        }
    }

    /// Words with their leading and trailing punctuation counted as a token each (a run as one),
    /// near what spaCy's tokenizer gives for the newline rule.
    static func tokenCount(_ text: String) -> Int {
        words(text).reduce(0) { total, word in
            let scalars = word.unicodeScalars
            let leading = isPunctuation(scalars.first!) ? 1 : 0
            let trailing = scalars.count > 1 && isPunctuation(scalars.last!) ? 1 : 0
            let core = scalars.contains { !isPunctuation($0) } ? 1 : 0
            return total + Swift.max(leading + core + trailing, 1)
        }
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
    /// kept, as components(separatedBy:) keeps them). Cut by scalars, not Characters: "\r\n" is one
    /// Character, and a cut at its "\n" must leave the "\r" in the piece before it.
    static func pieces(of text: String, separatedBy separator: String) -> [Substring] {
        let bytes = Array(text.utf8)
        let sep = Array(separator.utf8)
        let (scalars, utf8) = (text.unicodeScalars, text.utf8)
        var cuts: [(Int, Int)] = []  // byte ranges of the pieces
        var start = 0
        var i = 0
        while i + sep.count <= bytes.count {
            if bytes[i] == sep[0] && bytes[i..<(i + sep.count)].elementsEqual(sep) {
                cuts.append((start, i))
                i += sep.count
                start = i
            } else {
                i += 1
            }
        }
        cuts.append((start, bytes.count))
        return cuts.map { a, b in
            Substring(scalars[utf8.index(utf8.startIndex, offsetBy: a)..<utf8.index(utf8.startIndex, offsetBy: b)])
        }
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
