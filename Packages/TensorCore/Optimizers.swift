// Optimisers: SGD with momentum, Adam and AdamW (Loshchilov & Hutter 2019), as PyTorch defines
// them, plus global-norm gradient clipping. Their state exports to named tensors for checkpoints.
import LabSupport

/// Everything an optimiser's future depends on: its step count and named state tensors.
public struct OptimizerState {
    public var step: Int
    public var tensors: [String: Tensor]
    public init(step: Int, tensors: [String: Tensor]) {
        self.step = step
        self.tensors = tensors
    }
}

public protocol Optimizer: AnyObject {
    var parameters: [(name: String, tensor: Tensor)] { get }
    /// Number of updates taken.
    var stepCount: Int { get }
    /// One update with learning rate `lr`, using each parameter's `.grad` (missing grads skip).
    func step(lr: Float)
    func exportState() -> OptimizerState
    func importState(_ state: OptimizerState) throws
}

extension Optimizer {
    public func zeroGrad() { for p in parameters { p.tensor.grad = nil } }

    /// Reads the named state tensors `prefix/<parameter>` for every parameter, checking shapes.
    func importBuffers(_ prefix: String, from state: OptimizerState, into buffers: [Tensor]) throws {
        for ((name, _), buffer) in zip(parameters, buffers) {
            let key = "\(prefix)/\(name)"
            guard let t = state.tensors[key] else { throw LabError(.tensorCore, "optimizer state is missing '\(key)'") }
            guard t.array.allSatisfy(\.isFinite) else {
                throw LabError(.tensorCore, "optimizer state '\(key)' is not finite")
            }
            guard t.shape == buffer.shape else {
                throw LabError(.tensorCore, "optimizer state '\(key)' has shape \(t.shape), expected \(buffer.shape)")
            }
            buffer.assign(t)
        }
    }
}

/// SGD with optional momentum and L2 weight decay (torch.optim.SGD).
public final class SGD: Optimizer {
    public let parameters: [(name: String, tensor: Tensor)]
    public let momentum: Float
    public let weightDecay: Float
    public let nesterov: Bool
    public private(set) var stepCount = 0
    let buffers: [Tensor]

    public init(
        _ parameters: [(name: String, tensor: Tensor)], momentum: Float = 0, weightDecay: Float = 0,
        nesterov: Bool = false
    ) {
        self.parameters = parameters
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        buffers = parameters.map { Tensor(shape: $0.tensor.shape) }
    }

    public func step(lr: Float) {
        for ((_, p), buf) in zip(parameters, buffers) {
            guard let grad = p.grad else { continue }
            let (w, g, b) = (p.data, grad.data, buf.data)
            for i in 0..<p.count {
                var d = g[i] + weightDecay * w[i]
                if momentum != 0 {
                    b[i] = stepCount == 0 ? d : momentum * b[i] + d
                    d = nesterov ? d + momentum * b[i] : b[i]
                }
                w[i] -= lr * d
            }
        }
        stepCount += 1
    }

    public func exportState() -> OptimizerState {
        var tensors: [String: Tensor] = [:]
        for ((name, _), b) in zip(parameters, buffers) { tensors["momentum_buffer/\(name)"] = b.copy() }
        return OptimizerState(step: stepCount, tensors: tensors)
    }

    public func importState(_ state: OptimizerState) throws {
        guard state.step >= 0 else { throw LabError(.tensorCore, "optimizer step \(state.step) is negative") }
        try importBuffers("momentum_buffer", from: state, into: buffers)
        stepCount = state.step
    }
}

/// Adam (Kingma & Ba 2015) with bias correction; with `decoupledWeightDecay` it is AdamW:
/// p <- p * (1 - lr * wd) before the Adam step, instead of adding wd * p to the gradient.
public final class Adam: Optimizer {
    public let parameters: [(name: String, tensor: Tensor)]
    public let beta1: Float
    public let beta2: Float
    public let eps: Float
    public let weightDecay: Float
    public let decoupledWeightDecay: Bool
    /// Parameters that never decay (norm gains, biases, by name).
    public let noDecay: Set<String>
    public private(set) var stepCount = 0
    let firstMoments: [Tensor]
    let secondMoments: [Tensor]

