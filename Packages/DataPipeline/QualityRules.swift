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

    static let stopWords: Set<String> = ["the", "be", "to", "of", "and", "that", "have", "with"]

    /// The document after C4's line filter (when on) and the first rule it breaks, if any.
    public func judge(_ text: String) -> (text: String, rejectedBy: QualityRule?) {
        var text = text
        func on(_ rule: QualityRule) -> Bool { enabled.contains(rule) }
        let words = text.split(whereSeparator: \.isWhitespace).map(String.init)
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let n = Double(Swift.max(words.count, 1))
        if on(.gopherWordCount) && !(50...100_000).contains(words.count) { return (text, .gopherWordCount) }
        let meanLength = Double(words.map(\.count).reduce(0, +)) / n
        if on(.gopherMeanWordLength) && !(3...10).contains(meanLength) { return (text, .gopherMeanWordLength) }
        let hashes = Double(text.filter { $0 == "#" }.count)
        let ellipses = Double(text.components(separatedBy: "...").count - 1 + text.filter { $0 == "…" }.count)
        if on(.gopherSymbolRatio) && (hashes / n >= 0.1 || ellipses / n >= 0.1) { return (text, .gopherSymbolRatio) }
        let lineCount = Double(Swift.max(lines.count, 1))
        let bullets = Double(lines.count { line in ["•", "-", "*", "‣", "◦"].contains { line.hasPrefix($0) } })
        if on(.gopherBulletLines) && bullets / lineCount > 0.9 { return (text, .gopherBulletLines) }
        let ellipsisLines = Double(lines.count { $0.hasSuffix("...") || $0.hasSuffix("…") })
        if on(.gopherEllipsisLines) && ellipsisLines / lineCount > 0.3 { return (text, .gopherEllipsisLines) }
        let alphabetic = Double(words.count { $0.contains { $0.isLetter } })
        if on(.gopherAlphabetic) && alphabetic / n < 0.8 { return (text, .gopherAlphabetic) }
        let stop = Set(words.map { $0.lowercased().trimmingCharacters(in: .punctuationCharacters) }).intersection(
            Self.stopWords)
        if on(.gopherStopWords) && stop.count < 2 { return (text, .gopherStopWords) }
        if on(.gopherDuplicateLines) && Self.duplicated(lines, countLimit: 0.3, characterLimit: 0.2) {
            return (text, .gopherDuplicateLines)
        }
        let paragraphs = text.components(separatedBy: "\n\n").map {
            $0.trimmingCharacters(in: .whitespacesAndNewlines)
        }.filter { !$0.isEmpty }
        if on(.gopherDuplicateParagraphs) && Self.duplicated(paragraphs, countLimit: 0.3, characterLimit: 0.2) {
            return (text, .gopherDuplicateParagraphs)
        }
        let characters = Double(Swift.max(words.map(\.count).reduce(0, +), 1))
        if on(.gopherTopNGram) {
            for (size, limit) in [(2, 0.2), (3, 0.18), (4, 0.16)]
            where Self.topNGramShare(words, size) / characters > limit {
                return (text, .gopherTopNGram)
            }
        }
        if on(.gopherDuplicateNGrams) {
            for (size, limit) in zip(5...10, [0.15, 0.14, 0.13, 0.12, 0.11, 0.10])
            where Self.duplicatedNGramCharacters(words, size) / characters > limit {
                return (text, .gopherDuplicateNGrams)
            }
        }
        if on(.c4) {
            let kept = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { line in
                let terminal = [".", "!", "?", "\""].contains { line.hasSuffix($0) }
                return terminal && line.split(whereSeparator: \.isWhitespace).count >= 5
                    && !line.lowercased().contains("javascript")
            }
            text = kept.joined(separator: "\n")
            let sentences = text.filter { ".!?".contains($0) }.count
            if sentences < 3 || text.lowercased().contains("lorem ipsum") || text.contains("{") { return (text, .c4) }
        }
        let finalLines = text.split(separator: "\n").map(String.init).filter {
            !$0.trimmingCharacters(in: .whitespaces).isEmpty
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

    /// Characters (of words) covered by the most frequent word n-gram, counted once per occurrence.
    static func topNGramShare(_ words: [String], _ n: Int) -> Double {
        guard words.count >= n else { return 0 }
        var counts: [ArraySlice<String>: Int] = [:]
        for i in 0...(words.count - n) { counts[words[i..<(i + n)], default: 0] += 1 }
        guard
            let top = counts.max(by: {
                $0.value < $1.value || ($0.value == $1.value && $0.key.joined() > $1.key.joined())
            }),
            top.value > 1
        else { return 0 }
        return Double(top.key.map(\.count).reduce(0, +) * top.value)
    }

    /// Characters of words inside any word n-gram that occurs more than once (each word once).
    static func duplicatedNGramCharacters(_ words: [String], _ n: Int) -> Double {
        guard words.count >= n else { return 0 }
        var first: [ArraySlice<String>: Int] = [:]
        var covered = [Bool](repeating: false, count: words.count)
        for i in 0...(words.count - n) {
            let gram = words[i..<(i + n)]
            if let j = first[gram] {
                for k in j..<(j + n) { covered[k] = true }
                for k in i..<(i + n) { covered[k] = true }
            } else {
                first[gram] = i
            }
        }
        return Double(words.indices.filter { covered[$0] }.map { words[$0].count }.reduce(0, +))
    }
}
