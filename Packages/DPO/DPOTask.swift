import ExperimentKit
import HDF5Store
// Offline DPO on the shared loop: preference pairs from a PreferenceData file (every labelled pair
// of a prompt's K responses, or only its best against its worst), the reference's summed log-probs
// computed once per pair before training (and cached on disk when a path is given), then epochs
// of updates: the chosen and the rejected responses of `pairsPerBatch` pairs in one forward, their
// summed log-probs into DPOLoss, AdamW, the gradient clipped. Logged each update besides the loss:
// the implicit rewards (chosen, rejected, margin, accuracy) and the policy's summed log-probs of the
// chosen and rejected responses themselves, which usually both fall ("likelihood displacement").
// The evaluation reports the same on held-out pairs, plus whatever `extraEvaluation` measures on
// fresh samples (true reward, KL to the reference, length, in the dpo experiment).
import LabSupport
import NanoTransformer
import PostTraining
import RewardBPR
import TensorCore

public struct DPOPair: Sendable, Equatable {
    public var prompt: [Int]
    public var chosen: [Int]
    public var rejected: [Int]

    public init(prompt: [Int], chosen: [Int], rejected: [Int]) {
        (self.prompt, self.chosen, self.rejected) = (prompt, chosen, rejected)
    }
}

public enum PairSelection: String, Codable, Sendable, CaseIterable {
    /// Every labelled pair: C(K,2) per prompt.
    case allPairs
    /// The annotator's first against its last, one per prompt.
    case bestVsWorst
}

/// Who orders a pair: the file's simulated annotator (its noisy ranking) or the true reward.
public enum PairLabels: String, Codable, Sendable, CaseIterable {
    case annotator
    /// Ordered by the true reward; pairs it cannot order (equal true rewards) are left out.
    case truth
}

extension PreferenceData {
    public func dpoPairs(_ selection: PairSelection, labels: PairLabels = .annotator) -> [DPOPair] {
        (0..<count).flatMap { i -> [DPOPair] in
            let truth = trueRewards[i]
            let r =
                labels == .annotator
                ? ranks[i] : truth.indices.sorted { truth[$0] > truth[$1] || (truth[$0] == truth[$1] && $0 < $1) }
            let ordered = { (w: Int, l: Int) in labels == .annotator || truth[w] > truth[l] }
            switch selection {
            case .bestVsWorst:
                let (w, l) = (r[0], r[r.count - 1])
                return ordered(w, l)
                    ? [DPOPair(prompt: prompts[i], chosen: responses[i][w], rejected: responses[i][l])] : []
            case .allPairs:
                return PreferencePair.allPairs(ranking: r, prompt: i).filter { ordered($0.winner, $0.loser) }.map {
                    DPOPair(prompt: prompts[i], chosen: responses[i][$0.winner], rejected: responses[i][$0.loser])
                }
            }
        }
    }
}

public struct DPOSettings: Codable, Sendable, Equatable {
    public var epochs = 1
    public var pairsPerBatch = 8
    public var pairs = PairSelection.allPairs
    public var loss = DPOLoss()
    public var optimizer = OptimizerSettings(learningRate: 1e-5, decay: .constant, minLearningRateRatio: 1)

    public init() {}

    public func check() throws {
        for (key, value) in [("dpo.epochs", epochs), ("dpo.pairsPerBatch", pairsPerBatch)] where value < 1 {
            throw LabError(.config, "\(key): \(value) must be at least 1")
        }
        try optimizer.check("dpo.optimizer")
        try loss.check()
    }
}

