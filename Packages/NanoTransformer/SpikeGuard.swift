// The loss-spike guard of llm.c (llmc/outlier_detector.h and train_gpt2.cu): every step's loss
// and gradient norm go into a window of the last `window` values; once the window is full, the
// z-score (x - mean) / std of the newest value (the window includes it) decides: above
// `threshold` for either, the update is a spike (skipped when the guard acts). Because every value
// enters the window, spikes included, a lasting shift of the loss level is absorbed after a few
// steps instead of making every later step a "spike" that freezes training.
// Two differences from llm.c, both documented in Notebooks-md/nano-transformer.md: a non-finite
// loss or norm is a spike and is not pushed (it would make every later z-score NaN), and the
// window is a config value (llm.c fixes 128; ours defaults to 50). Its whole state is Float64
// values (the window in order, the running sums), so a resumed run decides exactly as an
// uninterrupted one.
import LabSupport

/// One detector over a window of recent values (llm.c's OutlierDetector).
struct OutlierWindow: Sendable, Equatable {
    let size: Int
    var buffer: [Double] = []
    var index = 0
    var sum = 0.0
    var sumOfSquares = 0.0

    init(size: Int) { self.size = size }

    /// Pushes `x`; returns its z-score against the window including it, or nil while the window
    /// is still filling.
    mutating func push(_ x: Double) -> Double? {
        if buffer.count < size {
            buffer.append(x)
            sum += x
            sumOfSquares += x * x
            return nil
        }
        let old = buffer[index]
        sum -= old
        sumOfSquares -= old * old
        buffer[index] = x
        sum += x
        sumOfSquares += x * x
        index = (index + 1) % size
        let mean = sum / Double(size)
        let std = (sumOfSquares / Double(size) - mean * mean).squareRoot()
        return std == 0 ? 0 : (x - mean) / std
    }

    var state: [Double] { buffer + [Double(index), sum, sumOfSquares] }

    init(size: Int, state: [Double]) throws {
        self.size = size
        let n = state.count - 3
        guard n >= 0, n <= size, state.allSatisfy(\.isFinite), let i = Int(exactly: state[n]),
            (0..<max(size, 1)).contains(i),
            n == size || i == 0
        else { throw LabError(.model, "spike window: \(state.count) values do not hold a window of at most \(size)") }
        buffer = Array(state[0..<n])
        (index, sum, sumOfSquares) = (i, state[n + 1], state[n + 2])
    }
}

/// Skips an update when the loss or the gradient norm jumps: a z-score above `threshold` against
/// the last `window` steps (llm.c's guard against loss spikes).
public struct SpikeGuard: Sendable, Equatable {
    public let window: Int
    public let threshold: Double
    var losses: OutlierWindow
    var gradNorms: OutlierWindow
    public private(set) var skipped = 0

    public init(window: Int = 50, threshold: Double = 5) {
        precondition(window >= 2, "SpikeGuard: a window of \(window)")
        self.window = window
        self.threshold = threshold
        losses = OutlierWindow(size: window)
        gradNorms = OutlierWindow(size: window)
    }

    /// Whether this step is normal (apply its update); counts it in `skipped` when it is a spike.
    public mutating func accept(loss: Double, gradNorm: Double) -> Bool {
        guard loss.isFinite && gradNorm.isFinite else {
            skipped += 1
            return false
        }
        let lossZ = losses.push(loss)
        let normZ = gradNorms.push(gradNorm)
        if (lossZ ?? 0) > threshold || (normZ ?? 0) > threshold {
            skipped += 1
            return false
        }
        return true
    }

    /// The whole state as Float64 values, for a checkpoint (nothing rounded).
    public var state: (losses: [Double], gradNorms: [Double], skipped: Int) { (losses.state, gradNorms.state, skipped) }

    /// Restores what `state` saved; values that do not fit the window are an error naming `path`.
    public mutating func restore(losses: [Double], gradNorms: [Double], skipped: Int, path: String) throws {
        do {
            self.losses = try OutlierWindow(size: window, state: losses)
            self.gradNorms = try OutlierWindow(size: window, state: gradNorms)
        } catch let e as LabError where e.domain == .model {
            throw LabError(.model, "\(path): \(e.message)")
        }
        self.skipped = skipped
    }
}
