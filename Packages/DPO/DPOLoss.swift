// DPO and its variants on preference pairs (x, y_w, y_l), each a named switch written as its paper
// writes it. Inputs are sequence log-probs summed over response tokens: log π(y|x) of the policy
// (with gradients) and log π_ref(y|x) of the frozen reference (computed once per pair and cached,
// ReferenceModel.swift), and the response lengths |y|.
//   chosenLogRatio   = log π(y_w|x) − log π_ref(y_w|x)
//   rejectedLogRatio = log π(y_l|x) − log π_ref(y_l|x)
//   margin h         = chosenLogRatio − rejectedLogRatio
//   sigmoid       (DPO, Rafailov et al. 2023)        −log σ(β h)
//   conservative  (cDPO, Mitchell 2023: labels flipped with probability ε)
//                                                    −(1 − ε) log σ(β h) − ε log σ(−β h)
//   ipo           (IPO, Azar et al. 2023, Eq. 17)    (h' − 1/(2β))², β playing τ, where h' divides
//                 each log-ratio by its response length (TRL's form, which the IPO authors confirmed
//                 their results use; `ipoLengthNormalised = false` gives the paper's plain h)
//   simpo         (SimPO, Meng et al. 2024; no reference)
//                 −log σ(β (log π(y_w|x)/|y_w| − log π(y_l|x)/|y_l|) − γ)
// Every loss is the mean over pairs. The implicit reward of a response is β · its log-ratio
// (SimPO: β · its length-averaged log-prob); its batch means and the share of pairs whose chosen
// reward is higher are logged, as TRL does (rewards/chosen, rewards/rejected, margins, accuracies).
import LabSupport
import TensorCore

public enum DPOLossKind: String, Codable, Sendable, CaseIterable {
    case sigmoid
    case conservative
    case ipo
    case simpo

    /// Whether the loss reads the reference model.
    public var needsReference: Bool { self != .simpo }
}

public struct DPOLoss: Codable, Sendable, Equatable {
    public var kind = DPOLossKind.sigmoid
    /// β (IPO's τ).
    public var beta = 0.1
    /// ε of the conservative loss, in [0, 0.5).
    public var labelSmoothing = 0.0
    /// SimPO's target margin γ.
    public var simpoGamma = 1.0
    public var ipoLengthNormalised = true

    public init() {}

    public func check() throws {
        if !(beta > 0 && beta.isFinite) { throw LabError(.config, "dpo.beta: \(beta) must be positive") }
        if !(0..<0.5).contains(labelSmoothing) {
            throw LabError(.config, "dpo.labelSmoothing: \(labelSmoothing) must be in [0, 0.5)")
        }
        if !simpoGamma.isFinite { throw LabError(.config, "dpo.simpoGamma: \(simpoGamma) must be finite") }
    }

    public struct Output {
        public var loss: Tensor
        /// Batch means of the implicit rewards, their margin, and the share of pairs ordered right.
        public var chosenReward: Double
        public var rejectedReward: Double
        public var rewardMargin: Double
        public var rewardAccuracy: Double
    }

    /// policyChosen / policyRejected: (B) summed log-probs with gradients; the reference's as
    /// numbers (nil for SimPO); lengths: response tokens of each.
    public func callAsFunction(
        policyChosen: Tensor, policyRejected: Tensor, referenceChosen: [Float]?, referenceRejected: [Float]?,
        chosenLengths: [Int], rejectedLengths: [Int]
    ) -> Output {
        let b = policyChosen.count
        precondition(
            policyRejected.count == b && chosenLengths.count == b && rejectedLengths.count == b, "DPOLoss: shapes")
        let beta = Float(self.beta)
        let chosenLength = Tensor(chosenLengths.map { Float(Swift.max($0, 1)) }, shape: [b])
        let rejectedLength = Tensor(rejectedLengths.map { Float(Swift.max($0, 1)) }, shape: [b])
        let loss: Tensor
        let chosenRewards: Tensor  // (B), no gradient needed: diagnostics
        let rejectedRewards: Tensor
        switch kind {
        case .simpo:
            let chosenAverage = policyChosen / chosenLength
            let rejectedAverage = policyRejected / rejectedLength
            let logits = (chosenAverage - rejectedAverage) * beta - Float(simpoGamma)
            loss = (-logits.logSigmoid()).mean()
            (chosenRewards, rejectedRewards) = (chosenAverage.detach() * beta, rejectedAverage.detach() * beta)
        case .sigmoid, .conservative, .ipo:
            guard let referenceChosen, let referenceRejected else {
                preconditionFailure("DPOLoss: \(kind) needs the reference log-probs (DPOTask checks it)")
            }
            let chosenLogRatio = policyChosen - Tensor(referenceChosen, shape: [b])
            let rejectedLogRatio = policyRejected - Tensor(referenceRejected, shape: [b])
            let margin = chosenLogRatio - rejectedLogRatio
            if kind == .sigmoid {
                loss = (-(margin * beta).logSigmoid()).mean()
            } else if kind == .conservative {
                let epsilon = Float(labelSmoothing)
                let clean = -(margin * beta).logSigmoid() * (1 - epsilon)
                let flipped = -(margin * -beta).logSigmoid() * epsilon
                loss = (clean + flipped).mean()
            } else {
                let h =
                    ipoLengthNormalised ? chosenLogRatio / chosenLength - rejectedLogRatio / rejectedLength : margin
                loss = (h - 1 / (2 * beta)).square().mean()
            }
            (chosenRewards, rejectedRewards) = (chosenLogRatio.detach() * beta, rejectedLogRatio.detach() * beta)
        }
        let (c, r) = (chosenRewards.array.map(Double.init), rejectedRewards.array.map(Double.init))
        let n = Double(b)
        return Output(
            loss: loss, chosenReward: c.reduce(0, +) / n, rejectedReward: r.reduce(0, +) / n,
            rewardMargin: zip(c, r).map { $0 - $1 }.reduce(0, +) / n,
            rewardAccuracy: Double(zip(c, r).count { $0 > $1 }) / n)
    }
}
