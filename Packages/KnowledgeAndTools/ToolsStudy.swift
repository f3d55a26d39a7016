// Tools for arithmetic: "models are bad at computing: use more tokens, or write code that runs."
// Tiny transformers learn n-digit multiplication from scratch in one of three ways, then RL with
// the rule reward goes on from each:
//   answerOnly      "<answer>5535</answer>"
//   chainOfThought  the worked solution, a partial product per digit and a running sum, then the
//                   answer (ArithmeticTask.solution: "123 times 5 is 615, shifted 1 place 6150.")
//   calculator      one call, "<think><tool>123*45</tool><result>5535</result></think><answer>…",
//                   whose <result> the rollout inserts (ToolCall.interjection): in SFT the result
//                   is text the model is trained on like the rest; in RL and evaluation it is the
//                   calculator's, fed to the model with no log-prob and no weight in the loss
// Stages (one seed): `sft` trains from scratch; `rl` starts from an sft ablation's policy
// (`from`) and runs GRPO (the GRPO package's loop) on fresh tasks of up to rlDigits digits, reward
// 1 for the right number in <answer> and 0 otherwise.
//   eval (greedy, the fixed eval set: evalPerDigits tasks of n × n digits for each n of evalDigits;
//   training draws each operand's digits in 1...trainDigits, so n > trainDigits is out of range;
//   no eval prompt is trained on, and one-digit tasks are not evaluated: held out of training
//   they would take most of the one-digit table with them):
//   eval/accuracy, eval/accuracy/digits_<n>
//   eval/tokens, eval/tokens/digits_<n>   tokens the model wrote (the calculator's not counted)
//   eval/tool_calls                       calls per response
import ExperimentKit
import GRPO
import LabSupport
import NanoTransformer
import PostTraining
import TensorCore
import Tokenizer

public struct ToolsConfig: Codable, Sendable, Equatable {
    public enum Method: String, Codable, Sendable, CaseIterable { case answerOnly, chainOfThought, calculator }
    public enum Stage: String, Codable, Sendable { case sft, rl }
    public var method = Method.calculator
    public var stage = Stage.sft
    /// rl: the sft ablation it starts from (same seed).
    public var from = "tools-calculator"
    /// Training draws each operand's digits in 1...trainDigits (so the one-digit table is there).
    public var trainDigits = 3
    /// Eval asks n × n digits for each n here (above trainDigits: out of the training range).
    public var evalDigits = [2, 3, 4]
    public var trainTasks = 12000
    public var evalPerDigits = 100
    public var tokenizerVocab = 512
    public var model = ScratchModel.tinyModel(contextLength: 256)
    public var sft = ScratchModel.sft(epochs: 8)
    /// Longest response in evaluation.
    public var maxNewTokens = 200
    /// rl: tasks draw each operand's digits in 1...rlDigits (beyond trainDigits: can RL carry the
    /// method past what SFT showed?).
    public var rlDigits = 4
    /// rl: GRPO updates and settings.
    public var steps = 100
    public var grpo: GRPOSettings = {
        var s = GRPOSettings()
        (s.promptsPerStep, s.groupSize, s.maxNewTokens) = (16, 8, 200)
        s.loss.beta = 0
        s.optimizer.learningRate = 1e-4
        return s
    }()
    public var evalEvery = 250
    public var checkpointEvery = 500

    public init() {}

    public func validate() throws {
        try Check.range("tools.trainDigits", trainDigits, 1...9)
        try Check.range("tools.rlDigits", rlDigits, 1...9)
        if evalDigits.isEmpty || evalDigits.contains(where: { !(1...9).contains($0) }) {
            throw LabError.invalid(key: "tools.evalDigits", "\(evalDigits): give one or more digit counts in 1...9")
        }
        try Check.range("tools.trainTasks", trainTasks, 1...1_000_000)
        try Check.range("tools.evalPerDigits", evalPerDigits, 1...10_000)
        try Check.range("tools.maxNewTokens", maxNewTokens, 1...100_000)
        try Check.range("tools.steps", steps, 1...10_000_000)
        if stage == .rl && from.isEmpty { throw LabError.invalid(key: "tools.from", "names no sft ablation") }
        do { try grpo.check() } catch let error as LabError { throw LabError(.config, "tools.\(error.message)") }
        try ScratchModel.check(
            "tools", tokenizerVocab: tokenizerVocab, extraSpecialTokens: ToolCall.tags.count, model: model, sft: sft,
            evalEvery: evalEvery,
            checkpointEvery: checkpointEvery)
    }
}

