import ExperimentKit
import Foundation
import GRPO
import HDF5Store
// What each stage of the recipe does, as one run of the experiment kit (its own results file,
// checkpoint and resume; R1PipelineRunner.swift chains them):
//   RL stages (zero, reasoning-rl, final-rl, student-rl)   the grpo experiment's run
//       (GRPORun.swift) from the stage's input policy, with R1's reward (R1Reward.swift) and, in
//       final-rl, a share of preference-world prompts scored by the reward model
//   sampling stages (cold-start-data, rejection-sampling)   k samples per fresh prompt from the
//       input policy, kept by the filters (ColdStartFilters.swift), written as a data set
//   SFT stages (cold-start-sft, sft-2)   SFT of reasoning-base on the data set before them
//   distill   sampling from final-rl as above, then SFT of the student base on what was kept
// Every policy-making stage reports the same evaluation (the fixed eval set of the pipeline's
// mix: eval/greedy_accuracy, eval/mean@n, eval/format_rate, eval/length, ...), R1's signals on the
// eval set's sampled answers (eval/mixing_rate, eval/reasoning_words, eval/self_corrections; RL
// stages also train/* on every rollout, the "aha" curves), and at its end the preference world's
// true reward of greedy answers to held-out openings (summaries pref/true_reward, pref/stop_rate,
// pref/length). Sampling stages report summaries data/* (samples, kept, rejected/<rule>, the
// signals of everything sampled) and some kept samples as text.
// Files of a stage, beside its results <out>/r1-pipeline/<stage>/<ablation>/seed-N.h5:
//   seed-N.policy.h5   the trained policy (self-describing; the next stage's input)
//   seed-N.data.json   a sampling stage's data set (ReasoningDataSet.swift)
//   seed-N.stage.json  the record that says the stage finished (StagePipeline.swift)
import LabSupport
import ModelStore
import NanoTransformer
import PostTraining
import RewardBPR
import TensorCore
import Tokenizer

/// Where a stage of one pipeline run keeps its files.
public struct StageFiles: Sendable {
    public let paths: RunPaths

    public init(out: String, stage: R1Stage, ablation: String, seed: Int) {
        paths = RunPaths(out: out, experiment: stage.experimentName, ablation: ablation, seed: seed)
    }

    public var results: String { paths.results }
    public var checkpoint: String { paths.checkpoint }
    public var policy: String { stem + ".policy.h5" }
    public var data: String { stem + ".data.json" }
    public var record: String { stem + ".stage.json" }
    var stem: String { String(paths.results.dropLast(3)) }
}

extension R1Stage {
    /// The experiment name of the stage's runs (results under <out>/r1-pipeline/<stage>/).
    public var experimentName: String { "r1-pipeline/\(rawValue)" }
}

public enum R1Stages {
    /// <out> of a stage's run (its results are <out>/r1-pipeline/<stage>/<ablation>/seed-N.h5).
    static func out<C>(_ run: Run<C>) -> String {
        var url = URL(fileURLWithPath: run.paths.results)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }

    /// A checkpoint path as a config names it: a .h5 path, or a run under <out>.
    static func checkpoint(_ name: String, out: String) -> String {
        name.hasSuffix(".h5") ? name : "\(out)/\(name)/seed-0.ckpt.h5"
    }

    /// The stage before `stage` in the config's list (nil for the first).
    static func previous(_ stage: R1Stage, in c: R1PipelineConfig) throws -> R1Stage? {
        guard let k = c.stages.firstIndex(of: stage) else {
            throw LabError(
                .config,
                "stages: \(c.stages.map(\.rawValue)) does not list '\(stage.rawValue)', so this config cannot run it")
        }
        return stage == .studentRL || k == 0 ? nil : c.stages[k - 1]
    }

