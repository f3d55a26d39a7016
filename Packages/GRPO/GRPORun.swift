import ExperimentKit
import Foundation
import HDF5Store
// A GRPO-family run from a base checkpoint on the reasoning world's arithmetic, as the grpo and
// gspo experiments run it: the policy and its frozen reference loaded from a checkpoint, training
// prompts drawn from the mix but never from the fixed eval set, the shared loop, samples of the
// greedy answers at every evaluation, the trained policy saved beside the results, and the run's
// stability as summaries:
//   stability/best_eval_accuracy    the best greedy accuracy of any evaluation (step 0 included)
//   stability/final_eval_accuracy   the last evaluation's
//   stability/diverged              1 when a step's reward was not finite (the loop stopped there)
//   stability/collapsed             1 when diverged, or the final accuracy is below half the best
// The experiments differ only in the GRPOSettings they pass (GSPO: its ratio and clip range); the
// R1 pipeline's stages also change the reward and the prompts through GRPORunHooks.
import LabSupport
import ModelStore
import NanoTransformer
import PostTraining
import TensorCore
import Tokenizer

public struct GRPOExperimentConfig: ExperimentConfig, Equatable {
    /// The policy and the reference: a checkpoint path (.h5), or a run under the same --out.
    public var policy = "base-models/base"
    /// The tasks trained and evaluated on: addition of 1-2 digits and multiplication of 1 digit,
    /// 30 % asked in Chinese (the part of the sft mix where reasoning-base has partial ability:
    /// on the full mix most groups are all wrong and the few right answers are drowned in noise).
    public var mix: ArithmeticMix = {
        var m = ArithmeticMix()
        (m.additionDigits, m.multiplicationDigits) = ([1, 2], [1, 1])
        return m
    }()
    public var evalTasks = 200
    public var evaluation: EvaluationSettings = {
        var e = EvaluationSettings()
        (e.samples, e.passK, e.maxNewTokens, e.promptsPerBatch) = (4, [1, 4], 64, 50)
        return e
    }()
    public var steps = 150
    public var grpo: GRPOSettings = {
        var s = GRPOSettings()
        (s.promptsPerStep, s.groupSize, s.maxNewTokens) = (16, 8, 64)
        s.optimizer.learningRate = 3e-5
        return s
    }()
    public var evalEvery = 25
    public var checkpointEvery = 100
    /// Eval prompts whose greedy answers are kept as text samples at each evaluation.
    public var samplesShown = 4

    public init() {}

    public func validate() throws {
        if policy.isEmpty { throw LabError.invalid(key: "policy", "names no checkpoint") }
        try mix.check("mix")
        try Check.range("evalTasks", evalTasks, 1...100_000)
        try evaluation.check()
        try Check.range("steps", steps, 1...10_000_000)
        try grpo.check()
        try Check.range("evalEvery", evalEvery, 1...Int.max)
        try Check.range("checkpointEvery", checkpointEvery, 1...Int.max)
        try Check.range("samplesShown", samplesShown, 0...evalTasks)
    }
}

/// What a caller changes in the run (the R1 pipeline's stages do): the reward of an arithmetic
/// task, other prompts mixed into the training source, metrics of rollouts and evaluations, and the
/// prefix of the config's keys in errors (a run nested in another experiment's config).
public struct GRPORunHooks {
    /// The task as RL sees it: its prompt, correctness and reward (default TinyZero's rule).
    public var verifiable: (ArithmeticTask, CoTLanguage) -> VerifiableTask = { $0.verifiable($1) }
    /// The training source from the arithmetic one (which never repeats an eval prompt).
    public var source: ((@escaping TaskSource) -> TaskSource)?
    public var onRollout: ((_ responses: [ParsedResponse]) -> [String: Double])?
    public var evaluationMetrics: ((_ greedy: [ScoredResponse], _ samples: [[ScoredResponse]]) -> [String: Double])?
    public var keyPrefix = ""
    /// The command a reader runs to make a missing policy (in the error that says it is missing).
    public var policyMaker = "Scripts/base-models makes reasoning-base, Scripts/gspo-study base-moe"

    public init() {}
}

