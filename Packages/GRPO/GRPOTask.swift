import Distributed
import ExperimentKit
import Foundation
import HDF5Store
// One GRPO step as the shared loop drives it:
//   1. rollout   `promptsPerStep` tasks from the task source, G samples each from the current
//                policy (π_old), each sample on its own RNG stream, stopped at <|end|> or the budget;
//   2. score     the task's reward of each parsed response, plus the overlong penalty (and the
//                rare outliers of RewardOutliers.swift when set); with dynamic
//                sampling (DAPO), groups whose rewards are all equal are dropped and new tasks drawn
//                until the batch is full, up to `maxSamplingRounds` rounds (then a named error);
//   3. baseline  advantages per group (GroupBaseline.swift); the reference's log-probs when a
//                reference is given (for the KL term, or only to report KL when β = 0);
//   4. update    μ passes over the batch, each in `minibatches` pieces, each piece one AdamW step on
//                GRPOLoss with the policy's log-probs recomputed (at the sampling temperature);
//                the first pass of the first piece sees ratio 1 (with top-p 1: the sampler's
//                log-probs are the recomputed ones, up to the rounding of a cached vs a full forward).
// Diagnostics each step: reward, accuracy, format rate, lengths (all, correct, wrong), the share
// of zero-variance groups, sampling rounds, clip fractions, ratio mean and max, entropy, KL,
// gradient norm, the loss, and the variance of the token and of the sequence ratios (GSPO's
// diagnostics). A loss that is not finite is an alarm (alarm/nonfinite_loss = 1): the update stops
// before the optimiser step that would spread it into the weights, and the run ends there with a
// checkpoint, as a reward that is not finite does.
// With an MoE policy the sampler records every routed layer's experts (π_old's routing); the update
// either replays them (`routingReplay`: π is computed with the experts π_old chose, the GSPO
// paper's Routing Replay) or lets the routers choose again. Either way, after each pass over the
// batch one forward without replay (no gradient) measures the routing change: the share of
// sampled tokens whose set of experts the updated routers choose differs from π_old's, per pass
// and per layer. The expert load is that of π_old's choices on the rollout; the balancing bias is
// not moved during RL (MoEStep.finish is never called), so the routing change is the update's
// alone. The evaluation runs the harness (PostTraining's Evaluation) on a fixed eval set.
import LabSupport
import MoE
import NanoTransformer
import PolicyGradient
import PostTraining
import TensorCore

public struct GRPOSettings: Codable, Sendable, Equatable {
    public var promptsPerStep = 8
    /// G, samples per prompt.
    public var groupSize = 8
    public var maxNewTokens = 48
    public var temperature: Float = 1
    public var topP: Float = 1
    public var baseline = GroupBaseline()
    public var loss = GRPOLoss()
    /// μ: passes over each rollout batch.
    public var innerUpdates = 1
    /// Pieces each pass is split into (one optimiser step each).
    public var minibatches = 1
    public var dynamicSampling = false
    public var maxSamplingRounds = 4
    public var overlong = OverlongShaping()
    /// Rare large rewards added to some responses (GAPO's skewed setting; share 0: off).
    public var rewardOutliers = RewardOutliers()
    /// MoE policies: recompute π during the update with the experts π_old chose for the same
    /// tokens (GSPO paper's Routing Replay). Without it the routing change is measured.
    public var routingReplay = false
    /// Shards of each step (1: none): the rollout is generated in this many batches of prompts,
    /// and each optimiser step's gradient is accumulated over this many parts of its sequences.
    /// Under `mpirun -np N` (N dividing it) each process takes an equal share of both; one process
    /// with the same shards gives the same run, bit for bit when N = 2 (RolloutShards.swift).
    public var shards = 1
    /// Constant after the warmup: an RL run has no fixed length to decay over.
    public var optimizer = OptimizerSettings(
        learningRate: 1e-5, warmupSteps: 0, decay: .constant, minLearningRateRatio: 1, beta2: 0.99)

    public init() {}