    /// Runs `stage` of the pipeline as `run`. `root`: the repository (for Data/).
    public static func run(_ stage: R1Stage, _ run: Run<R1PipelineConfig>, root: String) throws -> RunOutcome {
        let c = run.config
        let out = out(run)
        let files = { (s: R1Stage) in StageFiles(out: out, stage: s, ablation: run.ablation, seed: run.seed) }
        let base = checkpoint(c.base, out: out)
        // The input policy: the previous stage's, or reasoning-base for the first stage.
        func inputPolicy() throws -> String {
            let path = try previous(stage, in: c).map { files($0).policy } ?? base
            guard FileManager.default.fileExists(atPath: path) else {
                let maker =
                    path == base
                    ? "Scripts/base-models makes reasoning-base; or set base to a checkpoint path"
                    : "the stage before it has not finished"
                throw LabError(.config, "\(stage.rawValue): its input policy \(path) does not exist (\(maker))")
            }
            return path
        }
        func student() throws -> String {
            let path = checkpoint(c.distill.student, out: out)
            guard FileManager.default.fileExists(atPath: path) else {
                throw LabError(
                    .config,
                    "distill.student: \(path) does not exist (Scripts/r1-inputs makes base-small; or give a path)",
                    key: "distill.student")
            }
            return path
        }
        func inputData() throws -> ReasoningDataSet {
            guard let previous = try previous(stage, in: c) else {
                throw LabError(.config, "\(stage.rawValue): trains on a data set, but no stage before it makes one")
            }
            return try ReasoningDataSet.load(from: files(previous).data)
        }
        switch stage {
        case .zero, .reasoningRL:
            return try reinforce(
                run, stage: stage, settings: stage == .zero ? c.zero : c.reasoningRL, policy: try inputPolicy(),
                root: root)
        case .finalRL:
            return try reinforce(
                run, stage: stage, settings: c.finalRL.stage, policy: try inputPolicy(), root: root,
                preference: c.finalRL)
        case .studentRL:
            return try reinforce(run, stage: stage, settings: c.distill.rl, policy: try student(), root: root)
        case .coldStartData, .rejectionSampling:
            let (sampling, filter) =
                stage == .coldStartData
                ? (c.coldStartData.sampling, c.coldStartData.filter)
                : (c.rejectionSampling.sampling, c.rejectionSampling.filter)
            var data = try sample(run, policy: try inputPolicy(), sampling: sampling, filter: filter)
            if stage == .rejectionSampling && c.rejectionSampling.preferenceExamples > 0 {
                let pairs = try preferencePairs(c, root: root).train.prefix(c.rejectionSampling.preferenceExamples)
                data.examples += pairs.map { .init(prompt: $0.prompt, response: $0.response, kind: .preference) }
                run.results.summary("data/preference_examples", Double(pairs.count))
            }
            run.results.summary("data/examples", Double(data.examples.count))
            try data.write(to: files(stage).data)
            return .finished
        case .coldStartSFT, .sft2:
            return try fineTune(
                run, model: base, data: try inputData(), settings: stage == .coldStartSFT ? c.coldStartSFT : c.sft2,
                root: root)
        case .distill:
            let data = try sample(
                run, policy: try inputPolicy(), sampling: c.distill.sampling, filter: c.distill.filter)
            run.results.summary("data/examples", Double(data.examples.count))
            try data.write(to: files(stage).data)
            guard !data.examples.isEmpty else {
                throw LabError(.config, "distill: every sample of final-rl was rejected: nothing to distil")
            }
            return try fineTune(run, model: try student(), data: data, settings: c.distill.sft, root: root)
        }
    }

    // MARK: evaluation shared by every stage

    /// The fixed eval set's harness on `model`, with R1's signals on the greedy answers.
    static func evaluation(_ c: R1PipelineConfig, format: ConversationFormat) -> (NanoTransformer) throws -> [String:
        Double]
    {
        let tasks = SFTStages.evalTasks(c.mix, count: c.evalTasks).map { $0.task.verifiable($0.language) }
        return { model in
            let (report, greedy, samples) = try Evaluation.run(
                model, format: format, tasks: tasks, settings: c.evaluation)
            return report.metrics.merging(signals(greedy, samples)) { a, _ in a }
        }
    }

