// VADER against the vaderSentiment 3.3.2 package: 500 sentences from the fortunes and 62 made to
// exercise each rule (fixture by Scripts/reference/vader_fixture.py), compound within 1e-4 and
// the three shares within their rounding; and the rules one by one on hand values.
import Foundation
import LabSupport
import PostTraining
import TestSupport
import Testing

struct VADERFixture: Decodable {
    struct Case: Decodable {
        let text: String
        let compound: Double
        let pos: Double
        let neg: Double
        let neu: Double
    }
    let generator: String
    let cases: [Case]
}

/// The package's lexicons, fetched by Data/fetch (Scripts/test runs `Data/fetch vader`).
func vader() throws -> VADER {
    let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Data/corpora/vader").standardized.path
    return try VADER(folder: folder)
}

@Suite struct VADERTests {
    @Test func everyFixtureSentenceScoresAsThePackage() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/vader_reference.json")
        let fixture = try JSONDecoder().decode(VADERFixture.self, from: Data(contentsOf: url))
        #expect(fixture.cases.count >= 560)
        let analyzer = try vader()
        var worst = (0.0, "")
        for c in fixture.cases {
            let s = analyzer.scores(c.text)
            // The package rounds compound to 4 decimals and the shares to 3.
            let error = abs(s.compound - c.compound)
            if error > worst.0 { worst = (error, c.text) }
            #expect(error <= 1e-4 + 1e-12, "\(c.text): \(s.compound) vs \(c.compound)")
            #expect(abs(s.positive - c.pos) <= 5e-4 + 1e-12 && abs(s.negative - c.neg) <= 5e-4 + 1e-12, "\(c.text)")
            #expect(abs(s.neutral - c.neu) <= 5e-4 + 1e-12, "\(c.text)")
        }
        #expect(worst.0 <= 5e-5 + 1e-12, "largest compound error \(worst.0) on \(worst.1)")
    }

    /// Each rule moves the score the way the paper says, against the plain sentence.
    @Test func eachRuleOnItsOwn() throws {
        let v = try vader()
        func c(_ text: String) -> Double { v.scores(text).compound }
        let plain = c("The book was good.")
        #expect(plain > 0)
        #expect(c("The book was very good.") > plain)  // booster
        #expect(c("The book was slightly good.") < plain)  // dampener
        #expect(c("The book was not good.") < 0)  // negation
        #expect(c("The book was GOOD today.") > plain)  // caps among lower case
        // Exclamation marks add emphasis, at most four of them.
        #expect(c("The book was good!") > plain && c("The book was good!!!!!") == c("The book was good!!!!"))
        #expect(c("It was good, but the ending was bad.") < c("It was good, and the ending was bad."))  // but
        #expect(c("That movie was the bomb.") > 0.5)  // special idiom
        #expect(c("") == 0 && c("   ") == 0 && c("the of and") == 0)
        // The compound is s / sqrt(s^2 + 15): "good" alone is 1.9.
        #expect(abs(c("good") - 1.9 / (1.9 * 1.9 + 15).squareRoot()) < 1e-12)
    }

    @Test func aMissingOrDamagedLexiconIsANamedError() throws {
        let folder = temporaryFolder()
        let missing = expectLabError(.config) { try VADER(folder: folder) }
        #expect(missing?.message.contains("vader_lexicon.txt: no such file") == true)
        try "good\t1.9\nbad\n".write(toFile: folder + "/vader_lexicon.txt", atomically: true, encoding: .utf8)
        try "😀\tgrinning face\n".write(toFile: folder + "/emoji_utf8_lexicon.txt", atomically: true, encoding: .utf8)
        let damaged = expectLabError(.config) { try VADER(folder: folder) }
        #expect(damaged?.message.hasSuffix("vader_lexicon.txt:2: expected word TAB valence") == true)
    }
}