/// DPO on `batch`: the chosen and the rejected responses in one forward, their summed log-probs
/// into `loss` with the reference's sums (nil for SimPO). Returns the loss's output and the mean
/// summed log-probs of the chosen and of the rejected responses. Offline and online DPO share it.
func dpoForward(
    _ model: NanoTransformer, _ loss: DPOLoss, pairs batch: [DPOPair],
    reference: (chosen: [Float], rejected: [Float])?, training: Bool, rng: inout RNG
) -> (DPOLoss.Output, chosenLogProb: Double, rejectedLogProb: Double) {
    let b = batch.count
    let responses = ResponseBatch(
        prompts: batch.map(\.prompt) + batch.map(\.prompt), responses: batch.map(\.chosen) + batch.map(\.rejected))
    let sequences = model.responseLogProbs(responses, training: training, rng: &rng).sequenceLogProbs.reshaped([
        2 * b, 1,
    ])
    let policyChosen = sequences.indexSelect(rows: Array(0..<b)).reshaped([b])
    let policyRejected = sequences.indexSelect(rows: Array(b..<(2 * b))).reshaped([b])
    let out = loss(
        policyChosen: policyChosen, policyRejected: policyRejected, referenceChosen: reference?.chosen,
        referenceRejected: reference?.rejected, chosenLengths: batch.map(\.chosen.count),
        rejectedLengths: batch.map(\.rejected.count))
    let mean = { (t: Tensor) in Double(t.array.reduce(0, +)) / Double(b) }
    return (out, mean(policyChosen), mean(policyRejected))
}

public final class DPOTask: TrainingTask {
    public let model: NanoTransformer
    public let modelRecord: ModelRecord?
    let settings: DPOSettings
    let train: [DPOPair]
    let heldOut: [DPOPair]
    /// Summed reference log-probs of each pair's chosen and rejected response (nil for SimPO).
    let referenceTrain: (chosen: [Float], rejected: [Float])?
    let referenceHeldOut: (chosen: [Float], rejected: [Float])?
    public let parameters: [(name: String, tensor: Tensor)]
    let buffers: [(name: String, tensor: Tensor)]
    public var optimizer: any Optimizer { training.adam }
    let extraEvaluation: ((NanoTransformer) throws -> [String: Double])?
    var training: EpochTraining
    public private(set) var updatesDone = 0
    public var totalUpdates: Int { training.totalUpdates }

    /// `referenceCache`: a folder for the reference log-probs of the training and held-out pairs.
    public init(
        policy: NanoTransformer, record: ModelRecord?, reference: ReferenceModel?, train: [DPOPair],
        heldOut: [DPOPair], settings: DPOSettings, seed: UInt64, referenceCache: String? = nil,
        extraEvaluation: ((NanoTransformer) throws -> [String: Double])? = nil
    ) throws {
        try settings.check()
        guard !train.isEmpty else { throw LabError(.config, "dpo: no training pairs") }
        for (name, pairs) in [("training", train), ("held-out", heldOut)] {
            if let i = pairs.firstIndex(where: { $0.chosen == $0.rejected }) {
                throw LabError(
                    .config,
                    "dpo: \(name) pair \(i) has the same chosen and rejected response (\(pairs[i].chosen.count) tokens): its margin is 0 whatever the policy, so it cannot be learned from"
                )
            }
        }
        if settings.loss.kind.needsReference && reference == nil {
            throw LabError(.config, "dpo.loss.kind: \(settings.loss.kind.rawValue) needs a reference model")
        }
        (model, modelRecord, self.settings, self.train, self.heldOut, self.extraEvaluation) = (
            policy, record, settings, train, heldOut, extraEvaluation
        )
        func sums(_ pairs: [DPOPair], _ name: String) throws -> (chosen: [Float], rejected: [Float])? {
            guard settings.loss.kind.needsReference, let reference, !pairs.isEmpty else { return nil }
            let prompts = pairs.map(\.prompt) + pairs.map(\.prompt)
            let responses = pairs.map(\.chosen) + pairs.map(\.rejected)
            let perToken =
                try referenceCache.map {
                    try reference.logProbs(prompts: prompts, responses: responses, cache: "\($0)/\(name).h5")
                } ?? reference.logProbs(prompts: prompts, responses: responses)
            let summed = perToken.map { $0.reduce(0, +) }
            return (Array(summed[..<pairs.count]), Array(summed[pairs.count...]))
        }
        referenceTrain = try sums(train, "reference-train")
        referenceHeldOut = try sums(heldOut, "reference-held-out")
        parameters = policy.namedParameters()
        buffers = policy.namedBuffers()
        training = EpochTraining(
            parameters: parameters, noDecay: policy.noDecayNames, optimizer: settings.optimizer, examples: train.count,
            batchSize: settings.pairsPerBatch, epochs: settings.epochs, seed: seed)
    }