    /// R1's signals on an evaluation's sampled answers (the greedy ones when it samples none):
    /// greedy decoding hides most of the mixing that sampling shows.
    static func signals(_ greedy: [ScoredResponse], _ samples: [[ScoredResponse]]) -> [String: Double] {
        let answers = samples.isEmpty ? greedy : samples.flatMap { $0 }
        return ReasoningSignals(answers.map { ParsedResponse($0.text) }).metrics("eval")
    }

    /// The preference world's (opening, rest) pairs of the fortunes quotations, split as the
    /// preference world splits them (the held-out openings are never trained on).
    static func preferencePairs(_ c: R1PipelineConfig, root: String) throws -> (
        world: PreferenceWorld, train: [(prompt: String, response: String)], heldOut: [String]
    ) {
        let world = try PreferenceWorld(vader: VADER(folder: "\(root)/Data/corpora/vader"))
        let folder = c.quotations.hasPrefix("/") ? c.quotations : "\(root)/\(c.quotations)"
        let split = PreferenceWorld.split(try PreferenceWorld.quotations(folder: folder))
        // The opening is the prompt, the rest of the quotation the response (as the sft
        // experiment's preference examples, SFTStages.preferenceExample).
        let train = split.train.compactMap { q -> (String, String)? in
            guard let prompt = world.prompt(of: q) else { return nil }
            return (prompt, String(q.dropFirst(prompt.count)).trimmingCharacters(in: .whitespaces))
        }
        return (world, train, split.heldOut.compactMap(world.prompt(of:)))
    }

    /// Summaries pref/true_reward, pref/stop_rate, pref/length of the policy at `path`.
    static func preferenceSummaries<C>(_ run: Run<C>, _ c: R1PipelineConfig, policy path: String, root: String) throws {
        guard c.preferencePrompts > 0 else { return }
        let model = try NanoTransformer.load(checkpoint: path)
        let format = try ConversationFormat(tokenizer: try BPETokenizer.load(checkpoint: path))
        let (world, _, heldOut) = try preferencePairs(c, root: root)
        let metrics = try SFTStages.preferenceEvaluation(
            model, world: world, prompts: Array(heldOut.prefix(c.preferencePrompts)), format: format,
            settings: c.evaluation)
        for (key, value) in metrics { run.results.summary(key.replacingOccurrences(of: "eval/", with: "pref/"), value) }
    }

    // MARK: RL

    static func reinforce(
        _ run: Run<R1PipelineConfig>, stage: R1Stage, settings: RLStageSettings, policy: String, root: String,
        preference: FinalRLSettings? = nil
    ) throws -> RunOutcome {
        let c = run.config
        var rl = GRPOExperimentConfig()
        rl.policy = policy
        (rl.mix, rl.evalTasks, rl.evaluation) = (c.mix, c.evalTasks, c.evaluation)
        (rl.steps, rl.grpo, rl.evalEvery, rl.checkpointEvery) = (
            settings.steps, settings.grpo, settings.evalEvery, settings.checkpointEvery
        )
        rl.samplesShown = min(4, c.evalTasks)
        var hooks = GRPORunHooks()
        let reward = settings.reward
        hooks.verifiable = { reward.verifiable($0, $1) }
        hooks.onRollout = { ReasoningSignals($0).metrics("train") }
        hooks.evaluationMetrics = { greedy, samples in signals(greedy, samples) }
        hooks.policyMaker = "Scripts/r1-inputs makes the pipeline's inputs"
        if let preference, preference.preferenceShare > 0 {
            hooks.source = try preferenceSource(run, c, preference, policy: policy, root: root)
        }
        let outcome = try GRPORun.run(run, rl, settings: settings.grpo, hooks: hooks)
        guard case .finished = outcome else { return outcome }
        try preferenceSummaries(run, c, policy: TrainedPolicy.path(of: run), root: root)
        return outcome
    }

