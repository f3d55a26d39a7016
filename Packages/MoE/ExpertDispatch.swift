// Dispatch: which token rows each expert computes. Assignments are taken in token order; an
// expert with a capacity keeps its first `capacity` and drops the rest (Switch Transformer), so a
// dropped assignment adds nothing and the token keeps its residual (and shared-expert) path.

public struct ExpertDispatch: Equatable {
    /// Per expert: the token rows it computes, in token order.
    public private(set) var rows: [[Int]]
    /// Per expert: the position in the N*K assignment list of each of its rows (to find the gate).
    public private(set) var slots: [[Int]]
    /// Assignments over capacity, not computed.
    public private(set) var dropped = 0

    /// experts: N*K chosen experts (token-major, K per token); capacity: nil for no dropping.
    public init(experts: [Int], topK k: Int, expertCount: Int, capacity: Int?) {
        rows = Array(repeating: [], count: expertCount)
        slots = Array(repeating: [], count: expertCount)
        for (slot, expert) in experts.enumerated() {
            if let capacity, rows[expert].count >= capacity {
                dropped += 1
                continue
            }
            rows[expert].append(slot / k)
            slots[expert].append(slot)
        }
    }

    /// Capacity per expert for `assignments` = N*K: ceil(factor * N * K / N_r); nil when factor is 0.
    public static func capacity(factor: Double, assignments: Int, expertCount: Int) -> Int? {
        factor > 0 ? Int((factor * Double(assignments) / Double(expertCount)).rounded(.up)) : nil
    }
}
