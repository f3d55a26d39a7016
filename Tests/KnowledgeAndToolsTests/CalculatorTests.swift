// The calculator and the tool-call protocol on hand examples: what a model may write between the
// tags evaluates or is a named error (the text the rollout inserts), never a trap.
import KnowledgeAndTools
import PolicyTestSupport
import PostTraining
import Testing

@Suite struct CalculatorTests {
    @Test(arguments: [
        ("12*34", Int64(408)), ("2+3*4", 14), ("(2+3)*4", 20), ("-5+2", -3), (" 7 * ( 1 - 3 ) ", -14), ("0", 0),
        ("123456789*987654321", 121_932_631_112_635_269), ("--4", 4), ("9223372036854775807", .max),
    ])
    func evaluates(expression: String, value: Int64) {
        #expect(Calculator.evaluate(expression) == .success(value))
    }

    @Test(arguments: [
        ("2+", "expression ends early"), ("2**3", "unexpected '*'"), ("(1+2", "missing ')'"),
        ("1+2)", "unexpected ')'"),
        ("9223372036854775807+1", "overflow"), ("4611686018427387904*2", "overflow"),
        ("99999999999999999999", "number too large"),
        ("2/3", "unexpected '/'"), ("", "expression ends early"), ("x", "unexpected 'x'"),
        (String(repeating: "(", count: 70) + "1" + String(repeating: ")", count: 70), "nested too deeply"),
        (String(repeating: "1+", count: 150) + "1", "expression longer than 200 characters"),
    ])
    func refusesWithANamedError(expression: String, error: String) {
        #expect(Calculator.evaluate(expression) == .failure(CalculatorError(description: error)))
    }

    @Test func aCallIsFoundWhenItsClosingTagIsTheLastThingWritten() {
        #expect(ToolCall.pendingCall("<think>first <tool>12*3</tool>") == "12*3")
        #expect(ToolCall.pendingCall("<think><tool>12*3</tool><result>36</result>") == nil, "already answered")
        #expect(ToolCall.pendingCall("<think><tool>12*3") == nil, "not closed yet")
        #expect(ToolCall.pendingCall("</tool>") == nil, "no opening tag")
        #expect(ToolCall.pendingCall("<tool>1<result>2</result></tool>") == nil, "a result inside is not a call")
        #expect(ToolCall.pendingCall("<tool>1+1</tool> <tool>2*5</tool>") == "2*5", "the last call")
        #expect(ToolCall.insertion(for: "12*3") == "<result>36</result>")
        #expect(ToolCall.insertion(for: "1/0") == "<result>error: unexpected '/'</result>")
        #expect(ToolCall.calls(in: "<tool>1+1</tool><result>2</result><tool>2*5</tool>") == 2)
    }

    /// The rollout's side: a response that has just closed a call gets the result's tokens.
    @Test func theInterjectionPutsInTheResultOfAClosedCall() throws {
        let (_, format, _) = try additionWorld(sftUpdates: 0)
        let interjection = ToolCall.interjection(format)
        let encode = { (text: String) in format.tokenizer.encode(text) }
        #expect(interjection(0, encode("<think>twelve threes: <tool>12*3</tool>")) == encode("<result>36</result>"))
        #expect(interjection(0, encode("<think>twelve threes: <tool>12*3")) == [])
        #expect(interjection(0, encode("<think><tool>12/3</tool>")) == encode("<result>error: unexpected '/'</result>"))
        #expect(interjection(0, []) == [])
    }

    @Test func theToolFormatIsAWellFormedR1Response() {
        let task = ArithmeticTask(.multiplication, 123, 45)
        #expect(task.toolResponse == "<think><tool>123*45</tool><result>5535</result></think><answer>5535</answer>")
        let parsed = ParsedResponse(task.toolResponse)
        #expect(parsed.wellFormed && parsed.number == 5535)
        #expect(ArithmeticTask(.addition, 7, 8).toolResponse.contains("<tool>7+8</tool><result>15</result>"))
    }
}