    /// final-rl's prompts: a `preferenceShare` of preference-world openings (the training split),
    /// scored by the reward model on the response's text (re-tokenised with the reward model's own
    /// tokenizer, ended as a finished answer) times `preferenceScale`; the rest arithmetic.
    static func preferenceSource(
        _ run: Run<R1PipelineConfig>, _ c: R1PipelineConfig, _ p: FinalRLSettings, policy: String, root: String
    ) throws -> (@escaping TaskSource) -> TaskSource {
        let path = p.rewardModel.hasPrefix("/") ? p.rewardModel : "\(out(run))/\(p.rewardModel)"
        guard FileManager.default.fileExists(atPath: path) else {
            throw LabError(
                .config,
                "finalRL.rewardModel: \(path) does not exist (the reward-bpr experiment writes it beside its results; Scripts/r1-pipeline runs it)",
                key: "finalRL.rewardModel")
        }
        let model = try RewardModel.load(checkpoint: path)
        let format = try ConversationFormat(tokenizer: try BPETokenizer.load(checkpoint: path))
        let scorer = UncheckedSendable((model, format))  // called from the rollout's scoring only
        let openings = try preferencePairs(c, root: root).train.map(\.prompt)
        guard !openings.isEmpty else { throw LabError(.config, "quotations: no preference-world openings to train on") }
        let (share, scale) = (p.preferenceShare, p.preferenceScale)
        return { arithmetic in
            { rng in
                guard rng.uniformDouble() < share else { return arithmetic(&rng) }
                let prompt = openings[rng.int(below: openings.count)]
                return VerifiableTask(
                    prompt: prompt, isCorrect: { _ in false },
                    reward: { parsed in
                        let (model, format) = scorer.value
                        let score = model.score(
                            prompts: [format.promptIds(prompt)],
                            responses: [format.responseIds(parsed.text) + [format.end]])
                        return scale * Double(score[0])
                    })
            }
        }
    }

    // MARK: sampling

    /// `sampling.prompts` fresh prompts of the mix (never an eval prompt, each once), `samples`
    /// answers each from `policy`, kept by `filter`; the data set of what was kept.
    static func sample(
        _ run: Run<R1PipelineConfig>, policy: String, sampling: DataSampling, filter: ColdStartFilter
    ) throws -> ReasoningDataSet {
        let c = run.config
        let model = try NanoTransformer.load(checkpoint: policy)
        let format = try ConversationFormat(tokenizer: try BPETokenizer.load(checkpoint: policy))
        let evalPrompts = Set(SFTStages.evalTasks(c.mix, count: c.evalTasks).map { $0.task.prompt($0.language) })
        var rng = RNG(seed: UInt64(run.seed))
        var tasks: [(task: ArithmeticTask, language: CoTLanguage)] = []
        var seen = evalPrompts
        var draws = 0
        while tasks.count < sampling.prompts && draws < sampling.prompts * 100 {
            draws += 1
            let (task, language) = c.mix.task(rng: &rng)
            if seen.insert(task.prompt(language)).inserted { tasks.append((task, language)) }
        }
        guard tasks.count == sampling.prompts else {
            throw LabError(
                .config,
                "sampling.prompts: the mix has only \(tasks.count) prompts outside the eval set; ask for fewer",
                key: "sampling.prompts")
        }
        var settings = EvaluationSettings()
        (settings.samples, settings.temperature, settings.maxNewTokens) = (
            sampling.samples, sampling.temperature, sampling.maxNewTokens
        )
        (settings.passK, settings.promptsPerBatch, settings.seed) = ([1], c.evaluation.promptsPerBatch, rng.next())
        let (report, _, samples) = try Evaluation.run(
            model, format: format, tasks: tasks.map { $0.task.verifiable($0.language) }, settings: settings)
        let flat = samples.flatMap { $0 }
        let targets = tasks.flatMap { Array(repeating: $0.language, count: sampling.samples) }
        let parsed = flat.map { ParsedResponse($0.text) }
        let kept = FilterReport(responses: parsed, correct: flat.map(\.correct), targets: targets, filter: filter)
        run.results.summary("data/prompts", Double(tasks.count))
        run.results.summary("data/samples", Double(flat.count))
        run.results.summary("data/kept", Double(kept.kept.count))
        run.results.summary("data/kept_share", Double(kept.kept.count) / Double(flat.count))
        run.results.summary("data/accuracy", report.meanAtN)
        for rule in ColdStartRule.allCases {
            run.results.summary("data/rejected/\(rule.rawValue)", Double(kept.rejected[rule] ?? 0))
        }
        for (key, value) in ReasoningSignals(parsed).metrics("data") { run.results.summary(key, value) }
        for (key, value) in ReasoningSignals(kept.kept.map { parsed[$0] }).metrics("data/kept") {
            run.results.summary(key, value)
        }
        let prompts = tasks.flatMap { Array(repeating: $0.task.prompt($0.language), count: sampling.samples) }
        for i in kept.kept.prefix(4) {
            run.results.sample("data/kept_samples", step: 0, "\(prompts[i]) → \(flat[i].text)")
        }
        return ReasoningDataSet(
            examples: kept.kept.map { .init(prompt: prompts[$0], response: flat[$0].text, kind: .reasoning) })
    }