    /// The loss's output and the policy's mean summed log-probs of the chosen and rejected responses.
    func forward(_ pairs: [DPOPair], _ indices: [Int], reference: (chosen: [Float], rejected: [Float])?, training: Bool)
        -> (DPOLoss.Output, chosenLogProb: Double, rejectedLogProb: Double)
    {
        dpoForward(
            model, settings.loss, pairs: indices.map { pairs[$0] },
            reference: reference.map { r in (indices.map { r.chosen[$0] }, indices.map { r.rejected[$0] }) },
            training: training, rng: &self.training.dropoutRNG)
    }

    public func update() throws -> StepReport {
        let indices = training.order.next(settings.pairsPerBatch)
        training.adam.zeroGrad()
        let (out, chosen, rejected) = forward(train, indices, reference: referenceTrain, training: true)
        var loss = out.loss
        if let auxiliary = model.auxiliaryLoss { loss = loss + auxiliary }
        loss.backward()
        let norm = clipGradNorm(model.parameters, maxNorm: Float(settings.optimizer.gradClip))
        let lr = training.schedule(updatesDone)
        training.adam.step(lr: lr)
        updatesDone += 1
        let value = Double(out.loss.item)
        return StepReport(
            metrics: [
                "loss/train": value, "rewards/chosen": out.chosenReward, "rewards/rejected": out.rejectedReward,
                "rewards/margin": out.rewardMargin, "rewards/accuracy": out.rewardAccuracy, "logps/chosen": chosen,
                "logps/rejected": rejected, "optim/lr": Double(lr), "optim/grad_norm": Double(norm),
                "train/epoch": training.epoch(after: updatesDone),
            ], shown: [("loss", value), ("acc", out.rewardAccuracy)], stop: !value.isFinite)
    }

    public func evaluate() throws -> StepReport {
        var metrics: [String: Double] = [:]
        if !heldOut.isEmpty {
            withNoGrad {
                var (sums, n) = ([Double](repeating: 0, count: 7), 0.0)
                for start in stride(from: 0, to: heldOut.count, by: settings.pairsPerBatch) {
                    let indices = Array(start..<min(start + settings.pairsPerBatch, heldOut.count))
                    let (out, chosen, rejected) = forward(
                        heldOut, indices, reference: referenceHeldOut, training: false)
                    let w = Double(indices.count)
                    for (k, v) in [
                        Double(out.loss.item), out.chosenReward, out.rejectedReward, out.rewardMargin,
                        out.rewardAccuracy, chosen, rejected,
                    ].enumerated() { sums[k] += v * w }
                    n += w
                }
                for (k, key) in [
                    "loss/val", "eval/rewards_chosen", "eval/rewards_rejected", "eval/rewards_margin",
                    "eval/rewards_accuracy", "eval/logps_chosen", "eval/logps_rejected",
                ].enumerated() { metrics[key] = sums[k] / n }
            }
        }
        if let extraEvaluation { metrics.merge(try extraEvaluation(model)) { a, _ in a } }
        return StepReport(metrics: metrics, shown: metrics["loss/val"].map { [("val", $0)] } ?? [])
    }

    public func exportState() -> TaskState {
        var state = TaskState(
            tensors: Dictionary(uniqueKeysWithValues: buffers.map { ("buffer/" + $0.name, $0.tensor) }))
        training.export(into: &state)
        return state
    }

    public func restore(_ state: TaskState, step: Int, path: String) throws {
        try training.restore(from: state, path: path)
        try Checkpoint.restoreBuffers(buffers, from: state.tensors, path: path)
        updatesDone = step
    }
}
