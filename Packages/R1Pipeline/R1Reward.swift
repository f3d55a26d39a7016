// DeepSeek-R1's rule rewards on a reasoning task, summed with weights (REFERENCE.md section 10):
//   accuracy   1 when the last <answer> holds the true number (RuleReward.accuracy)
//   format     1 when the whole response is in the strict R1 template (RuleReward.format)
//   language   the share of the reasoning's words in the prompt's language: R1's language-
//              consistency reward, "directly summed" with the others (RuleReward.languageConsistency)
// reward = accuracy·acc + format·fmt + language·lc. R1-Zero (the zero stage) uses language 0.
import LabSupport
import PostTraining

public struct R1Reward: Codable, Sendable, Equatable {
    public var accuracy = 1.0
    public var format = 0.1
    /// λ, the language-consistency weight (the no-language-reward ablation sets it to 0).
    public var language = 0.5

    public init() {}

    func check(_ prefix: String) throws {
        for (key, value) in [("accuracy", accuracy), ("format", format), ("language", language)]
        where !(value.isFinite && value >= 0) {
            throw LabError.invalid(key: "\(prefix).\(key)", "\(value) must be finite and >= 0")
        }
    }

    /// The reward of `response` to a task whose answer is `truth`, asked in `target`.
    public func value(_ response: ParsedResponse, truth: Int64, target: CoTLanguage) -> Double {
        accuracy * RuleReward.accuracy(response, truth: truth) + format * RuleReward.format(response)
            + (language > 0 ? language * RuleReward.languageConsistency(response, target: target) : 0)
    }

    /// The task as RL sees it with this reward (correct: the right number).
    public func verifiable(_ task: ArithmeticTask, _ target: CoTLanguage) -> VerifiableTask {
        let (truth, reward) = (task.answer, self)
        return VerifiableTask(
            prompt: task.prompt(target), isCorrect: { $0.number == truth },
            reward: { reward.value($0, truth: truth, target: target) })
    }
}
