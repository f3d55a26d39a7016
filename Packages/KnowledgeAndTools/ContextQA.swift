// The "I don't know" experiments' world: people with made-up names, each living in a made-up town,
// and questions about them, after a context of facts (ContextQAStudy: the context holds the fact
// asked about, or only facts about others) or closed-book (SelfKnowledgeStudy: the model learnt
// the facts, or did not). What a model answers falls in three outcomes:
//   accuracy        answerable questions answered with the true town
//   over-refusal    answerable questions answered "I don't know"
//   hallucination   unanswerable questions answered with a town (any town: none is right)
// The second method of building the "I don't know" set asks the model itself: sample k answers to
// a question without context and call the fact known when at least `threshold` of them are right
// (`KnowledgeProbe.known`).
import Foundation
import LabSupport
import PostTraining
import TensorCore

public struct QAItem: Sendable, Equatable, Codable {
    /// Sentences "Name lives in Town.", in the order shown.
    public var context: [String]
    public var person: String
    public var town: String
    public var answerable: Bool

    public init(context: [String], person: String, town: String, answerable: Bool) {
        (self.context, self.person, self.town, self.answerable) = (context, person, town, answerable)
    }

    public static let unknown = "I don't know"

    public var prompt: String {
        (context.isEmpty ? "" : context.joined(separator: " ") + " ") + "Where does \(person) live?"
    }

    /// The answer SFT teaches: the town when the context holds it, else "I don't know".
    public var target: String { answerable ? town : Self.unknown }
    public var response: String { "<answer>\(target)</answer>" }

    public enum Outcome: String, Sendable, Codable, CaseIterable {
        case correct
        case refused
        case wrong
    }

    /// What an answer amounts to (case and surrounding space do not count; no answer is wrong).
    public func outcome(_ response: ParsedResponse) -> Outcome {
        let said = (response.answer ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        if said == Self.unknown.lowercased() { return .refused }
        return said == town.lowercased() ? .correct : .wrong
    }
}

/// People and their towns, fixed by a seed.
public struct FactWorld: Sendable {
    public let people: [String]
    public let towns: [String]
    /// towns index of each person's town.
    public let home: [Int]

    public init(people count: Int, towns townCount: Int, seed: UInt64) throws {
        // Names are 2 syllables (8100 possible), towns 3 (729 000): a world far below both.
        guard (2...2000).contains(count), (2...2000).contains(townCount) else {
            throw LabError(.config, "FactWorld: \(count) people and \(townCount) towns; each must be in 2...2000")
        }
        var rng = RNG(seed: seed)
        func name(_ syllables: Int, _ taken: Set<String>) -> String {
            while true {
                let s = (0..<syllables).map { _ in
                    String(CountingTask.consonants[rng.int(below: CountingTask.consonants.count)])
                        + String(CountingTask.vowels[rng.int(below: CountingTask.vowels.count)])
                }.joined()
                let n = s.prefix(1).uppercased() + s.dropFirst()
                if !taken.contains(n) { return n }
            }
        }
        var taken = Set<String>()
        var people: [String] = []
        for _ in 0..<count {
            people.append(name(2, taken))
            taken.insert(people.last!)
        }
        var towns: [String] = []
        for _ in 0..<townCount {
            towns.append(name(3, taken) + "en")
            taken.insert(towns.last!)
        }
        self.people = people
        self.towns = towns
        home = (0..<count).map { _ in rng.int(below: townCount) }
    }
}

public enum KnowledgeProbe {
    /// Whether a model knows a fact from k sampled answers: at least `threshold` of them right.
    public static func known(_ outcomes: [QAItem.Outcome], threshold: Double) -> Bool {
        guard !outcomes.isEmpty else { return false }
        return Double(outcomes.count { $0 == .correct }) >= threshold * Double(outcomes.count)
    }

    /// Accuracy, over-refusal and hallucination rates of outcomes on items (NaN where no item of
    /// the kind).
    public static func rates(_ items: [QAItem], _ outcomes: [QAItem.Outcome]) throws -> [String: Double] {
        guard items.count == outcomes.count else {
            throw LabError(.model, "KnowledgeProbe.rates: \(items.count) items, \(outcomes.count) outcomes")
        }
        let answerable = zip(items, outcomes).filter { $0.0.answerable }.map(\.1)
        let unanswerable = zip(items, outcomes).filter { !$0.0.answerable }.map(\.1)
        func share(_ xs: [QAItem.Outcome], _ o: QAItem.Outcome) -> Double {
            xs.isEmpty ? .nan : Double(xs.count { $0 == o }) / Double(xs.count)
        }
        return [
            "accuracy": share(answerable, .correct), "over_refusal": share(answerable, .refused),
            "hallucination": unanswerable.isEmpty ? .nan : 1 - share(unanswerable, .refused),
        ]
    }
}
