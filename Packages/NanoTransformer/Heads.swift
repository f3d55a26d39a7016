// Heads on the trunk's hidden states (B, T, C) besides the LM head: a scalar score read at a
// sequence's last real token (the reward model of InstructGPT / TRL's AutoModelForSequenceClassification,
// `score_head`) and a value per token (the PPO critic of InstructGPT / TRL's ValueHead, `value_head`).
import TensorCore

/// r(x, y) = w · h_last: one number per sequence from the hidden state of its last real token.
/// Parameters: weight (1, C) [, bias (1)]; initialised N(0, std²) as the trunk's weights.
public final class ScalarHead: Module {
    let linear: Linear

    public init(dModel: Int, bias: Bool = false, std: Float = 0.02, rng: inout RNG) {
        linear = Linear(dModel, 1, bias: bias, rng: &rng)
        Init.normal(linear.weight, std: std, rng: &rng)
        linear.bias?.fill(0)
    }

    public func namedParameters() -> [(name: String, tensor: Tensor)] { linear.namedParameters() }

    /// hidden: (B, T, C); lastIndex[b]: the position of row b's last real token. Returns (B).
    public func callAsFunction(_ hidden: Tensor, lastIndex: [Int]) -> Tensor {
        let (b, t, c) = (hidden.shape[0], hidden.shape[1], hidden.shape[2])
        precondition(lastIndex.count == b && lastIndex.allSatisfy { (0..<t).contains($0) }, "ScalarHead: positions")
        let rows = hidden.reshaped([b * t, c]).indexSelect(rows: lastIndex.enumerated().map { $0 * t + $1 })
        return linear(rows).reshaped([b])
    }
}

/// V(s_t) = w · h_t + b for every position: (..., C) -> (...). Parameters: weight (1, C), bias (1);
/// initialised N(0, std²) and 0.
public final class ValueHead: Module {
    let linear: Linear

    public init(dModel: Int, std: Float = 0.02, rng: inout RNG) {
        linear = Linear(dModel, 1, bias: true, rng: &rng)
        Init.normal(linear.weight, std: std, rng: &rng)
        linear.bias?.fill(0)
    }

    public func namedParameters() -> [(name: String, tensor: Tensor)] { linear.namedParameters() }

    public func callAsFunction(_ hidden: Tensor) -> Tensor { linear(hidden).reshaped(Array(hidden.shape.dropLast())) }
}
