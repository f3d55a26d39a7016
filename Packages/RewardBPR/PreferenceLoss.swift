// The reward model's objectives, each a named switch with its reduction written out. r_w and r_l
// are the scores of the preferred and the other response of a pair; a pair is (prompt, w, l).
//   Bradley-Terry: P(y_w ≻ y_l | x) = σ(r_w − r_l). The likelihood of the labels is Π σ(r_w − r_l),
//   so maximum likelihood minimises −log σ(r_w − r_l) (the seed's "max σ(σ(r_w − r_l))" has a
//   sigma too many: σ of a probability is not a likelihood, and its gradient vanishes where the
//   model is most wrong).
//   pairwise   loss = (1/P) Σ_pairs −log σ(r_w − r_l)                       (every pair its own element)
//   kWise      loss = (1/N) Σ_prompts (1/C(K,2)) Σ_{pairs of the prompt} −log σ(r_w − r_l)
//              (InstructGPT: all pairs of a prompt's K ranked responses in one batch element, so a
//              prompt with K responses is not counted C(K,2) times; with K = 2 it is `pairwise`)
//   margin     loss = (1/P) Σ_pairs −log σ(r_w − r_l − m(w, l))    (Llama 2: m grows with how much
//              better the rater found w; here m = marginScale · max(0, true r_w − true r_l): a label
//              the noise flipped gets no margin, as a "negligibly better" rating would)
//   centering  + c · (1/P) Σ_pairs (r_w + r_l)²          (added to any of the three; keeps r near 0)
import LabSupport
import TensorCore

public enum PreferenceLossKind: String, Codable, Sendable, CaseIterable {
    case pairwise
    case kWise
    case margin
}

/// One comparison: indices of the two responses in the scored batch, and the prompt it belongs to.
public struct PreferencePair: Sendable, Equatable {
    public var winner: Int
    public var loser: Int
    public var prompt: Int
    /// The margin m(w, l) of the margin loss (0 for the others).
    public var margin: Float

    public init(winner: Int, loser: Int, prompt: Int, margin: Float = 0) {
        (self.winner, self.loser, self.prompt, self.margin) = (winner, loser, prompt, margin)
    }
}

public struct PreferenceLoss: Sendable, Equatable, Codable {
    public var kind = PreferenceLossKind.pairwise
    /// c of the centering term (0: off; InstructGPT-style papers use 0.01).
    public var centering = 0.0

    public init(kind: PreferenceLossKind = .pairwise, centering: Double = 0) {
        (self.kind, self.centering) = (kind, centering)
    }

    /// The loss and its diagnostics. `scores`: (B) rewards of the batch's responses.
    public func callAsFunction(scores: Tensor, pairs: [PreferencePair]) -> (
        loss: Tensor, accuracy: Double, margin: Double
    ) {
        precondition(!pairs.isEmpty, "PreferenceLoss: no pairs")
        let column = scores.reshaped([scores.count, 1])
        let chosenRewards = column.indexSelect(rows: pairs.map(\.winner)).reshaped([pairs.count])
        let rejectedRewards = column.indexSelect(rows: pairs.map(\.loser)).reshaped([pairs.count])
        let rewardMargin = chosenRewards - rejectedRewards
        let logits = kind == .margin ? rewardMargin - Tensor(pairs.map(\.margin), shape: [pairs.count]) : rewardMargin
        let pairLosses = -logits.logSigmoid()  // (P)
        var loss: Tensor
        switch kind {
        case .pairwise, .margin:
            loss = pairLosses.mean()
        case .kWise:
            // Weight 1 / (pairs of its prompt) / (prompts): each prompt counts once.
            var pairsOfPrompt: [Int: Int] = [:]
            for p in pairs { pairsOfPrompt[p.prompt, default: 0] += 1 }
            let weights = pairs.map { 1 / Float(pairsOfPrompt[$0.prompt]!) / Float(pairsOfPrompt.count) }
            loss = (pairLosses * Tensor(weights, shape: [pairs.count])).sum()
        }
        if centering > 0 {
            let centeringTerm = (chosenRewards + rejectedRewards).square().mean()
            loss = loss + centeringTerm * Float(centering)
        }
        let m = rewardMargin.array
        return (loss, Double(m.count { $0 > 0 }) / Double(m.count), Double(m.reduce(0, +)) / Double(m.count))
    }
}

extension PreferencePair {
    /// All C(K,2) pairs of one prompt's ranking (`ranking[0]` the best; entries are batch indices),
    /// with margins from `trueRewards` (same order as the batch) times `marginScale`.
    public static func allPairs(
        ranking: [Int], prompt: Int, trueRewards: [Double]? = nil, marginScale: Double = 0
    ) -> [PreferencePair] {
        var out: [PreferencePair] = []
        for i in ranking.indices {
            for j in (i + 1)..<ranking.count {
                let (w, l) = (ranking[i], ranking[j])
                let m = trueRewards.map { Float(marginScale * Swift.max(0, $0[w] - $0[l])) } ?? 0
                out.append(PreferencePair(winner: w, loser: l, prompt: prompt, margin: m))
            }
        }
        return out
    }
}
