// The pretraining loop (nanoGPT's recipe): random windows, AdamW with warmup and cosine decay,
// gradient accumulation and clipping, an optional loss-spike guard, periodic validation,
// checkpoint and bit-identical resume; then a sample, context extension and inference speed.
// Metrics (results file):
//   loss/train, loss/val             mean next-token cross-entropy (nats) of the update / val windows
//   optim/lr, optim/grad_norm        learning rate; global gradient norm before clipping
//   train/spikes                     steps whose loss or grad-norm z-score over spikeWindow > spikeZ
//   train/skipped_updates            updates the spike guard skipped (spikeGuard on)
//   perf/tokens_per_s                training tokens per second so far
//   context/{plain,interpolation,ntk}  val loss at 1x, 2x, 4x the training context (x = length)
//   context/interpolation_finetuned  the same after contextFinetuneSteps at 2x with interpolation
//   summaries: perf/prefill_tokens_per_s, perf/decode_tokens_per_s_{kv_cache,recompute},
//              inference/kv_cache_bytes_per_token (measured), model/parameters, train/diverged_at_step
//   plus whatever afterUpdate returns each step (MoE: moe/*, see MoEStep.swift)
import ExperimentKit
import Foundation
import HDF5Store
import ModelStore
import NanoTransformer
import TensorCore
import Tokenizer

public enum Pretraining {
    /// What a drop-in layer's experiment adds to each step: called after every optimiser step
    /// with the model, the step number and the ids of the step's last micro-batch; returns
    /// metrics to log at that step (MoE: bias update, load statistics, routing change).
    public typealias AfterUpdate = (_ model: NanoTransformer, _ step: Int, _ lastIds: [Int]) throws -> [String: Double]

    /// Trains, evaluates and measures one run with the settings `c` (the run's config or part of
    /// it). `attention` swaps the blocks' attention (MLA), `mlp` their MLP (MoE); the tokens are
    /// cached in <out>/tokens. `trainedModel` sees the model after a finished run, for an
    /// experiment's own measurements.
    public static func run<Config>(
        _ run: Run<Config>, _ c: PretrainConfig, repositoryRoot: String, attention: AttentionFactory? = nil,
        mlp: MLPFactory? = nil, afterUpdate: AfterUpdate? = nil,
        trainedModel: ((NanoTransformer) throws -> Void)? = nil
    ) throws -> RunOutcome {
        // results: <out>/<experiment>/<ablation>/seed-N.h5
        let outFolder = URL(fileURLWithPath: run.paths.results).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let (tokenizer, array) = try CorpusTokens.load(
            c, cacheFolder: outFolder.appendingPathComponent("tokens").path, repositoryRoot: repositoryRoot)
        var modelConfig = c.model
        modelConfig.vocabSize = tokenizer.vocabSize
        let data = TokenWindows(tokens: array, seed: 1234)  // split fixed, the same for every seed
        var root = RNG(seed: UInt64(run.seed))
        var initRNG = root.split()
        var dataRNG = root.split()
        var dropoutRNG = root.split()
        let evalRNG = RNG(seed: 99)  // the same validation windows for every run
        let model = try NanoTransformer(modelConfig, attention: attention, mlp: mlp, rng: &initRNG)
        // The checkpoint describes its model (resolved config, drop-in layers, tokenizer).
        let record = try model.modelRecord(tokenizer: tokenizer)
        let params = model.namedParameters()
        let buffers = model.namedBuffers()
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
            guard let dataWords = state.rngStreams["data"], let dropoutWords = state.rngStreams["dropout"] else {
                throw ConfigError(
                    "\(run.paths.checkpoint): no 'data' and 'dropout' RNG streams; not a pretraining checkpoint")
            }
            dataRNG = RNG(stateWords: dataWords)
            dropoutRNG = RNG(stateWords: dropoutWords)
            if let h = state.tensors["spike_guard"] {
                guardRail.restore(history: h, skipped: Int(state.counters["skipped"] ?? 0))
            }
            if let h = state.tensors["spike_detector"] {
                spikeDetector.restore(history: h, skipped: Int(state.counters["spikes"] ?? 0))
            }
            try Checkpoint.restoreBuffers(buffers, from: state, path: run.paths.checkpoint)
            step = state.step
        }
        func snapshot() -> TrainingState {
            let g = guardRail.state
            let d = spikeDetector.state
            return run.state(
                step: step, parameters: params, optimizer: opt.exportState(),
                rngStreams: ["data": dataRNG.stateWords, "dropout": dropoutRNG.stateWords],
                tensors: ["spike_guard": g.history, "spike_detector": d.history].merging(
                    buffers.map { ("buffer/" + $0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a }),
                counters: ["skipped": Double(g.skipped), "spikes": Double(d.skipped)], model: record)
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
            var lastIds: [Int] = []
            for _ in 0..<c.gradAccumulation {
                let (ids, targets) = data.batch(c.batchSize, time: t, rng: &dataRNG)
                lastIds = ids
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
            let layerMetrics = try afterUpdate?(model, step, lastIds) ?? [:]
            let elapsed = Date().timeIntervalSince(started)
            run.results.log(
                [
                    "loss/train": Double(lossSum), "optim/lr": Double(lr), "optim/grad_norm": gradNorm,
                    "train/skipped_updates": Double(guardRail.skipped), "train/spikes": Double(spikeDetector.skipped),
                ].merging(layerMetrics, uniquingKeysWith: { a, _ in a }),
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
        // Its one sequence draws from this stream directly (the sample predates per-sequence streams).
        let sampleRNG = RNG(seed: UInt64(run.seed) + 7)
        let prompt = tokenizer.encode("ROMEO:")
        let out = try model.generate(
            prompts: [prompt], maxNewTokens: min(64, t - prompt.count), sampling: Sampling(temperature: 0.8, topK: 50),
            streams: [sampleRNG])
        run.results.sample(
            "generation", step: step, (try? tokenizer.decode(prompt + out.responses[0], lossy: true)) ?? "")

        if c.contextEvaluation && modelConfig.positionEncoding != .learned {
            for factor in [1, 2, 4] {
                for method in ContextExtension.allCases {
                    let extended = try model.copy(with: method.apply(to: modelConfig, factor: Double(factor)))
                    var r = evalRNG
                    let val = extended.validationLoss(data, batches: 4, batchSize: 4, time: t * factor, rng: &r)
                    run.results.log("context/\(method.rawValue)", step: factor * t, val)
                }
            }
            if c.contextFinetuneSteps > 0 {
                let longer = try model.copy(
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
        try trainedModel?(model)
        return .finished
    }

    /// Prefill and cached decode speed, decode speed without the cache (recomputing the whole
    /// prefix each step), and KV-cache bytes per token. prompt + decode stays within the context.
    static func inferenceSpeed<Config>(_ model: NanoTransformer, run: Run<Config>, prompt: Int, decode: Int) throws {
        let speed = InferenceSpeed.measure(model, prompt: prompt, decode: decode, recompute: true)
        run.results.summary("perf/prefill_tokens_per_s", speed.prefillTokensPerSecond)
        run.results.summary("perf/decode_tokens_per_s_kv_cache", speed.decodeTokensPerSecond)
        run.results.summary("perf/decode_tokens_per_s_recompute", speed.recomputeTokensPerSecond ?? 0)
        run.results.summary("inference/kv_cache_bytes_per_token", Double(speed.cacheBytesPerToken))
    }
}
