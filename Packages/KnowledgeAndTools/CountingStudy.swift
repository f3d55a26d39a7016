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
    public var model: TransformerConfig = {
        var m = TransformerConfig()
        (m.dModel, m.layers, m.heads, m.kvHeads, m.contextLength) = (64, 2, 4, 4, 160)
        return m
    }()
    public var sft: SFTSettings = {
        var s = SFTSettings()
        (s.epochs, s.batchSize, s.layout) = (4, 32, .padded)
        s.optimizer.learningRate = 1e-3
        return s
    }()
    public var evalEvery = 250
    public var checkpointEvery = 500

    public init() {}

    public func validate() throws {
        if kinds.isEmpty { throw LabError.invalid(key: "counting.kinds", "names no kind of task") }
        try Check.range("counting.minCount", minCount, 0...1000)
        try Check.range("counting.maxCount", maxCount, minCount...1000)
        try Check.range("counting.trainTasks", trainTasks, 1...1_000_000)
        try Check.range("counting.evalTasks", evalTasks, 1...100_000)
        if tokenizerVocab != 0 {
            try Check.range("counting.tokenizerVocab", tokenizerVocab, Self.bytesVocab...65_536)
        }
        do { try model.check() } catch let error as LabError {
            throw LabError(.config, "counting.model.\(error.message)")
        }
        try sft.check()
        try Check.range("counting.evalEvery", evalEvery, 1...Int.max)
        try Check.range("counting.checkpointEvery", checkpointEvery, 1...Int.max)
    }

    /// Bytes and the conversation format's special tokens: the smallest vocabulary.
    public static let bytesVocab = 256 + ConversationFormat.specialTokens.count
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
        let texts = train.map { $0.prompt(spelled: c.spelled) + " \($0.count)" }
        return try BPETrainer.train(
            texts,
            options: .init(
                vocabSize: c.tokenizerVocab == 0 ? CountingConfig.bytesVocab : c.tokenizerVocab, pattern: .gpt4,
                specialTokens: ConversationFormat.specialTokens))
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
        let examples = train.map { task in
            let (ids, start) = format.render(prompt: task.prompt(spelled: c.spelled), response: task.response)
            return SFTExample(ids: ids, responseStart: start)
        }
        let heldOut = eval.prefix(64).map { task in
            let (ids, start) = format.render(prompt: task.prompt(spelled: c.spelled), response: task.response)
            return SFTExample(ids: ids, responseStart: start)
        }
        if let long = (examples + heldOut).first(where: { $0.ids.count > c.model.contextLength }) {
            throw LabError.invalid(
                key: "counting.model.contextLength",
                "an example is \(long.ids.count) tokens, longer than the context (\(c.model.contextLength))")
        }
        // The tokens the counted word becomes in its prompt (after a space, as there).
        let words = train.filter { $0.kind == .lettersInWord }.map {
            tokenizer.encode(" " + $0.written(spelled: c.spelled)).count
        }
        run.results.summary("tokenizer/vocab_size", Double(tokenizer.vocabSize))
        if !words.isEmpty { run.results.summary("data/word_tokens", Double(words.reduce(0, +)) / Double(words.count)) }
        run.results.summary(
            "data/prompt_tokens", Double(examples.reduce(0) { $0 + $1.responseStart }) / Double(examples.count))
        var modelConfig = c.model
        modelConfig.vocabSize = tokenizer.vocabSize
        var root = RNG(seed: UInt64(run.seed))
        var initRNG = root.split()
        let model = try NanoTransformer(modelConfig, rng: &initRNG)
        let verifiable = eval.map { task in
            VerifiableTask(prompt: task.prompt(spelled: c.spelled), isCorrect: { task.isCorrect($0) })
        }
        var settings = EvaluationSettings()
        (settings.samples, settings.passK, settings.maxNewTokens, settings.promptsPerBatch) = (0, [], 8, 100)
        let evaluate: (NanoTransformer) throws -> [String: Double] = { model in
            let greedy = try Evaluation.run(model, format: format, tasks: verifiable, settings: settings).greedy
            return accuracy(eval, correct: greedy.map(\.correct))
        }
        return try SFTStages.fit(
            run, model: model, record: try model.modelRecord(tokenizer: tokenizer), train: examples,
            heldOut: Array(heldOut), settings: c.sft, seed: root.next(), evaluate: evaluate, evalEvery: c.evalEvery,
            checkpointEvery: c.checkpointEvery)
    }
}
