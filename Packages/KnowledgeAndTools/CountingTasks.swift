// The counting experiment's tasks: how often a letter occurs in a word, and how many items a list
// holds, each asked as a question with the count as the answer (R1 template: <answer>n</answer>).
// The words are made of syllables (no dictionary to ship), built so that the letter occurs
// exactly `count` times: syllables without it, then the letter written into `count` distinct
// positions. What is hard for a model is seeing letters through its tokens (a BPE token holds
// several): the experiment varies the tokenizer, not the task.
import LabSupport
import PostTraining
import TensorCore

public enum CountingKind: String, Codable, Sendable, CaseIterable {
    case lettersInWord
    case itemsInList
}

public struct CountingTask: Sendable, Equatable, Codable {
    public var kind: CountingKind
    /// The letter counted (lettersInWord), else "".
    public var letter: String
    /// The word (lettersInWord) or the items (itemsInList).
    public var items: [String]
    public var count: Int

    public init(kind: CountingKind, letter: String, items: [String], count: Int) {
        (self.kind, self.letter, self.items, self.count) = (kind, letter, items, count)
    }

    public var prompt: String { prompt(spelled: false) }

    /// The question; `spelled`: the word written letter by letter, spaces between ("s t r a w"),
    /// so that any tokenizer sees its letters one by one.
    public func prompt(spelled: Bool) -> String {
        switch kind {
        case .lettersInWord: "How many times does the letter \(letter) occur in \(written(spelled: spelled))?"
        case .itemsInList: "How many items are in this list: \(items.joined(separator: ", "))?"
        }
    }

    /// The word as the prompt writes it (lettersInWord).
    public func written(spelled: Bool) -> String {
        spelled ? items[0].map(String.init).joined(separator: " ") : items[0]
    }

    /// The answer as SFT teaches it.
    public var response: String { "<answer>\(count)</answer>" }

    public func isCorrect(_ response: ParsedResponse) -> Bool { response.number == Int64(count) }

    static let consonants = Array("bcdfghjklmnprstvwz")
    static let vowels = Array("aeiou")
    /// Items of a list: short common nouns, each one token or two in any vocabulary here.
    public static let nouns = [
        "apple", "pear", "plum", "grape", "lemon", "melon", "cherry", "peach", "bread", "cheese", "rice", "bean",
        "cat", "dog", "horse", "mouse", "bird", "fish", "sheep", "goat", "chair", "table", "lamp", "door",
    ]

    /// A task of `kind` whose count is uniform in `counts` (lettersInWord: at most the word's length,
    /// itemsInList: at least 1).
    public static func sample(_ kind: CountingKind, counts: ClosedRange<Int>, rng: inout RNG) throws -> CountingTask {
        guard counts.lowerBound >= 0, counts.upperBound <= 1000 else {
            throw LabError(.config, "counts: \(counts) must be within 0...1000")
        }
        let count = counts.lowerBound + rng.int(below: counts.count)
        switch kind {
        case .itemsInList:
            let n = Swift.max(count, 1)
            let items = (0..<n).map { _ in nouns[rng.int(below: nouns.count)] }
            return CountingTask(kind: kind, letter: "", items: items, count: n)
        case .lettersInWord:
            let letter = (consonants + vowels)[rng.int(below: consonants.count + vowels.count)]
            let (cs, vs) = (consonants.filter { $0 != letter }, vowels.filter { $0 != letter })
            // Syllables without the letter: 4 to 8 characters, at least the letter's count + 2.
            let length = Swift.max(count + 2, 4 + rng.int(below: 5))
            var word: [Character] = []
            while word.count < length {
                word += [cs[rng.int(below: cs.count)], vs[rng.int(below: vs.count)]]
            }
            var positions = Array(word.indices)
            rng.shuffle(&positions)
            for p in positions.prefix(count) { word[p] = letter }
            return CountingTask(kind: kind, letter: String(letter), items: [String(word)], count: count)
        }
    }
}
