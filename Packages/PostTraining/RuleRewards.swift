// The reasoning world's rule rewards: pure functions of a response and the true answer, each
// with its table of hand examples in Tests/PostTrainingTests/RuleRewardTests.swift. Every
// malformed response gets the reward written here, never an error.
//   tinyZero         1.0 when the last <answer> holds the true number; 0.1 when there is an
//                    <answer> but it holds anything else (a wrong number, words, an overflow);
//                    0 when there is no <answer>...</answer> at all (TinyZero's countdown and
//                    multiplication scores: score 1.0, format_score 0.1).
//   accuracy         1 when the last <answer> holds the true number, else 0.
//   format           1 when the whole response is in the strict format (ThinkAnswerFormat.swift),
//                    else 0: a tag twice, a tag inside another, text before <think> or after
//                    </answer> all give 0.
//   languageConsistency  DeepSeek-R1's: the share of the reasoning's words that are in the target
//                    language. Words are runs of ASCII letters (English) and single CJK ideographs
//                    (Chinese, which has no spaces); digits, punctuation and tags are not words.
//                    0 when there is no <think>...</think> or it holds no words.

public enum CoTLanguage: String, Codable, Sendable, CaseIterable {
    case english
    case chinese
}

public enum RuleReward {
    public static func tinyZero(_ response: ParsedResponse, truth: Int64) -> Double {
        guard response.answer != nil else { return 0 }
        return response.number == truth ? 1.0 : 0.1
    }

    public static func accuracy(_ response: ParsedResponse, truth: Int64) -> Double {
        response.number == truth ? 1 : 0
    }

    public static func format(_ response: ParsedResponse) -> Double { response.wellFormed ? 1 : 0 }

    public static func languageConsistency(_ response: ParsedResponse, target: CoTLanguage) -> Double {
        guard let think = response.think else { return 0 }
        let (english, chinese) = wordCounts(think)
        let total = english + chinese
        guard total > 0 else { return 0 }
        return Double(target == .english ? english : chinese) / Double(total)
    }

    /// English words (runs of ASCII letters) and Chinese words (CJK ideographs, one each) in `text`.
    public static func wordCounts(_ text: String) -> (english: Int, chinese: Int) {
        var (english, chinese, inWord) = (0, 0, false)
        for scalar in text.unicodeScalars {
            let letter = scalar.isASCII && (("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar))
            if letter && !inWord { english += 1 }
            inWord = letter
            if scalar.properties.isIdeographic { chinese += 1 }
        }
        return (english, chinese)
    }
}
