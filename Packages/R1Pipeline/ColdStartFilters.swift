// R1's cold-start data: samples of the R1-Zero model kept only when a reader would learn from
// them. Each filter is a named rule, applied in this order (those listed in `rules`); a rejected
// sample is counted under the first rule it fails, so the counts say what each rule removed.
//   correct         the answer is right (the task's check)
//   wellFormed      the whole response is in the strict R1 format (ThinkAnswerFormat.swift)
//   singleLanguage  the reasoning's words are all in the target language, the one the task was
//                   asked in (R1's language-consistency reward equal to 1; R1 filtered "mixed
//                   languages")
//   readable        the reasoning holds between `minWords` and `maxWords` words, and no word is
//                   repeated `maxRepeat` or more times in a row (the "poor readability" R1-Zero
//                   showed: endless loops of the same words)
import LabSupport
import PostTraining

public enum ColdStartRule: String, Codable, Sendable, CaseIterable {
    case correct
    case wellFormed
    case singleLanguage
    case readable
}

public struct ColdStartFilter: Codable, Sendable, Equatable {
    /// The rules applied (all by default; an empty list keeps every sample).
    public var rules = ColdStartRule.allCases
    public var language = CoTLanguage.english
    public var minWords = 1
    public var maxWords = 200
    public var maxRepeat = 3

    public init(language: CoTLanguage = .english) { self.language = language }

    public func check() throws {
        if minWords < 0 || maxWords < minWords {
            throw LabError(.config, "coldStart.minWords / maxWords: \(minWords)...\(maxWords) is not a range of counts")
        }
        if maxRepeat < 2 {
            throw LabError(.config, "coldStart.maxRepeat: \(maxRepeat) must be at least 2 (1 would reject every word)")
        }
    }

    /// nil when the sample is kept, else the first rule it fails. `target`: the language the task
    /// was asked in (default the filter's `language`).
    public func rejection(_ response: ParsedResponse, correct: Bool, target: CoTLanguage? = nil) -> ColdStartRule? {
        let applies = Set(rules)
        if applies.contains(.correct) && !correct { return .correct }
        if applies.contains(.wellFormed) && !response.wellFormed { return .wellFormed }
        if applies.contains(.singleLanguage)
            && RuleReward.languageConsistency(response, target: target ?? language) < 1
        {
            return .singleLanguage
        }
        guard applies.contains(.readable) else { return nil }
        let words = Self.words(response.think ?? "")
        if words.count < minWords || words.count > maxWords { return .readable }
        var run = 1
        for k in words.indices.dropFirst() {
            run = words[k] == words[k - 1] ? run + 1 : 1
            if run >= maxRepeat { return .readable }
        }
        return nil
    }

    /// Words of a reasoning: runs of letters or digits, lowercased; each CJK ideograph alone.
    static func words(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        for scalar in text.unicodeScalars {
            if scalar.properties.isIdeographic {
                if !current.isEmpty { out.append(current) }
                out.append(String(scalar))
                current = ""
            } else if scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) {
                current.unicodeScalars.append(scalar)
            } else if !current.isEmpty {
                out.append(current)
                current = ""
            }
        }
        if !current.isEmpty { out.append(current) }
        return out.map { $0.lowercased() }
    }
}

/// Which samples a filter kept and how many each rule rejected.
public struct FilterReport: Sendable, Equatable {
    public var kept: [Int] = []
    public var rejected: [ColdStartRule: Int] = [:]

    /// `targets`: each response's task language (nil: the filter's `language` for all).
    public init(
        responses: [ParsedResponse], correct: [Bool], targets: [CoTLanguage]? = nil, filter: ColdStartFilter
    ) {
        precondition(responses.count == correct.count, "FilterReport: one correctness per response")
        precondition(targets.map { $0.count == responses.count } ?? true, "FilterReport: one language per response")
        for (i, (r, c)) in zip(responses, correct).enumerated() {
            if let rule = filter.rejection(r, correct: c, target: targets?[i]) {
                rejected[rule, default: 0] += 1
            } else {
                kept.append(i)
            }
        }
    }
}
