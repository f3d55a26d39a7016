import DPO
import ExperimentKit
import Foundation
import HDF5Store
// dpo: DPO and its variants from chat-base on the preference world, offline on reward-bpr's
// labelled samples or online on the policy's own, every run scored on fresh samples by the true
// reward (VADER) beside the reward model's score and the KL to chat-base, so that DPO's runs sit
// on the same reward-KL plane as ppo-rlhf's.
// Metrics (results file):
//   loss/train, rewards/{chosen,rejected,margin,accuracy}, logps/{chosen,rejected}, optim/*
//                                  per update (DPOTask.swift; OnlineDPOTask.swift adds online/*)
//   loss/val, eval/rewards_*, eval/logps_*     offline: on reward-bpr's held-out pairs
//   eval/score, eval/true_reward, eval/kl, eval/sqrt_kl, eval/length, eval/truncated
//                                  fresh samples on held-out prompts (RLHFEvaluation.swift), at
//                                  step 0 and every evalEvery
//   summaries: data/train_pairs, data/heldout_pairs
// Files beside the results: seed-N.policy.h5 (the trained policy, self-describing).
import LabSupport
import ModelStore
import NanoTransformer
import PostTraining
import RLHF
import RewardBPR
import TensorCore
import Tokenizer

struct DPOExperimentConfig: ExperimentConfig {
    enum Mode: String, Codable { case offline, online }
    enum Judge: String, Codable { case rewardModel, trueReward }

    /// The policy and the reference: a checkpoint path (.h5), or a run under the same --out.
    var policy = "base-models/chat-base"
    /// reward-bpr's labelled samples (relative to --out, or absolute): training and held-out.
    var preferences = "reward-bpr/base/seed-0.preferences.h5"
    var heldOutPreferences = "reward-bpr/base/seed-0.preferences-heldout.h5"
    /// Who orders the offline pairs: the file's annotator or the true reward.
    var labels = PairLabels.annotator
    var mode = Mode.offline
    var dpo: DPOSettings = {
        var s = DPOSettings()
        s.optimizer.learningRate = 1e-4
        return s
    }()
    var online: OnlineDPOSettings = {
        var s = OnlineDPOSettings()
        (s.promptsPerUpdate, s.samplesPerPrompt, s.optimizer.learningRate) = (8, 4, 1e-4)
        return s
    }()
    /// Online updates; the default matches offline's pairs (1744 prompts x 6 pairs / 8 per update).
    var onlineUpdates = 1_308
    /// The online judge: the reward model (RLHF's proxy) or the true reward.
    var judge = Judge.rewardModel
    var rewardModel = "reward-bpr/base/seed-0.reward-model.h5"
    /// Quotations of the preference world (relative to the repository): the online and eval prompts.
    var quotations = "Data/corpora/english/fortunes"
    var heldOutPrompts = 256
    var evalEvery = 200
    var checkpointEvery = 500

    func validate() throws {
        for (key, value) in [
            ("policy", policy), ("preferences", preferences), ("heldOutPreferences", heldOutPreferences),
            ("rewardModel", rewardModel),
        ] where value.isEmpty {
            throw LabError.invalid(key: key, "names no file")
        }
        try dpo.check()
        try online.check()
        try Check.range("onlineUpdates", onlineUpdates, 1...10_000_000)
        try Check.range("heldOutPrompts", heldOutPrompts, 1...100_000)
        try Check.range("evalEvery", evalEvery, 1...Int.max)
        try Check.range("checkpointEvery", checkpointEvery, 1...Int.max)
    }
}