    // MARK: SFT

    /// SFT of the checkpoint at `path` on `data` (examples longer than its context are left out
    /// and counted), the last `heldOutShare` of a seeded shuffle held out; the policy saved at the end.
    static func fineTune(
        _ run: Run<R1PipelineConfig>, model path: String, data: ReasoningDataSet, settings: SFTStageSettings,
        root: String
    ) throws -> RunOutcome {
        let c = run.config
        guard FileManager.default.fileExists(atPath: path) else {
            throw LabError(.config, "\(path): the model to fine-tune does not exist (Scripts/base-models makes it)")
        }
        let model = try NanoTransformer.load(checkpoint: path)
        let tokenizer = try BPETokenizer.load(checkpoint: path)
        let format = try ConversationFormat(tokenizer: tokenizer)
        let record = try model.modelRecord(tokenizer: tokenizer)
        var rng = RNG(seed: UInt64(run.seed))
        var examples: [SFTExample] = []
        for e in data.examples {
            let (ids, start) = format.render(prompt: e.prompt, response: e.response)
            if ids.count <= model.config.contextLength { examples.append(SFTExample(ids: ids, responseStart: start)) }
        }
        run.results.summary("data/too_long", Double(data.examples.count - examples.count))
        guard examples.count >= 2 else {
            throw LabError(
                .config, "\(run.experiment): \(examples.count) example(s) fit the context: too few to fine-tune on")
        }
        for i in stride(from: examples.count - 1, to: 0, by: -1) { examples.swapAt(i, rng.int(below: i + 1)) }
        let held = Int(Double(examples.count) * settings.heldOutShare)
        let outcome = try SFTStages.fit(
            run, model: model, record: record, train: Array(examples.dropLast(held)),
            heldOut: Array(examples.suffix(held)),
            settings: settings.sft, seed: rng.next(), evaluate: evaluation(c, format: format),
            evalEvery: settings.evalEvery, checkpointEvery: settings.checkpointEvery)
        guard case .finished = outcome else { return outcome }
        let step = try Checkpoint.load(from: run.paths.checkpoint).step
        try TrainedPolicy.save(model, record: record, step: step, run: run)
        try preferenceSummaries(run, c, policy: TrainedPolicy.path(of: run), root: root)
        return outcome
    }
}
