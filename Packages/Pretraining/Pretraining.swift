import Distributed
import ExperimentKit
import Foundation
import HDF5Store
// The pretraining loop (nanoGPT's recipe): random windows, AdamW with warmup and cosine decay,
// gradient accumulation and clipping, an optional loss-spike guard, periodic validation,
// checkpoint and bit-identical resume; then a sample, context extension and inference speed.
// Metrics (results file):
//   loss/train, loss/val             mean next-token cross-entropy (nats) of the update / val windows
//   loss/total                       the loss the update minimised: cross-entropy plus any auxiliary
//                                    term a layer adds (MoE balance loss); equals loss/train otherwise
//   optim/lr, optim/grad_norm        learning rate; global gradient norm before clipping
//   train/spikes                     steps whose cross-entropy or grad norm is an outlier: z-score
//                                    > spikeZ against the last spikeWindow values (llm.c's
//                                    OutlierDetector, see SpikeGuard.swift), or not finite
//   train/skipped_updates            updates the spike guard skipped (spikeGuard on)
//   perf/tokens_per_s                training tokens per second so far (of every process together)
//   perf/allreduce_share             data parallel only: the share of update time spent in the
//                                    all-reduce (waiting for the slowest process included)
//   context/{plain,interpolation,ntk}  val loss at 1x, 2x, 4x the training context (x = length)
//   context/interpolation_finetuned  the same after contextFinetuneSteps at 2x with interpolation
//   summaries: perf/prefill_tokens_per_s, perf/decode_tokens_per_s_{kv_cache,recompute},
//              inference/kv_cache_bytes_per_token (measured), model/parameters, train/diverged_at_step,
//              data/unigram_entropy_train, data/unigram_loss_val (UnigramBaseline.swift)
//   plus whatever afterUpdate returns each step (MoE: moe/*, see MoEStep.swift)
// Under `mpirun -np N` the same run is data parallel (PretrainingTask.update): N processes share
// each global batch of gradAccumulation micro-batches, rank 0 writes the files and measures.
import LabSupport
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
    /// experiment's own measurements. `corpus` replaces `c.data`'s corpus with the caller's
    /// tokenizer and training and validation tokens (the data-pipeline's mixes).
    public static func run<Config>(
        _ run: Run<Config>, _ c: PretrainConfig, repositoryRoot: String, attention: AttentionFactory? = nil,
        mlp: MLPFactory? = nil, afterUpdate: AfterUpdate? = nil,
        corpus: (tokenizer: BPETokenizer, windows: TokenWindows)? = nil,
        trainedModel: ((NanoTransformer) throws -> Void)? = nil
    ) throws -> RunOutcome {
        let tokenizer: BPETokenizer
        let data: TokenWindows
        if let corpus {
            (tokenizer, data) = corpus
        } else {
            // results: <out>/<experiment>/<ablation>/seed-N.h5
            let outFolder = URL(fileURLWithPath: run.paths.results).deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent()
            let array: TokenArray
            (tokenizer, array) = try CorpusTokens.load(
                c, cacheFolder: outFolder.appendingPathComponent("tokens").path, repositoryRoot: repositoryRoot)
            do {
                data = try TokenWindows(tokens: array, seed: 1234)  // split fixed, the same for every seed
            } catch let e as LabError where e.domain == .model {
                throw LabError(.config, "data '\(c.data)' with tokenizerVocab \(c.tokenizerVocab): \(e.message)")
            }
        }
        var modelConfig = c.model
        modelConfig.vocabSize = tokenizer.vocabSize
        var root = RNG(seed: UInt64(run.seed))
        var initRNG = root.split()
        let model = try NanoTransformer(modelConfig, attention: attention, mlp: mlp, rng: &initRNG)
        try checkWindows(data, c, contextLength: modelConfig.contextLength)
        let world = try Communicator.world()
        if world.size > 1 {
            try checkDataParallel(c, processes: world.size, layerHook: afterUpdate != nil)
            try world.broadcastParameters(model.namedParameters())
            print("data parallel: process \(world.rank) of \(world.size)")
        }
        // The checkpoint describes its model (resolved config, drop-in layers, tokenizer).
        let record = try model.modelRecord(tokenizer: tokenizer)
        print("model (resolved: vocabulary and widths as built): \(record.fields["config"] ?? "")")
        let task = try PretrainingTask(
            model: model, record: record, data: data, settings: c,
            total: run.totalSteps(c.steps), dataRNG: root.split(), dropoutRNG: root.split(), afterUpdate: afterUpdate)
        print(
            "model: \(model.parameterCount) parameters; \(data.trainTokens) training tokens, \(data.validationTokens) validation"
        )
        let loop = TrainingLoop(evalEvery: c.evalEvery, checkpointEvery: c.checkpointEvery)
        let outcome = try loop.run(task, in: run, total: task.total)
        if case .interrupted = outcome { return .interrupted }
        // The other processes hold the same model; rank 0 alone measures and writes what follows.
        if world.rank > 0 { return .finished }
        if task.diverged {
            run.results.summary("train/diverged_at_step", Double(task.updatesDone))
            return .finished
        }
        let t = modelConfig.contextLength
        let (guardRail, spikeDetector, evalRNG, step) = (
            task.guardRail, task.spikeDetector, task.evalRNG, task.updatesDone
        )
        var dataRNG = task.dataRNG
        var dropoutRNG = task.dropoutRNG
        run.results.summary("train/skipped_updates", Double(guardRail.skipped))
        run.results.summary("train/spikes", Double(spikeDetector.skipped))
        let unigram = UnigramBaseline(data, vocabSize: modelConfig.vocabSize)
        run.results.summary("data/unigram_entropy_train", unigram.trainEntropy)
        run.results.summary("data/unigram_loss_val", unigram.validationLoss)
        run.results.summary("model/vocab_size", Double(modelConfig.vocabSize))
        run.results.summary("model/parameters", Double(model.parameterCount))

        // A sample, to read what it learned (when the context holds the prompt and a token more).
        // Its one sequence draws from this stream directly (the sample predates per-sequence streams).
        let sampleRNG = RNG(seed: UInt64(run.seed) + 7)
        let prompt = tokenizer.encode("ROMEO:")
        if t > prompt.count {
            let out = try model.generate(
                prompts: [prompt], maxNewTokens: min(64, t - prompt.count),
                sampling: Sampling(temperature: 0.8, topK: 50), streams: [sampleRNG])
            run.results.sample(
                "generation", step: step, (try? tokenizer.decode(prompt + out.responses[0], lossy: true)) ?? "")
        } else {
            print(
                "no sample: the context of \(t) tokens does not hold the \(prompt.count)-token prompt and a new token")
        }

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

    /// Every window the run will draw fits its token stream: training windows of contextLength + 1
    /// tokens (2x for the fine-tuning at twice the context), validation windows up to 4x with the
    /// context evaluation. A corpus too small for them is an error naming the key, before training.
    static func checkWindows(_ data: TokenWindows, _ c: PretrainConfig, contextLength t: Int) throws {
        let longestValidation = c.contextEvaluation && c.model.positionEncoding != .learned ? 4 * t : t
        let longestTraining = c.contextEvaluation && c.contextFinetuneSteps > 0 ? 2 * t : t
        if !data.fits(time: longestTraining, validation: false) || !data.fits(time: longestValidation, validation: true)
        {
            throw LabError(
                .config,
                "key 'model.contextLength' = \(t): the corpus ('\(c.data)') splits into \(data.trainTokens) training and \(data.validationTokens) validation tokens in runs of at most \(data.trainSegments.map(\.count).max() ?? 0) and \(data.validationSegments.map(\.count).max() ?? 0); windows of \(longestTraining + 1) and \(longestValidation + 1) tokens do not fit"
                    + (longestValidation > t
                        ? " (contextEvaluation reads 4x the context: set it to false, or shorten the context)" : "")
            )
        }
    }

    /// What a data-parallel run needs: each process an equal share of the global batch, no
    /// dropout (its stream runs micro-batch after micro-batch, which the processes would split),
    /// and no per-step layer hook (MoE's bias balancing counts one process's routing). Errors name
    /// the key, before training.
    static func checkDataParallel(_ c: PretrainConfig, processes: Int, layerHook: Bool) throws {
        if c.gradAccumulation % processes != 0 {
            throw LabError(
                .config,
                "key 'gradAccumulation' = \(c.gradAccumulation): \(processes) processes each compute an equal share of the global batch's micro-batches; make it a multiple of \(processes)"
            )
        }
        if c.model.dropout > 0 {
            throw LabError(
                .config,
                "key 'model.dropout' = \(c.model.dropout): dropout's stream runs micro-batch after micro-batch in one process; \(processes) processes would draw other masks (set it to 0, or run one process)"
            )
        }
        if layerHook {
            throw LabError(
                .config,
                "this experiment's per-step layer hook (MoE's bias balancing) reads one process's routing counts, which \(processes) processes would not share: run it as one process"
            )
        }
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
