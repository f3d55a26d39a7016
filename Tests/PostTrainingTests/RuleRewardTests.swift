// The rule rewards on their tables of hand examples (one row per documented case, malformed
// responses included), the parser's numbers, and pass@k against its closed form.
import Foundation
import PostTraining
import Testing

@Suite struct RuleRewardTests {
    /// (response, truth 42) -> (tinyZero, accuracy, format)
    static let table: [(String, Double, Double, Double)] = [
        ("<think>6 times 7</think><answer>42</answer>", 1.0, 1, 1),
        ("  <think>6 times 7</think>\n<answer> 42 </answer>\n", 1.0, 1, 1),  // whitespace around is fine
        ("<think>6 times 7</think><answer>41</answer>", 0.1, 0, 1),  // well-formed, wrong
        ("<think>hmm</think><answer>forty-two</answer>", 0.1, 0, 1),  // not a number
        ("<think>x</think><answer>99999999999999999999999</answer>", 0.1, 0, 1),  // overflow
        ("<think>x</think><answer>4.2e1</answer>", 0.1, 0, 1),  // not an integer
        ("<think>x</think><answer>+42</answer>", 1.0, 1, 1),
        ("<think>x</think><answer>-42</answer>", 0.1, 0, 1),
        ("42", 0, 0, 0),  // no tags
        ("<answer>42</answer>", 1.0, 1, 0),  // no <think>
        ("<think>x</think>42", 0, 0, 0),  // no <answer>
        ("<think>x</think><answer>42</answer> and then some", 1.0, 1, 0),  // text after </answer>
        ("Sure! <think>x</think><answer>42</answer>", 1.0, 1, 0),  // text before <think>
        ("<think>x</think><answer>7</answer><answer>42</answer>", 1.0, 1, 0),  // repeated: the last counts
        ("<think>x</think><answer>42</answer><answer>7</answer>", 0.1, 0, 0),
        ("<think>a<think>b</think></think><answer>42</answer>", 1.0, 1, 0),  // nested
        ("<think>x<answer>42</answer></think>", 1.0, 1, 0),  // answer inside think
        ("<think>x</think><answer>42", 0, 0, 0),  // unclosed
        ("<answer></answer>", 0.1, 0, 0),  // empty answer
        ("", 0, 0, 0),
    ]

    @Test func tinyZeroAccuracyAndFormatOnTheHandTable() {
        for (response, tinyZero, accuracy, format) in Self.table {
            let parsed = ParsedResponse(response)
            #expect(RuleReward.tinyZero(parsed, truth: 42) == tinyZero, "tinyZero: \(response.debugDescription)")
            #expect(RuleReward.accuracy(parsed, truth: 42) == accuracy, "accuracy: \(response.debugDescription)")
            #expect(RuleReward.format(parsed) == format, "format: \(response.debugDescription)")
        }
    }

    @Test func numbersAreReadStrictly() {
        for (text, number) in [
            ("42", Int64(42)), (" -7 ", -7), ("1,234,567", 1_234_567), ("9223372036854775807", Int64.max),
            ("-9223372036854775808", Int64.min),
        ] {
            #expect(ParsedResponse("<answer>\(text)</answer>").number == number, "\(text)")
        }
        for text in ["9223372036854775808", "12,34", "1,2345", ",123", "1 000", "٤٢", "0x2A", "--4", "", "四十二"] {
            #expect(ParsedResponse("<answer>\(text)</answer>").number == nil, "\(text)")
        }
    }

    /// (reasoning, target) -> share of target-language words.
    @Test func languageConsistencyOnTheHandTable() {
        let table: [(String, CoTLanguage, Double)] = [
            ("<think>six times seven is forty two</think><answer>42</answer>", .english, 1),
            ("<think>六乘七得四十二</think><answer>42</answer>", .chinese, 1),
            ("<think>六乘七得四十二</think><answer>42</answer>", .english, 0),
            ("<think>six times 七 is 42</think><answer>42</answer>", .english, 0.75),  // 3 English, 1 Chinese
            ("<think>6 * 7 = 42</think><answer>42</answer>", .english, 0),  // no words
            ("<answer>42</answer>", .english, 0),  // no reasoning
        ]
        for (response, target, share) in table {
            #expect(RuleReward.languageConsistency(ParsedResponse(response), target: target) == share, "\(response)")
        }
    }

    /// pass@k against 1 - C(n-c, k)/C(n, k) computed with exact binomials, and its edge cases.
    @Test func passAtKEqualsItsClosedForm() {
        func choose(_ n: Int, _ k: Int) -> Double {
            guard k >= 0 && k <= n else { return 0 }
            return (0..<k).reduce(1.0) { $0 * Double(n - $1) / Double($1 + 1) }
        }
        for n in 1...20 {
            for c in 0...n {
                for k in 1...n {
                    let closed = 1 - choose(n - c, k) / choose(n, k)
                    #expect(
                        abs(PassAtK.estimate(samples: n, correct: c, k: k) - closed) < 1e-12, "n \(n) c \(c) k \(k)")
                }
            }
        }
        #expect(abs(PassAtK.estimate(samples: 10, correct: 3, k: 1) - 0.3) < 1e-15)  // pass@1 = c / n
        #expect(
            PassAtK.estimate(samples: 100, correct: 0, k: 10) == 0
                && PassAtK.estimate(samples: 5, correct: 5, k: 2) == 1)
        #expect(PassAtK.mean([1, 0, 1, 1]) == 0.75 && PassAtK.mean([]) == 0)
    }
}
