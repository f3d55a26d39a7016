// R1's cold-start filters on a hand table (correct, wrong, malformed, mixed language, unreadable),
// their rejection counts, and the reasoning signals (mixing, length, self-corrections).
import LabSupport
import PostTraining
import R1Pipeline
import Testing

@Suite struct ColdStartTests {
    /// (response, correct, expected rejection)
    static let table: [(String, Bool, ColdStartRule?)] = [
        ("<think>six times seven is forty two</think><answer>42</answer>", true, nil),
        ("<think>six times seven is forty one</think><answer>41</answer>", false, .correct),
        ("<think>six times seven</think><answer>42</answer> done", true, .wellFormed),
        ("<answer>42</answer>", true, .wellFormed),
        ("<think>six times 七 is forty two</think><answer>42</answer>", true, .singleLanguage),
        ("<think></think><answer>42</answer>", true, .singleLanguage),  // no words: consistency 0
        ("<think>six six six times seven</think><answer>42</answer>", true, .readable),
        ("<think>six six times seven</think><answer>42</answer>", true, nil),  // two in a row is fine
        ("<think>6 x 7 = 42 ok</think><answer>42</answer>", true, nil),
    ]

    @Test func eachRuleOnTheHandTable() {
        let filter = ColdStartFilter(language: .english)
        for (text, correct, expected) in Self.table {
            #expect(filter.rejection(ParsedResponse(text), correct: correct) == expected, "\(text)")
        }
        let report = FilterReport(
            responses: Self.table.map { ParsedResponse($0.0) }, correct: Self.table.map(\.1), filter: filter)
        #expect(report.kept == [0, 7, 8])
        #expect(report.rejected == [.correct: 1, .wellFormed: 2, .singleLanguage: 2, .readable: 1])
        // Chinese reasoning for a Chinese target.
        let zh = ColdStartFilter(language: .chinese)
        #expect(zh.rejection(ParsedResponse("<think>六乘七得四十二</think><answer>42</answer>"), correct: true) == nil)
        var long = ColdStartFilter()
        long.maxWords = 3
        #expect(long.rejection(ParsedResponse(Self.table[0].0), correct: true) == .readable)
    }

    @Test func theReasoningSignals() {
        let s = ReasoningSignals(
            [
                ParsedResponse("<think>six times seven, wait, let me check: forty two</think><answer>42</answer>"),
                ParsedResponse("<think>六乘七 is forty two 等等</think><answer>42</answer>"),
                ParsedResponse("<answer>42</answer>"),
            ])
        #expect(abs(s.mixingRate - 1.0 / 3) < 1e-12)
        // Words: 9 + (3 Chinese + 3 English + 2 Chinese) + 0.
        #expect(abs(s.meanReasoningWords - 17.0 / 3) < 1e-12)
        #expect(abs(s.selfCorrectionsPerResponse - 3.0 / 3) < 1e-12)  // wait, let me check, 等等
    }

    @Test func badFilterSettingsAreNamed() {
        var f = ColdStartFilter()
        (f.minWords, f.maxWords) = (10, 5)
        #expect(throws: LabError.self) { try f.check() }
        f = ColdStartFilter()
        f.maxRepeat = 1
        let error = #expect(throws: LabError.self) { try f.check() }
        #expect(error?.message.hasPrefix("coldStart.maxRepeat") == true)
        #expect(throws: Never.self) { try ColdStartFilter().check() }
    }
}
