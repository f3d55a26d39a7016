// "I don't know" from what the model itself knows. Two stages of one seed:
//   memorise   a tiny transformer learns closed-book facts ("Where does Kabo live?" → the town)
//              from scratch, each person's fact shown `exposures[i]` times (drawn per person; 0:
//              never), so the model ends knowing some facts well, some partly, some not at all.
//   finetune   from the memorise stage's policy: the knowledge probe samples k answers to every
//              question (probeTemperature) and calls a fact known when at least `threshold` of
//              them are right (KnowledgeProbe.known); then SFT on the even-numbered people's
//              questions, answered with the town or "I don't know" as `labels` says:
//                answerAll   always the town (no "I don't know" at all)
//                data        "I don't know" where the fact was never in the memorise data
//                model       "I don't know" where the probe says the model does not know it
//              and evaluation on the odd-numbered people's questions (never asked in finetuning):
//   eval/accuracy        answered with the true town (share of all eval questions)
//   eval/hallucination   answered with a wrong town
//   eval/refusal         answered "I don't know"
//   eval/over_refusal    "I don't know" where the probe said the model knew
//   eval/refusal_unknown "I don't know" where the probe said it did not
//   eval/refusal_gap     refusal_unknown − over_refusal: above 0, the refusals follow what the
//                        model knows; 0, they are a rate applied to any question
//   eval/precision       right answers among the answers that name a town
//   summaries: probe/known_share (of all people), probe/known_share_seen (of those shown at least
//   once), probe/labels_disagree (share of finetuning questions where data and model labels differ)
import ExperimentKit
import Foundation
import LabSupport
import NanoTransformer
import PostTraining
import TensorCore
import Tokenizer

public struct SelfKnowledgeConfig: Codable, Sendable, Equatable {
    public enum Stage: String, Codable, Sendable { case memorise, finetune }
    public enum Labels: String, Codable, Sendable { case answerAll, data, model }
    public var stage = Stage.memorise
    public var labels = Labels.model
    /// The memorise stage's ablation the finetune stage starts from (same seed).
    public var from = "sk-memorise"
    public var people = 2000
    public var towns = 20
    /// How often a person's fact is in the memorise data: each person draws one of these.
    public var exposures = [0, 1, 2, 4, 8]
    public var probeSamples = 8
    public var probeThreshold = 0.5
    public var probeTemperature: Float = 0.7
    public var tokenizerVocab = 512
    public var model = ScratchModel.tinyModel(contextLength: 32)
    /// The memorise stage's SFT (its epochs multiply every exposure).
    public var memorise = ScratchModel.sft(epochs: 12)
    public var finetune = ScratchModel.sft(epochs: 20, learningRate: 1e-4)
    public var evalEvery = 100
    public var checkpointEvery = 500

    public init() {}

    public func validate() throws {
        try Check.range("selfKnowledge.people", people, 4...2000)
        try Check.range("selfKnowledge.towns", towns, 2...2000)
        if exposures.isEmpty || exposures.contains(where: { !(0...1000).contains($0) }) {
            throw LabError.invalid(key: "selfKnowledge.exposures", "\(exposures): give one or more counts in 0...1000")
        }
        if exposures.allSatisfy({ $0 == 0 }) {
            throw LabError.invalid(key: "selfKnowledge.exposures", "every count is 0: nothing to memorise")
        }
        try Check.range("selfKnowledge.probeSamples", probeSamples, 1...1000)
        guard (0...1).contains(probeThreshold) else {
            throw LabError.invalid(key: "selfKnowledge.probeThreshold", "\(probeThreshold) must be within 0...1")
        }
        guard probeTemperature > 0, probeTemperature.isFinite else {
            throw LabError.invalid(key: "selfKnowledge.probeTemperature", "\(probeTemperature) must be > 0")
        }
        if from.isEmpty { throw LabError.invalid(key: "selfKnowledge.from", "names no ablation") }
        let sft = stage == .memorise ? memorise : finetune
        try ScratchModel.check(
            "selfKnowledge", tokenizerVocab: tokenizerVocab, model: model, sft: sft, evalEvery: evalEvery,
            checkpointEvery: checkpointEvery)
    }
}

