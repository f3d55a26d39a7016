// Countdown (TinyZero's task): reach the target with + − × ÷ using each given number exactly once,
// and write the equation in <answer>. The generator builds a random expression from the numbers,
// so every task it makes has a solution, and the worked solution is that expression's steps:
//   numbers [44, 19, 2], target 50:  "44 minus 19 is 25. 25 times 2 is 50. So the equation is
//   (44 - 19) * 2."  /  "四十四减十九得二十五。二十五乘二得五十。所以算式是(44 - 19) * 2。"
// Every step's result is a positive whole number (the TV game's rule), so the chain reads as
// small sums; an answer may use any rational intermediate (TinyZero evaluates with Python).
// Countdown's worked solutions have no wrong steps: a slip would make the chain disagree with the
// equation it ends in, which is not a mistake a model learns anything from.
//
// Checking an answer (`check`), in TinyZero's order (verl/utils/reward_score/countdown.py):
//   1. the numbers written (every run of digits) must be the task's numbers, each used once;
//   2. the text must be an expression of numbers, + - * /, parentheses, unary signs and spaces;
//   3. its value must equal the target. TinyZero compares floats within 1e-5; here the value is an
//      exact fraction, so 7 / 3 * 3 is exactly 7 and division by zero or overflow is no value.
import TensorCore

public struct CountdownTask: Sendable, Equatable, Codable {
    public var numbers: [Int64]
    public var target: Int64

    public init(numbers: [Int64], target: Int64) { (self.numbers, self.target) = (numbers, target) }

    public func prompt(_ language: CoTLanguage) -> String {
        let list = numbers.map(String.init).joined(separator: ", ")
        return language == .english
            ? "Using the numbers [\(list)], each exactly once, with + - * /, make \(target)."
            : "用数字[\(list)]各一次，通过加减乘除得到\(target)。"
    }
}

/// What an answer to a Countdown task is.
public enum CountdownVerdict: Sendable, Equatable {
    case correct
    /// An expression with the right numbers whose value is not the target.
    case wrongValue
    /// The numbers written are not the task's numbers, each once.
    case wrongNumbers
    /// Not an expression this checker reads, or one without a value (division by zero, overflow).
    case noValue
}

extension CountdownTask {
    public func check(_ answer: String) -> CountdownVerdict {
        var written: [Int64] = []
        var digits = ""
        for c in answer + " " {
            if c.isASCII && c.isNumber {
                digits.append(c)
            } else if !digits.isEmpty {
                guard let n = Int64(digits) else { return .wrongNumbers }  // longer than any task number
                written.append(n)
                digits = ""
            }
        }
        guard written.sorted() == numbers.sorted() else { return .wrongNumbers }
        var parser = ExpressionParser(answer)
        guard let value = parser.value() else { return .noValue }
        return value == Fraction(target) ? .correct : .wrongValue
    }

    /// TinyZero's score: 1.0 correct, 0.1 an <answer> that is anything else, 0 no <answer>.
    public func tinyZeroReward(_ response: ParsedResponse) -> Double {
        guard let answer = response.answer else { return 0 }
        return check(answer) == .correct ? 1.0 : 0.1
    }

    public func accuracy(_ response: ParsedResponse) -> Double {
        response.answer.map { check($0) == .correct ? 1 : 0 } ?? 0
    }
}

// MARK: - Generating tasks and their worked solutions

/// An expression built from some of the numbers, with the steps that computed it.
struct CountdownTerm {
    var value: Int64
    var text: String
    /// The last operation applied ("" for a bare number); decides where parentheses go.
    var operation: Character
    var steps: [(Int64, Character, Int64, Int64)]
}

public struct CountdownSolution: Sendable, Equatable {
    public var steps: [String]
    public var equation: String

    public func response(_ format: ResponseFormat) -> String {
        switch format {
        case .answerOnly: "<answer>\(equation)</answer>"
        case .emptyThink: "<think></think><answer>\(equation)</answer>"
        case .full: "<think>\(steps.joined(separator: " "))</think><answer>\(equation)</answer>"
        }
    }
}

