// The action distributions: a categorical over logits and a diagonal Gaussian whose dimensions
// are independent (continuous detail 3: log-probabilities and entropies summed over dimensions).
// Shapes: logits / mean / logStd (B, A); log-probabilities and entropies (B).
import Foundation
import TensorCore

public enum PolicyDistribution {
    case categorical(logits: Tensor)
    case gaussian(mean: Tensor, logStd: Tensor)

    /// Samples one action per row (discrete: the index as a Float) from the run's RNG.
    public func sample(rng: inout RNG) -> [[Float]] {
        switch self {
        case .categorical(let logits):
            let p = withNoGrad { logits.softmax(axis: -1) }
            let (b, n) = (p.shape[0], p.shape[1])
            return (0..<b).map { r in
                [Float(rng.categorical(UnsafeBufferPointer(start: p.data + r * n, count: n)))]
            }
        case .gaussian(let mean, let logStd):
            let (b, d) = (mean.shape[0], mean.shape[1])
            return (0..<b).map { r in
                (0..<d).map { j in mean.data[r * d + j] + Foundation.exp(logStd.data[r * d + j]) * rng.normal() }
            }
        }
    }

    /// log pi(a|s) per row (B), with gradients.
    public func logProbability(_ actions: [[Float]]) -> Tensor {
        switch self {
        case .categorical(let logits):
            return logits.logSoftmax(axis: -1).gatherLast(actions.map { Int($0[0]) })
        case .gaussian(let mean, let logStd):
            let a = Tensor(actions.flatMap { $0 }, shape: mean.shape)
            let z = (a - mean) / logStd.exp()
            let perDimension = z.square() * -0.5 - logStd - Float(0.5 * Foundation.log(2 * Double.pi))
            return perDimension.sum(axis: -1)
        }
    }

    /// Entropy per row (B), with gradients.
    public func entropy() -> Tensor {
        switch self {
        case .categorical(let logits):
            let logP = logits.logSoftmax(axis: -1)
            return -(logP.exp() * logP).sum(axis: -1)
        case .gaussian(_, let logStd):
            return (logStd + Float(0.5 + 0.5 * Foundation.log(2 * Double.pi))).sum(axis: -1)
        }
    }
}