public enum SelfKnowledgeStudy {
    /// The world and each person's exposure count (fixed by their own seeds).
    public static func world(_ c: SelfKnowledgeConfig) throws -> (world: FactWorld, exposure: [Int]) {
        let world = try FactWorld(people: c.people, towns: c.towns, seed: 0x5E1F)
        var rng = RNG(seed: 0x5E1F_E7)
        return (world, (0..<c.people).map { _ in c.exposures[rng.int(below: c.exposures.count)] })
    }

    /// The closed-book question about a person.
    static func question(_ world: FactWorld, _ person: Int, answer: Bool) -> QAItem {
        QAItem(context: [], person: world.people[person], town: world.towns[world.home[person]], answerable: answer)
    }

    /// The finetuning label of each person: answer (true) or "I don't know".
    public static func labels(_ labels: SelfKnowledgeConfig.Labels, exposure: [Int], known: [Bool]) -> [Bool] {
        switch labels {
        case .answerAll: exposure.map { _ in true }
        case .data: exposure.map { $0 > 0 }
        case .model: known
        }
    }

    /// Eval rates of outcomes, with `known` the probe's verdict for each question's person.
    public static func rates(_ outcomes: [QAItem.Outcome], known: [Bool]) -> [String: Double] {
        let n = Double(outcomes.count)
        let (right, refused) = (outcomes.count { $0 == .correct }, outcomes.count { $0 == .refused })
        let wrong = outcomes.count - right - refused
        func refusals(_ knows: Bool) -> Double {
            let rows = zip(outcomes, known).filter { $0.1 == knows }.map(\.0)
            return rows.isEmpty ? .nan : Double(rows.count { $0 == .refused }) / Double(rows.count)
        }
        return [
            "eval/accuracy": Double(right) / n, "eval/hallucination": Double(wrong) / n,
            "eval/refusal": Double(refused) / n, "eval/over_refusal": refusals(true),
            "eval/refusal_unknown": refusals(false), "eval/refusal_gap": refusals(false) - refusals(true),
            "eval/precision": right + wrong == 0 ? .nan : Double(right) / Double(right + wrong),
        ]
    }

    /// The probe: for every person, whether the model's sampled closed-book answers are right
    /// often enough.
    public static func probe(
        _ model: NanoTransformer, format: ConversationFormat, world: FactWorld, _ c: SelfKnowledgeConfig, seed: UInt64
    ) throws -> [Bool] {
        var settings = EvaluationSettings()
        (settings.samples, settings.passK, settings.maxNewTokens, settings.promptsPerBatch) =
            (c.probeSamples, [], 12, 50)
        (settings.temperature, settings.seed) = (c.probeTemperature, seed)
        let tasks = world.people.indices.map { p in
            let q = question(world, p, answer: true)
            return VerifiableTask(prompt: q.prompt, isCorrect: { q.outcome($0) == .correct })
        }
        let samples = try Evaluation.run(model, format: format, tasks: tasks, settings: settings).samples
        return samples.map { s in
            KnowledgeProbe.known(s.map { $0.correct ? .correct : .wrong }, threshold: c.probeThreshold)
        }
    }

