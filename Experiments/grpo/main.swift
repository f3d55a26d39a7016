import ExperimentKit
import Foundation
import GRPO
import HDF5Store
// grpo: GRPO and its fixes (Dr. GRPO, DAPO, GAPO, RLOO) from reasoning-base on the reasoning world's
// arithmetic, rewarded by TinyZero's rule (1 right, 0.1 any other answer, 0 no answer tag) in the R1
// template. The reference (for the k3 KL term, and for reporting KL when β = 0) is reasoning-base.
// Training prompts come from the same mix as the eval set but never repeat one of its prompts.
// Metrics (results file):
//   train/reward, train/accuracy, train/format_rate, train/length, train/length_correct,
//   train/length_wrong, train/stop_rate, train/zero_variance_groups, train/sampling_rounds,
//   train/zero_variance_groups_kept, policy/clip_low, policy/clip_high, policy/ratio_mean,
//   policy/ratio_max, policy/entropy, policy/kl, optim/grad_norm, optim/lr
//                                  per step, on its rollout (GRPOTask.swift)
//   eval/greedy_accuracy, eval/mean@n, eval/pass@k, eval/format_rate, eval/stop_rate, eval/length,
//   eval/length_correct, eval/length_wrong
//                                  on the fixed eval set at step 0 and every evalEvery
//                                  (PostTraining's Evaluation.swift)
//   samples eval/samples: the greedy answers to the first eval prompts at every evaluation
// Files beside the results: seed-N.policy.h5, the trained policy (self-describing).
import LabSupport
import ModelStore
import NanoTransformer
import PostTraining
import TensorCore
import Tokenizer

struct GRPOExperimentConfig: ExperimentConfig {
    /// The policy and the reference: a checkpoint path (.h5), or a run under the same --out.
    var policy = "base-models/base"
    /// The tasks trained and evaluated on: addition of 1-2 digits and multiplication of 1 digit,
    /// 30 % asked in Chinese (the part of the sft mix where reasoning-base has partial ability:
    /// on the full mix most groups are all wrong and the few right answers are drowned in noise).
    var mix: ArithmeticMix = {
        var m = ArithmeticMix()
        (m.additionDigits, m.multiplicationDigits) = ([1, 2], [1, 1])
        return m
    }()
    var evalTasks = 200
    var evaluation: EvaluationSettings = {
        var e = EvaluationSettings()
        (e.samples, e.passK, e.maxNewTokens, e.promptsPerBatch) = (4, [1, 4], 64, 50)
        return e
    }()
    var steps = 150
    var grpo: GRPOSettings = {
        var s = GRPOSettings()
        (s.promptsPerStep, s.groupSize, s.maxNewTokens) = (16, 8, 64)
        s.optimizer.learningRate = 3e-5
        return s
    }()
    var evalEvery = 25
    var checkpointEvery = 100
    /// Eval prompts whose greedy answers are kept as text samples at each evaluation.
    var samplesShown = 4

    func validate() throws {
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

enum GRPOExperiment: Experiment {
    typealias Config = GRPOExperimentConfig
    static let name = "grpo"
    static let summary = "GRPO, Dr. GRPO, DAPO, GAPO and RLOO from reasoning-base on verifiable arithmetic."
    static let source = SourceLocation(#filePath)

    static func run(_ run: Run<Config>) throws -> RunOutcome {
        let c = run.config
        let out = URL(fileURLWithPath: run.paths.results).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let policyPath = c.policy.hasSuffix(".h5") ? c.policy : "\(out)/\(c.policy)/seed-0.ckpt.h5"
        guard FileManager.default.fileExists(atPath: policyPath) else {
            throw LabError(
                .config,
                "policy: \(policyPath) does not exist (Scripts/base-models makes reasoning-base; or give a path)")
        }
        let policy = try NanoTransformer.load(checkpoint: policyPath)
        let tokenizer = try BPETokenizer.load(checkpoint: policyPath)
        let format = try ConversationFormat(tokenizer: tokenizer)
        let eval = SFTStages.evalTasks(c.mix, count: c.evalTasks)
        let evalPrompts = Set(eval.map { $0.task.prompt($0.language) })
        let mix = c.mix
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
                "evalTasks: the \(eval.count) eval tasks are \(inEval / 20) % of what the mix draws; too few prompts are left to train on (a wider mix or fewer evalTasks)",
                key: "evalTasks")
        }
        let source: TaskSource = { rng in
            var (task, language) = mix.task(rng: &rng)
            while evalPrompts.contains(task.prompt(language)) { (task, language) = mix.task(rng: &rng) }
            return task.verifiable(language)
        }
        var rng = RNG(seed: UInt64(run.seed))
        let task = try GRPOTask(
            policy: policy, record: try policy.modelRecord(tokenizer: tokenizer),
            reference: try ReferenceModel(frozenCopyOf: policy), format: format, source: source,
            evaluationTasks: eval.map { $0.task.verifiable($0.language) }, evaluation: c.evaluation,
            settings: c.grpo, seed: rng.next())
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
        try Checkpoint.save(
            TrainingState(
                step: task.updatesDone, parameters: policy.namedParameters(),
                tensors: Dictionary(
                    uniqueKeysWithValues: policy.namedBuffers().map { ("buffer/" + $0.name, $0.tensor) }),
                configJSON: run.configJSON.jsonString, provenance: run.provenance,
                model: try policy.modelRecord(tokenizer: tokenizer)),
            to: run.paths.results.replacingOccurrences(of: ".h5", with: ".policy.h5"))
        return outcome
    }
}

ExperimentCommand<GRPOExperiment>.main()
