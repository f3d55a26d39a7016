// What the R1 papers watch in a reasoning model's samples, over a set of responses:
//   mixing rate       the share of reasonings holding both English words and Chinese characters
//                     (R1-Zero's "language mixing"; RuleReward.wordCounts defines the words)
//   reasoning length  the mean number of words in <think> (R1-Zero's growing response length)
//   self-corrections  phrases of reflection per response, R1-Zero's "aha moment": "wait",
//                     "let me check", "recheck", "actually", "mistake", and 等等, 检查, 重新, 不对
import PostTraining

public struct ReasoningSignals: Sendable, Equatable {
    public static let selfCorrectionPhrases = [
        "wait", "let me check", "recheck", "re-check", "actually", "mistake", "等等", "检查", "重新", "不对",
    ]

    public var mixingRate: Double
    public var meanReasoningWords: Double
    public var selfCorrectionsPerResponse: Double

    public init(_ responses: [ParsedResponse]) {
        let thinks = responses.map { $0.think ?? "" }
        let counts = thinks.map { RuleReward.wordCounts($0) }
        let n = Double(Swift.max(responses.count, 1))
        mixingRate = Double(counts.count { $0.english > 0 && $0.chinese > 0 }) / n
        meanReasoningWords = Double(counts.map { $0.english + $0.chinese }.reduce(0, +)) / n
        selfCorrectionsPerResponse =
            Double(
                thinks.map { think in
                    let lower = think.lowercased()
                    return Self.selfCorrectionPhrases.map { lower.components(separatedBy: $0).count - 1 }.reduce(0, +)
                }.reduce(0, +)) / n
    }

    /// As metrics: <prefix>/mixing_rate, <prefix>/reasoning_words, <prefix>/self_corrections.
    public func metrics(_ prefix: String) -> [String: Double] {
        [
            "\(prefix)/mixing_rate": mixingRate, "\(prefix)/reasoning_words": meanReasoningWords,
            "\(prefix)/self_corrections": selfCorrectionsPerResponse,
        ]
    }
}
