// A tool call in a response's text, and what the rollout inserts after it:
//   <think><tool>123*45</tool><result>5535</result></think><answer>5535</answer>
//   |-- the model --------||-- inserted ------||-- the model ----------------|
// When the text a model has written so far ends with `</tool>`, the rollout evaluates the call's
// expression (Calculator.swift) and appends `<result>` value `</result>` before decoding goes on;
// those inserted tokens are the environment's, not the policy's: they are fed to the model but
// carry no log-prob and no loss. A call inside an inserted result is not a call (the model did not
// write it).
import NanoTransformer
import PostTraining

public enum ToolCall {
    public static let open = "<tool>"
    public static let close = "</tool>"
    public static let resultOpen = "<result>"
    public static let resultClose = "</result>"
    /// The four tags, special tokens of a tokenizer that serves the protocol: a call's closing
    /// tag is then one token, never merged by BPE with what follows it (which would hide the call
    /// from `pendingCall`).
    public static let tags = [open, close, resultOpen, resultClose]

    /// When `text` ends with a call's closing tag, the expression between it and the last opening
    /// tag before it; nil otherwise (no call pending, or a closing tag without an opening one).
    public static func pendingCall(_ text: String) -> String? {
        guard text.hasSuffix(close) else { return nil }
        let body = text.dropLast(close.count)
        guard let start = body.range(of: open, options: .backwards) else { return nil }
        let expression = body[start.upperBound...]
        // A result or another call between them: not one call.
        if expression.contains(resultOpen) || expression.contains(close) { return nil }
        return String(expression)
    }

    /// What the rollout inserts after a call: the value, or the calculator's error.
    public static func insertion(for expression: String) -> String {
        switch Calculator.evaluate(expression) {
        case .success(let value): "\(resultOpen)\(value)\(resultClose)"
        case .failure(let error): "\(resultOpen)error: \(error)\(resultClose)"
        }
    }

    /// The rollout's side of the protocol: after each sampled token, the response decoded so far;
    /// when it ends a call, the result's tokens to put in (NanoTransformer's `Interjection`).
    /// Decoding the whole response each time is quadratic in its length: fine for the short
    /// answers here.
    public static func interjection(_ format: ConversationFormat) -> Interjection {
        { _, response in
            guard let text = try? format.responseText(response), let call = pendingCall(text) else { return [] }
            return format.responseTokens(insertion(for: call))
        }
    }

    /// The number of calls the model wrote in `text` (each closed by `</tool>`).
    public static func calls(in text: String) -> Int {
        text.components(separatedBy: close).count - 1
    }
}

extension ArithmeticTask {
    /// The response of the tool format: one calculator call in the reasoning, its inserted result,
    /// then the answer (the text SFT teaches; in a rollout the result part is the environment's).
    public var toolResponse: String {
        let expression = "\(left)\(operation == .addition ? "+" : "*")\(right)"
        return "<think>\(ToolCall.open)\(expression)\(ToolCall.close)\(ToolCall.insertion(for: expression))</think>"
            + "<answer>\(answer)</answer>"
    }
}
