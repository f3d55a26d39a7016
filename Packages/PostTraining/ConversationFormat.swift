// The layout a prompt and its response are rendered in for SFT, sampling and scoring:
//   <|user|>prompt<|end|><|assistant|>response<|end|>
//   |------- prompt ids ----------------||-- response ids --|
// The three role tokens and the R1 template's four tags are special tokens: one id each, never
// split by BPE. The prompt is a user's text, so a special token's string inside it stays ordinary
// text (no injected turn ends); the response may hold the R1 tags, which become their ids. The
// response ends with <|end|>, the stop token generation watches for, so a model learns to stop.
// Rendering the pair is the prompt's ids followed by the response's: `responseStart` is where
// the loss mask and the log-probs of RL begin.
import LabSupport
import Tokenizer

public struct ConversationFormat: Sendable {
    public static let roleTokens = ["<|user|>", "<|assistant|>", "<|end|>"]
    public static let templateTags = ["<think>", "</think>", "<answer>", "</answer>"]
    public static let specialTokens = roleTokens + templateTags

    public let tokenizer: BPETokenizer
    public let user: Int
    public let assistant: Int
    /// The stop token: ends every response.
    public let end: Int

    /// The tags a response's text writes as their special tokens: the R1 template's, and any a
    /// task adds (a tool call's, KnowledgeAndTools' ToolCall.tags).
    public let responseTags: Set<String>

    /// Throws naming the special token the tokenizer lacks (see `addingSpecialTokens(to:)`).
    /// `extraResponseTags`: more tags a response writes as special tokens (each must be one).
    public init(tokenizer: BPETokenizer, extraResponseTags: [String] = []) throws {
        for token in Self.specialTokens + extraResponseTags where tokenizer.specialTokens[token] == nil {
            throw LabError(
                .tokenizer,
                "the tokenizer has no special token '\(token)' (ConversationFormat.addingSpecialTokens(to:) adds the missing ones)"
            )
        }
        self.tokenizer = tokenizer
        responseTags = Set(Self.templateTags + extraResponseTags)
        (user, assistant, end) = (
            tokenizer.specialTokens["<|user|>"]!, tokenizer.specialTokens["<|assistant|>"]!,
            tokenizer.specialTokens["<|end|>"]!
        )
    }

    /// The tokenizer with the format's special tokens it lacks added after its own (existing ids
    /// unchanged; a model's vocabulary grows by `vocabSize` difference rows).
    public static func addingSpecialTokens(to tokenizer: BPETokenizer) throws -> BPETokenizer {
        let missing = specialTokens.filter { tokenizer.specialTokens[$0] == nil }
        return missing.isEmpty ? tokenizer : try tokenizer.addingSpecialTokens(missing)
    }

    /// <|user|>prompt<|end|><|assistant|>: what the model continues. Special-token strings in
    /// the prompt are ordinary text.
    public func promptIds(_ prompt: String) -> [Int] {
        [user] + tokenizer.encode(prompt, allowedSpecial: .none) + [end, assistant]
    }

    /// response<|end|>, the response tags in it as their ids.
    public func responseIds(_ response: String) -> [Int] { responseTokens(response) + [end] }

    /// Text inside a response (no end token), the response tags in it as their ids.
    public func responseTokens(_ text: String) -> [Int] {
        tokenizer.encode(text, allowedSpecial: .some(responseTags))
    }

    /// The prompt's and response's ids one after the other, and where the response starts.
    public func render(prompt: String, response: String) -> (ids: [Int], responseStart: Int) {
        let p = promptIds(prompt)
        return (p + responseIds(response), p.count)
    }

    /// A generated response's text: its ids up to (not including) the first <|end|>, decoded;
    /// bytes that are not UTF-8 (a sample cut inside a character) become U+FFFD.
    public func responseText(_ ids: [Int]) throws -> String {
        let body = ids.firstIndex(of: end).map { Array(ids[..<$0]) } ?? ids
        return try tokenizer.decode(body, lossy: true)
    }
}
