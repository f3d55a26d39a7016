import ExperimentKit
import Foundation
import HDF5Store
// The two stages of SFTExperimentConfig as runs of the shared loop. Pretraining is SFT with the
// loss on every token over documents packed into context-length rows (attention kept inside each
// document), so one trainer (SFTTask) does both. Metrics (results file):
//   loss/train, loss/val_response    the update's loss; held-out loss on response tokens (every
//                                    token of a pretraining document)
//   optim/lr, optim/grad_norm, train/epoch, train/tokens, train/padding_share
//   eval/*                           the harness on the fixed eval set (Evaluation.swift): greedy
//                                    accuracy, mean@n, pass@k, format and stop rates, lengths
//                                    (reasoning world); mean true reward (VADER), stop rate and
//                                    length of greedy answers (preference world)
//   perf/tokens_per_s                training tokens (rows × window) per second of updates
//   moe/load_max_over_mean, moe/load_cv, moe/dropped_fraction, moe/router_entropy
//                                    an MoE model's routing per update (MoE's MoEStep.swift)
//   summaries: data/examples, data/heldout, data/tokens, model/parameters, model/vocab_size
import LabSupport
import MoE
import ModelStore
import NanoTransformer
import TensorCore
import Tokenizer

public enum SFTStages {
    /// Runs the config's stage. `repositoryRoot` finds Data/.
    public static func run(_ run: Run<SFTExperimentConfig>, repositoryRoot: String) throws -> RunOutcome {
        switch run.config.stage {
        case .pretrain: try pretrain(run, repositoryRoot: repositoryRoot)
        case .sft: try finetune(run, repositoryRoot: repositoryRoot)
        }
    }

    /// <out> of a run (its results are <out>/<experiment>/<ablation>/seed-N.h5).
    static func outFolder(_ run: Run<SFTExperimentConfig>) -> String {
        URL(fileURLWithPath: run.paths.results).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    /// The fixed eval set of the reasoning world: `count` tasks of the mix from their own seed.
    public static func evalTasks(_ mix: ArithmeticMix, count: Int) -> [(task: ArithmeticTask, language: CoTLanguage)] {
        var rng = RNG(seed: 0xE7A1)
        var seen = Set<String>()
        var out: [(ArithmeticTask, CoTLanguage)] = []
        var attempts = 0
        while out.count < count && attempts < count * 100 {
            attempts += 1
            let (task, language) = mix.task(rng: &rng)
            if seen.insert(task.prompt(language)).inserted { out.append((task, language)) }
        }
        return out
    }

    static func quotationsFolder(_ c: SFTExperimentConfig, _ root: String) -> String {
        c.quotations.hasPrefix("/") ? c.quotations : "\(root)/\(c.quotations)"
    }

    /// Shakespeare (or the committed sample) as texts.
    static func corpusTexts(_ data: String, repositoryRoot root: String) throws -> [String] {
        let dir = data == "sample" ? "\(root)/Data/sample" : "\(root)/Data/corpora/english/shakespeare"
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
            throw LabError(.config, "\(dir): missing; run Data/fetch first (or --set data=sample)")
        }
        return try files.sorted().filter { $0.hasSuffix(".txt") && (data == "corpora" || $0.hasPrefix("english")) }
            .map { try String(contentsOfFile: "\(dir)/\($0)", encoding: .utf8) }
    }

    /// Token ids cut into pieces of at most `window` (each a document of its own, every token
    /// after the first a target: responseStart 1; a last piece of one token has none and is
    /// dropped).
    static func pieces(_ ids: [Int], window: Int) -> [SFTExample] {
        stride(from: 0, to: ids.count, by: window).compactMap {
            let piece = Array(ids[$0..<min($0 + window, ids.count)])
            return piece.count < 2 ? nil : SFTExample(ids: piece, responseStart: 1)
        }
    }