public enum ToolsStudy {
    /// The fixed eval set, by evalDigits in order, and the training tasks (never an eval prompt),
    /// each from its own seed.
    public static func evalTasks(_ c: ToolsConfig) -> [ArithmeticTask] {
        var rng = RNG(seed: 0x7001_E7)
        return c.evalDigits.flatMap { n in
            (0..<c.evalPerDigits).map { _ in ArithmeticTask.sample(.multiplication, digits: n...n, rng: &rng) }
        }
    }

    /// A task of up to `digits` digits that is not an eval prompt, nil when `attempts` draws find
    /// none (the eval set holds nearly every task of that size).
    static func drawTask(digits: Int, excluding eval: Set<String>, attempts: Int, rng: inout RNG) -> ArithmeticTask? {
        for _ in 0..<attempts {
            let task = ArithmeticTask.sample(.multiplication, digits: 1...digits, rng: &rng)
            if !eval.contains(task.prompt(.english)) { return task }
        }
        return nil
    }

    /// As `drawTask`, refused by `key` when 10 000 draws find none.
    static func trainTask(digits: Int, excluding eval: Set<String>, key: String, rng: inout RNG) throws
        -> ArithmeticTask
    {
        guard let task = drawTask(digits: digits, excluding: eval, attempts: 10_000, rng: &rng) else {
            throw LabError.invalid(
                key: key,
                "10 000 draws of up to \(digits) digits were all eval prompts (fewer tools.evalPerDigits, or more digits)"
            )
        }
        return task
    }

    /// The response SFT teaches for `method`.
    public static func response(_ task: ArithmeticTask, _ method: ToolsConfig.Method, rng: inout RNG) -> String {
        switch method {
        case .answerOnly: "<answer>\(task.answer)</answer>"
        case .chainOfThought: task.solution(.english, rng: &rng).response(.full)
        case .calculator: task.toolResponse
        }
    }

    /// Accuracy and the model's tokens, overall and by digits, of greedy answers to the eval set.
    public static func metrics(_ tasks: [ArithmeticTask], _ greedy: [ScoredResponse]) -> [String: Double] {
        func mean(_ rows: [Int], _ f: (ScoredResponse) -> Double) -> Double {
            rows.reduce(0) { $0 + f(greedy[$1]) } / Double(max(rows.count, 1))
        }
        let right = { (r: ScoredResponse) in r.correct ? 1.0 : 0 }
        let tokens = { (r: ScoredResponse) in Double(r.length - r.inserted) }
        let all = Array(tasks.indices)
        var m = [
            "eval/accuracy": mean(all, right), "eval/tokens": mean(all, tokens),
            "eval/tool_calls": mean(all) { Double(ToolCall.calls(in: $0.text)) },
        ]
        for n in Set(tasks.map { String($0.left).count }) {
            let rows = tasks.indices.filter { String(tasks[$0].left).count == n }
            m["eval/accuracy/digits_\(n)"] = mean(rows, right)
            m["eval/tokens/digits_\(n)"] = mean(rows, tokens)
        }
        return m
    }

    static func verifiable(_ task: ArithmeticTask) -> VerifiableTask {
        let answer = task.answer
        return VerifiableTask(prompt: task.prompt(.english), isCorrect: { $0.number == answer })
    }