public enum GRPORun {
    /// Runs `config` with `settings` (config.grpo, or a variant of it) as `run`.
    public static func run<C: ExperimentConfig>(
        _ run: Run<C>, _ c: GRPOExperimentConfig, settings: GRPOSettings, hooks: GRPORunHooks = GRPORunHooks()
    ) throws -> RunOutcome {
        let policyPath = c.policy.hasSuffix(".h5") ? c.policy : "\(run.inputs)/\(c.policy)/seed-0.ckpt.h5"
        guard FileManager.default.fileExists(atPath: policyPath) else {
            throw LabError(
                .config,
                "\(hooks.keyPrefix)policy: \(policyPath) does not exist (\(hooks.policyMaker); or give a path)",
                key: hooks.keyPrefix + "policy")
        }
        let policy = try NanoTransformer.load(checkpoint: policyPath)
        let tokenizer = try BPETokenizer.load(checkpoint: policyPath)
        let format = try ConversationFormat(tokenizer: tokenizer)
        let eval = SFTStages.evalTasks(c.mix, count: c.evalTasks)
        let evalPrompts = Set(eval.map { $0.task.prompt($0.language) })
        let (mix, verifiable) = (c.mix, hooks.verifiable)
        // Training prompts are fresh tasks of the mix that are not in the eval set: redrawn when
        // they are. A mix so small that the eval set holds nearly all of it is refused up front.
        var probe = RNG(seed: 0x9E0)
        let inEval = (0..<2000).count { _ in
            let (task, language) = mix.task(rng: &probe)
            return evalPrompts.contains(task.prompt(language))
        }
        guard inEval < 1900 else {
            throw LabError(
                .config,
                "\(hooks.keyPrefix)evalTasks: the \(eval.count) eval tasks are \(inEval / 20) % of what the mix draws; too few prompts are left to train on (a wider mix or fewer evalTasks)",
                key: hooks.keyPrefix + "evalTasks")
        }
        let arithmetic: TaskSource = { rng in
            var (task, language) = mix.task(rng: &rng)
            while evalPrompts.contains(task.prompt(language)) { (task, language) = mix.task(rng: &rng) }
            return verifiable(task, language)
        }
        let source = hooks.source.map { $0(arithmetic) } ?? arithmetic
        var rng = RNG(seed: UInt64(run.seed))
        let task = try GRPOTask(
            policy: policy, record: try policy.modelRecord(tokenizer: tokenizer),
            reference: try ReferenceModel(frozenCopyOf: policy), format: format, source: source,
            evaluationTasks: eval.map { verifiable($0.task, $0.language) }, evaluation: c.evaluation,
            settings: settings, seed: rng.next())
        (task.onRollout, task.evaluationMetrics) = (hooks.onRollout, hooks.evaluationMetrics)
        if task.world.size > 1 { print("data parallel: process \(task.world.rank) of \(task.world.size)") }
        task.onEvaluation = { step, prompts, greedy in
            for (prompt, answer) in zip(prompts, greedy).prefix(c.samplesShown) {
                run.results.sample(
                    "eval/samples", step: step,
                    "\(answer.correct ? "right" : "wrong")  \(answer.length) tokens  | \(prompt) → \(answer.text)")
            }
        }
        // The start, measured once: the curves' origin.
        if run.resumeState == nil { run.results.log(try task.evaluate().metrics, step: 0) }
        let loop = TrainingLoop(evalEvery: c.evalEvery, checkpointEvery: c.checkpointEvery)
        let outcome = try loop.run(task, in: run, total: run.totalSteps(c.steps))
        guard case .finished = outcome else { return outcome }
        for (name, value) in stability(run.results.results) { run.results.summary(name, value) }
        try TrainedPolicy.save(
            policy, record: try policy.modelRecord(tokenizer: tokenizer), step: task.updatesDone, run: run)
        return outcome
    }

    /// The stability summaries (header) of a finished run's results.
    public static func stability(_ results: RunResults) -> [String: Double] {
        let accuracy = results.metrics["eval/greedy_accuracy"]?.values ?? []
        let diverged = (results.metrics["train/reward"]?.values ?? []).contains { !$0.isFinite }
        guard let final = accuracy.last, let best = accuracy.max() else {
            return ["stability/diverged": diverged ? 1 : 0, "stability/collapsed": diverged ? 1 : 0]
        }
        return [
            "stability/best_eval_accuracy": best, "stability/final_eval_accuracy": final,
            "stability/diverged": diverged ? 1 : 0, "stability/collapsed": diverged || final < best / 2 ? 1 : 0,
        ]
    }
}