    static func pretrain(_ run: Run<SFTExperimentConfig>, repositoryRoot: String) throws -> RunOutcome {
        let c = run.config
        var root = RNG(seed: UInt64(run.seed))
        var dataRNG = root.split()
        let texts = try corpusTexts(c.data, repositoryRoot: repositoryRoot)
        // The world's own documents, as (prompt, response) pairs or plain text.
        var pairs: [(prompt: String, response: String)] = []
        var plain: [String] = []
        switch c.world {
        case .reasoning:
            for _ in 0..<c.pretrainSolutions {
                let (task, language) = c.pretrainMix.task(rng: &dataRNG)
                pairs.append(c.pretrainMix.example(task, language, rng: &dataRNG))
            }
        case .preference:
            plain = try PreferenceWorld.split(
                PreferenceWorld.quotations(folder: quotationsFolder(c, repositoryRoot))
            ).train
        }
        // The tokenizer learns the corpus and the generated text (tags aside: they are special).
        let tagless = pairs.map { pair in
            ConversationFormat.templateTags.reduce(pair.prompt + "\n" + pair.response) {
                $0.replacingOccurrences(of: $1, with: " ")
            }
        }
        let tokenizer = try BPETrainer.train(
            texts + tagless + plain,
            options: .init(
                vocabSize: c.tokenizerVocab, pattern: .gpt4,
                specialTokens: ["<|endoftext|>"] + ConversationFormat.specialTokens))
        let format = try ConversationFormat(tokenizer: tokenizer)
        let endOfText = tokenizer.specialTokens["<|endoftext|>"]!
        let window = c.model.contextLength
        var documents = tokenizer.encodeBatch(texts).flatMap { pieces($0 + [endOfText], window: window) }
        documents += tokenizer.encodeBatch(plain).flatMap { pieces($0 + [endOfText], window: window) }
        for pair in pairs {
            let ids = format.render(prompt: pair.prompt, response: pair.response).ids
            documents += pieces(ids, window: window)
        }
        // A fixed held-out share, drawn from the data stream.
        var heldOut: [SFTExample] = []
        var train: [SFTExample] = []
        for d in documents {
            if dataRNG.uniformDouble() < c.heldOutShare { heldOut.append(d) } else { train.append(d) }
        }
        var modelConfig = c.model
        modelConfig.vocabSize = tokenizer.vocabSize
        var initRNG = root.split()
        let mlp = c.mlp == .moe ? MixtureOfExperts.factory(c.moe) : nil
        let model = try NanoTransformer(modelConfig, mlp: mlp, rng: &initRNG)
        let record = try model.modelRecord(tokenizer: tokenizer)
        var settings = c.sft
        settings.lossTokens = .all
        settings.window = window
        run.results.summary("data/examples", Double(train.count))
        run.results.summary("data/heldout", Double(heldOut.count))
        run.results.summary("data/tokens", Double(train.map(\.ids.count).reduce(0, +)))
        print("pretraining on \(train.count) documents (\(pairs.count) generated), vocabulary \(tokenizer.vocabSize)")
        return try self.train(
            run, model: model, record: record, format: format, train: train, heldOut: heldOut, settings: settings,
            seed: root.next(), repositoryRoot: repositoryRoot)
    }

