import ExperimentKit
import Foundation
import HDF5Store
// ppo-rlhf: PPO on text (InstructGPT) on the preference world. The policy starts from chat-base,
// the frozen reference is chat-base, the reward model is reward-bpr's (trained and centred), the
// critic a value head on a copy of the reward model's trunk; prompts are the training quotations'
// openings, the held-out openings are the evaluation. The true reward (VADER) is never seen by the
// update: it is measured beside the proxy, so the run shows Gao et al.'s over-optimisation.
// Metrics (results file):
//   rlhf/score, rlhf/true_reward, rlhf/kl, rlhf/beta, rlhf/length, rlhf/truncated, loss/policy,
//   loss/value, policy/entropy, policy/clip_fraction, policy/approx_kl, value/explained_variance
//                                            per iteration, on its rollout (RLHFTask.swift)
//   eval/score, eval/true_reward, eval/kl, eval/sqrt_kl, eval/length, eval/truncated
//                                            on the held-out prompts, at step 0 and every evalEvery
//                                            (RLHFEvaluation.swift)
//   eval/true_gain                           eval/true_reward minus its value at step 0
//   overopt/true_gain, overopt/score_gain    the true reward's and the proxy score's gains over
//                                            step 0 against d = √KL: "step" is round(100 d)
//   summaries: gao/alpha, gao/beta (the fit R(d) = d (α − β log d) of eval/true_gain against
//              eval/sqrt_kl; OveroptimisationFit.swift), gao/peak_kl and gao/peak_gain when β > 0,
//              gao/peak_observed (1 when the peak lies within the KL the run reached)
//   samples eval/samples: the first held-out prompts' responses with score, true reward and KL, at
//           the start and at the end
// Files beside the results: seed-N.policy.h5, the trained policy (self-describing, loads with
// NanoTransformer.load(checkpoint:)).
import LabSupport
import ModelStore
import NanoTransformer
import PostTraining
import RLHF
import RewardBPR
import TensorCore
import Tokenizer

struct RLHFExperimentConfig: ExperimentConfig {
    /// The policy and the reference: a checkpoint path (.h5), or a run under the same --out.
    var policy = "base-models/chat-base"
    /// The reward model file (RewardModel.load): a path (.h5) relative to --out, or absolute.
    var rewardModel = "reward-bpr/base/seed-0.reward-model.h5"
    /// Quotations of the preference world (a folder of fortunes files; relative to the repository).
    var quotations = "Data/corpora/english/fortunes"
    var heldOutPrompts = 256
    var iterations = 100
    var rlhf: RLHFSettings = {
        var s = RLHFSettings()
        (s.promptsPerStep, s.maxNewTokens, s.epochs, s.minibatches) = (32, 48, 4, 4)
        s.optimizer.learningRate = 3e-5
        return s
    }()
    var evalEvery = 10
    var checkpointEvery = 50
    /// Held-out prompts whose responses are kept as text samples at each evaluation.
    var samplesShown = 4

    func validate() throws {
        if policy.isEmpty { throw LabError.invalid(key: "policy", "names no checkpoint") }
        if rewardModel.isEmpty { throw LabError.invalid(key: "rewardModel", "names no file") }
        try Check.range("heldOutPrompts", heldOutPrompts, 1...100_000)
        try Check.range("iterations", iterations, 1...1_000_000)
        try rlhf.check()
        try Check.range("evalEvery", evalEvery, 1...Int.max)
        try Check.range("checkpointEvery", checkpointEvery, 1...Int.max)
        try Check.range("samplesShown", samplesShown, 0...heldOutPrompts)
    }
}