enum DPOExperiment: Experiment {
    typealias Config = DPOExperimentConfig
    static let name = "dpo"
    static let summary = "DPO offline and online from chat-base: β, cDPO, IPO, SimPO, labels by truth, judges."
    static let source = SourceLocation(#filePath)
    static let resources = TaskResources(threads: 1, memory: "1792M")  // Scripts/measure-resources dpo

    static func run(_ run: Run<Config>) throws -> RunOutcome {
        let c = run.config
        let root = source.repositoryRoot
        let out = URL(fileURLWithPath: run.paths.results).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let inOut = { (path: String) in path.hasPrefix("/") ? path : "\(out)/\(path)" }
        let policyPath = c.policy.hasSuffix(".h5") ? c.policy : "\(out)/\(c.policy)/seed-0.ckpt.h5"
        var needed = [("policy", policyPath), ("rewardModel", inOut(c.rewardModel))]
        if c.mode == .offline {
            needed += [("preferences", inOut(c.preferences)), ("heldOutPreferences", inOut(c.heldOutPreferences))]
        }
        for (key, path) in needed where !FileManager.default.fileExists(atPath: path) {
            throw LabError(
                .config, "\(key): \(path) does not exist (Scripts/base-models and reward-bpr make them; or give a path)"
            )
        }
        let policy = try NanoTransformer.load(checkpoint: policyPath)
        let tokenizer = try BPETokenizer.load(checkpoint: policyPath)
        let format = try ConversationFormat(tokenizer: tokenizer)
        let reference = try ReferenceModel(frozenCopyOf: policy)
        let rewardModel = try RewardModel.load(checkpoint: inOut(c.rewardModel))
        guard try BPETokenizer.load(checkpoint: inOut(c.rewardModel)).json() == tokenizer.json() else {
            throw LabError(.config, "rewardModel: \(inOut(c.rewardModel)) reads another tokenizer than the policy")
        }
        let world = try PreferenceWorld(vader: VADER(folder: "\(root)/Data/corpora/vader"))
        let folder = c.quotations.hasPrefix("/") ? c.quotations : "\(root)/\(c.quotations)"
        let split = PreferenceWorld.split(try PreferenceWorld.quotations(folder: folder))
        let trainPrompts = split.train.compactMap(world.prompt(of:))
        let heldOut = Array(split.heldOut.compactMap(world.prompt(of:)).prefix(c.heldOutPrompts))
        guard !trainPrompts.isEmpty && !heldOut.isEmpty else {
            throw LabError(.config, "quotations: \(folder) gives no training or no held-out prompts")
        }
        var rng = RNG(seed: UInt64(run.seed))
        // Fresh samples on held-out prompts, on streams fixed for the run: PPO's evaluation.
        var evaluationRNG = rng.split()
        let streams = heldOut.map { _ in evaluationRNG.split() }
        let temperature = c.mode == .online ? c.online.temperature : 1
        let evaluate = { (model: NanoTransformer) throws -> [String: Double] in
            try RLHFEvaluation(
                policy: model, reference: reference, rewardModel: rewardModel, format: format, prompts: heldOut,
                streams: streams, maxNewTokens: c.online.maxNewTokens, temperature: temperature,
                trueReward: world.trueReward
            ).metrics
        }
        let record = try policy.modelRecord(tokenizer: tokenizer)
        let task: any TrainingTask
        let total: Int
        switch c.mode {
        case .offline:
            let train = try PreferenceData.load(from: inOut(c.preferences)).dpoPairs(c.dpo.pairs, labels: c.labels)
            let held = try PreferenceData.load(from: inOut(c.heldOutPreferences)).dpoPairs(
                c.dpo.pairs, labels: c.labels)
            run.results.summary("data/train_pairs", Double(train.count))
            run.results.summary("data/heldout_pairs", Double(held.count))
            let offline = try DPOTask(
                policy: policy, record: record, reference: c.dpo.loss.kind.needsReference ? reference : nil,
                train: train, heldOut: held, settings: c.dpo, seed: rng.next(), extraEvaluation: evaluate)
            (task, total) = (offline, offline.totalUpdates)
        case .online:
            let judge: OnlineDPOTask.Judge =
                c.judge == .rewardModel
                ? { prompts, responses, _ in
                    rewardModel.score(prompts: prompts, responses: responses).map(Double.init)
                } : { _, _, texts in texts.map(world.trueReward) }
            task = try OnlineDPOTask(
                policy: policy, record: record, reference: c.online.loss.kind.needsReference ? reference : nil,
                format: format, source: { rng in trainPrompts[rng.int(below: trainPrompts.count)] }, judge: judge,
                settings: c.online, totalUpdates: c.onlineUpdates, seed: rng.next(), extraEvaluation: evaluate)
            total = c.onlineUpdates
        }
        // The start, measured once: the reference point of every curve.
        if run.resumeState == nil { run.results.log(try evaluate(policy), step: 0) }
        let loop = TrainingLoop(evalEvery: c.evalEvery, checkpointEvery: c.checkpointEvery)
        let outcome = try loop.run(task, in: run, total: run.totalSteps(total))
        guard case .finished = outcome else { return outcome }
        try TrainedPolicy.save(policy, record: record, step: task.updatesDone, run: run)
        return outcome
    }
}

ExperimentCommand<DPOExperiment>.main()
