// nano-transformer: pretrain the decoder-only LM on Shakespeare with the project's BPE, then
// measure context extension and inference speed. Every architectural switch is an ablation.
import ExperimentKit
import Foundation
import HDF5Store
import NanoTransformer
import TensorCore
import Tokenizer

struct PretrainConfig: ExperimentConfig {
    /// The model (vocabSize is set from the tokenizer).
    var model = TransformerConfig()
    /// BPE vocabulary size and pattern for the corpus.
    var tokenizerVocab = 2048
    /// Sequences per micro-batch, and micro-batches per update (gradient accumulation).
    var batchSize = 16
    var gradAccumulation = 1
    /// Optimiser updates.
    var steps = 3000
    /// Peak learning rate; cosine decay to minLearningRateRatio of it after warmup.
    var learningRate = 2e-3
    var minLearningRateRatio = 0.1
    var warmupSteps = 100
    var weightDecay = 0.1
    var beta2 = 0.95
    var gradClip = 1.0
    /// Skip updates whose loss or grad-norm z-score over the last spikeWindow steps exceeds spikeZ.
    var spikeGuard = false
    var spikeWindow = 50
    var spikeZ = 5.0
    var evalEvery = 250
    var evalBatches = 8
    var checkpointEvery = 1000
    /// After training: validation loss at 2x and 4x the context with each RoPE extension.
    var contextEvaluation = true
    /// Fine-tune this many steps at 2x context with position interpolation, then evaluate again.
    var contextFinetuneSteps = 0
    /// After training: prefill and decode speed with and without the KV cache.
    var inferenceBenchmark = true
    /// corpora (Data/fetch: all of Shakespeare) or sample (committed sample).
    var data = "corpora"

    init() {
        model.dModel = 128
        model.layers = 4
        model.heads = 4
        model.kvHeads = 4
        model.contextLength = 128
    }

    func validate() throws {
        do { try model.check() } catch let e as TransformerError { throw ConfigError.invalid(key: "model", e.message) }
        if learningRate <= 0 { throw ConfigError.invalid(key: "learningRate", "must be positive") }
        if tokenizerVocab <= 256 { throw ConfigError.invalid(key: "tokenizerVocab", "must exceed 256") }
        if !["corpora", "sample"].contains(data) {
            throw ConfigError.invalid(key: "data", "must be corpora or sample")
        }
        if batchSize < 1 || gradAccumulation < 1 || steps < 1 {
            throw ConfigError.invalid(key: "steps", "sizes must be positive")
        }
    }
}

enum PretrainExperiment: Experiment {
    typealias Config = PretrainConfig
    static let name = "nano-transformer"
    static let summary = "Pretrain the nano transformer on Shakespeare; ablate its design choices."
    static let source = SourceLocation(#filePath)
    static var configsDirectory: String { source.configsDirectory }

    /// Tokenizer and token file for (vocab, data), made once and cached beside the runs.
    static func tokens(_ c: PretrainConfig, runsFolder: String) throws -> (BPETokenizer, TokenArray) {
        let folder = "\(runsFolder)/data"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let stem = "\(folder)/\(c.data)-bpe\(c.tokenizerVocab)"
        if let tok = try? BPETokenizer.load(from: stem + ".json"), let array = try? TokenArray(path: stem + ".bin") {
            return (tok, array)
        }
        let root = source.repositoryRoot
        let dir = c.data == "sample" ? "\(root)/Data/sample" : "\(root)/Data/corpora/english/shakespeare"
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
            throw ConfigError("\(dir): missing; run Data/fetch first (or --set data=sample)")
        }
        let texts = try files.sorted().filter {
            $0.hasSuffix(".txt") && (c.data == "corpora" || $0.hasPrefix("english"))
        }
        .map { try String(contentsOfFile: "\(dir)/\($0)", encoding: .utf8) }
        let tok = try BPETrainer.train(
            texts, options: .init(vocabSize: c.tokenizerVocab, pattern: .gpt4, specialTokens: ["<|endoftext|>"]))
        let eot = tok.specialTokens["<|endoftext|>"]!
        let ids = tok.encodeBatch(texts).flatMap { $0 + [eot] }
        try tok.save(to: stem + ".json")
        try TokenFile.write(ids, vocabSize: tok.vocabSize, to: stem + ".bin")
        print("tokenized \(texts.count) texts into \(ids.count) tokens (vocab \(tok.vocabSize)) -> \(stem).bin")
        return (tok, try TokenArray(path: stem + ".bin"))
    }