enum RLHFExperiment: Experiment {
    typealias Config = RLHFExperimentConfig
    static let name = "ppo-rlhf"
    static let summary = "PPO on text against a reward model: β, KL placement, critic, whitening, epochs, RM data."
    static let source = SourceLocation(#filePath)
    static let resources = TaskResources(threads: 1, memory: "2048M")  // Scripts/measure-resources ppo-rlhf

    static func run(_ run: Run<Config>) throws -> RunOutcome {
        let c = run.config
        let root = source.repositoryRoot
        let out = URL(fileURLWithPath: run.paths.results).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let policyPath = c.policy.hasSuffix(".h5") ? c.policy : "\(out)/\(c.policy)/seed-0.ckpt.h5"
        let rewardPath = c.rewardModel.hasPrefix("/") ? c.rewardModel : "\(out)/\(c.rewardModel)"
        for (key, path, maker) in [
            ("policy", policyPath, "Scripts/base-models makes chat-base"),
            ("rewardModel", rewardPath, "reward-bpr writes it beside its results"),
        ] where !FileManager.default.fileExists(atPath: path) {
            throw LabError(.config, "\(key): \(path) does not exist (\(maker); or give a path)")
        }
        let policy = try NanoTransformer.load(checkpoint: policyPath)
        let tokenizer = try BPETokenizer.load(checkpoint: policyPath)
        let format = try ConversationFormat(tokenizer: tokenizer)
        let rewardModel = try RewardModel.load(checkpoint: rewardPath)
        let rewardTokenizer = try BPETokenizer.load(checkpoint: rewardPath)
        guard rewardTokenizer.json() == tokenizer.json() else {
            throw LabError(.config, "rewardModel: \(rewardPath) reads another tokenizer than the policy \(policyPath)")
        }
        let world = try PreferenceWorld(vader: VADER(folder: "\(root)/Data/corpora/vader"))
        let folder = c.quotations.hasPrefix("/") ? c.quotations : "\(root)/\(c.quotations)"
        let split = PreferenceWorld.split(try PreferenceWorld.quotations(folder: folder))
        let trainPrompts = split.train.compactMap(world.prompt(of:))
        let heldOut = Array(split.heldOut.compactMap(world.prompt(of:)).prefix(c.heldOutPrompts))
        guard !trainPrompts.isEmpty && !heldOut.isEmpty else {
            throw LabError(
                .config,
                "quotations: \(folder) gives \(trainPrompts.count) training and \(heldOut.count) held-out prompts")
        }
        var rng = RNG(seed: UInt64(run.seed))
        let task = try RLHFTask(
            policy: policy, reference: try ReferenceModel(frozenCopyOf: policy), rewardModel: rewardModel,
            format: format, source: { rng in trainPrompts[rng.int(below: trainPrompts.count)] },
            trueReward: world.trueReward, heldOutPrompts: heldOut, settings: c.rlhf, seed: rng.next())

        // The held-out responses of the first prompts, as text (at the start and at the end).
        func logSamples(step: Int) {
            for sample in task.lastSamples.prefix(c.samplesShown) {
                let truth = sample.trueReward.map { String(format: "%+.3f", $0) } ?? "-"
                run.results.sample(
                    "eval/samples", step: step,
                    "score \(String(format: "%+.3f", sample.score))  true \(truth)  kl \(String(format: "%.2f", sample.kl))"
                        + "  | \(sample.prompt) → \(sample.response)")
            }
        }
        // The start, measured once: the curves' origin and the reference of eval/true_gain.
        if run.resumeState == nil {
            run.results.log(try task.evaluate().metrics, step: 0)
            logSamples(step: 0)
        }
        let loop = TrainingLoop(evalEvery: c.evalEvery, checkpointEvery: c.checkpointEvery)
        let outcome = try loop.run(task, in: run, total: run.totalSteps(c.iterations))
        guard case .finished = outcome else { return outcome }
        logSamples(step: task.updatesDone)  // the loop evaluates after the last update

        // Gao et al.'s fit of the true reward's gain against √KL over this run's evaluations.
        let results = run.results.results
        if let truth = results.metrics["eval/true_reward"], let d = results.metrics["eval/sqrt_kl"],
            let start = truth.values.first
        {
            let gains = truth.values.map { $0 - start }
            for (step, gain) in zip(truth.steps, gains) { run.results.log("eval/true_gain", step: Int(step), gain) }
            // Gao et al.'s picture: the gains of the true reward and of the proxy against d = √KL,
            // one point per evaluation, ordered by d, at "step" round(100 d) (an evaluation that
            // rounds to the d of an earlier one is left out, so the start stays the origin).
            if let score = results.metrics["eval/score"], let scoreStart = score.values.first {
                var byD: [Int: (Double, Double)] = [:]
                for i in d.values.indices where byD[Int((100 * d.values[i]).rounded())] == nil {
                    byD[Int((100 * d.values[i]).rounded())] = (gains[i], score.values[i] - scoreStart)
                }
                for (x, (trueGain, scoreGain)) in byD.sorted(by: { $0.key < $1.key }) {
                    run.results.log("overopt/true_gain", step: x, trueGain)
                    run.results.log("overopt/score_gain", step: x, scoreGain)
                }
            }
            if let fit = OveroptimisationFit(d: d.values, gain: gains) {
                run.results.summary("gao/alpha", fit.alpha)
                run.results.summary("gao/beta", fit.beta)
                if let peakKL = fit.peakKL, let peakGain = fit.peakGain, let peakD = fit.peakD {
                    run.results.summary("gao/peak_kl", peakKL)
                    run.results.summary("gao/peak_gain", peakGain)
                    run.results.summary("gao/peak_observed", peakD <= (d.values.max() ?? 0) ? 1 : 0)
                }
            }
        }
        try TrainedPolicy.save(
            policy, record: try policy.modelRecord(tokenizer: tokenizer), step: task.updatesDone, run: run)
        return outcome
    }
}

ExperimentCommand<RLHFExperiment>.main()
