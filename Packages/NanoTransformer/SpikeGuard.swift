// The loss-spike guard of llm.c: an update is skipped when the loss or the gradient norm jumps
// far above its recent history. Its history is checkpointed so a resumed run decides the same.
import TensorCore

/// Skips an update when the loss or the gradient norm jumps: their z-score against the last
/// `window` accepted steps above `threshold` (llm.c's guard against loss spikes).
public struct SpikeGuard: Sendable {
    public let window: Int
    public let threshold: Double
    public private(set) var losses: [Double] = []
    public private(set) var gradNorms: [Double] = []
    public private(set) var skipped = 0

    public init(window: Int = 50, threshold: Double = 5) {
        self.window = window
        self.threshold = threshold
    }

    static func zScore(_ x: Double, _ history: [Double]) -> Double {
        guard history.count >= 10 else { return 0 }
        let mean = history.reduce(0, +) / Double(history.count)
        let variance = history.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(history.count)
        return (x - mean) / max(variance.squareRoot(), 1e-8)
    }

    /// Whether to apply this step; records it when accepted, counts it when skipped.
    public mutating func accept(loss: Double, gradNorm: Double) -> Bool {
        let spike =
            !loss.isFinite || !gradNorm.isFinite || Self.zScore(loss, losses) > threshold
            || Self.zScore(gradNorm, gradNorms) > threshold
        if spike {
            skipped += 1
            return false
        }
        losses.append(loss)
        gradNorms.append(gradNorm)
        if losses.count > window {
            losses.removeFirst()
            gradNorms.removeFirst()
        }
        return true
    }

    /// State for checkpoints: history as one tensor (2, n) and the skip count.
    public var state: (history: Tensor, skipped: Int) {
        (Tensor((losses + gradNorms).map(Float.init), shape: [2, losses.count]), skipped)
    }

    /// Restores what `state` saved; a history of the wrong shape or length is an error naming `path`.
    public mutating func restore(history: Tensor, skipped: Int, path: String) throws {
        guard history.rank == 2, history.shape[0] == 2, history.shape[1] <= window else {
            throw TransformerError("\(path): spike history \(history.shape) is not (2, n <= \(window))")
        }
        let n = history.shape[1]
        losses = (0..<n).map { Double(history[0, $0]) }
        gradNorms = (0..<n).map { Double(history[1, $0]) }
        self.skipped = skipped
    }
}
