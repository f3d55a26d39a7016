// The reasoning world's tasks: n-digit addition and multiplication with a known answer, and their
// worked solutions as chains of small steps in two chain-of-thought languages, some steps wrong
// on purpose (noisy SFT data, and a base model that starts RL with partial ability).
//   addition        column by column from the right: "7 plus 5 plus 1 is 13, write 3 carry 1."
//   multiplication  one partial product per digit of the right operand, shifted, then a running
//                   sum: "123 times 4 is 492, shifted 1 place 4920." "615 plus 4920 is 5535."
// English writes numbers in digits; Chinese in number words (ChineseNumerals.swift). A wrong step
// is the right result plus a non-zero amount (±1...9, never below zero), and every later step
// works from it, as a person's slip would carry on: one slip makes the final answer wrong (two can
// happen to cancel).
import TensorCore

public enum ArithmeticOperation: String, Codable, Sendable, CaseIterable {
    case addition
    case multiplication
}

public struct ArithmeticTask: Sendable, Equatable, Codable {
    public var operation: ArithmeticOperation
    public var left: Int64
    public var right: Int64

    public init(_ operation: ArithmeticOperation, _ left: Int64, _ right: Int64) {
        (self.operation, self.left, self.right) = (operation, left, right)
    }

    public var answer: Int64 { operation == .addition ? left + right : left * right }

    /// The question, in the chain-of-thought language.
    public func prompt(_ language: CoTLanguage) -> String {
        switch (operation, language) {
        case (.addition, .english): "What is \(left) + \(right)?"
        case (.multiplication, .english): "What is \(left) * \(right)?"
        case (.addition, .chinese): "\(left)加\(right)等于多少？"
        case (.multiplication, .chinese): "\(left)乘\(right)等于多少？"
        }
    }

    /// Operands with a digit count drawn from `digits` each (1...9; no leading zero).
    public static func sample(_ operation: ArithmeticOperation, digits: ClosedRange<Int>, rng: inout RNG)
        -> ArithmeticTask
    {
        precondition(digits.lowerBound >= 1 && digits.upperBound <= 9, "ArithmeticTask: digits must be within 1...9")
        func operand() -> Int64 {
            let n = digits.lowerBound + rng.int(below: digits.count)
            let low: Int64 = n == 1 ? 0 : pow10(n - 1)
            return low + Int64(rng.int(below: Int(pow10(n) - low)))
        }
        return ArithmeticTask(operation, operand(), operand())
    }
}

func pow10(_ n: Int) -> Int64 { (0..<n).reduce(1) { r, _ in r * 10 } }

/// A chain of steps and the answer it arrives at.
public struct WorkedSolution: Sendable, Equatable {
    public var steps: [String]
    /// What the chain arrives at (the true answer unless a step was wrong).
    public var final: Int64
    /// How many steps were made wrong.
    public var wrongSteps: Int

    /// The response text in a format: the answer alone, empty reasoning, or the whole chain.
    public func response(_ format: ResponseFormat) -> String {
        switch format {
        case .answerOnly: "<answer>\(final)</answer>"
        case .emptyThink: "<think></think><answer>\(final)</answer>"
        case .full: "<think>\(steps.joined(separator: " "))</think><answer>\(final)</answer>"
        }
    }
}

public enum ResponseFormat: String, Codable, Sendable, CaseIterable {
    case answerOnly
    case emptyThink
    case full
}

extension ArithmeticTask {
    /// The worked solution; each step is wrong with probability `wrongStepShare`.
    public func solution(_ language: CoTLanguage, wrongStepShare: Double = 0, rng: inout RNG) -> WorkedSolution {
        var steps: [String] = []
        var wrong = 0
        /// The step's result, made wrong with probability wrongStepShare.
        func result(_ right: Int64) -> Int64 {
            guard wrongStepShare > 0 && rng.uniformDouble() < wrongStepShare else { return right }
            wrong += 1
            let delta = Int64(1 + rng.int(below: 9))
            return right >= delta && rng.int(below: 2) == 0 ? right - delta : right + delta
        }
        func n(_ x: Int64) -> String { language == .english ? "\(x)" : ChineseNumerals.words(x) }
        switch operation {
        case .addition:
            var (a, b, carry, place, total) = (left, right, Int64(0), Int64(1), Int64(0))
            while a > 0 || b > 0 || carry > 0 {
                let (da, db) = (a % 10, b % 10)
                let s = result(da + db + carry)
                let (digit, next) = (s % 10, s / 10)
                steps.append(
                    language == .english
                        ? "\(da) plus \(db)\(carry > 0 ? " plus \(carry)" : "") is \(s), write \(digit)\(next > 0 ? " carry \(next)" : "")."
                        : "\(n(da))加\(n(db))\(carry > 0 ? "加\(n(carry))" : "")得\(n(s))，写\(n(digit))\(next > 0 ? "进\(n(next))" : "")。"
                )
                total += digit * place
                (a, b, carry, place) = (a / 10, b / 10, next, place * 10)
            }
            steps.append(language == .english ? "So the sum is \(total)." : "所以和是\(n(total))。")
            return WorkedSolution(steps: steps, final: total, wrongSteps: wrong)
        case .multiplication:
            var (b, place, shift, total) = (right, Int64(1), 0, Int64(0))
            repeat {
                let d = b % 10
                let partial = result(left * d)
                let shifted = partial * place
                steps.append(
                    language == .english
                        ? "\(left) times \(d) is \(partial)\(shift > 0 ? ", shifted \(shift) place\(shift > 1 ? "s" : "") \(shifted)" : "")."
                        : "\(n(left))乘\(n(d))得\(n(partial))\(shift > 0 ? "，移\(n(Int64(shift)))位得\(n(shifted))" : "")。")
                if shift > 0 {
                    let sum = result(total + shifted)
                    steps.append(
                        language == .english
                            ? "\(total) plus \(shifted) is \(sum)." : "\(n(total))加\(n(shifted))得\(n(sum))。")
                    total = sum
                } else {
                    total = shifted
                }
                (b, place, shift) = (b / 10, place * 10, shift + 1)
            } while b > 0
            steps.append(language == .english ? "So the product is \(total)." : "所以积是\(n(total))。")
            return WorkedSolution(steps: steps, final: total, wrongSteps: wrong)
        }
    }
}

extension ArithmeticTask {
    /// This task's worked solution as an SFT example in the conversation format.
    public func sftExample(
        _ format: ConversationFormat, language: CoTLanguage, response: ResponseFormat, wrongStepShare: Double = 0,
        rng: inout RNG
    ) -> SFTExample {
        let (ids, start) = format.render(
            prompt: prompt(language),
            response: solution(language, wrongStepShare: wrongStepShare, rng: &rng).response(response))
        return SFTExample(ids: ids, responseStart: start)
    }
}