    public func check() throws {
        for (key, value) in [
            ("grpo.promptsPerStep", promptsPerStep), ("grpo.groupSize", groupSize), ("grpo.maxNewTokens", maxNewTokens),
            ("grpo.innerUpdates", innerUpdates), ("grpo.minibatches", minibatches),
            ("grpo.maxSamplingRounds", maxSamplingRounds), ("grpo.shards", shards),
        ] where value < 1 {
            throw LabError(.config, "\(key): \(value) must be at least 1")
        }
        if groupSize < 2 {
            throw LabError(.config, "grpo.groupSize: \(groupSize) must be at least 2 (a group needs a baseline)")
        }
        // A step's sequences, and its parts: products of config values, so an absurd value is an
        // error here rather than an overflow.
        let (sequences, tooMany) = promptsPerStep.multipliedReportingOverflow(by: groupSize)
        let (parts, tooManyParts) = shards.multipliedReportingOverflow(by: minibatches)
        if tooMany || sequences > 10_000_000 {
            throw LabError(
                .config,
                "grpo.promptsPerStep x grpo.groupSize: \(promptsPerStep) x \(groupSize) sequences a step is too many")
        }
        if minibatches > sequences {
            throw LabError(
                .config,
                "grpo.minibatches: \(minibatches) is more than the \(promptsPerStep * groupSize) sequences of a step")
        }
        if shards > promptsPerStep {
            throw LabError(
                .config,
                "grpo.shards: \(shards) is more than the \(promptsPerStep) prompts of a step (grpo.promptsPerStep)")
        }
        if tooManyParts || parts > sequences {
            throw LabError(
                .config,
                "grpo.shards: \(shards) parts of each of \(minibatches) minibatches is more than the \(promptsPerStep * groupSize) sequences of a step"
            )
        }
        try optimizer.check("grpo.optimizer")
        if routingReplay && dynamicSampling {
            throw LabError(
                .config,
                "grpo.routingReplay: not available with grpo.dynamicSampling yet (the routing records of several sampling rounds cannot be joined)"
            )
        }
        if loss.clipLow < 0 || loss.clipHigh < 0 || !(loss.beta >= 0) {
            throw LabError(.config, "grpo.loss: clipLow, clipHigh and beta must be >= 0")
        }
        try baseline.check("grpo.baseline")
        try rewardOutliers.check("grpo.rewardOutliers")
        if overlong.handling == .softPenalty && !(1...maxNewTokens).contains(overlong.window) {
            throw LabError(
                .config,
                "grpo.overlong.window: \(overlong.window) must be within 1...grpo.maxNewTokens (\(maxNewTokens))")
        }
        try Sampling(temperature: temperature, topP: topP).check()
    }
}

/// Tasks with fresh prompts, drawn from the data stream.
public typealias TaskSource = (inout RNG) -> VerifiableTask

public final class GRPOTask: TrainingTask {
    public let model: NanoTransformer
    public let modelRecord: ModelRecord?
    let reference: ReferenceModel?
    let format: ConversationFormat
    let settings: GRPOSettings
    let source: TaskSource
    let evaluationTasks: [VerifiableTask]
    let evaluationSettings: EvaluationSettings
    let adam: Adam
    let schedule: LearningRateSchedule
    public let parameters: [(name: String, tensor: Tensor)]
    let buffers: [(name: String, tensor: Tensor)]
    public var optimizer: any Optimizer { adam }
    var dataRNG: RNG
    var sampleRNG: RNG
    var dropoutRNG: RNG
    public private(set) var updatesDone = 0
    /// The processes of a data-parallel run (one without mpirun).
    let world: Communicator
    /// Seconds in the step's collectives (waiting for the other processes included), and in steps.
    var collectiveSeconds = 0.0
    var stepSeconds = 0.0