    public static func run<C: ExperimentConfig>(_ run: Run<C>, _ c: SelfKnowledgeConfig) throws -> RunOutcome {
        let (world, exposure) = try world(c)
        let key = "selfKnowledge.model.contextLength"
        var root = RNG(seed: UInt64(run.seed))
        switch c.stage {
        case .memorise:
            let shown = world.people.indices.flatMap { p in
                Array(repeating: question(world, p, answer: true), count: exposure[p])
            }
            let tokenizer = try ScratchModel.tokenizer(
                world.people.indices.map { question(world, $0, answer: true) }.map { $0.prompt + " " + $0.town }
                    + [QAItem.unknown], vocab: c.tokenizerVocab)
            let format = try ConversationFormat(tokenizer: tokenizer)
            let examples = try ScratchModel.examples(
                shown.map { ($0.prompt, $0.response) }, format: format, contextLength: c.model.contextLength, key: key)
            let model = try ScratchModel.fresh(c.model, tokenizer: tokenizer, root: &root)
            // Greedy accuracy by exposure: how well each group is learnt.
            let evaluate: (NanoTransformer) throws -> [String: Double] = { model in
                let items = world.people.indices.map { question(world, $0, answer: true) }
                let answers = try ScratchModel.greedyAnswers(
                    model, format: format, prompts: items.map(\.prompt), maxNewTokens: 12)
                let right = zip(items, answers).map { $0.outcome(ParsedResponse($1.text)) == .correct }
                var m = ["eval/accuracy": Double(right.count { $0 }) / Double(right.count)]
                for e in Set(exposure) {
                    let rows = exposure.indices.filter { exposure[$0] == e }
                    m["eval/accuracy/exposure_\(e)"] = Double(rows.count { right[$0] }) / Double(rows.count)
                }
                return m
            }
            return try ScratchModel.fit(
                run, model: model, tokenizer: tokenizer, train: examples, heldOut: Array(examples.prefix(64)),
                settings: c.memorise, seed: root.next(), evalEvery: c.evalEvery, checkpointEvery: c.checkpointEvery,
                evaluate: evaluate)
        case .finetune:
            let (model, tokenizer) = try ScratchModel.previousStage(run, ablation: c.from, key: "selfKnowledge.from")
            let format = try ConversationFormat(tokenizer: tokenizer)
            let known = try probe(model, format: format, world: world, c, seed: root.next())
            let seen = exposure.indices.filter { exposure[$0] > 0 }
            run.results.summary("probe/known_share", Double(known.count { $0 }) / Double(known.count))
            run.results.summary("probe/known_share_seen", Double(seen.count { known[$0] }) / Double(max(seen.count, 1)))
            let answer = labels(c.labels, exposure: exposure, known: known)
            let train = world.people.indices.filter { $0 % 2 == 0 }
            let eval = world.people.indices.filter { $0 % 2 == 1 }
            let dataLabels = labels(.data, exposure: exposure, known: known)
            let modelLabels = labels(.model, exposure: exposure, known: known)
            run.results.summary(
                "probe/labels_disagree", Double(train.count { dataLabels[$0] != modelLabels[$0] }) / Double(train.count)
            )
            run.results.summary("data/idk_share", Double(train.count { !answer[$0] }) / Double(train.count))
            let items = train.map { question(world, $0, answer: answer[$0]) }
            let examples = try ScratchModel.examples(
                items.map { ($0.prompt, $0.response) }, format: format, contextLength: model.config.contextLength,
                key: key)
            let evalItems = eval.map { question(world, $0, answer: true) }
            let evaluate: (NanoTransformer) throws -> [String: Double] = { model in
                let answers = try ScratchModel.greedyAnswers(
                    model, format: format, prompts: evalItems.map(\.prompt), maxNewTokens: 12)
                let outcomes = zip(evalItems, answers).map { $0.outcome(ParsedResponse($1.text)) }
                return rates(outcomes, known: eval.map { known[$0] })
            }
            if run.resumeState == nil { run.results.log(try evaluate(model), step: 0) }
            let heldOut = try ScratchModel.examples(
                evalItems.prefix(64).map { ($0.prompt, $0.response) }, format: format,
                contextLength: model.config.contextLength, key: key)
            return try ScratchModel.fit(
                run, model: model, tokenizer: tokenizer, train: examples, heldOut: heldOut, settings: c.finetune,
                seed: root.next(), evalEvery: c.evalEvery, checkpointEvery: c.checkpointEvery, evaluate: evaluate)
        }
    }
}