    public init(
        _ parameters: [(name: String, tensor: Tensor)], beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8,
        weightDecay: Float = 0, decoupledWeightDecay: Bool = false, noDecay: Set<String> = []
    ) {
        self.parameters = parameters
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        self.decoupledWeightDecay = decoupledWeightDecay
        self.noDecay = noDecay
        firstMoments = parameters.map { Tensor(shape: $0.tensor.shape) }
        secondMoments = parameters.map { Tensor(shape: $0.tensor.shape) }
    }

    /// AdamW as torch.optim.AdamW (default weight decay 0.01).
    public static func adamW(
        _ parameters: [(name: String, tensor: Tensor)], beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8,
        weightDecay: Float = 0.01, noDecay: Set<String> = []
    ) -> Adam {
        Adam(
            parameters, beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay, decoupledWeightDecay: true,
            noDecay: noDecay)
    }

    public func step(lr: Float) {
        stepCount += 1
        let t = Float(stepCount)
        let correction1 = 1 - powf(beta1, t)
        let correction2 = 1 - powf(beta2, t)
        for (index, (name, p)) in parameters.enumerated() {
            guard let grad = p.grad else { continue }
            let wd = noDecay.contains(name) ? 0 : weightDecay
            let box = UncheckedSendable((p.data, grad.data, firstMoments[index].data, secondMoments[index].data))
            let (b1, b2, eps, decoupled) = (beta1, beta2, eps, decoupledWeightDecay)
            // Element by element (8 lanes, each lane the scalar formula in the same order), so
            // splitting the range over threads changes no bit.
            parallelFor(p.count, costPerItem: 16) { range in
                let (w, g, m, v) = box.value
                var i = range.lowerBound
                while i < range.upperBound {  // not forEachBlock8: the optimiser would not inline this body
                    let lanes = min(8, range.upperBound - i)
                    var gi = load8(g + i, lanes)
                    var wi = load8(w + i, lanes)
                    if decoupled { wi *= 1 - lr * wd } else { gi += wd * wi }
                    let mi = b1 * load8(m + i, lanes) + (1 - b1) * gi
                    let vi = b2 * load8(v + i, lanes) + (1 - b2) * gi * gi
                    let mHat = mi / correction1
                    let vHat = vi / correction2
                    wi -= lr * mHat / (vHat.squareRoot() + eps)
                    store8(mi, m + i, lanes)
                    store8(vi, v + i, lanes)
                    store8(wi, w + i, lanes)
                    i += 8
                }
            }
        }
    }

    public func exportState() -> OptimizerState {
        var tensors: [String: Tensor] = [:]
        for (i, (name, _)) in parameters.enumerated() {
            tensors["exp_avg/\(name)"] = firstMoments[i].copy()
            tensors["exp_avg_sq/\(name)"] = secondMoments[i].copy()
        }
        return OptimizerState(step: stepCount, tensors: tensors)
    }

    public func importState(_ state: OptimizerState) throws {
        guard state.step >= 0 else { throw LabError(.tensorCore, "optimizer step \(state.step) is negative") }
        try importBuffers("exp_avg", from: state, into: firstMoments)
        try importBuffers("exp_avg_sq", from: state, into: secondMoments)
        if let negative = zip(parameters, secondMoments).first(where: { $0.1.array.contains { $0 < 0 } }) {
            throw LabError(.tensorCore, "optimizer state 'exp_avg_sq/\(negative.0.name)' has negative values")
        }
        stepCount = state.step
    }
}

/// Scales all gradients so their global L2 norm is at most `maxNorm` (torch's
/// clip_grad_norm_: coefficient maxNorm / (norm + 1e-6), capped at 1). Returns the norm before
/// clipping, summed in Double in parameter order.
@discardableResult
public func clipGradNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
    let norm = Float(gradNorm(parameters))
    let coefficient = maxNorm / (norm + 1e-6)
    if coefficient < 1 {
        for p in parameters {
            guard let g = p.grad else { continue }
            let box = UncheckedSendable(g.data)
            parallelFor(g.count, costPerItem: 2) { range in
                let g = box.value
                for i in range { g[i] *= coefficient }
            }
        }
    }
    return norm
}

/// Global L2 norm of all gradients (missing gradients count as zero).
public func gradNorm(_ parameters: [Tensor]) -> Double {
    var total = 0.0
    for p in parameters {
        guard let g = p.grad else { continue }
        for i in 0..<g.count { total += Double(g.data[i]) * Double(g.data[i]) }
    }
    return total.squareRoot()
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