    /// Runs a collective, timing it.
    func collective<T>(_ body: () throws -> T) rethrows -> T {
        let start = Date()
        defer { collectiveSeconds += Date().timeIntervalSince(start) }
        return try body()
    }
    /// Called after each evaluation with the step and the eval set's prompts and greedy answers
    /// (the experiment's sample table).
    public var onEvaluation: ((_ step: Int, _ prompts: [String], _ greedy: [ScoredResponse]) -> Void)?
    /// Metrics of each step's rollout (its parsed responses) added to the step's own (R1's
    /// language mixing and self-corrections over training).
    public var onRollout: ((_ responses: [ParsedResponse]) -> [String: Double])?
    /// What the environment puts into a response while it is sampled (a tool's result): inserted
    /// tokens are fed to the policy but weigh nothing in the loss (their mask entries are 0).
    public var interjection: Interjection?
    /// Metrics of each evaluation's answers (greedy, and the samples per task) added to the
    /// harness's own.
    public var evaluationMetrics: ((_ greedy: [ScoredResponse], _ samples: [[ScoredResponse]]) -> [String: Double])?

    public init(
        policy: NanoTransformer, record: ModelRecord?, reference: ReferenceModel?, format: ConversationFormat,
        source: @escaping TaskSource, evaluationTasks: [VerifiableTask], evaluation: EvaluationSettings,
        settings: GRPOSettings, seed: UInt64
    ) throws {
        try settings.check()
        if settings.loss.beta > 0 && reference == nil {
            throw LabError(.config, "grpo.loss.beta: \(settings.loss.beta) needs a reference model (or set it to 0)")
        }
        (model, modelRecord, self.reference, self.format, self.settings, self.source) = (
            policy, record, reference, format, settings, source
        )
        self.evaluationTasks = evaluationTasks
        evaluationSettings = evaluation
        parameters = policy.namedParameters()
        buffers = policy.namedBuffers()
        adam = settings.optimizer.adamW(parameters, noDecay: policy.noDecayNames)
        schedule = settings.optimizer.schedule(totalSteps: 1)
        var root = RNG(seed: seed)
        (dataRNG, sampleRNG, dropoutRNG) = (root.split(), root.split(), root.split())
        world = try Communicator.world()
        if world.size > 1 { try Self.checkDataParallel(settings, policy: policy, processes: world.size) }
    }

    /// What N processes cannot split the way one process does is refused by key.
    static func checkDataParallel(_ settings: GRPOSettings, policy: NanoTransformer, processes: Int) throws {
        if settings.shards % processes != 0 {
            throw LabError(
                .config,
                "grpo.shards: \(settings.shards): \(processes) processes each take an equal share of a step's rollout and gradient shards; make it a multiple of \(processes)",
                key: "grpo.shards")
        }
        if policy.config.dropout > 0 {
            throw LabError(
                .config,
                "policy: its dropout is \(policy.config.dropout); dropout's stream runs part after part in one process, \(processes) processes would draw other masks (a policy without dropout, or one process)",
                key: "policy")
        }
    }

    /// Scored samples, prompt-major: what the update needs of the rollout, and the scores.
    struct Scored {
        var prompts: [[Int]] = []
        var responses: [[Int]] = []
        /// The sampler's log-probs (π_old).
        var logProbs: [[Float]] = []
        /// Per response token: put in by the environment (no loss), not sampled.
        var inserted: [[Bool]] = []
        var stopped: [Bool] = []
        var rewards: [Float] = []
        var correct: [Bool] = []
        var wellFormed: [Bool] = []
        var parsed: [ParsedResponse] = []
        /// The experts each routed layer chose while sampling (MoE policies).
        var routing: RoutingRecord?

        var count: Int { responses.count }

        static func + (a: Scored, b: Scored) -> Scored {
            Scored(
                prompts: a.prompts + b.prompts, responses: a.responses + b.responses, logProbs: a.logProbs + b.logProbs,
                inserted: a.inserted + b.inserted, stopped: a.stopped + b.stopped, rewards: a.rewards + b.rewards,
                correct: a.correct + b.correct,
                wellFormed: a.wellFormed + b.wellFormed, parsed: a.parsed + b.parsed, routing: nil)
        }