    static func run(_ run: Run<Config>) throws -> RunOutcome {
        let c = run.config
        let runsFolder = ((run.paths.results as NSString).deletingLastPathComponent as NSString)
            .deletingLastPathComponent
        let (tokenizer, array) = try tokens(c, runsFolder: runsFolder)
        var modelConfig = c.model
        modelConfig.vocabSize = tokenizer.vocabSize
        let data = TokenWindows(tokens: array, seed: 1234)  // split fixed, the same for every seed
        var root = RNG(seed: UInt64(run.seed))
        var initRNG = root.split()
        var dataRNG = root.split()
        var dropoutRNG = root.split()
        let evalRNG = RNG(seed: 99)  // the same validation windows for every run
        let model = try NanoTransformer(modelConfig, rng: &initRNG)
        let params = model.namedParameters()
        let opt = Adam.adamW(
            params, beta2: Float(c.beta2), eps: 1e-8, weightDecay: Float(c.weightDecay), noDecay: model.noDecayNames)
        let total = run.totalSteps(c.steps)
        let schedule = LearningRateSchedule(
            peak: Float(c.learningRate), warmupSteps: c.warmupSteps, totalSteps: c.steps, decay: .cosine,
            floor: Float(c.learningRate * c.minLearningRateRatio))
        var guardRail = SpikeGuard(window: c.spikeWindow, threshold: c.spikeZ)
        // The same test, always on and never skipping: counts spikes in every run, guarded or not.
        var spikeDetector = SpikeGuard(window: c.spikeWindow, threshold: c.spikeZ)
        var step = 0
        if let state = run.resumeState {
            try Checkpoint.restore(params, from: state, path: run.paths.checkpoint)
            if let o = state.optimizer { try opt.importState(o) }
            dataRNG = RNG(stateWords: state.rngStreams["data"]!)
            dropoutRNG = RNG(stateWords: state.rngStreams["dropout"]!)
            if let h = state.tensors["spike_guard"] {
                guardRail.restore(history: h, skipped: Int(state.counters["skipped"] ?? 0))
            }
            if let h = state.tensors["spike_detector"] {
                spikeDetector.restore(history: h, skipped: Int(state.counters["spikes"] ?? 0))
            }
            step = state.step
        }
        func snapshot() -> TrainingState {
            let g = guardRail.state
            let d = spikeDetector.state
            return run.state(
                step: step, parameters: params, optimizer: opt.exportState(),
                rngStreams: ["data": dataRNG.stateWords, "dropout": dropoutRNG.stateWords],
                tensors: ["spike_guard": g.history, "spike_detector": d.history],
                counters: ["skipped": Double(g.skipped), "spikes": Double(d.skipped)])
        }
        print(
            "model: \(model.parameterCount) parameters; \(data.train.count) training tokens, \(data.validation.count) validation"
        )
        let t = modelConfig.contextLength
        var tokensSeen = 0
        let started = Date()
        while step < total {
            opt.zeroGrad()
            var lossSum: Float = 0
            for _ in 0..<c.gradAccumulation {
                let (ids, targets) = data.batch(c.batchSize, time: t, rng: &dataRNG)
                let (loss, _) = model.loss(ids, targets: targets, batch: c.batchSize, time: t, rng: &dropoutRNG)
                (loss * (1 / Float(c.gradAccumulation))).backward()
                lossSum += loss.item / Float(c.gradAccumulation)
            }
            let gradNorm = Double(clipGradNorm(model.parameters, maxNorm: Float(c.gradClip)))
            let lr = schedule(step)
            _ = spikeDetector.accept(loss: Double(lossSum), gradNorm: gradNorm)
            if !c.spikeGuard || guardRail.accept(loss: Double(lossSum), gradNorm: gradNorm) { opt.step(lr: lr) }
            step += 1
            tokensSeen += c.batchSize * c.gradAccumulation * t
            let elapsed = Date().timeIntervalSince(started)
            run.results.log(
                [
                    "loss/train": Double(lossSum), "optim/lr": Double(lr), "optim/grad_norm": gradNorm,
                    "train/skipped_updates": Double(guardRail.skipped), "train/spikes": Double(spikeDetector.skipped),
                ],
                step: step)
            var shown: [(String, Double)] = [("loss", Double(lossSum))]
            if step % c.evalEvery == 0 || step == total {
                var r = evalRNG
                let val = model.validationLoss(data, batches: c.evalBatches, batchSize: c.batchSize, time: t, rng: &r)
                run.results.log(["loss/val": val, "perf/tokens_per_s": Double(tokensSeen) / elapsed], step: step)
                shown.append(("val", val))
            }
            run.report(step: step, total: total, shown)
            let stopping = run.shouldStop(after: step)
            if stopping || step % c.checkpointEvery == 0 { try run.saveCheckpoint(snapshot()) }
            if stopping && step < total { return .interrupted }
            if !lossSum.isFinite && !c.spikeGuard {
                // Diverged: parameters are NaN from here on; keep the record, skip the evaluations.
                print("warning: loss is \(lossSum) at step \(step); the run diverged, stopping")
                run.results.summary("train/diverged_at_step", Double(step))
                try run.saveCheckpoint(snapshot())
                return .finished
            }
        }
        try run.saveCheckpoint(snapshot())
        run.results.summary("train/skipped_updates", Double(guardRail.skipped))
        run.results.summary("train/spikes", Double(spikeDetector.skipped))
        run.results.summary("model/vocab_size", Double(modelConfig.vocabSize))
        run.results.summary("model/parameters", Double(model.parameterCount))

        // A sample, to read what it learned.
        var sampleRNG = RNG(seed: UInt64(run.seed) + 7)
        let prompt = tokenizer.encode("ROMEO:")
        let out = model.generate(
            prompts: [prompt], maxNewTokens: min(64, t - prompt.count), sampling: Sampling(temperature: 0.8, topK: 50),
            rng: &sampleRNG)
        run.results.sample("generation", step: step, (try? tokenizer.decode(prompt + out[0], lossy: true)) ?? "")

        if c.contextEvaluation && modelConfig.positionEncoding != .learned {
            for factor in [1, 2, 4] {
                for method in ContextExtension.allCases {
                    let extended = try model.sharingWeights(with: method.apply(to: modelConfig, factor: Double(factor)))
                    var r = evalRNG
                    let val = extended.validationLoss(data, batches: 4, batchSize: 4, time: t * factor, rng: &r)
                    run.results.log("context/\(method.rawValue)", step: factor * t, val)
                }
            }
            if c.contextFinetuneSteps > 0 {
                let longer = try model.sharingWeights(
                    with: ContextExtension.interpolation.apply(to: modelConfig, factor: 2))
                let ft = Adam.adamW(
                    longer.namedParameters(), beta2: Float(c.beta2), weightDecay: Float(c.weightDecay),
                    noDecay: longer.noDecayNames)
                for _ in 0..<c.contextFinetuneSteps {
                    ft.zeroGrad()
                    let (ids, targets) = data.batch(max(c.batchSize / 2, 1), time: 2 * t, rng: &dataRNG)
                    longer.loss(ids, targets: targets, batch: max(c.batchSize / 2, 1), time: 2 * t, rng: &dropoutRNG)
                        .total.backward()
                    clipGradNorm(longer.parameters, maxNorm: Float(c.gradClip))
                    ft.step(lr: Float(c.learningRate * c.minLearningRateRatio))
                }
                for factor in [2, 4] {
                    var r = evalRNG
                    let val = longer.validationLoss(data, batches: 4, batchSize: 4, time: t * factor, rng: &r)
                    run.results.log("context/interpolation_finetuned", step: factor * t, val)
                }
            }
        }
        if c.inferenceBenchmark { try inferenceSpeed(model, run: run, prompt: t / 2, decode: t / 2) }
        return .finished
    }

