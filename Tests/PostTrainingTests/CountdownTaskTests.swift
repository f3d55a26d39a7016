// Countdown: the checker on a hand table (TinyZero's cases and the malformed ones), the reward on
// whole responses, and generated tasks whose worked solutions and the solver's equations check.
import PostTraining
import TensorCore
import Testing

@Suite struct CountdownTaskTests {
    static let task = CountdownTask(numbers: [44, 19, 2], target: 50)

    @Test func checkerOnTheHandTable() {
        let table: [(String, CountdownVerdict)] = [
            ("(44 - 19) * 2", .correct),
            ("2*(44-19)", .correct),
            (" ( 44 - 19 ) * 2 ", .correct),
            ("44 + 19 - 2 * 2", .wrongNumbers),  // 2 used twice
            ("44 + 2", .wrongNumbers),  // 19 unused
            ("(44 - 19) * 2 + 0", .wrongNumbers),  // a number that is not given
            ("44 - 19 * 2", .wrongValue),  // precedence: 6
            ("44 + 19 + 2", .wrongValue),
            ("(44 - 19) * 2 = 50", .wrongNumbers),  // 50 is not a given number
            ("(44 - 19 * 2", .noValue),  // unbalanced
            ("44 19 2", .noValue),
            ("(44 - 19) x 2", .noValue),
            ("2 / (19 - 19 + 44 - 44)", .wrongNumbers),
            ("fifty", .wrongNumbers),
            ("", .wrongNumbers),
            ("-(19 - 44) * 2", .correct),  // a unary sign, as Python reads it
            ("99999999999999999999 - 44 + 19 + 2", .wrongNumbers),  // too long to be a task number
        ]
        for (answer, verdict) in table {
            #expect(Self.task.check(answer) == verdict, "\(answer.debugDescription)")
        }
        // Exact fractions: 7 / 3 * 3 is 7; a division by zero has no value.
        #expect(CountdownTask(numbers: [7, 3, 3], target: 7).check("7 / 3 * 3") == .correct)
        #expect(CountdownTask(numbers: [7, 3, 3], target: 7).check("7 / (3 - 3)") == .noValue)
        #expect(CountdownTask(numbers: [1, 3, 3], target: 1).check("1 / 3 * 3") == .correct)
        // An intermediate past Int64 is no value, not a trap.
        let big = CountdownTask(numbers: [4_000_000_000, 4_000_000_000, 4_000_000_000], target: 1)
        #expect(big.check("4000000000 * 4000000000 * 4000000000") == .noValue)
    }

    @Test func rewardsOnWholeResponses() {
        let table: [(String, Double, Double)] = [
            ("<think>44 minus 19 is 25. 25 times 2 is 50.</think><answer>(44 - 19) * 2</answer>", 1.0, 1),
            ("<think>x</think><answer>44 - 19 * 2</answer>", 0.1, 0),  // wrong value
            ("<think>x</think><answer>44 + 2</answer>", 0.1, 0),  // wrong numbers
            ("<think>x</think><answer>50</answer>", 0.1, 0),  // the target is not an equation
            ("<think>x</think><answer>(44 - 19) * 2 = 50</answer>", 0.1, 0),
            ("(44 - 19) * 2", 0, 0),  // no <answer>
            ("<answer>(44 - 19) * 2</answer>", 1.0, 1),
        ]
        for (response, tinyZero, accuracy) in table {
            let parsed = ParsedResponse(response)
            #expect(Self.task.tinyZeroReward(parsed) == tinyZero, "\(response.debugDescription)")
            #expect(Self.task.accuracy(parsed) == accuracy, "\(response.debugDescription)")
        }
    }

    @Test func generatedTasksAreSolvedByTheirWorkedSolutions() {
        var rng = RNG(seed: 3)
        var sizes = Set<Int>()
        for trial in 0..<300 {
            let language: CoTLanguage = trial % 2 == 0 ? .english : .chinese
            let (task, solution) = CountdownTask.sample(language: language, rng: &rng)
            sizes.insert(task.numbers.count)
            #expect((3...4).contains(task.numbers.count) && task.numbers.allSatisfy { (1...99).contains($0) })
            #expect((1...99).contains(task.target))
            #expect(task.check(solution.equation) == .correct, "\(task) \(solution.equation)")
            #expect(task.tinyZeroReward(ParsedResponse(solution.response(.full))) == 1.0)
            // One step per operation, and the closing sentence.
            #expect(solution.steps.count == task.numbers.count)
            if trial < 40, let found = task.solve() { #expect(task.check(found) == .correct, "\(task) \(found)") }
        }
        #expect(sizes == [3, 4])
    }

    @Test func workedSolutionsReadAsWritten() {
        var rng = RNG(seed: 11)
        let (task, english) = CountdownTask.sample(count: 3...3, language: .english, rng: &rng)
        var again = RNG(seed: 11)
        let (same, chinese) = CountdownTask.sample(count: 3...3, language: .chinese, rng: &again)
        #expect(task == same && english.equation == chinese.equation)
        #expect(english.steps.last == "So the equation is \(english.equation).")
        #expect(chinese.steps.last == "所以算式是\(chinese.equation)。")
        #expect(english.response(.answerOnly) == "<answer>\(english.equation)</answer>")
        #expect(
            CountdownTask(numbers: [44, 19, 2], target: 50).prompt(.english)
                == "Using the numbers [44, 19, 2], each exactly once, with + - * /, make 50.")
        #expect(CountdownTask(numbers: [44, 19, 2], target: 50).prompt(.chinese) == "用数字[44, 19, 2]各一次，通过加减乘除得到50。")
    }

    @Test func theSolverFindsWhatExistsAndOnlyThat() {
        let solvable = CountdownTask(numbers: [4, 7, 8, 8], target: 24)  // (7 - 8 / 8) * 4
        let found = solvable.solve()
        #expect(found.map { solvable.check($0) } == .correct)
        #expect(CountdownTask(numbers: [1, 1], target: 5).solve() == nil)
        // 8 / (3 - 8 / 3) is 24, but only through a fraction, which the game does not allow.
        #expect(CountdownTask(numbers: [3, 3, 8, 8], target: 24).solve() == nil)
        #expect(CountdownTask(numbers: [3, 3, 8, 8], target: 24).check("8 / (3 - 8 / 3)") == .correct)
    }
}