        func rows(_ r: [Int]) -> Scored {
            Scored(
                prompts: r.map { prompts[$0] }, responses: r.map { responses[$0] }, logProbs: r.map { logProbs[$0] },
                inserted: r.map { inserted[$0] }, stopped: r.map { stopped[$0] }, rewards: r.map { rewards[$0] },
                correct: r.map { correct[$0] },
                wellFormed: r.map { wellFormed[$0] }, parsed: r.map { parsed[$0] }, routing: routing?.subset(r))
        }
    }

    /// Samples `prompts` tasks' groups and scores them.
    func sampleGroups(_ prompts: Int) throws -> Scored {
        let tasks = (0..<prompts).map { _ in source(&dataRNG) }
        let g = settings.groupSize
        let streams = (0..<(prompts * g)).map { _ in sampleRNG.split() }
        let promptIds = tasks.map { format.promptIds($0.prompt) }
        // This process's shards of the prompts, then every shard on every process.
        let mine = try world.share(of: settings.shards).map { q in
            let range = RolloutShards.prompts(shard: q, of: settings.shards, count: prompts)
            return try model.generate(
                prompts: Array(promptIds[range]), samplesPerPrompt: g, maxNewTokens: settings.maxNewTokens,
                sampling: Sampling(temperature: settings.temperature, topP: settings.topP), stopTokens: [format.end],
                recordRouting: !model.routedLayers.isEmpty && !settings.dynamicSampling,
                streams: Array(streams[(range.lowerBound * g)..<(range.upperBound * g)]), interjection: interjection)
        }
        let rollout = try collective { try world.gatherRollout(mine) }
        var scored = Scored(
            prompts: rollout.prompts, responses: rollout.responses, logProbs: rollout.logProbs,
            inserted: rollout.inserted, stopped: rollout.stopped,
            routing: rollout.routing.map(RoutingRecord.init(choices:)))
        for i in 0..<rollout.responses.count {
            let stopped = rollout.stopped[i]
            let text = try format.responseText(rollout.responses[i])
            let parsed = ParsedResponse(text)
            let task = tasks[i / g]
            let length = rollout.responses[i].count - (stopped ? 1 : 0)
            let reward = task.reward(parsed) + settings.rewardOutliers.change(prompt: task.prompt, response: text)
            scored.rewards.append(
                Float(reward) + settings.overlong.penalty(length: length, budget: settings.maxNewTokens))
            scored.correct.append(task.isCorrect(parsed))
            scored.wellFormed.append(parsed.wellFormed)
            scored.parsed.append(parsed)
        }
        return scored
    }

    /// The step's groups: one draw, or with dynamic sampling as many as it takes to fill the batch
    /// with groups whose rewards differ. Returns them and the rounds it took.
    func collect() throws -> (Scored, rounds: Int, zeroVarianceShare: Double) {
        let g = settings.groupSize
        let first = try sampleGroups(settings.promptsPerStep)
        let zeroShare =
            Double(GroupBaseline.zeroVarianceGroups(first.rewards, groupSize: g)) / Double(settings.promptsPerStep)
        guard settings.dynamicSampling else { return (first, 1, zeroShare) }
        var kept: [Int] = []  // group indices of `all` with rewards that differ
        var all = first
        var rounds = 1
        func informative(_ s: Scored, _ k: Int) -> Bool {
            s.rewards[(k * g)..<((k + 1) * g)].contains { $0 != s.rewards[k * g] }
        }
        kept = (0..<settings.promptsPerStep).filter { informative(all, $0) }
        while kept.count < settings.promptsPerStep {
            guard rounds < settings.maxSamplingRounds else {
                throw LabError(
                    .config,
                    "grpo.dynamicSampling: only \(kept.count) of \(settings.promptsPerStep) groups had rewards that differ after \(rounds) rounds (grpo.maxSamplingRounds): every answer of the others was equally right or wrong; the tasks are too easy or too hard for this policy",
                    key: "grpo.maxSamplingRounds")
            }
            let more = try sampleGroups(settings.promptsPerStep)
            let offset = all.count / g
            kept += (0..<settings.promptsPerStep).filter { informative(more, $0) }.map { $0 + offset }
            all = all + more
            rounds += 1
        }
        let rows = kept.prefix(settings.promptsPerStep).flatMap { k in (k * g)..<((k + 1) * g) }
        return (all.rows(rows), rounds, zeroShare)
    }

