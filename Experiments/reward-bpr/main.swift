import ExperimentKit
import Foundation
import HDF5Store
// reward-bpr: the Bradley-Terry reward model of InstructGPT on the preference world, measured
// against the true reward (VADER) its simulated annotators label from. Each run samples K
// responses per prompt from the policy (chat-base by default; PreferenceSampling.swift), ranks
// them with the annotator at temperature τ, trains the reward model (RewardTrainingTask.swift)
// and evaluates it on held-out prompts: agreement with the noisy labels and with the truth, the
// Bayes ceiling of the noise level, Spearman correlation with the true reward, calibration.
// Metrics (results file):
//   loss/train, train/accuracy, train/margin, optim/*     per update
//   loss/val, eval/label_accuracy, eval/truth_accuracy, eval/bayes_ceiling, eval/spearman,
//   eval/ece, eval/score_std                              on the held-out prompts (RewardEvaluation)
//   calibration/observed                                  observed P(a ≻ b) per bin of predicted P,
//                                                         at x = the bin's mean prediction × 100
//   summaries: data/train_prompts, data/heldout_prompts, data/dropped_prompts, data/comparisons,
//              reward/centre_shift (the bias shift that centres the policy's responses at 0)
// Files beside the results: seed-N.preferences.h5 and seed-N.preferences-heldout.h5 (the labelled
// samples, for ppo-rlhf and dpo), seed-N.reward-model.h5 (the trained and centred reward model,
// self-describing: RewardModel.load(checkpoint:)).
import LabSupport
import ModelStore
import NanoTransformer
import PostTraining
import RewardBPR
import TensorCore
import Tokenizer

struct RewardExperimentConfig: ExperimentConfig {
    enum Initialization: String, Codable { case policy, scratch }

    /// The policy sampled from: a checkpoint path (.h5), or a run under the same --out.
    var policy = "base-models/chat-base"
    /// The reward model's trunk: the policy's weights (InstructGPT) or a fresh initialisation.
    var initialization = Initialization.policy
    var prompts = 2_000
    var heldOutPrompts = 300
    var sampling = PreferenceSampling.Settings()
    /// τ of the simulated annotator, in units of VADER's compound (0: always the truly better).
    var annotatorTemperature = 0.1
    var reward: RewardSettings = {
        var r = RewardSettings()
        (r.optimizer.learningRate, r.optimizer.warmupSteps) = (3e-4, 20)
        return r
    }()
    /// Quotations of the preference world (a folder of fortunes files; relative to the repository).
    var quotations = "Data/corpora/english/fortunes"
    /// Held-out evaluation every N updates, and always after the last.
    var evalEvery = 50
    var checkpointEvery = 1_000

    func validate() throws {
        if policy.isEmpty { throw LabError.invalid(key: "policy", "names no checkpoint") }
        try Check.range("prompts", prompts, 1...1_000_000)
        try Check.range("heldOutPrompts", heldOutPrompts, 1...1_000_000)
        try sampling.check("sampling")
        guard annotatorTemperature >= 0 && annotatorTemperature.isFinite else {
            throw LabError.invalid(key: "annotatorTemperature", "must be finite and >= 0")
        }
        try reward.check()
        try Check.range("evalEvery", evalEvery, 1...Int.max)
        try Check.range("checkpointEvery", checkpointEvery, 1...Int.max)
    }
}