extension CountdownTask {
    /// A task of `count` numbers in 1...maxNumber whose target, in 1...maxTarget, is the value of
    /// a random expression using each number once with every step a positive whole number; and
    /// that expression as its worked solution. Draws are repeated until the target fits.
    public static func sample(
        count: ClosedRange<Int> = 3...4, maxNumber: Int64 = 99, maxTarget: Int64 = 99, language: CoTLanguage,
        rng: inout RNG
    ) -> (task: CountdownTask, solution: CountdownSolution) {
        precondition(count.lowerBound >= 2 && count.upperBound <= 6, "CountdownTask: count must be within 2...6")
        precondition(maxNumber >= 1 && maxTarget >= 1, "CountdownTask: maxNumber and maxTarget must be positive")
        while true {
            let n = count.lowerBound + rng.int(below: count.count)
            let numbers = (0..<n).map { _ in 1 + Int64(rng.int(below: Int(maxNumber))) }
            var terms = numbers.map { CountdownTerm(value: $0, text: "\($0)", operation: " ", steps: []) }
            var failed = false
            while terms.count > 1 && !failed {
                let i = rng.int(below: terms.count)
                var j = rng.int(below: terms.count - 1)
                if j >= i { j += 1 }
                let operations = Self.operations(terms[i].value, terms[j].value)
                guard !operations.isEmpty else {
                    failed = true
                    break
                }
                let combined = Self.combine(terms[i], operations[rng.int(below: operations.count)], terms[j])
                terms.remove(at: max(i, j))
                terms.remove(at: min(i, j))
                terms.append(combined)
            }
            guard !failed, let term = terms.first, (1...maxTarget).contains(term.value) else { continue }
            return (CountdownTask(numbers: numbers, target: term.value), Self.solution(term, language))
        }
    }

    /// The operations on (a, b) whose result is a positive whole number that fits an Int64.
    static func operations(_ a: Int64, _ b: Int64) -> [Character] {
        var result: [Character] = []
        if !a.addingReportingOverflow(b).overflow { result.append("+") }
        if a > b { result.append("-") }
        if !a.multipliedReportingOverflow(by: b).overflow { result.append("*") }
        if a % b == 0 { result.append("/") }
        return result
    }

    static func combine(_ a: CountdownTerm, _ operation: Character, _ b: CountdownTerm) -> CountdownTerm {
        let value: Int64 =
            switch operation {
            case "+": a.value + b.value
            case "-": a.value - b.value
            case "*": a.value * b.value
            default: a.value / b.value
            }
        // Parentheses where the precedence or the order of - and / needs them.
        let low: Set<Character> = ["+", "-"]
        let leftNeeds = (operation == "*" || operation == "/") && low.contains(a.operation)
        let rightNeeds =
            (operation == "-" && low.contains(b.operation)) || (operation == "*" && low.contains(b.operation))
            || (operation == "/" && b.operation != " ")
        let left = leftNeeds ? "(\(a.text))" : a.text
        let right = rightNeeds ? "(\(b.text))" : b.text
        return CountdownTerm(
            value: value, text: "\(left) \(operation) \(right)", operation: operation,
            steps: a.steps + b.steps + [(a.value, operation, b.value, value)])
    }

    static func solution(_ term: CountdownTerm, _ language: CoTLanguage) -> CountdownSolution {
        let english: [Character: String] = ["+": "plus", "-": "minus", "*": "times", "/": "divided by"]
        let chinese: [Character: String] = ["+": "加", "-": "减", "*": "乘", "/": "除以"]
        var steps = term.steps.map { a, operation, b, value in
            language == .english
                ? "\(a) \(english[operation]!) \(b) is \(value)."
                : "\(ChineseNumerals.words(a))\(chinese[operation]!)\(ChineseNumerals.words(b))得\(ChineseNumerals.words(value))。"
        }
        steps.append(language == .english ? "So the equation is \(term.text)." : "所以算式是\(term.text)。")
        return CountdownSolution(steps: steps, equation: term.text)
    }

