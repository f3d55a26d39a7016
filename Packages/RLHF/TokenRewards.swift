// The per-token reward of RLHF (InstructGPT, TRL's PPO trainer), for each response token t of a
// response y to prompt x:
//   kl_t      = log π(y_t) − log π_ref(y_t)                          (k1)
//             or (r − 1) − log r with r = π_ref(y_t) / π(y_t)        (k3, ≥ 0)
//   reward_t  = −β · kl_t                                             (placement .reward; 0 for .loss,
//                                                                      where the KL goes into the loss
//                                                                      as GRPO does)
//   reward_T += score                                                 on the response's last token only
// with the score the reward model's, clipped to ±scoreClip when that is positive, and lowered by
// `missingEndPenalty` when the response hit the length limit without its end token (TRL's
// missing_eos_penalty). Padding after a response gets nothing.
import Foundation
import PolicyGradient

public enum KLPlacement: String, Codable, Sendable, CaseIterable {
    /// −β · KL on every token's reward (InstructGPT, TRL).
    case reward
    /// β · KL as a loss term, the reward only the score (GRPO's way).
    case loss
}

public struct TokenRewardSettings: Codable, Sendable, Equatable {
    public var placement = KLPlacement.reward
    public var estimator = KLEstimator.k1
    /// Clip the reward model's score to ±this (0: no clip). Plain numbers, not optionals, so a
    /// config file can set them.
    public var scoreClip = 0.0
    /// Subtracted from the score of a response cut at the length limit (0: none).
    public var missingEndPenalty = 0.0

    public init() {}
}

public struct TokenRewards: Sendable, Equatable {
    /// Per response, one reward per token.
    public var rewards: [[Float]]
    /// Per response, the KL estimate of each token.
    public var kl: [[Float]]
    /// The score as it entered the reward (clipped, penalised).
    public var scores: [Float]

    /// logProbs / referenceLogProbs: per response token; scores: the reward model's; stopped:
    /// whether each response ended on its end token.
    public init(
        logProbs: [[Float]], referenceLogProbs: [[Float]], scores: [Float], stopped: [Bool], beta: Double,
        settings: TokenRewardSettings
    ) {
        precondition(
            logProbs.count == referenceLogProbs.count && logProbs.count == scores.count
                && scores.count == stopped.count,
            "TokenRewards: \(logProbs.count) responses, \(referenceLogProbs.count) references, \(scores.count) scores")
        var (rewards, kl, used): ([[Float]], [[Float]], [Float]) = ([], [], [])
        for i in logProbs.indices {
            precondition(logProbs[i].count == referenceLogProbs[i].count, "TokenRewards: response \(i) lengths differ")
            let k = zip(logProbs[i], referenceLogProbs[i]).map { lp, ref -> Float in
                switch settings.estimator {
                case .k1: return lp - ref
                case .k2: return (lp - ref) * (lp - ref) / 2
                case .k3:
                    let logRatio = ref - lp
                    return (exp(logRatio) - 1) - logRatio
                }
            }
            var score = scores[i]
            if settings.scoreClip > 0 {
                score = Swift.min(Swift.max(score, -Float(settings.scoreClip)), Float(settings.scoreClip))
            }
            if !stopped[i] { score -= Float(settings.missingEndPenalty) }
            var r = settings.placement == .reward ? k.map { -Float(beta) * $0 } : [Float](repeating: 0, count: k.count)
            if !r.isEmpty { r[r.count - 1] += score }
            rewards.append(r)
            kl.append(k)
            used.append(score)
        }
        (self.rewards, self.kl, self.scores) = (rewards, kl, used)
    }

    /// Mean over responses of each response's summed KL (what the adaptive controller tracks).
    public var meanSequenceKL: Double {
        kl.isEmpty ? 0 : kl.map { Double($0.reduce(0, +)) }.reduce(0, +) / Double(kl.count)
    }
}
