// VADER (Hutto & Gilbert 2014): a rule-based sentiment score, the preference world's ground-truth
// reward. The rules of the vaderSentiment 3.3.2 package, read from its source and written again:
//   each word's valence from the lexicon (7,500 entries, -4...4), then, in order:
//   "no" before a lexicon word negates it; ALL CAPS among mixed case adds 0.733 away from zero;
//   up to three preceding words: boosters/dampeners (±0.293, scaled 1, 0.95, 0.9 by distance,
//   ±0.733 more in caps), negations (×-0.74; "never so/this" ×1.25; "without doubt" kept) and,
//   three back, special idioms ("the bomb" 3, "kind of" as a dampener, ...); "least" not after
//   "at"/"very" negates; a "but" halves what comes before it and multiplies what follows by 1.5;
//   the sum gains 0.292 per "!" (at most 4) and 0.18 per "?" when there are 2 or 3 (0.96 for
//   more), away from zero; compound = s / sqrt(s² + 15), clamped to [-1, 1].
// Emoji become their lexicon descriptions first; words are the text split on whitespace with
// ASCII punctuation stripped from both ends unless that leaves two characters or fewer (an
// emoticon). Where the package's code does something its comments do not say (the "but" rule
// scales the first word whose score equals each score in turn; "so" or "this" right before a
// word triggers the ×1.25 of "never so" on its own), this follows the code, since the scores it
// gives are the reference: `Tests/PostTrainingTests/VADERTests.swift` holds 560 sentences to the
// package's compound within 1e-4.
import Foundation
import LabSupport

public struct VADER: Sendable {
    public struct Scores: Sendable, Equatable {
        /// In [-1, 1]: the normalised sum of valences (the reward).
        public var compound: Double
        /// Shares of positive, negative and neutral weight (they sum to 1 unless the text is empty).
        public var positive: Double
        public var negative: Double
        public var neutral: Double
    }

    static let boostIncrement = 0.293
    static let boostDecrement = -0.293
    static let capsIncrement = 0.733
    static let negationScalar = -0.74

    static let negations: Set<String> = [
        "aint", "arent", "cannot", "cant", "couldnt", "darent", "didnt", "doesnt", "ain't", "aren't", "can't",
        "couldn't", "daren't", "didn't", "doesn't", "dont", "hadnt", "hasnt", "havent", "isnt", "mightnt", "mustnt",
        "neither", "don't", "hadn't", "hasn't", "haven't", "isn't", "mightn't", "mustn't", "neednt", "needn't", "never",
        "none", "nope", "nor", "not", "nothing", "nowhere", "oughtnt", "shant", "shouldnt", "uhuh", "wasnt", "werent",
        "oughtn't", "shan't", "shouldn't", "uh-uh", "wasn't", "weren't", "without", "wont", "wouldnt", "won't",
        "wouldn't", "rarely", "seldom", "despite",
    ]

    static let boosters: [String: Double] = {
        let up = [
            "absolutely", "amazingly", "awfully", "completely", "considerable", "considerably", "decidedly", "deeply",
            "effing", "enormous", "enormously", "entirely", "especially", "exceptional", "exceptionally", "extreme",
            "extremely", "fabulously", "flipping", "flippin", "frackin", "fracking", "fricking", "frickin", "frigging",
            "friggin", "fully", "fuckin", "fucking", "fuggin", "fugging", "greatly", "hella", "highly", "hugely",
            "incredible", "incredibly", "intensely", "major", "majorly", "more", "most", "particularly", "purely",
            "quite", "really", "remarkably", "so", "substantially", "thoroughly", "total", "totally", "tremendous",
            "tremendously", "uber", "unbelievably", "unusually", "utter", "utterly", "very",
        ]
        let down = [
            "almost", "barely", "hardly", "just enough", "kind of", "kinda", "kindof", "kind-of", "less", "little",
            "marginal", "marginally", "occasional", "occasionally", "partly", "scarce", "scarcely", "slight",
            "slightly", "somewhat", "sort of", "sorta", "sortof", "sort-of",
        ]
        var out: [String: Double] = [:]
        for w in up { out[w] = boostIncrement }
        for w in down { out[w] = boostDecrement }
        return out
    }()

    static let specialCases: [String: Double] = [
        "the shit": 3, "the bomb": 3, "bad ass": 1.5, "badass": 1.5, "bus stop": 0.0, "yeah right": -2,
        "kiss of death": -1.5, "to die for": 3, "beating heart": 3.5,
    ]

    /// Python's str.isspace (what str.split() splits on).
    static let pythonWhitespace: Set<Unicode.Scalar> = Set(
        [
            0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F,
            0x205F, 0x3000,
        ]
        .map { Unicode.Scalar(UInt32($0))! } + (0x2000...0x200A).map { Unicode.Scalar(UInt32($0))! })

    /// Python's string.punctuation.
    static let asciiPunctuation = Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".unicodeScalars)

    public let lexicon: [String: Double]
    /// Emoji (single scalars; the package's lookup never matches longer keys) to descriptions.
    public let emoji: [Unicode.Scalar: String]

