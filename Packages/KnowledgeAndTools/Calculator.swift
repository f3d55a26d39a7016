// The tool of the arithmetic experiment: a calculator for whole-number expressions, the way a model
// calls it — `<tool>` expression `</tool>` — and the text the rollout inserts after the call before
// decoding goes on — `<result>` value `</result>` (ToolCall.swift). The grammar, by recursive descent:
//   expression = term (("+" | "-") term)*
//   term       = factor ("*" factor)*
//   factor     = "-" factor | "(" expression ")" | digits
// Spaces anywhere between; no division (the tasks multiply). A model writes what it likes between
// the tags, so nothing it writes traps: an unknown character, a missing parenthesis, a number or a
// result past Int64, nesting deeper than 64 or more than 200 characters is a `CalculatorError`
// whose text is what the rollout inserts.

public struct CalculatorError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

public enum Calculator {
    public static let maxLength = 200
    static let maxDepth = 64

    public static func evaluate(_ expression: String) -> Result<Int64, CalculatorError> {
        guard expression.count <= maxLength else {
            return .failure(CalculatorError(description: "expression longer than \(maxLength) characters"))
        }
        var parser = Parser(characters: Array(expression.filter { !$0.isWhitespace }))
        do {
            let value = try parser.expression(depth: 0)
            guard parser.at == parser.characters.count else {
                throw CalculatorError(description: "unexpected '\(parser.characters[parser.at])'")
            }
            return .success(value)
        } catch let error as CalculatorError {
            return .failure(error)
        } catch {
            return .failure(CalculatorError(description: "\(error)"))
        }
    }

    struct Parser {
        let characters: [Character]
        var at = 0

        mutating func expression(depth: Int) throws -> Int64 {
            var value = try term(depth: depth)
            while at < characters.count, characters[at] == "+" || characters[at] == "-" {
                let plus = characters[at] == "+"
                at += 1
                let right = try term(depth: depth)
                let (result, overflow) =
                    plus ? value.addingReportingOverflow(right) : value.subtractingReportingOverflow(right)
                if overflow { throw CalculatorError(description: "overflow") }
                value = result
            }
            return value
        }

        mutating func term(depth: Int) throws -> Int64 {
            var value = try factor(depth: depth)
            while at < characters.count, characters[at] == "*" {
                at += 1
                let (result, overflow) = value.multipliedReportingOverflow(by: try factor(depth: depth))
                if overflow { throw CalculatorError(description: "overflow") }
                value = result
            }
            return value
        }

        mutating func factor(depth: Int) throws -> Int64 {
            guard depth < Calculator.maxDepth else { throw CalculatorError(description: "nested too deeply") }
            guard at < characters.count else { throw CalculatorError(description: "expression ends early") }
            switch characters[at] {
            case "-":
                at += 1
                let (negated, overflow) = Int64(0).subtractingReportingOverflow(try factor(depth: depth + 1))
                if overflow { throw CalculatorError(description: "overflow") }
                return negated
            case "(":
                at += 1
                let value = try expression(depth: depth + 1)
                guard at < characters.count, characters[at] == ")" else {
                    throw CalculatorError(description: "missing ')'")
                }
                at += 1
                return value
            case let c where c.isASCII && c.isNumber:
                let start = at
                while at < characters.count, characters[at].isASCII, characters[at].isNumber { at += 1 }
                guard let value = Int64(String(characters[start..<at])) else {
                    throw CalculatorError(description: "number too large")
                }
                return value
            case let c:
                throw CalculatorError(description: "unexpected '\(c)'")
            }
        }
    }
}
