// Every rule filter on a hand example it rejects and one it keeps, each judged with only that rule
// on, at the published thresholds; and a clean page that passes them all; the rules' encoding.
import DataPipeline
import Foundation
import Testing

@Suite struct QualityRulesTests {
    /// A page of ordinary prose: 8 lines, each a sentence ending with a full stop.
    static let clean = """
        The river rose through the night as the rain kept falling on the valley.
        By morning the old bridge near the mill was under a foot of brown water.
        Farmers moved their cattle to the higher fields before the roads closed.
        The school stayed shut, and most shops opened late or not at all.
        Volunteers filled sandbags at the church hall with help from the firemen.
        Radio reports warned that the dam upstream was holding but being watched.
        In the afternoon the sun came out and the water began to go down slowly.
        Engineers will inspect the bridge next week to decide whether it is safe.
        """

    static func judge(_ text: String, only rule: QualityRule) -> QualityRule? {
        QualityRules(enabled: [rule]).judge(text).rejectedBy
    }

    @Test func aCleanPagePassesEveryRule() {
        #expect(QualityRules().judge(Self.clean).rejectedBy == nil, "\(Self.clean)")
    }

    @Test func eachRuleOnAPositiveAndANegative() {
        let words = { (n: Int, w: String) in Array(repeating: w, count: n).joined(separator: " ") }
        let cases: [(QualityRule, reject: String, keep: String)] = [
            (.gopherWordCount, "Too short to be a page.", Self.clean),
            (.gopherMeanWordLength, words(60, "a b"), Self.clean),
            (.gopherSymbolRatio, words(20, "# tag # x the and"), Self.clean),
            (.gopherBulletLines, (0..<10).map { "- item \($0) of the list" }.joined(separator: "\n"), Self.clean),
            (
                .gopherEllipsisLines, (0..<10).map { "and then the story went on \($0)..." }.joined(separator: "\n"),
                Self.clean
            ),
            (.gopherAlphabetic, words(30, "12 345 6789 the 10"), Self.clean),
            (.gopherStopWords, words(30, "river rose rain"), Self.clean),
            (
                .gopherDuplicateLines,
                Array(repeating: "the same line again and again", count: 5).joined(separator: "\n"), Self.clean
            ),
            (
                .gopherDuplicateParagraphs,
                Array(repeating: "A paragraph of the text.", count: 4).joined(separator: "\n\n"), Self.clean
            ),
            (.gopherTopNGram, words(40, "of the"), Self.clean),
            (.gopherDuplicateNGrams, words(12, "one two three four five six"), Self.clean),
            (.c4, "Lorem ipsum dolor sit amet, the text said. And again it said so. It said it thrice.", Self.clean),
            (
                .finewebPunctuation,
                (0..<10).map { "a line without any end mark number \($0)" }.joined(separator: "\n"), Self.clean
            ),
            (
                .finewebDuplicateLines,
                Self.clean + "\n" + Self.clean.split(separator: "\n").prefix(2).joined(separator: "\n"), Self.clean
            ),
            (.finewebShortLines, (0..<10).map { "Short \($0)." }.joined(separator: "\n"), Self.clean),
            (.finewebNewlines, (0..<10).map { "Item \($0)." }.joined(separator: "\n\n"), Self.clean),
        ]
        for (rule, reject, keep) in cases {
            #expect(Self.judge(reject, only: rule) == rule, "\(rule.rawValue) should reject: \(reject.prefix(60))")
            #expect(Self.judge(keep, only: rule) == nil, "\(rule.rawValue) should keep the clean page")
        }
    }

    @Test func c4KeepsOnlyItsLines() {
        let page = """
            The museum opens at nine in the morning every day.
            Menu
            Please enable JavaScript to view the comments below today.
            Tickets cost ten euros for adults and five for children.
            Children under six enter for free with their parents!
            The cafe on the ground floor serves lunch until three.
            Guided tours in English start every hour on the hour.
            """
        let (text, rejected) = QualityRules(enabled: [.c4]).judge(page)
        #expect(rejected == nil)
        #expect(text.split(separator: "\n").count == 5 && !text.contains("Menu") && !text.contains("JavaScript"))
        #expect(QualityRules(enabled: [.c4]).judge(page + "\nThe code {x} is shown here in full.").rejectedBy == .c4)
        let fourSentences = page.split(separator: "\n").prefix(5).joined(separator: "\n")
        #expect(QualityRules(enabled: [.c4]).judge(fourSentences).rejectedBy == .c4)
    }

    /// The enabled rules encode in QualityRule's order, whatever order the set holds them in (a
    /// config must read back equal to itself when a run resumes in another process).
    @Test func theRulesEncodeInTheirOwnOrder() throws {
        let rules = QualityRules(enabled: [.finewebShortLines, .c4, .gopherWordCount])
        let json = String(decoding: try JSONEncoder().encode(rules), as: UTF8.self)
        #expect(json == #"{"enabled":["gopher.wordCount","c4","fineweb.shortLines"]}"#)
        #expect(try JSONDecoder().decode(QualityRules.self, from: Data(json.utf8)) == rules)
    }
}

/// C4 and FineWeb against datatrove 0.10.1's filters at their defaults, on pages made to sit on
/// either side of each threshold (Scripts/reference/quality_rules_fixture.py wrote the fixture).
@Suite struct QualityRulesReferenceTests {
    struct Verdict: Decodable {
        let kept: Bool
        let reason: String?
        let text: String?
    }
    struct Page: Decodable {
        let name: String
        let text: String
        let c4: Verdict
        let fineweb: Verdict
    }

    static let pages: [Page] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Fixtures/quality_rules.json")
        return try! JSONDecoder().decode([Page].self, from: Data(contentsOf: url))
    }()

    /// datatrove's reasons as our rules ("empty": a page without a line ends in no punctuation).
    static let finewebRule: [String: QualityRule] = [
        "empty": .finewebPunctuation, "line_punct_ratio": .finewebPunctuation, "short_line_ratio": .finewebShortLines,
        "char_dup_ratio": .finewebDuplicateLines, "list_ratio": .finewebNewlines,
    ]

    @Test func theFixtureCoversBothSidesOfEachRule() {
        #expect(Self.pages.count >= 30)
        #expect(
            Set(Self.pages.compactMap(\.fineweb.reason)).isSuperset(of: Self.finewebRule.keys.filter { $0 != "empty" }))
        #expect(Set(Self.pages.compactMap(\.c4.reason)) == ["too_few_sentences", "lorem_ipsum", "curly_bracket"])
    }

    @Test func c4MatchesDatatrove() {
        let c4 = QualityRules(enabled: [.c4])
        for page in Self.pages {
            let (text, rejected) = c4.judge(page.text)
            #expect((rejected == nil) == page.c4.kept, "\(page.name): datatrove \(page.c4.reason ?? "keeps it")")
            if page.c4.kept { #expect(text == page.c4.text, "\(page.name): the lines C4 keeps") }
        }
    }

    @Test func finewebMatchesDatatrove() {
        let fineweb = QualityRules(enabled: [
            .finewebPunctuation, .finewebShortLines, .finewebDuplicateLines, .finewebNewlines,
        ])
        for page in Self.pages {
            let rejected = fineweb.judge(page.text).rejectedBy
            #expect(rejected == page.fineweb.reason.flatMap { Self.finewebRule[$0] }, "\(page.name)")
        }
    }
}