    public func update() throws -> StepReport {
        let stepStart = Date()
        defer { stepSeconds += Date().timeIntervalSince(stepStart) }
        let (batch, rounds, zeroShare) = try collect()
        let n = batch.count
        let advantages = settings.baseline.advantages(batch.rewards, groupSize: settings.groupSize)
        let stopped = batch.stopped
        let keep = stopped.map { settings.overlong.keepsInLoss(stopped: $0) }
        // At the sampling temperature, as the policy's (TRL scales both logits the same way): over
        // the whole batch at once, or with shards over each part's rows as they are reached (a
        // forward's numbers depend on its batch in the last bits; a process computes its parts).
        let wholeReference = settings.shards > 1 ? nil : referenceLogProbs(batch, Array(0..<n))
        var partReference: [Int: [[Float]]] = [:]  // by piece and part, kept over the passes
        var diagnostics: [PolicyDiagnostics] = []
        var (klSum, entropySum, entropyTokens, normSum, lossSum, steps) = (0.0, 0.0, 0.0, 0.0, 0.0, 0)
        var nonFiniteLoss = false  // an alarm: the update stops before the step that would spread it
        var updateRoutingChanges: [Double] = []  // the update's forwards against π_old (0 with replay)
        var routingAfterPass: [[Double]] = []  // the routers' own choice after each pass, per layer
        let shards = settings.shards
        passes: for _ in 0..<settings.innerUpdates {
            for piece in 0..<settings.minibatches {
                let rows = Array((n * piece / settings.minibatches)..<(n * (piece + 1) / settings.minibatches))
                // The piece's gradient accumulated over its parts, each loss divided by the whole
                // piece's counts so that the parts' losses add up to the piece's.
                let parts = (0..<shards).map { q in
                    Array(rows[(rows.count * q / shards)..<(rows.count * (q + 1) / shards)])
                }
                let totals = LossAggregation.Totals(
                    sequences: rows.count,
                    tokens: rows.reduce(0) { $0 + (keep[$1] ? batch.inserted[$1].count { !$0 } : 0) })
                adam.zeroGrad()
                var mine: [PartRecord] = []
                for q in world.share(of: shards) {
                    let reference: [[Float]]?
                    if let whole = wholeReference {
                        reference = parts[q].map { whole[$0] }
                    } else {
                        reference = partReference[piece * shards + q] ?? referenceLogProbs(batch, parts[q])
                        partReference[piece * shards + q] = reference
                    }
                    mine.append(
                        partLoss(
                            batch, rows: parts[q], keep: keep, advantages: advantages, reference: reference,
                            totals: shards > 1 ? totals : nil, share: Float(parts[q].count) / Float(rows.count)))
                }
                // Every part's record on every process, in part order; the gradients summed.
                let records = try collective { try gatherRecords(mine) }
                guard records.allSatisfy({ $0.loss.isFinite }) else {
                    nonFiniteLoss = true
                    break passes
                }
                var noSums: [Float] = []
                try collective { try world.allReduceGradients(model.parameters, sums: &noSums) }
                lossSum += records.reduce(0) { $0 + $1.loss }
                normSum += Double(clipGradNorm(model.parameters, maxNorm: Float(settings.optimizer.gradClip)))
                adam.step(lr: schedule(updatesDone))
                steps += 1
                diagnostics.append(PolicyDiagnostics.pooled(records.map(\.diagnostics)))
                klSum += PartRecord.pooledKL(records)
                for record in records {
                    (entropySum, entropyTokens) = (entropySum + record.entropySum, entropyTokens + record.entropyTokens)
                }
                updateRoutingChanges += records.compactMap(\.routingChange)
            }
            // A measurement of the model every process holds: rank 0 alone takes it.
            if let routing = batch.routing, world.rank == 0 {
                routingAfterPass.append(routersChoiceChange(routing, batch))
            }
        }
        updatesDone += 1
        let lengths = (0..<n).map { Double(batch.responses[$0].count - (stopped[$0] ? 1 : 0)) }
        let correctLengths = (0..<n).filter { batch.correct[$0] }.map { lengths[$0] }
        let wrongLengths = (0..<n).filter { !batch.correct[$0] }.map { lengths[$0] }
        let reward = mean(batch.rewards.map(Double.init))
        var metrics: [String: Double] = [
            "train/reward": reward, "train/accuracy": mean(batch.correct.map { $0 ? 1 : 0 }),
            "train/format_rate": mean(batch.wellFormed.map { $0 ? 1 : 0 }), "train/length": mean(lengths),
            "train/stop_rate": mean(stopped.map { $0 ? 1 : 0 }), "train/zero_variance_groups": zeroShare,
            "train/sampling_rounds": Double(rounds),
            "train/zero_variance_groups_kept": Double(
                GroupBaseline.zeroVarianceGroups(batch.rewards, groupSize: settings.groupSize))
                / Double(n / settings.groupSize), "policy/clip_low": mean(diagnostics.map(\.clipLow)),
            "policy/clip_high": mean(diagnostics.map(\.clipHigh)),
            "policy/ratio_mean": mean(diagnostics.map(\.ratioMean)),
            "policy/ratio_max": diagnostics.map(\.ratioMax).max() ?? 1,
            "policy/clip_fraction": mean(diagnostics.map(\.clipFraction)),
            "policy/token_ratio_var": mean(diagnostics.map(\.tokenRatioVariance)),
            "policy/sequence_ratio_var": mean(diagnostics.map(\.sequenceRatioVariance)),
            "policy/entropy": entropyTokens > 0 ? entropySum / entropyTokens : .nan,
            "policy/loss": lossSum / Double(max(steps, 1)), "alarm/nonfinite_loss": nonFiniteLoss ? 1 : 0,
            "optim/grad_norm": normSum / Double(max(steps, 1)),
            "optim/lr": Double(schedule(updatesDone - 1)),
        ]
        if world.size > 1 {
            // Of every step so far, the share spent in the gathers and the all-reduce: mostly waiting
            // for the process whose shard generated longer responses.
            metrics["perf/collective_share"] =
                collectiveSeconds / max(stepSeconds + Date().timeIntervalSince(stepStart), 1e-9)
        }
        if interjection != nil {
            metrics["train/inserted_tokens"] = mean(batch.inserted.map { Double($0.count { $0 }) })
        }
        if !correctLengths.isEmpty { metrics["train/length_correct"] = mean(correctLengths) }
        if !wrongLengths.isEmpty { metrics["train/length_wrong"] = mean(wrongLengths) }
        if reference != nil { metrics["policy/kl"] = klSum / Double(max(steps, 1)) }
        if let onRollout { metrics.merge(onRollout(batch.parsed)) { a, _ in a } }
        if let routing = batch.routing, let last = routingAfterPass.last {
            metrics["moe/update_routing_change"] = mean(updateRoutingChanges)
            metrics["moe/routing_change"] = mean(last)
            for (pass, layers) in routingAfterPass.enumerated() {
                metrics["moe/routing_change/pass_\(pass + 1)"] = mean(layers)
            }
            for (layer, change) in last.enumerated() { metrics["moe/routing_change/layer_\(layer)"] = change }
            metrics.merge(Self.expertLoad(model, routing)) { a, _ in a }
        }
        return StepReport(
            metrics: metrics, shown: [("reward", reward), ("acc", metrics["train/accuracy"]!)],
            stop: !reward.isFinite || nonFiniteLoss)
    }

