// The counting experiment: tiny transformers trained from scratch (SFT on the answers) to count a
// letter in a word or the items of a list, with the tokenizer as the ablation — bytes only, BPE
// vocabularies learned on the tasks' text, or BPE with the word spelled out letter by letter —
// and the accuracy reported by task, by true count, and beside the number of tokens the counted
// word becomes. The tasks are the same for every seed and ablation (their own data seed); the
// seed draws the model's weights and the order of the examples.
//   data:   trainTasks and evalTasks drawn by CountingTask.sample (eval prompts never in train)
//   model:  `model`, its vocabulary the tokenizer's
//   train:  SFTStages.fit: loss on the answer tokens, AdamW, `sft` epochs
//   eval:   greedy answers to the eval tasks (Evaluation.run): eval/accuracy, by kind
//           (eval/accuracy/lettersInWord, eval/accuracy/itemsInList) and by count
//           (eval/accuracy/count_<n>), every evalEvery updates and after the last
//   summaries: data/word_tokens (mean tokens of the counted word as the prompt spells it),
//           data/prompt_tokens, tokenizer/vocab_size
import ExperimentKit
import Foundation
import LabSupport
import NanoTransformer
import PostTraining
import TensorCore
import Tokenizer

public struct CountingConfig: Codable, Sendable, Equatable {
    public var kinds: [CountingKind] = [.lettersInWord, .itemsInList]
    public var minCount = 0
    public var maxCount = 6
    public var trainTasks = 6000
    public var evalTasks = 400
    /// The BPE vocabulary learned on the tasks' text (special tokens included); 0: bytes only.
    public var tokenizerVocab = 512
    /// Words written letter by letter, spaces between.
    public var spelled = false
    public var model = ScratchModel.tinyModel(contextLength: 160)
    public var sft = ScratchModel.sft(epochs: 4)
    public var evalEvery = 250
    public var checkpointEvery = 500

    public init() {}

    public func validate() throws {
        if kinds.isEmpty { throw LabError.invalid(key: "counting.kinds", "names no kind of task") }
        try Check.range("counting.minCount", minCount, 0...1000)
        try Check.range("counting.maxCount", maxCount, minCount...1000)
        try Check.range("counting.trainTasks", trainTasks, 1...1_000_000)
        try Check.range("counting.evalTasks", evalTasks, 1...100_000)
        try ScratchModel.check(
            "counting", tokenizerVocab: tokenizerVocab, model: model, sft: sft, evalEvery: evalEvery,
            checkpointEvery: checkpointEvery)
    }

    public static let bytesVocab = ScratchModel.bytesVocab
}

public enum CountingStudy {
    /// The train and eval tasks of `c`, fixed by their own seeds (eval prompts never in train).
    public static func tasks(_ c: CountingConfig) throws -> (train: [CountingTask], eval: [CountingTask]) {
        var rng = RNG(seed: 0xC0_0C7)
        let counts = c.minCount...c.maxCount
        let train = try (0..<c.trainTasks).map { i in
            try CountingTask.sample(c.kinds[i % c.kinds.count], counts: counts, rng: &rng)
        }
        let seen = Set(train.map { $0.prompt(spelled: c.spelled) })
        var evalRNG = RNG(seed: 0xE7A1_C0)
        var eval: [CountingTask] = []
        var attempts = 0
        while eval.count < c.evalTasks {
            attempts += 1
            if attempts > c.evalTasks * 100 {
                throw LabError.invalid(
                    key: "counting.evalTasks",
                    "only \(eval.count) eval tasks differ from every training prompt after \(attempts) draws")
            }
            let task = try CountingTask.sample(c.kinds[eval.count % c.kinds.count], counts: counts, rng: &evalRNG)
            if !seen.contains(task.prompt(spelled: c.spelled)) { eval.append(task) }
        }
        return (train, eval)
    }

    /// The tokenizer: bytes only, or BPE learned on the training prompts and answers.
    public static func tokenizer(_ c: CountingConfig, train: [CountingTask]) throws -> BPETokenizer {
        try ScratchModel.tokenizer(
            train.map { $0.prompt(spelled: c.spelled) + " \($0.count)" }, vocab: c.tokenizerVocab)
    }

    /// Accuracy overall, by kind and by true count, of greedy answers to `tasks`.
    public static func accuracy(_ tasks: [CountingTask], correct: [Bool]) -> [String: Double] {
        func share(_ rows: [Int]) -> Double { Double(rows.count { correct[$0] }) / Double(rows.count) }
        var m = ["eval/accuracy": share(Array(tasks.indices))]
        for kind in CountingKind.allCases {
            let rows = tasks.indices.filter { tasks[$0].kind == kind }
            if !rows.isEmpty { m["eval/accuracy/\(kind.rawValue)"] = share(rows) }
        }
        for count in Set(tasks.map(\.count)) {
            m["eval/accuracy/count_\(count)"] = share(tasks.indices.filter { tasks[$0].count == count })
        }
        return m
    }

    public static func run<C: ExperimentConfig>(_ run: Run<C>, _ c: CountingConfig) throws -> RunOutcome {
        let (train, eval) = try tasks(c)
        let tokenizer = try tokenizer(c, train: train)
        let format = try ConversationFormat(tokenizer: tokenizer)
        let examples = try ScratchModel.examples(
            train.map { ($0.prompt(spelled: c.spelled), $0.response) }, format: format,
            contextLength: c.model.contextLength, key: "counting.model.contextLength")
        let heldOut = try ScratchModel.examples(
            eval.prefix(64).map { ($0.prompt(spelled: c.spelled), $0.response) }, format: format,
            contextLength: c.model.contextLength, key: "counting.model.contextLength")
        // The tokens the counted word becomes in its prompt (after a space, as there).
        let words = train.filter { $0.kind == .lettersInWord }.map {
            tokenizer.encode(" " + $0.written(spelled: c.spelled)).count
        }
        run.results.summary("tokenizer/vocab_size", Double(tokenizer.vocabSize))
        if !words.isEmpty { run.results.summary("data/word_tokens", Double(words.reduce(0, +)) / Double(words.count)) }
        run.results.summary(
            "data/prompt_tokens", Double(examples.reduce(0) { $0 + $1.responseStart }) / Double(examples.count))
        var root = RNG(seed: UInt64(run.seed))
        let model = try ScratchModel.fresh(c.model, tokenizer: tokenizer, root: &root)
        let verifiable = eval.map { task in
            VerifiableTask(prompt: task.prompt(spelled: c.spelled), isCorrect: { task.isCorrect($0) })
        }
        var settings = EvaluationSettings()
        (settings.samples, settings.passK, settings.maxNewTokens, settings.promptsPerBatch) = (0, [], 8, 100)
        let evaluate: (NanoTransformer) throws -> [String: Double] = { model in
            let greedy = try Evaluation.run(model, format: format, tasks: verifiable, settings: settings).greedy
            return accuracy(eval, correct: greedy.map(\.correct))
        }
        return try ScratchModel.fit(
            run, model: model, tokenizer: tokenizer, train: examples, heldOut: heldOut, settings: c.sft,
            seed: root.next(), evalEvery: c.evalEvery, checkpointEvery: c.checkpointEvery, evaluate: evaluate)
    }
}
