// The R1 template a reasoning response is read in: "<think> reasoning </think> <answer> result
// </answer>". Parsing never fails: every response gets a `ParsedResponse` that says what it
// holds, and the rule rewards (RuleRewards.swift) are functions of that.
//   strict format: optional whitespace, one <think>...</think>, optional whitespace, one
//     <answer>...</answer>, optional whitespace, and nothing else: no tag inside another, no tag
//     twice, no text before <think> or after </answer>.
//   answer: the text of the LAST <answer>...</answer> pair (as TinyZero reads it), whatever the
//     format; its number when, trimmed, it is an optional sign and decimal digits (commas between
//     groups of three allowed) that fit an Int64. Anything else (words, "1.5", "1e9", a
//     number past Int64) is an answer that is not a number.
import Foundation

public struct ParsedResponse: Sendable, Equatable {
    /// The response as written (a reward on the whole text, a preference model's, reads it).
    public var text: String
    /// The whole response follows the strict format.
    public var wellFormed: Bool
    /// The reasoning between <think> and </think> (the first pair), if there is one.
    public var think: String?
    /// The text of the last <answer>...</answer>, if there is one.
    public var answer: String?
    /// `answer` as a number, when it is one.
    public var number: Int64?

    public init(_ response: String) {
        self.text = response
        let tags = ["<think>", "</think>", "<answer>", "</answer>"]
        // Every tag occurrence, in order.
        var found: [(tag: String, range: Range<String.Index>)] = []
        var position = response.startIndex
        while position < response.endIndex {
            let next = tags.compactMap { tag in
                response.range(of: tag, range: position..<response.endIndex).map { (tag, $0) }
            }
            .min { $0.1.lowerBound < $1.1.lowerBound }
            guard let next else { break }
            found.append((next.0, next.1))
            position = next.1.upperBound
        }
        func text(_ a: Range<String.Index>, _ b: Range<String.Index>) -> String {
            String(response[a.upperBound..<b.lowerBound])
        }
        let blank = { (s: Substring) in s.allSatisfy { $0.isWhitespace } }
        wellFormed =
            found.map(\.tag) == tags && blank(response[..<found[0].range.lowerBound])
            && blank(response[found[1].range.upperBound..<found[2].range.lowerBound])
            && blank(response[found[3].range.upperBound...])
        if let open = found.firstIndex(where: { $0.tag == "<think>" }),
            let close = found[(open + 1)...].first(where: { $0.tag == "</think>" })
        {
            think = text(found[open].range, close.range)
        }
        // The last <answer> followed by a </answer>.
        if let close = found.lastIndex(where: { $0.tag == "</answer>" }),
            let open = found[..<close].lastIndex(where: { $0.tag == "<answer>" })
        {
            answer = text(found[open].range, found[close].range)
        }
        number = answer.flatMap(Self.integer)
    }

    /// A trimmed optional sign and digits (commas between groups of three), within Int64.
    static func integer(_ text: String) -> Int64? {
        var s = Substring(text.trimmingCharacters(in: .whitespacesAndNewlines))
        var negative = false
        if let sign = s.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            s = s.dropFirst()
        }
        let groups = s.split(separator: ",", omittingEmptySubsequences: false)
        guard !s.isEmpty, s.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ",") }),
            groups.count == 1 || (groups.first!.count <= 3 && groups.dropFirst().allSatisfy { $0.count == 3 }),
            groups.allSatisfy({ !$0.isEmpty })
        else { return nil }
        let digits = groups.joined()
        guard let magnitude = UInt64(digits) else { return nil }  // past UInt64: not a number here
        if negative { return magnitude <= UInt64(Int64.max) + 1 ? Int64(bitPattern: 0 &- magnitude) : nil }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }
}
