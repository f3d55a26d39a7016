// Training data as random contiguous windows of a token stream. The stream is cut into blocks;
// a seed-fixed share of blocks is held out for validation, so train and validation never overlap
// and the split does not depend on the run's other random choices.
import TensorCore

public struct TokenWindows: Sendable {
    public let train: [Int32]
    public let validation: [Int32]

    /// Splits `tokens` into blocks of `blockSize`, holding out `validationFraction` of them.
    public init(tokens: some Collection<Int>, blockSize: Int = 8192, validationFraction: Double = 0.1, seed: UInt64) {
        let all = tokens.map { Int32($0) }
        let blocks = max(1, (all.count + blockSize - 1) / blockSize)
        var rng = RNG(seed: seed ^ 0x5EED_5911)
        let held = Set(rng.permutation(blocks).prefix(max(1, Int(Double(blocks) * validationFraction))))
        var train: [Int32] = []
        var validation: [Int32] = []
        for b in 0..<blocks {
            let slice = all[(b * blockSize)..<min((b + 1) * blockSize, all.count)]
            if held.contains(b) && blocks > 1 { validation += slice } else { train += slice }
        }
        self.train = train
        self.validation = validation.isEmpty ? Array(train.suffix(blockSize)) : validation
    }

    /// `batch` windows of `time + 1` tokens: inputs and next-token targets, (batch * time) each.
    public func batch(_ batch: Int, time: Int, validation useValidation: Bool = false, rng: inout RNG) -> (
        ids: [Int], targets: [Int]
    ) {
        let source = useValidation ? validation : train
        precondition(source.count > time + 1, "token stream of \(source.count) is too short for windows of \(time + 1)")
        var ids: [Int] = []
        var targets: [Int] = []
        ids.reserveCapacity(batch * time)
        targets.reserveCapacity(batch * time)
        for _ in 0..<batch {
            let start = rng.int(below: source.count - time - 1)
            for j in 0..<time {
                ids.append(Int(source[start + j]))
                targets.append(Int(source[start + j + 1]))
            }
        }
        return (ids, targets)
    }
}

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

    public mutating func restore(history: Tensor, skipped: Int) {
        let n = history.shape[1]
        losses = (0..<n).map { Double(history[0, $0]) }
        gradNorms = (0..<n).map { Double(history[1, $0]) }
        self.skipped = skipped
    }
}

/// Ways to run a RoPE model at a context L' longer than the training length L (s = L' / L).
public enum ContextExtension: String, Codable, Sendable, CaseIterable {
    /// Positions and base unchanged.
    case plain
    /// Position interpolation (Chen et al. 2023): positions scaled by L / L'.
    case interpolation
    /// NTK-aware scaling: base' = base * s^(d / (d - 2)).
    case ntk

    /// The config for evaluating at `factor` times the training length.
    public func apply(to config: TransformerConfig, factor: Double) -> TransformerConfig {
        var c = config
        switch self {
        case .plain: break
        case .interpolation: c.ropePositionScale = config.ropePositionScale / factor
        case .ntk:
            let d = Double(config.resolvedHeadDim)
            c.ropeBase = config.ropeBase * pow(factor, d / (d - 2))
        }
        return c
    }
}

#if canImport(Glibc)
    import Glibc
#endif
