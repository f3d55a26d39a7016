// Core detail 6: every epoch a fresh shuffle of the batch, cut into minibatches that cover it
// exactly once (the last one shorter when the size does not divide the count). The order is
// shuffled in place from the previous epoch's, as CleanRL's np.random.shuffle(b_inds).
import TensorCore

public struct Minibatches {
    var order: [Int]

    public init(count: Int) { order = Array(0..<count) }

    /// The next epoch's minibatches of `size` indices.
    public mutating func epoch(size: Int, rng: inout RNG) -> [[Int]] {
        precondition(size >= 1, "Minibatches: size \(size)")
        rng.shuffle(&order)
        return stride(from: 0, to: order.count, by: size).map { Array(order[$0..<min($0 + size, order.count)]) }
    }
}