    static func finetune(_ run: Run<SFTExperimentConfig>, repositoryRoot: String) throws -> RunOutcome {
        let c = run.config
        let path = c.initFrom.hasSuffix(".h5") ? c.initFrom : "\(outFolder(run))/\(c.initFrom)/seed-0.ckpt.h5"
        guard FileManager.default.fileExists(atPath: path) else {
            throw LabError(
                .config,
                "initFrom: \(path) does not exist (Scripts/base-models makes the base models; or give a checkpoint path)"
            )
        }
        let model = try NanoTransformer.load(checkpoint: path)
        let tokenizer = try BPETokenizer.load(checkpoint: path)
        let format = try ConversationFormat(tokenizer: tokenizer)
        let record = try model.modelRecord(tokenizer: tokenizer)
        var root = RNG(seed: UInt64(run.seed))
        var dataRNG = root.split()
        var train: [SFTExample] = []
        var heldOut: [SFTExample] = []
        switch c.world {
        case .reasoning:
            let evalPrompts = Set(evalTasks(c.mix, count: c.evalTasks).map { $0.task.prompt($0.language) })
            while train.count + heldOut.count < c.examples + c.heldOutExamples {
                let (task, language) = c.mix.task(rng: &dataRNG)
                guard !evalPrompts.contains(task.prompt(language)) else { continue }
                let pair = c.mix.example(task, language, rng: &dataRNG)
                let (ids, start) = format.render(prompt: pair.prompt, response: pair.response)
                let example = SFTExample(ids: ids, responseStart: start)
                if heldOut.count < c.heldOutExamples { heldOut.append(example) } else { train.append(example) }
            }
        case .preference:
            let world = try PreferenceWorld(vader: VADER(folder: "\(repositoryRoot)/Data/corpora/vader"))
            let split = PreferenceWorld.split(
                try PreferenceWorld.quotations(folder: quotationsFolder(c, repositoryRoot)))
            let window = model.config.contextLength
            func example(_ q: String) -> SFTExample? {
                preferenceExample(q, world: world, format: format, window: window)
            }
            train = Array(split.train.compactMap(example).prefix(c.examples))
            heldOut = Array(split.heldOut.compactMap(example).prefix(c.heldOutExamples))
        }
        run.results.summary("data/examples", Double(train.count))
        run.results.summary("data/heldout", Double(heldOut.count))
        run.results.summary("data/tokens", Double(train.map(\.ids.count).reduce(0, +)))
        return try self.train(
            run, model: model, record: record, format: format, train: train, heldOut: heldOut, settings: c.sft,
            seed: root.next(), repositoryRoot: repositoryRoot)
    }

    /// The evaluation of a world: the harness on the fixed eval set (reasoning), greedy answers
    /// to held-out openings scored by VADER (preference).
    static func evaluation(
        _ c: SFTExperimentConfig, format: ConversationFormat, repositoryRoot: String
    ) throws -> (NanoTransformer) throws -> [String: Double] {
        switch c.world {
        case .reasoning:
            let tasks = evalTasks(c.mix, count: c.evalTasks).map { $0.task.verifiable($0.language) }
            return { model in
                try Evaluation.run(model, format: format, tasks: tasks, settings: c.evaluation).report.metrics
            }
        case .preference:
            let world = try PreferenceWorld(vader: VADER(folder: "\(repositoryRoot)/Data/corpora/vader"))
            let quotations = PreferenceWorld.split(
                try PreferenceWorld.quotations(folder: quotationsFolder(c, repositoryRoot))
            ).heldOut
            let prompts = Array(quotations.compactMap(world.prompt(of:)).prefix(c.evalTasks))
            return { model in
                try preferenceEvaluation(model, world: world, prompts: prompts, format: format, settings: c.evaluation)
            }
        }
    }

    /// A quotation as a preference-world SFT example: its opening as the prompt, the rest as the
    /// response; nil when it has no opening or does not fit `window` tokens.
    public static func preferenceExample(
        _ quotation: String, world: PreferenceWorld, format: ConversationFormat, window: Int
    ) -> SFTExample? {
        guard let prompt = world.prompt(of: quotation) else { return nil }
        let rest = String(quotation.dropFirst(prompt.count)).trimmingCharacters(in: .whitespaces)
        let (ids, start) = format.render(prompt: prompt, response: rest)
        return ids.count <= window ? SFTExample(ids: ids, responseStart: start) : nil
    }