    /// An equation reaching the target with every step a positive whole number, if there is one
    /// (exhaustive search: combine any two remaining terms, for up to 6 numbers).
    public func solve() -> String? {
        func search(_ terms: [CountdownTerm]) -> String? {
            if terms.count == 1 { return terms[0].value == target ? terms[0].text : nil }
            for i in terms.indices {
                for j in terms.indices where j != i {
                    for operation in Self.operations(terms[i].value, terms[j].value) {
                        var rest = terms
                        rest.remove(at: max(i, j))
                        rest.remove(at: min(i, j))
                        if let found = search(rest + [Self.combine(terms[i], operation, terms[j])]) { return found }
                    }
                }
            }
            return nil
        }
        precondition(numbers.count <= 6, "CountdownTask.solve: at most 6 numbers")
        return search(numbers.map { CountdownTerm(value: $0, text: "\($0)", operation: " ", steps: []) })
    }
}

// MARK: - Exact evaluation

/// A fraction in lowest terms with a positive denominator; nil from any operation that overflows.
struct Fraction: Equatable {
    var numerator: Int64
    var denominator: Int64

    init(_ n: Int64) { (numerator, denominator) = (n, 1) }

    init?(_ n: Int64, _ d: Int64) {
        guard d != 0, n != .min, d != .min else { return nil }
        var (a, b) = (abs(n), abs(d))
        while b != 0 { (a, b) = (b, a % b) }
        let g = max(a, 1)
        let sign: Int64 = (n < 0) != (d < 0) ? -1 : 1
        (numerator, denominator) = (sign * abs(n) / g, abs(d) / g)
    }

    static func op(_ x: Fraction, _ operation: Character, _ y: Fraction) -> Fraction? {
        func mul(_ a: Int64, _ b: Int64) -> Int64? {
            let (r, o) = a.multipliedReportingOverflow(by: b)
            return o ? nil : r
        }
        func add(_ a: Int64?, _ b: Int64?, _ sign: Int64) -> Int64? {
            guard let a, let b, let sb = mul(b, sign) else { return nil }
            let (r, o) = a.addingReportingOverflow(sb)
            return o ? nil : r
        }
        switch operation {
        case "+", "-":
            guard let d = mul(x.denominator, y.denominator),
                let n = add(mul(x.numerator, y.denominator), mul(y.numerator, x.denominator), operation == "+" ? 1 : -1)
            else { return nil }
            return Fraction(n, d)
        case "*":
            guard let n = mul(x.numerator, y.numerator), let d = mul(x.denominator, y.denominator) else { return nil }
            return Fraction(n, d)
        default:
            guard let n = mul(x.numerator, y.denominator), let d = mul(x.denominator, y.numerator) else { return nil }
            return Fraction(n, d)
        }
    }
}

/// expression := term (("+" | "-") term)*;  term := factor (("*" | "/") factor)*;
/// factor := ("+" | "-") factor | digits | "(" expression ")"; spaces anywhere between.
struct ExpressionParser {
    var text: [Character]
    var position = 0

    init(_ text: String) { self.text = Array(text) }

    mutating func value() -> Fraction? {
        guard let v = expression() else { return nil }
        skipSpaces()
        return position == text.count ? v : nil
    }

    mutating func skipSpaces() { while position < text.count && text[position].isWhitespace { position += 1 } }

    mutating func take(_ allowed: Set<Character>) -> Character? {
        skipSpaces()
        guard position < text.count, allowed.contains(text[position]) else { return nil }
        position += 1
        return text[position - 1]
    }

    mutating func expression() -> Fraction? {
        guard var v = term() else { return nil }
        while let operation = take(["+", "-"]) {
            guard let w = term(), let r = Fraction.op(v, operation, w) else { return nil }
            v = r
        }
        return v
    }

    mutating func term() -> Fraction? {
        guard var v = factor() else { return nil }
        while let operation = take(["*", "/"]) {
            guard let w = factor(), let r = Fraction.op(v, operation, w) else { return nil }
            v = r
        }
        return v
    }

    mutating func factor() -> Fraction? {
        if let sign = take(["+", "-"]) {
            guard let v = factor() else { return nil }
            return sign == "+" ? v : Fraction.op(Fraction(0), "-", v)
        }
        if take(["("]) != nil {
            guard let v = expression(), take([")"]) != nil else { return nil }
            return v
        }
        skipSpaces()
        var digits = ""
        while position < text.count, text[position].isASCII, text[position].isNumber {
            digits.append(text[position])
            position += 1
        }
        return Int64(digits).map(Fraction.init)
    }
}
