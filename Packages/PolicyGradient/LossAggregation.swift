// How per-token losses l_it of a right-padded (B, T) batch with a 0/1 mask m_it become one
// number: the choice that separates GRPO, DAPO and Dr. GRPO (and TRL's loss_type), written out.
//   sequenceMeanTokenMean  (1/B) Σ_i (1/|o_i|) Σ_t m_it l_it      GRPO (DeepSeekMath); TRL "grpo"
//   tokenMean              Σ_it m_it l_it / Σ_it m_it             DAPO token-level; TRL "bnpo" / "dapo"
//   constant(C)            Σ_it m_it l_it / C                     Dr. GRPO (C: B x the generation budget); TRL "dr_grpo"
// Under gradient accumulation each micro-batch divides by the whole batch's count (`total`), so
// the micro-batch losses add up to the whole batch's loss.
import TensorCore

public enum LossAggregation: Sendable, Equatable, Codable {
    case sequenceMeanTokenMean
    case tokenMean
    case constant(Float)

    /// Sequences and tokens of a whole batch, when the (B, T) given is one micro-batch of it.
    public struct Totals: Sendable, Equatable {
        public var sequences: Int
        public var tokens: Int
        public init(sequences: Int, tokens: Int) {
            self.sequences = sequences
            self.tokens = tokens
        }
        /// The counts of a mask (B, T).
        public init(mask: Tensor) {
            sequences = mask.shape[0]
            tokens = Int(mask.array.reduce(0, +))
        }
    }

    /// The aggregated loss of perToken (B, T) under mask (B, T); a sequence with no tokens adds 0.
    public func reduce(_ perToken: Tensor, mask: Tensor, total: Totals? = nil) -> Tensor {
        precondition(
            perToken.shape == mask.shape && mask.rank == 2, "aggregate: \(perToken.shape) vs mask \(mask.shape)")
        let masked = perToken * mask
        let counts = total ?? Totals(mask: mask)
        switch self {
        case .sequenceMeanTokenMean:
            let lengths = mask.sum(axis: 1).array.map { Swift.max($0, 1) }  // TRL clamps at 1 too
            let perSequence = masked.sum(axis: 1) * Tensor(lengths.map { 1 / $0 })
            return perSequence.sum() * (1 / Float(Swift.max(counts.sequences, 1)))
        case .tokenMean:
            return masked.sum() * (1 / Float(Swift.max(counts.tokens, 1)))
        case .constant(let c):
            precondition(c > 0, "aggregate: constant divisor \(c) must be positive")
            return masked.sum() * (1 / c)
        }
    }
}