    /// The reference's log-probs of `rows` of the batch (nil without a reference).
    func referenceLogProbs(_ batch: Scored, _ rows: [Int]) -> [[Float]]? {
        reference.map {
            $0.logProbs(
                prompts: rows.map { batch.prompts[$0] }, responses: rows.map { batch.responses[$0] },
                temperature: settings.temperature)
        }
    }

    /// One part's loss and its backward (skipped when the loss is not finite); `totals`: the
    /// piece's counts when the piece is split into parts; `share`: the part's share of the piece's
    /// sequences (an MoE policy's auxiliary loss weighs by it).
    func partLoss(
        _ batch: Scored, rows: [Int], keep: [Bool], advantages: [Float], reference: [[Float]]?,
        totals: LossAggregation.Totals?, share: Float
    ) -> PartRecord {
        let part = batch.rows(rows)
        let responseBatch = ResponseBatch(prompts: part.prompts, responses: part.responses)
        let width = responseBatch.width
        // Responses the overlong rule leaves out weigh 0: their mask rows are zeroed; so do the
        // tokens the environment put in (the policy did not choose them).
        let maskValues = zip(rows, responseBatch.mask.array.chunked(width)).flatMap { row, m in
            guard keep[row] else { return [Float](repeating: 0, count: width) }
            return m.enumerated().map { j, value in j < batch.inserted[row].count && batch.inserted[row][j] ? 0 : value
            }
        }
        let mask = Tensor(maskValues, shape: [rows.count, width])
        if settings.routingReplay, let routing = part.routing {
            model.replayRouting(routing, batch: responseBatch)
        }
        let current = model.responseLogProbs(
            responseBatch, temperature: settings.temperature, entropy: true, training: true, rng: &dropoutRNG)
        model.stopRoutingReplay()
        let routingChange = part.routing.map { mean(Self.routingChange(model, $0, responseBatch)) }
        let out = settings.loss(
            logProbs: current.logProbs, oldLogProbs: padded(part.logProbs, width: width),
            referenceLogProbs: reference.map { padded($0, width: width) },
            advantages: rows.map { advantages[$0] }, mask: mask, budget: settings.maxNewTokens, totals: totals)
        var loss = out.loss
        if let auxiliary = current.auxiliaryLoss { loss = loss + (totals == nil ? auxiliary : auxiliary * share) }
        let value = Double(loss.item)
        if value.isFinite { loss.backward() }
        var record = PartRecord(loss: value, diagnostics: out.diagnostics, kl: out.kl, routingChange: routingChange)
        if let h = current.entropy {
            record.entropySum = Double((h * mask).sum().item)
            record.entropyTokens = Double(mask.array.reduce(0, +))
        }
        return record
    }