    public init(lexicon: [String: Double], emoji: [Unicode.Scalar: String]) {
        self.lexicon = lexicon
        self.emoji = emoji
    }

    /// Reads the package's two lexicon files (vader_lexicon.txt: word TAB mean ...;
    /// emoji_utf8_lexicon.txt: emoji TAB description); errors name the file and line.
    public init(folder: String) throws {
        func lines(_ name: String) throws -> [(Int, [Substring])] {
            let path = (folder as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else {
                throw LabError(.config, "\(path): no such file (run Data/fetch)")
            }
            // Lines end in CRLF in the package's files; split on the LF byte and strip as Python does.
            return data.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated().compactMap { n, line in
                let trimmed = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                return trimmed.isEmpty ? nil : (n + 1, trimmed.split(separator: "\t", omittingEmptySubsequences: false))
            }
        }
        var lexicon: [String: Double] = [:]
        for (n, fields) in try lines("vader_lexicon.txt") {
            guard fields.count >= 2, let value = Double(fields[1]) else {
                throw LabError(.config, "\(folder)/vader_lexicon.txt:\(n): expected word TAB valence")
            }
            lexicon[String(fields[0])] = value
        }
        var emoji: [Unicode.Scalar: String] = [:]
        for (n, fields) in try lines("emoji_utf8_lexicon.txt") {
            guard fields.count >= 2 else {
                throw LabError(.config, "\(folder)/emoji_utf8_lexicon.txt:\(n): expected emoji TAB description")
            }
            let scalars = fields[0].unicodeScalars
            if scalars.count == 1 { emoji[scalars.first!] = String(fields[1]) }
        }
        self.init(lexicon: lexicon, emoji: emoji)
    }

    /// The scores of `text`.
    public func scores(_ text: String) -> Scores {
        // Emoji to words: a description is preceded by a space unless one is there already.
        var replaced = String.UnicodeScalarView()
        var previousSpace = true
        for scalar in text.unicodeScalars {
            if let description = emoji[scalar] {
                if !previousSpace { replaced.append(" ") }
                replaced.append(contentsOf: description.unicodeScalars)
                previousSpace = false
            } else {
                replaced.append(scalar)
                previousSpace = scalar == " "
            }
        }
        let cleaned = Self.pythonStrip(String(replaced))
        let words = Self.pythonSplit(cleaned).map(Self.stripPunctuationUnlessEmoticon)
        let lower = words.map { $0.lowercased() }
        let capsDifferential: Bool = {
            let caps = words.filter(Self.pythonIsUpper).count
            return caps > 0 && caps < words.count
        }()

        var sentiments: [Double] = []
        for i in words.indices {
            if Self.boosters[lower[i]] != nil || (i + 1 < words.count && lower[i] == "kind" && lower[i + 1] == "of") {
                sentiments.append(0)
                continue
            }
            sentiments.append(valence(i, words: words, lower: lower, capsDifferential: capsDifferential))
        }
        if let but = lower.firstIndex(of: "but") {
            // As the package does: each score in turn rescales the first position holding that value.
            for k in sentiments.indices {
                let value = sentiments[k]
                let first = sentiments.firstIndex(of: value)!
                if first < but {
                    sentiments[first] = value * 0.5
                } else if first > but {
                    sentiments[first] = value * 1.5
                }
            }
        }
        return score(sentiments, text: cleaned)
    }

    /// The valence of word i with its modifiers (0 for a word not in the lexicon).
    func valence(_ i: Int, words: [String], lower: [String], capsDifferential: Bool) -> Double {
        guard let base = lexicon[lower[i]] else { return 0 }
        var valence = base
        if lower[i] == "no" && i != words.count - 1 && lexicon[lower[i + 1]] != nil { valence = 0 }
        if (i > 0 && lower[i - 1] == "no") || (i > 1 && lower[i - 2] == "no")
            || (i > 2 && lower[i - 3] == "no" && ["or", "nor"].contains(lower[i - 1]))
        {
            valence = base * Self.negationScalar
        }
        if capsDifferential && Self.pythonIsUpper(words[i]) {
            valence += valence > 0 ? Self.capsIncrement : -Self.capsIncrement
        }
        for back in 0..<3 where i > back && lexicon[lower[i - (back + 1)]] == nil {
            var s = booster(words[i - (back + 1)], valence: valence, capsDifferential: capsDifferential)
            if back == 1 && s != 0 { s *= 0.95 }
            if back == 2 && s != 0 { s *= 0.9 }
            valence += s
            valence = negationCheck(valence, lower: lower, back: back, i: i)
            if back == 2 { valence = specialIdioms(valence, lower: lower, i: i) }
        }
        // "least" right before (not "at least", "very least") negates.
        if i > 1 && lexicon[lower[i - 1]] == nil && lower[i - 1] == "least" {
            if lower[i - 2] != "at" && lower[i - 2] != "very" { valence *= Self.negationScalar }
        } else if i > 0 && lexicon[lower[i - 1]] == nil && lower[i - 1] == "least" {
            valence *= Self.negationScalar
        }
        return valence
    }

    func booster(_ word: String, valence: Double, capsDifferential: Bool) -> Double {
        guard var scalar = Self.boosters[word.lowercased()] else { return 0 }
        if valence < 0 { scalar *= -1 }
        if Self.pythonIsUpper(word) && capsDifferential {
            scalar += valence > 0 ? Self.capsIncrement : -Self.capsIncrement
        }
        return scalar
    }

    static func negated(_ word: String) -> Bool { negations.contains(word) || word.contains("n't") }

    func negationCheck(_ valence: Double, lower: [String], back: Int, i: Int) -> Double {
        switch back {
        case 0:
            return Self.negated(lower[i - 1]) ? valence * Self.negationScalar : valence
        case 1:
            if lower[i - 2] == "never" && (lower[i - 1] == "so" || lower[i - 1] == "this") { return valence * 1.25 }
            if lower[i - 2] == "without" && lower[i - 1] == "doubt" { return valence }
            return Self.negated(lower[i - 2]) ? valence * Self.negationScalar : valence
        default:
            if (lower[i - 3] == "never" && (lower[i - 2] == "so" || lower[i - 2] == "this"))
                || (lower[i - 1] == "so" || lower[i - 1] == "this")
            {
                return valence * 1.25
            }
            if lower[i - 3] == "without" && (lower[i - 2] == "doubt" || lower[i - 1] == "doubt") { return valence }
            return Self.negated(lower[i - 3]) ? valence * Self.negationScalar : valence
        }
    }

    /// Phrases around word i (i >= 3) that set its valence, and "kind of"-like dampeners before it.
    func specialIdioms(_ valence: Double, lower: [String], i: Int) -> Double {
        var valence = valence
        let (w0, w1, w2, w3) = (lower[i], lower[i - 1], lower[i - 2], lower[i - 3])
        for phrase in ["\(w1) \(w0)", "\(w2) \(w1) \(w0)", "\(w2) \(w1)", "\(w3) \(w2) \(w1)", "\(w3) \(w2)"] {
            if let v = Self.specialCases[phrase] {
                valence = v
                break
            }
        }
        if lower.count - 1 > i, let v = Self.specialCases["\(w0) \(lower[i + 1])"] { valence = v }
        if lower.count - 1 > i + 1, let v = Self.specialCases["\(w0) \(lower[i + 1]) \(lower[i + 2])"] { valence = v }
        for phrase in ["\(w3) \(w2) \(w1)", "\(w3) \(w2)", "\(w2) \(w1)"] {
            if let boost = Self.boosters[phrase] { valence += boost }
        }
        return valence
    }

    /// The four scores from the words' valences and the text's punctuation.
    func score(_ sentiments: [Double], text: String) -> Scores {
        guard !sentiments.isEmpty else { return Scores(compound: 0, positive: 0, negative: 0, neutral: 0) }
        let exclamations = min(text.unicodeScalars.filter { $0 == "!" }.count, 4)
        let questions = text.unicodeScalars.filter { $0 == "?" }.count
        let emphasis =
            Double(exclamations) * 0.292 + (questions > 1 ? (questions <= 3 ? Double(questions) * 0.18 : 0.96) : 0)
        var sum = sentiments.reduce(0, +)
        if sum > 0 { sum += emphasis } else if sum < 0 { sum -= emphasis }
        let compound = min(max(sum / (sum * sum + 15).squareRoot(), -1), 1)
        var (positive, negative, neutral) = (0.0, 0.0, 0.0)
        for s in sentiments {
            if s > 0 { positive += s + 1 }  // +1 and -1 compensate for neutral words counted as 1
            if s < 0 { negative += s - 1 }
            if s == 0 { neutral += 1 }
        }
        if positive > abs(negative) { positive += emphasis } else if positive < abs(negative) { negative -= emphasis }
        let total = positive + abs(negative) + neutral
        return Scores(
            compound: compound, positive: abs(positive / total), negative: abs(negative / total),
            neutral: abs(neutral / total))
    }

    // Python's string operations, which the reference scores depend on.

    static func pythonSplit(_ text: String) -> [String] {
        text.unicodeScalars.split { pythonWhitespace.contains($0) }.map { String(String.UnicodeScalarView($0)) }
    }

    static func pythonStrip(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        guard let first = scalars.firstIndex(where: { !pythonWhitespace.contains($0) }),
            let last = scalars.lastIndex(where: { !pythonWhitespace.contains($0) })
        else { return "" }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }

    /// token.strip(string.punctuation), unless that leaves two characters or fewer.
    static func stripPunctuationUnlessEmoticon(_ token: String) -> String {
        let scalars = Array(token.unicodeScalars)
        guard let first = scalars.firstIndex(where: { !asciiPunctuation.contains($0) }),
            let last = scalars.lastIndex(where: { !asciiPunctuation.contains($0) }), last - first + 1 > 2
        else { return token }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }

    /// str.isupper: no lowercase or titlecase character, and at least one uppercase one.
    static func pythonIsUpper(_ word: String) -> Bool {
        var cased = false
        for scalar in word.unicodeScalars {
            let p = scalar.properties
            if p.isLowercase || p.generalCategory == .titlecaseLetter { return false }
            if p.isUppercase { cased = true }
        }
        return cased
    }
}
