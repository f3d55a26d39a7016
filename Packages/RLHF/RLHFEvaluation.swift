// What a PPO-on-text run is judged by, on prompts it never trains on: one response per held-out
// prompt, sampled from the current policy at the rollout temperature on streams that are the same
// at every evaluation (so two evaluations differ only by the policy), and for those responses
//   eval/score        the reward model's mean score (the proxy being optimised)
//   eval/true_reward  the world's mean true reward (VADER in the preference world: the "gold" RM
//                     of Gao et al. 2022)
//   eval/kl           KL(π ‖ π_ref) per response, estimated on the policy's own samples:
//                     mean over responses of Σ_t log π(y_t) − log π_ref(y_t) (k1, unbiased)
//   eval/sqrt_kl      √max(eval/kl, 0), the x axis of Gao et al.'s fits (d)
//   eval/length, eval/truncated (the share cut at the budget without the end token)
// The samples themselves come back too, for the run's sample table.
import LabSupport
import NanoTransformer
import PostTraining
import RewardBPR
import TensorCore

public struct RLHFEvaluation {
    public struct Sample: Sendable, Equatable {
        public var prompt: String
        public var response: String
        public var score: Double
        public var trueReward: Double?
        public var kl: Double
    }

    public var metrics: [String: Double]
    public var samples: [Sample]

    /// `streams`: one per prompt (the same ones at every evaluation).
    public init(
        policy: NanoTransformer, reference: ReferenceModel, rewardModel: RewardModel, format: ConversationFormat,
        prompts: [String], streams: [RNG], maxNewTokens: Int, temperature: Float, trueReward: ((String) -> Double)?
    ) throws {
        precondition(
            prompts.count == streams.count, "RLHFEvaluation: \(prompts.count) prompts, \(streams.count) streams")
        let rollout = try policy.generate(
            prompts: prompts.map(format.promptIds), maxNewTokens: maxNewTokens,
            sampling: Sampling(temperature: temperature), stopTokens: [format.end], streams: streams)
        let referenceLogProbs = reference.logProbs(
            prompts: rollout.prompts, responses: rollout.responses, temperature: temperature)
        let scores = rewardModel.score(prompts: rollout.prompts, responses: rollout.responses).map(Double.init)
        let kl = zip(rollout.logProbs, referenceLogProbs).map { lp, ref in
            Double(zip(lp, ref).map { $0 - $1 }.reduce(0, +))
        }
        let texts = try rollout.responses.map { try format.responseText($0) }
        let truths = trueReward.map { f in texts.map(f) }
        func mean(_ xs: [Double]) -> Double { xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count) }
        metrics = [
            "eval/score": mean(scores), "eval/kl": mean(kl), "eval/sqrt_kl": Swift.max(mean(kl), 0).squareRoot(),
            "eval/length": mean(rollout.lengths.map(Double.init)),
            "eval/truncated": mean(rollout.finish.map { $0 == .length ? 1 : 0 }),
        ]
        if let truths { metrics["eval/true_reward"] = mean(truths) }
        samples = prompts.indices.map { i in
            Sample(prompt: prompts[i], response: texts[i], score: scores[i], trueReward: truths?[i], kl: kl[i])
        }
    }
}
