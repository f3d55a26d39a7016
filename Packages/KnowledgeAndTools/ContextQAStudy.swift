// "I don't know" taught from the context: questions about a person after a few facts, the fact
// asked about among them (answerable) or not (unanswerable). SFT teaches the town when the context
// holds it and, for a share `idkShare` of the training questions, "I don't know" when it does not;
// at share 0 every training question is answerable and the model never sees the other kind. The
// model is a tiny transformer trained from scratch (ScratchModel.swift); half the eval questions
// are answerable.
//   data:   FactWorld's names (its own seed); each question's facts are drawn for it alone
//           (`item`: a person lives in one town in one question and another in the next), so the
//           eval questions, drawn from their own seed, are new however the names recur
//   eval:   greedy answers, outcomes by QAItem.outcome, rates by KnowledgeProbe.rates:
//           eval/accuracy       answerable answered with the true town
//           eval/over_refusal   answerable answered "I don't know"
//           eval/hallucination  unanswerable answered with a town
import ExperimentKit
import LabSupport
import NanoTransformer
import PostTraining
import TensorCore

public struct ContextQAConfig: Codable, Sendable, Equatable {
    /// Few enough that BPE makes a name one or two tokens (copying it is then in reach of 2 layers).
    public var people = 100
    public var towns = 20
    /// Facts in a question's context.
    public var contextFacts = 3
    public var trainItems = 20000
    public var evalItems = 400
    /// The share of training questions whose context lacks the fact, answered "I don't know".
    public var idkShare = 0.0
    public var tokenizerVocab = 512
    public var model = ScratchModel.tinyModel(contextLength: 128)
    public var sft = ScratchModel.sft(epochs: 8)
    public var evalEvery = 500
    public var checkpointEvery = 500

    public init() {}

    public func validate() throws {
        try Check.range("contextQA.people", people, 10...2000)
        try Check.range("contextQA.towns", towns, 2...2000)
        try Check.range("contextQA.contextFacts", contextFacts, 1...(people - 1))
        try Check.range("contextQA.trainItems", trainItems, 1...1_000_000)
        try Check.range("contextQA.evalItems", evalItems, 2...100_000)
        guard (0...1).contains(idkShare) else {
            throw LabError.invalid(key: "contextQA.idkShare", "\(idkShare) must be within 0...1")
        }
        try ScratchModel.check(
            "contextQA", tokenizerVocab: tokenizerVocab, model: model, sft: sft, evalEvery: evalEvery,
            checkpointEvery: checkpointEvery)
    }
}

public enum ContextQAStudy {
    /// A question whose facts are drawn for it alone: `contextFacts` people of `pool` (the asked
    /// one among them when answerable) each in a town drawn afresh, so no fact holds beyond its
    /// context and reading the context is the only way to answer (a model cannot learn people's
    /// towns by heart).
    public static func item(
        _ world: FactWorld, pool: Range<Int>, answerable: Bool, contextFacts: Int, rng: inout RNG
    ) -> QAItem {
        var people = Array(pool)
        for i in 0...contextFacts { people.swapAt(i, i + rng.int(below: people.count - i)) }
        let asked = people[0]
        var shown = Array(people[1...contextFacts])
        if answerable { shown[rng.int(below: shown.count)] = asked }
        let towns = shown.map { _ in world.towns[rng.int(below: world.towns.count)] }
        let askedTown =
            answerable ? towns[shown.firstIndex(of: asked)!] : world.towns[rng.int(below: world.towns.count)]
        return QAItem(
            context: zip(shown, towns).map { "\(world.people[$0]) lives in \($1)." }, person: world.people[asked],
            town: askedTown, answerable: answerable)
    }

    /// The training and eval questions (fixed by their own seeds, the same for every run seed).
    /// Training: round(idkShare × trainItems) unanswerable, the rest answerable, in a drawn order;
    /// eval: answerable and unanswerable alternating.
    public static func items(_ c: ContextQAConfig) throws -> (train: [QAItem], eval: [QAItem]) {
        let world = try FactWorld(people: c.people, towns: c.towns, seed: 0x1D_C0)
        var rng = RNG(seed: 0x1D_7A)
        let unanswerable = Int((c.idkShare * Double(c.trainItems)).rounded())
        var kinds = (0..<c.trainItems).map { $0 >= unanswerable }
        rng.shuffle(&kinds)
        let train = kinds.map {
            item(world, pool: 0..<c.people, answerable: $0, contextFacts: c.contextFacts, rng: &rng)
        }
        var evalRNG = RNG(seed: 0x1D_E7)
        let eval = (0..<c.evalItems).map { i in
            item(world, pool: 0..<c.people, answerable: i % 2 == 0, contextFacts: c.contextFacts, rng: &evalRNG)
        }
        return (train, eval)
    }

    /// The outcome rates of greedy responses to `items` (eval/accuracy, eval/over_refusal,
    /// eval/hallucination).
    public static func rates(_ items: [QAItem], responses: [String]) throws -> [String: Double] {
        let outcomes = zip(items, responses).map { $0.outcome(ParsedResponse($1)) }
        return Dictionary(
            uniqueKeysWithValues: try KnowledgeProbe.rates(items, outcomes).map { ("eval/\($0.key)", $0.value) })
    }

    public static func run<C: ExperimentConfig>(_ run: Run<C>, _ c: ContextQAConfig) throws -> RunOutcome {
        let (train, eval) = try items(c)
        let tokenizer = try ScratchModel.tokenizer(
            train.map { $0.prompt + " " + $0.target } + [QAItem.unknown], vocab: c.tokenizerVocab)
        let format = try ConversationFormat(tokenizer: tokenizer)
        let key = "contextQA.model.contextLength"
        let examples = try ScratchModel.examples(
            train.map { ($0.prompt, $0.response) }, format: format, contextLength: c.model.contextLength, key: key)
        let heldOut = try ScratchModel.examples(
            eval.prefix(64).map { ($0.prompt, $0.response) }, format: format, contextLength: c.model.contextLength,
            key: key)
        run.results.summary("data/unanswerable_share", Double(train.count { !$0.answerable }) / Double(train.count))
        var root = RNG(seed: UInt64(run.seed))
        let model = try ScratchModel.fresh(c.model, tokenizer: tokenizer, root: &root)
        let evaluate: (NanoTransformer) throws -> [String: Double] = { model in
            let answers = try ScratchModel.greedyAnswers(
                model, format: format, prompts: eval.map(\.prompt), maxNewTokens: 16)
            return try rates(eval, responses: answers.map(\.text))
        }
        return try ScratchModel.fit(
            run, model: model, tokenizer: tokenizer, train: examples, heldOut: heldOut, settings: c.sft,
            seed: root.next(), evalEvery: c.evalEvery, checkpointEvery: c.checkpointEvery, evaluate: evaluate)
    }
}