    /// The preference world's evaluation: greedy answers to `prompts`, their mean true reward
    /// (VADER), stop rate and length (eval/true_reward, eval/stop_rate, eval/length).
    public static func preferenceEvaluation(
        _ model: NanoTransformer, world: PreferenceWorld, prompts: [String], format: ConversationFormat,
        settings: EvaluationSettings
    ) throws -> [String: Double] {
        var (reward, stopped, length) = (0.0, 0.0, 0.0)
        for start in stride(from: 0, to: prompts.count, by: settings.promptsPerBatch) {
            let batch = Array(prompts[start..<min(start + settings.promptsPerBatch, prompts.count)])
            let rollout = try model.generate(
                prompts: batch.map(format.promptIds), maxNewTokens: settings.maxNewTokens, sampling: .greedy,
                stopTokens: [format.end], streams: batch.map { _ in RNG(seed: 0) })
            for i in batch.indices {
                let text = try format.responseText(rollout.responses[i])
                reward += world.trueReward(text)
                let stop = rollout.finish[i] == .stop
                stopped += stop ? 1 : 0
                length += Double(rollout.responses[i].count - (stop ? 1 : 0))
            }
        }
        let n = Double(max(prompts.count, 1))
        return ["eval/true_reward": reward / n, "eval/stop_rate": stopped / n, "eval/length": length / n]
    }

    static func train(
        _ run: Run<SFTExperimentConfig>, model: NanoTransformer, record: ModelRecord, format: ConversationFormat,
        train: [SFTExample], heldOut: [SFTExample], settings: SFTSettings, seed: UInt64, repositoryRoot: String
    ) throws -> RunOutcome {
        let c = run.config
        let evaluate: ((NanoTransformer) throws -> [String: Double])? =
            c.world == .reasoning || c.stage == .sft
            ? try evaluation(c, format: format, repositoryRoot: repositoryRoot) : nil
        return try fit(
            run, model: model, record: record, train: train, heldOut: heldOut, settings: settings, seed: seed,
            evaluate: evaluate, evalEvery: c.evalEvery, checkpointEvery: c.checkpointEvery)
    }

    /// SFT of `model` on `train` as a run of the shared loop, with the throughput and the model's
    /// size recorded; `evaluate` adds its metrics at every evaluation. Other experiments' SFT
    /// stages (the R1 pipeline's) run through it too.
    public static func fit<C>(
        _ run: Run<C>, model: NanoTransformer, record: ModelRecord, train: [SFTExample], heldOut: [SFTExample],
        settings: SFTSettings, seed: UInt64, evaluate: ((NanoTransformer) throws -> [String: Double])?,
        evalEvery: Int, checkpointEvery: Int
    ) throws -> RunOutcome {
        let task = try TimedSFTTask(
            SFTTask(
                model: model, record: record, train: train, heldOut: heldOut, settings: settings, seed: seed,
                extraEvaluation: evaluate))
        run.results.summary("model/parameters", Double(model.parameterCount))
        run.results.summary("model/vocab_size", Double(model.config.vocabSize))
        print("\(model.parameterCount) parameters; \(train.count) examples, \(task.inner.totalUpdates) updates")
        let loop = TrainingLoop(evalEvery: evalEvery, checkpointEvery: checkpointEvery)
        return try loop.run(task, in: run, total: run.totalSteps(task.inner.totalUpdates))
    }
}

/// SFTTask with the training throughput added to each step's metrics (perf/tokens_per_s: padded
/// tokens of the updates so far over their wall time).
final class TimedSFTTask: TrainingTask {
    let inner: SFTTask
    var seconds = 0.0
    var tokens = 0.0

    init(_ inner: SFTTask) { self.inner = inner }

    var modelRecord: ModelRecord? { inner.modelRecord }
    var updatesDone: Int { inner.updatesDone }
    var parameters: [(name: String, tensor: Tensor)] { inner.parameters }
    var optimizer: any Optimizer { inner.optimizer }

    func update() throws -> StepReport {
        let start = DispatchTime.now().uptimeNanoseconds
        var report = try inner.update()
        seconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        tokens = report.metrics["train/tokens"] ?? tokens
        report.metrics["perf/tokens_per_s"] = tokens / max(seconds, 1e-9)
        return report
    }

    func evaluate() throws -> StepReport { try inner.evaluate() }
    func exportState() -> TaskState { inner.exportState() }
    func restore(_ state: TaskState, step: Int, path: String) throws {
        try inner.restore(state, step: step, path: path)
    }
}