    /// Prefill tokens/s, decode tokens/s with the KV cache and without it (recomputing the whole
    /// prefix each step), and KV-cache bytes per token. prompt + decode stays within the context.
    static func inferenceSpeed(_ model: NanoTransformer, run: Run<Config>, prompt: Int, decode: Int) throws {
        var rng = RNG(seed: 3)
        let ids = (0..<prompt).map { _ in rng.int(below: model.config.vocabSize) }
        var start = Date()
        let cache = KVCache(layers: model.config.layers)
        _ = withNoGrad { model.logits(ids, batch: 1, time: prompt, cache: cache, rng: &rng) }
        run.results.summary("perf/prefill_tokens_per_s", Double(prompt) / Date().timeIntervalSince(start))
        start = Date()
        for i in 0..<decode { _ = withNoGrad { model.logits([i % 100], batch: 1, time: 1, cache: cache, rng: &rng) } }
        run.results.summary("perf/decode_tokens_per_s_kv_cache", Double(decode) / Date().timeIntervalSince(start))
        start = Date()
        var sequence = ids
        for i in 0..<decode {
            sequence.append(i % 100)
            _ = withNoGrad { model.logits(sequence, batch: 1, time: sequence.count, rng: &rng) }
        }
        run.results.summary("perf/decode_tokens_per_s_recompute", Double(decode) / Date().timeIntervalSince(start))
        run.results.summary("inference/kv_cache_bytes_per_token", Double(model.config.kvCacheBytesPerToken))
    }
}

ExperimentCommand<PretrainExperiment>.main()