    /// Every process's part records, in part order (this process's alone without mpirun).
    func gatherRecords(_ mine: [PartRecord]) throws -> [PartRecord] {
        guard world.size > 1 else { return mine }
        return try world.allGather(mine.flatMap(\.wire), what: "the step's part records").flatMap {
            try PartRecord.decode($0)
        }
    }

    /// Per routed layer, the share of the sampled tokens (every position the sampler fed the
    /// model) whose set of experts in the last forward over `batch` differs from the one recorded
    /// while sampling.
    static func routingChange(_ model: NanoTransformer, _ record: RoutingRecord, _ batch: ResponseBatch) -> [Double] {
        model.routedLayers.enumerated().map { l, layer in
            routingChange(
                recorded: record.choices.map { $0[l] }, current: layer.lastChoice, topK: layer.choicesPerToken,
                time: batch.time)
        }
    }

    /// One layer's routing change: recorded[i] holds the K experts of each token sequence i fed
    /// the model (token-major), current the N·K choices of a forward over a (B, time) batch whose
    /// row i is sequence i; the share of recorded tokens whose set of experts differs.
    public static func routingChange(recorded: [[Int]], current: [Int], topK k: Int, time: Int) -> Double {
        precondition(current.count == recorded.count * time * k, "routingChange: \(current.count) choices")
        let now = recorded.enumerated().flatMap { i, r in current[(i * time * k)..<(i * time * k + r.count)] }
        return MoEStep.changedShare(recorded.flatMap { $0 }, now, topK: k)
    }

