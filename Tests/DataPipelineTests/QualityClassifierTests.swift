// The quality classifier on reference text (the Debian Reference's English paragraphs of the
// language-identification fixture) against three kinds of web-like negatives made from the same
// words: word salad (the reference's words drawn at random), navigation boilerplate and keyword
// spam; judged on held-out paragraphs and fresh negatives; and its pipeline stage.
import DataPipeline
import Foundation
import LabSupport
import TensorCore
import TestSupport
import Testing

@Suite struct QualityClassifierTests {
    /// `count` negatives of the three kinds, drawn from `seed`, with words from `paragraphs`.
    static func negatives(_ count: Int, from paragraphs: [String], seed: UInt64) -> [String] {
        var rng = RNG(seed: seed)
        let words = paragraphs.flatMap { $0.split(separator: " ").map(String.init) }
        func pick(_ n: Int) -> [String] { (0..<n).map { _ in words[rng.int(below: words.count)] } }
        return (0..<count).map { i in
            switch i % 3 {
            case 0: return pick(25 + rng.int(below: 20)).joined(separator: " ")
            case 1:
                return (["Home", "About us", "Contact", "Login", "Privacy policy", "Terms of use"] + pick(4))
                    .joined(separator: " | ")
            default:
                let keyword = pick(2).joined(separator: " ")
                return (0..<8).map { _ in "buy \(keyword) best \(keyword) cheap" }.joined(separator: " ")
            }
        }
    }

    static let fixture = LanguageIDTests.fixture
    static let reference = fixture.train["en"]!
    static let heldOut = fixture.heldout.filter { $0.lang == "en" }.map(\.text)
    static let classifier = try! QualityClassifier(
        reference: reference, negatives: negatives(reference.count, from: reference, seed: 1))

    /// 60 held-out paragraphs and 60 fresh negatives: more than 90 % of the paragraphs kept and
    /// more than 95 % of the boilerplate and spam rejected. Word salad made of the reference's own
    /// words is the bag-of-n-grams model's blind spot: its words are the reference's and its
    /// shuffled pairs are unseen, so nothing in it weighs against it (20 of 20 pass when written);
    /// the perplexity filter is the stage that sees word order.
    @Test func heldOutReferenceAndFreshNegatives() {
        let negatives = Self.negatives(60, from: Self.reference, seed: 2)
        let right = Self.heldOut.count { Self.classifier.score($0) >= 0.5 }
        let web = negatives.indices.filter { $0 % 3 != 0 }.map { negatives[$0] }
        let rejected = web.count { Self.classifier.score($0) < 0.5 }
        #expect(right >= 54, "reference kept \(right)/60")
        #expect(rejected >= 39, "boilerplate and spam rejected \(rejected)/\(web.count)")
    }

    @Test func trainingIsRepeatableAndNeedsBothSides() throws {
        let negatives = Self.negatives(Self.reference.count, from: Self.reference, seed: 1)
        let again = try QualityClassifier(reference: Self.reference, negatives: negatives)
        #expect(Self.heldOut.map(again.score) == Self.heldOut.map(Self.classifier.score))
        let error = expectLabError(.config) { try QualityClassifier(reference: [], negatives: ["x"]) }
        #expect(error?.message.hasPrefix("qualityClassifier: needs reference and negative texts") == true)
        // Settings out of range are named before training; a step too large to converge is refused.
        var settings = QualityClassifier.Settings()
        settings.epochs = -1
        let epochs = expectLabError(.config) {
            try QualityClassifier(reference: Self.reference, negatives: negatives, settings: settings)
        }
        #expect(epochs?.message == "qualityClassifier.epochs: -1 must be in 1...10000")
        settings = QualityClassifier.Settings()
        settings.learningRate = 1e40
        let diverged = expectLabError(.model) {
            try QualityClassifier(reference: Self.reference, negatives: negatives, settings: settings)
        }
        #expect(diverged?.message.hasPrefix("qualityClassifier: training diverged") == true)
    }

    @Test func theClassifierStage() throws {
        var config = PipelineConfig()
        (config.stages, config.minQualityScore) = ([.classifier], 0.5)
        let run = try PipelineRun(config, classifier: Self.classifier)
        let spam = Self.negatives(3, from: Self.heldOut, seed: 3)[2]
        let out = run.process([
            Document(id: "ok", text: Self.heldOut[0], source: "s"), Document(id: "spam", text: spam, source: "s"),
        ])
        #expect(out.map(\.id) == ["ok"] && out[0].metadata["quality_score"] != nil)
        #expect(run.report.stages[0].reasons == ["classifier.low": 1])
        #expect(
            expectLabError(.config) { try PipelineRun(config) }?.message
                == "stages: classifier needs a quality classifier")
    }
}
