// The reasoning world's data: worked arithmetic solutions in the conversation format, for the
// base model's pretraining mix and for SFT. A task's language is English (digits) or Chinese
// (number words); a response is in one of three formats (the answer alone, empty thinking, the
// whole chain); a share of chains has wrong steps; and a share mixes the two languages step by
// step, the "language mixing" R1 saw, so that RL starts from a model that does it sometimes.
import LabSupport
import TensorCore

public struct ArithmeticMix: Codable, Sendable, Equatable {
    /// Share of addition tasks (the rest multiplication).
    public var additionShare = 0.6
    /// Digits per operand of an addition (1...9) and of a multiplication.
    public var additionDigits = [1, 3]
    public var multiplicationDigits = [1, 2]
    /// Share of tasks asked and answered in Chinese number words (the rest English with digits).
    public var chineseShare = 0.3
    /// Share of full chains whose steps come from both languages at random (the prompt's
    /// language decides the answer's).
    public var mixedLanguageShare = 0.0
    /// Shares of the response formats: answer only, empty <think></think>, the whole chain.
    public var answerOnlyShare = 0.0
    public var emptyThinkShare = 0.0
    /// Probability that a step of a chain is wrong (and every later step works from it).
    public var wrongStepShare = 0.0

    public init() {}

    public func check(_ prefix: String) throws {
        for (key, digits) in [("additionDigits", additionDigits), ("multiplicationDigits", multiplicationDigits)] {
            guard digits.count == 2, digits[0] >= 1, digits[0] <= digits[1], digits[1] <= 9 else {
                throw LabError(.config, "\(prefix).\(key): \(digits) must be [low, high] within 1...9")
            }
        }
        for (key, share) in [
            ("additionShare", additionShare), ("chineseShare", chineseShare),
            ("mixedLanguageShare", mixedLanguageShare), ("answerOnlyShare", answerOnlyShare),
            ("emptyThinkShare", emptyThinkShare), ("wrongStepShare", wrongStepShare),
        ] where !(0...1).contains(share) {
            throw LabError(.config, "\(prefix).\(key): \(share) must be within 0...1")
        }
        if answerOnlyShare + emptyThinkShare > 1 {
            throw LabError(.config, "\(prefix).answerOnlyShare + emptyThinkShare: must not exceed 1")
        }
    }

    /// The next task of the mix, with its language.
    public func task(rng: inout RNG) -> (task: ArithmeticTask, language: CoTLanguage) {
        let addition = rng.uniformDouble() < additionShare
        let digits = addition ? additionDigits : multiplicationDigits
        let task = ArithmeticTask.sample(
            addition ? .addition : .multiplication, digits: digits[0]...digits[1], rng: &rng)
        return (task, rng.uniformDouble() < chineseShare ? .chinese : .english)
    }

    /// A (prompt, response) pair for the task: format, wrong steps and language mixing drawn from
    /// the mix (in that order, so the draws do not depend on which branch is taken).
    public func example(_ task: ArithmeticTask, _ language: CoTLanguage, rng: inout RNG) -> (
        prompt: String, response: String
    ) {
        let u = rng.uniformDouble()
        let format: ResponseFormat =
            u < answerOnlyShare ? .answerOnly : u < answerOnlyShare + emptyThinkShare ? .emptyThink : .full
        let mixed = rng.uniformDouble() < mixedLanguageShare
        var solution = task.solution(language, wrongStepShare: wrongStepShare, rng: &rng)
        if mixed && format == .full {
            // The same chain in the other language, step for step (no wrong steps in it), mixed in.
            let other = task.solution(language == .english ? .chinese : .english, rng: &rng)
            if other.steps.count == solution.steps.count && solution.wrongSteps == 0 {
                solution.steps = zip(solution.steps, other.steps).map { rng.int(below: 2) == 0 ? $0 : $1 }
            }
        }
        return (task.prompt(language), solution.response(format))
    }
}