    /// The routing change of the current policy: one forward over the whole rollout without
    /// replay and without gradient (the routers choose freely), against π_old's record; per layer.
    func routersChoiceChange(_ record: RoutingRecord, _ batch: Scored) -> [Double] {
        let responses = ResponseBatch(prompts: batch.prompts, responses: batch.responses)
        var unused = RNG(seed: 0)  // no dropout outside training
        withNoGrad {
            _ = model.hiddenStates(responses.ids, batch: responses.batch, time: responses.time, rng: &unused)
        }
        return Self.routingChange(model, record, responses)
    }

    /// π_old's expert load on the rollout (every sampled token's choices), as MoEStep reports a
    /// training step's: max over mean and coefficient of variation, the mean over MoE layers.
    static func expertLoad(_ model: NanoTransformer, _ record: RoutingRecord) -> [String: Double] {
        // The record's layer index is the routed layer's (every routed layer here is an MoE one).
        let layers = model.routedLayers.enumerated().compactMap { l, layer in
            (layer as? MixtureOfExperts).map { (l, $0.config.experts) }
        }
        guard !layers.isEmpty else { return [:] }
        var (maxOverMean, cv) = (0.0, 0.0)
        for (l, experts) in layers {
            var statistics = RoutingStatistics(experts: experts)
            for sequence in record.choices { for e in sequence[l] { statistics.load[e] += 1 } }
            (maxOverMean, cv) = (maxOverMean + statistics.loadMaxOverMean, cv + statistics.loadCV)
        }
        let count = Double(layers.count)
        return ["moe/load_max_over_mean": maxOverMean / count, "moe/load_cv": cv / count]
    }

    /// Rows of per-token values right-padded with 0 to `width`: (B, width).
    func padded(_ rows: [[Float]], width: Int) -> Tensor {
        Tensor(rows.flatMap { $0 + [Float](repeating: 0, count: width - $0.count) }, shape: [rows.count, width])
    }

    public func evaluate() throws -> StepReport {
        // Every process holds the same policy: rank 0 alone measures it (the others' files are scratch).
        guard !evaluationTasks.isEmpty, world.rank == 0 else { return StepReport(metrics: [:]) }
        let (report, greedy, samples) = try Evaluation.run(
            model, format: format, tasks: evaluationTasks, settings: evaluationSettings, interjection: interjection)
        onEvaluation?(updatesDone, evaluationTasks.map(\.prompt), greedy)
        var metrics = report.metrics
        if let evaluationMetrics { metrics.merge(evaluationMetrics(greedy, samples)) { a, _ in a } }
        return StepReport(metrics: metrics, shown: [("eval acc", report.greedyAccuracy)])
    }

    public func agreeToStop(_ stopping: Bool) throws -> Bool {
        try world.anyProcess(stopping, what: "the stop request")
    }

    public func exportState() -> TaskState {
        TaskState(
            rngStreams: ["data": dataRNG.stateWords, "sample": sampleRNG.stateWords, "dropout": dropoutRNG.stateWords],
            tensors: Dictionary(uniqueKeysWithValues: buffers.map { ("buffer/" + $0.name, $0.tensor) }))
    }

    public func restore(_ state: TaskState, step: Int, path: String) throws {
        dataRNG = try state.stream("data", path: path)
        sampleRNG = try state.stream("sample", path: path)
        dropoutRNG = try state.stream("dropout", path: path)
        try Checkpoint.restoreBuffers(buffers, from: state.tensors, path: path)
        updatesDone = step
    }
}

/// The mean, NaN for none.
func mean(_ xs: [Double]) -> Double { xs.isEmpty ? .nan : xs.reduce(0, +) / Double(xs.count) }

extension Array {
    fileprivate func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