enum RewardExperiment: Experiment {
    typealias Config = RewardExperimentConfig
    static let name = "reward-bpr"
    static let summary = "Bradley-Terry reward models against the true reward: losses, K, label noise, init, data."
    static let source = SourceLocation(#filePath)
    static let resources = TaskResources(threads: 1, memory: "2304M")  // Scripts/measure-resources reward-bpr

    static func run(_ run: Run<Config>) throws -> RunOutcome {
        let c = run.config
        let root = source.repositoryRoot
        let out = URL(fileURLWithPath: run.paths.results).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let policyPath = c.policy.hasSuffix(".h5") ? c.policy : "\(out)/\(c.policy)/seed-0.ckpt.h5"
        guard FileManager.default.fileExists(atPath: policyPath) else {
            throw LabError(
                .config, "policy: \(policyPath) does not exist (Scripts/base-models makes chat-base; or give a path)")
        }
        let policy = try NanoTransformer.load(checkpoint: policyPath)
        let tokenizer = try BPETokenizer.load(checkpoint: policyPath)
        let format = try ConversationFormat(tokenizer: tokenizer)
        let world = try PreferenceWorld(vader: VADER(folder: "\(root)/Data/corpora/vader"))
        let folder = c.quotations.hasPrefix("/") ? c.quotations : "\(root)/\(c.quotations)"
        let split = PreferenceWorld.split(try PreferenceWorld.quotations(folder: folder))
        let trainPrompts = Array(split.train.compactMap(world.prompt(of:)).prefix(c.prompts))
        let heldOutPrompts = Array(split.heldOut.compactMap(world.prompt(of:)).prefix(c.heldOutPrompts))
        let annotator = try SimulatedAnnotator(temperature: c.annotatorTemperature)
        var rng = RNG(seed: UInt64(run.seed))
        var (samplingRNG, labelRNG, heldOutRNG, heldOutLabelRNG) = (rng.split(), rng.split(), rng.split(), rng.split())
        let (train, dropped) = try PreferenceSampling.collect(
            policy: policy, format: format, prompts: trainPrompts, settings: c.sampling,
            trueReward: world.trueReward, annotator: annotator, samplingRNG: &samplingRNG, labelRNG: &labelRNG)
        let (heldOut, heldOutDropped) = try PreferenceSampling.collect(
            policy: policy, format: format, prompts: heldOutPrompts, settings: c.sampling,
            trueReward: world.trueReward, annotator: annotator, samplingRNG: &heldOutRNG,
            labelRNG: &heldOutLabelRNG)
        // The data beside the results, for PPO on text and DPO to read.
        let stem = run.paths.results.replacingOccurrences(of: ".h5", with: "")
        try train.save(to: "\(stem).preferences.h5")
        try heldOut.save(to: "\(stem).preferences-heldout.h5")
        run.results.summary("data/train_prompts", Double(train.count))
        run.results.summary("data/heldout_prompts", Double(heldOut.count))
        run.results.summary("data/dropped_prompts", Double(dropped + heldOutDropped))
        run.results.summary("data/comparisons", Double(train.count * train.k * (train.k - 1) / 2))
        print(
            "\(train.count) training prompts x \(train.k) responses (\(dropped) dropped), \(heldOut.count) held out"
        )

        var initRNG = rng.split()
        let trunk: NanoTransformer
        switch c.initialization {
        case .policy: trunk = try NanoTransformer.load(checkpoint: policyPath)
        case .scratch: trunk = try NanoTransformer(policy.config, languageModelHead: false, rng: &initRNG)
        }
        let model = RewardModel(trunk: trunk, rng: &initRNG)
        let task = try RewardTrainingTask(
            model: model, record: try model.modelRecord(tokenizer: tokenizer), train: train, heldOut: heldOut,
            annotator: annotator, settings: c.reward, seed: rng.next())
        let loop = TrainingLoop(evalEvery: c.evalEvery, checkpointEvery: c.checkpointEvery)
        let outcome = try loop.run(task, in: run, total: run.totalSteps(task.totalUpdates))
        guard case .finished = outcome else { return outcome }
        // Calibration of the final model, and the shift that centres the policy's samples at 0.
        let scores = model.score(
            prompts: heldOut.prompts.flatMap { Array(repeating: $0, count: heldOut.k) },
            responses: heldOut.responses.flatMap { $0 })
        let evaluation = RewardEvaluation(scores: scores, data: heldOut, annotator: annotator)
        for bin in evaluation.calibration where bin.count > 0 {
            run.results.log("calibration/observed", step: Int((bin.meanPredicted * 100).rounded()), bin.observed)
        }
        let shift = model.centre(
            onPrompts: train.prompts.flatMap { Array(repeating: $0, count: train.k) },
            responses: train.responses.flatMap { $0 })
        run.results.summary("reward/centre_shift", Double(shift))
        try model.save(
            to: "\(stem).reward-model.h5", tokenizer: tokenizer, configJSON: run.configJSON.jsonString,
            provenance: run.provenance)
        return outcome
    }
}

ExperimentCommand<RewardExperiment>.main()
