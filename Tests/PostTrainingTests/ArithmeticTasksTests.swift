// The arithmetic tasks: worked solutions word for word in both languages, correct when no step is
// wrong, wrong when one is, the wrong-step share as asked, operands of the asked sizes.
import PostTraining
import TensorCore
import Testing

@Suite struct ArithmeticTasksTests {
    @Test func workedSolutionsReadAsWritten() {
        var rng = RNG(seed: 0)
        let add = ArithmeticTask(.addition, 478, 56)
        #expect(
            add.solution(.english, rng: &rng).steps == [
                "8 plus 6 is 14, write 4 carry 1.", "7 plus 5 plus 1 is 13, write 3 carry 1.",
                "4 plus 0 plus 1 is 5, write 5.", "So the sum is 534.",
            ])
        #expect(
            add.solution(.chinese, rng: &rng).steps == [
                "八加六得十四，写四进一。", "七加五加一得十三，写三进一。", "四加零加一得五，写五。", "所以和是五百三十四。",
            ])
        let mul = ArithmeticTask(.multiplication, 123, 45)
        let english = mul.solution(.english, rng: &rng)
        #expect(
            english.steps == [
                "123 times 5 is 615.", "123 times 4 is 492, shifted 1 place 4920.", "615 plus 4920 is 5535.",
                "So the product is 5535.",
            ])
        #expect(
            english.response(.full)
                == "<think>123 times 5 is 615. 123 times 4 is 492, shifted 1 place 4920. 615 plus 4920 is 5535. So the product is 5535.</think><answer>5535</answer>"
        )
        #expect(english.response(.answerOnly) == "<answer>5535</answer>")
        #expect(english.response(.emptyThink) == "<think></think><answer>5535</answer>")
        #expect(
            mul.solution(.chinese, rng: &rng).steps == [
                "一百二十三乘五得六百一十五。", "一百二十三乘四得四百九十二，移一位得四千九百二十。", "六百一十五加四千九百二十得五千五百三十五。",
                "所以积是五千五百三十五。",
            ])
        #expect(mul.prompt(.english) == "What is 123 * 45?" && add.prompt(.chinese) == "478加56等于多少？")
    }

    @Test func chainsAreRightWithoutWrongStepsAndWrongWithThem() {
        var rng = RNG(seed: 1)
        var steps = 0
        var wrong = 0
        for i in 0..<400 {
            let task = ArithmeticTask.sample(i % 2 == 0 ? .addition : .multiplication, digits: 1...6, rng: &rng)
            for language in CoTLanguage.allCases {
                let clean = task.solution(language, rng: &rng)
                #expect(clean.final == task.answer && clean.wrongSteps == 0, "\(task)")
                let noisy = task.solution(language, wrongStepShare: 0.3, rng: &rng)
                // A slip carries on to the end: one wrong step makes the answer wrong (two may cancel).
                if noisy.wrongSteps == 0 { #expect(noisy.final == task.answer) }
                if noisy.wrongSteps == 1 { #expect(noisy.final != task.answer, "\(task): \(noisy.steps)") }
                steps += noisy.steps.count - 1  // the closing sentence is not a step
                wrong += noisy.wrongSteps
            }
        }
        let share = Double(wrong) / Double(steps)
        #expect(abs(share - 0.3) < 0.03, "wrong-step share \(share)")
    }

    @Test func operandsHaveTheAskedDigitCounts() {
        var rng = RNG(seed: 2)
        for _ in 0..<500 {
            let t = ArithmeticTask.sample(.multiplication, digits: 2...3, rng: &rng)
            #expect((10...999).contains(t.left) && (10...999).contains(t.right))
        }
        let one = (0..<200).map { _ in ArithmeticTask.sample(.addition, digits: 1...1, rng: &rng).left }
        #expect(one.allSatisfy { (0...9).contains($0) } && Set(one).count == 10)
    }
}