    public static func run<C: ExperimentConfig>(_ run: Run<C>, _ c: ToolsConfig) throws -> RunOutcome {
        let eval = evalTasks(c)
        let evalPrompts = Set(eval.map { $0.prompt(.english) })
        var settings = EvaluationSettings()
        (settings.samples, settings.passK, settings.maxNewTokens, settings.promptsPerBatch) =
            (0, [], c.maxNewTokens, 100)
        var root = RNG(seed: UInt64(run.seed))
        switch c.stage {
        case .sft:
            var dataRNG = RNG(seed: 0x7001)
            let train = try (0..<c.trainTasks).map { _ in
                try trainTask(digits: c.trainDigits, excluding: evalPrompts, key: "tools.trainDigits", rng: &dataRNG)
            }
            let pairs = train.map { ($0.prompt(.english), response($0, c.method, rng: &dataRNG)) }
            // The tool's tags are special tokens for every method (unused by two of them), so the
            // vocabularies differ only by what BPE learns from the texts.
            let tokenizer = try ScratchModel.tokenizer(
                pairs.map { $0.0 + " " + $0.1 }, vocab: c.tokenizerVocab, extraSpecialTokens: ToolCall.tags)
            let format = try ConversationFormat(tokenizer: tokenizer, extraResponseTags: ToolCall.tags)
            let key = "tools.model.contextLength"
            let examples = try ScratchModel.examples(
                pairs, format: format, contextLength: c.model.contextLength, key: key)
            var heldOutRNG = RNG(seed: 0x7001_4E)
            let heldOut = try ScratchModel.examples(
                eval.prefix(64).map { ($0.prompt(.english), response($0, c.method, rng: &heldOutRNG)) }, format: format,
                contextLength: c.model.contextLength, key: key)
            run.results.summary(
                "data/response_tokens",
                Double(examples.reduce(0) { $0 + $1.ids.count - $1.responseStart }) / Double(examples.count))
            let model = try ScratchModel.fresh(c.model, tokenizer: tokenizer, root: &root)
            let interjection = c.method == .calculator ? ToolCall.interjection(format) : nil
            let tasks = eval.map(verifiable)
            return try ScratchModel.fit(
                run, model: model, tokenizer: tokenizer, train: examples, heldOut: heldOut, settings: c.sft,
                seed: root.next(), evalEvery: c.evalEvery, checkpointEvery: c.checkpointEvery,
                evaluate: { model in
                    let greedy = try Evaluation.run(
                        model, format: format, tasks: tasks, settings: settings, interjection: interjection
                    ).greedy
                    return metrics(eval, greedy)
                })
        case .rl:
            let (policy, tokenizer) = try ScratchModel.previousStage(run, ablation: c.from, key: "tools.from")
            let format: ConversationFormat
            do { format = try ConversationFormat(tokenizer: tokenizer, extraResponseTags: ToolCall.tags) } catch let
                error as LabError
            {
                throw LabError.invalid(key: "tools.from", "\(c.from)'s policy for seed \(run.seed): \(error.message)")
            }
            let record = try policy.modelRecord(tokenizer: tokenizer)
            // Refused up front when the eval set leaves no task to train on; after that a draw
            // ends (there is a task outside the eval set, so the loop stops with probability 1).
            var probe = RNG(seed: 0x7001_9E)
            _ = try trainTask(digits: c.rlDigits, excluding: evalPrompts, key: "tools.rlDigits", rng: &probe)
            let source: TaskSource = { rng in
                while true {
                    if let task = drawTask(digits: c.rlDigits, excluding: evalPrompts, attempts: 10_000, rng: &rng) {
                        return verifiable(task)
                    }
                }
            }
            let task = try GRPOTask(
                policy: policy, record: record,
                reference: c.grpo.loss.beta > 0 ? try ReferenceModel(frozenCopyOf: policy) : nil, format: format,
                source: source, evaluationTasks: eval.map(verifiable), evaluation: settings, settings: c.grpo,
                seed: root.next())
            if c.method == .calculator { task.interjection = ToolCall.interjection(format) }
            task.evaluationMetrics = { greedy, _ in metrics(eval, greedy) }
            if run.resumeState == nil { run.results.log(try task.evaluate().metrics, step: 0) }
            let loop = TrainingLoop(evalEvery: c.evalEvery, checkpointEvery: c.checkpointEvery)
            let outcome = try loop.run(task, in: run, total: run.totalSteps(c.steps))
            if case .finished = outcome {
                try TrainedPolicy.save(policy, record: record, step: task.updatesDone, run: run)
            }
            return outcome
        }
    }
}
