// Elementwise unary and tensor-scalar ops. Each op is a forward map and a local derivative
// written in terms of the input x and the output y, so backward needs no recomputation.
import LabSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// y = f(x) elementwise; dL/dx = dL/dy * df(x, y).
@inline(__always)
func unaryOp(
    _ x: Tensor, _ op: String, _ f: @escaping (Float) -> Float, derivative df: @escaping (Float, Float) -> Float
) -> Tensor {
    let out = Tensor(shape: x.shape, zeroed: false)
    let box = UncheckedSendable((out.data, x.data))
    parallelFor(x.count, costPerItem: 4) { range in
        let (o, i) = box.value
        for j in range { o[j] = f(i[j]) }
    }
    return recordUsingOutput(out, op, [x]) { g, out in
        let dx = Tensor(shape: x.shape, zeroed: false)
        let box = UncheckedSendable((dx.data, g.data, x.data, out.data))
        parallelFor(x.count, costPerItem: 4) { range in
            let (d, g, i, o) = box.value
            for j in range { d[j] = g[j] * df(i[j], o[j]) }
        }
        return [dx]
    }
}

/// Numerically stable softplus: log(1 + e^x) = max(x, 0) + log1p(e^-|x|).
@inline(__always) func softplusScalar(_ x: Float) -> Float { max(x, 0) + log1pf(expf(-abs(x))) }

/// Branch-free: exp(-x) = inf for very negative x gives exactly 0, no NaN.
@inline(__always) func sigmoidScalar(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

/// y = f(x) elementwise with an 8-lane forward and derivative (for the exp-heavy ops).
@inline(__always)
func unaryOpSIMD(
    _ x: Tensor, _ op: String, _ f: @escaping (Float8) -> Float8,
    derivative df: @escaping (Float8, Float8) -> Float8
) -> Tensor {
    let out = Tensor(shape: x.shape, zeroed: false)
    let box = UncheckedSendable((out.data, x.data))
    parallelFor(x.count, costPerItem: 4) { range in
        let (o, i) = box.value
        forEachBlock8(range) { j, lanes in store8(f(load8(i + j, lanes)), o + j, lanes) }
    }
    return recordUsingOutput(out, op, [x]) { g, out in
        let dx = Tensor(shape: x.shape, zeroed: false)
        let box = UncheckedSendable((dx.data, g.data, x.data, out.data))
        parallelFor(x.count, costPerItem: 4) { range in
            let (d, g, i, o) = box.value
            forEachBlock8(range) { j, lanes in
                store8(load8(g + j, lanes) * df(load8(i + j, lanes), load8(o + j, lanes)), d + j, lanes)
            }
        }
        return [dx]
    }
}

let inverseSqrt2: Float = 0.707_106_781_186_547_5
let inverseSqrt2Pi: Float = 0.398_942_280_401_432_7

extension Tensor {
    public static prefix func - (x: Tensor) -> Tensor { unaryOp(x, "neg", { -$0 }, derivative: { _, _ in -1 }) }

    public func exp() -> Tensor { unaryOpSIMD(self, "exp", exp8, derivative: { _, y in y }) }
    public func log() -> Tensor { unaryOp(self, "log", { logf($0) }, derivative: { x, _ in 1 / x }) }
    public func sqrt() -> Tensor { unaryOp(self, "sqrt", { sqrtf($0) }, derivative: { _, y in 0.5 / y }) }
    public func tanh() -> Tensor { unaryOpSIMD(self, "tanh", tanh8, derivative: { _, y in 1 - y * y }) }
    public func abs() -> Tensor {
        unaryOp(self, "abs", { Swift.abs($0) }, derivative: { x, _ in x > 0 ? 1 : (x < 0 ? -1 : 0) })
    }
    public func square() -> Tensor { unaryOp(self, "square", { $0 * $0 }, derivative: { x, _ in 2 * x }) }
    public func pow(_ p: Float) -> Tensor {
        unaryOp(self, "pow", { powf($0, p) }, derivative: { x, _ in p * powf(x, p - 1) })
    }
    public func sigmoid() -> Tensor {
        unaryOpSIMD(self, "sigmoid", sigmoid8, derivative: { _, y in y * (1 - y) })
    }
    public func relu() -> Tensor { unaryOp(self, "relu", { Swift.max($0, 0) }, derivative: { x, _ in x > 0 ? 1 : 0 }) }
    /// SiLU / swish: x * sigmoid(x).
    public func silu() -> Tensor {
        unaryOpSIMD(
            self, "silu", { $0 * sigmoid8($0) },
            derivative: { x, _ in
                let s = sigmoid8(x)
                return s * (1 + x * (1 - s))
            })
    }
    /// GELU with the exact erf form (PyTorch's default): x * Phi(x).
    public func gelu() -> Tensor {
        unaryOp(
            self, "gelu", { 0.5 * $0 * (1 + erff($0 * inverseSqrt2)) },
            derivative: { x, _ in 0.5 * (1 + erff(x * inverseSqrt2)) + x * inverseSqrt2Pi * expf(-0.5 * x * x) })
    }
    /// log(1 + e^x), stable for large |x|.
    public func softplus() -> Tensor {
        unaryOp(self, "softplus", softplusScalar, derivative: { x, _ in sigmoidScalar(x) })
    }
    /// log sigmoid(x) = -softplus(-x), stable for large |x| (DPO and reward losses).
    public func logSigmoid() -> Tensor {
        unaryOp(self, "logsigmoid", { -softplusScalar(-$0) }, derivative: { x, _ in sigmoidScalar(-x) })
    }
    /// Clamps into [low, high]; the gradient passes only where the input was inside the range.
    public func clamped(_ low: Float, _ high: Float) -> Tensor {
        unaryOp(
            self, "clamp", { Swift.min(Swift.max($0, low), high) },
            derivative: { x, _ in x >= low && x <= high ? 1 : 0 })
    }

    // Tensor-scalar arithmetic.
    public static func + (x: Tensor, s: Float) -> Tensor {
        unaryOp(x, "add_scalar", { $0 + s }, derivative: { _, _ in 1 })
    }
    public static func + (s: Float, x: Tensor) -> Tensor { x + s }
    public static func - (x: Tensor, s: Float) -> Tensor { x + (-s) }
    public static func - (s: Float, x: Tensor) -> Tensor {
        unaryOp(x, "rsub_scalar", { s - $0 }, derivative: { _, _ in -1 })
    }
    public static func * (x: Tensor, s: Float) -> Tensor {
        unaryOp(x, "mul_scalar", { $0 * s }, derivative: { _, _ in s })
    }
    public static func * (s: Float, x: Tensor) -> Tensor { x * s }
    public static func / (x: Tensor, s: Float) -> Tensor { x * (1 / s) }
    public static func / (s: Float, x: Tensor) -> Tensor {
        unaryOp(x, "rdiv_scalar", { s / $0 }, derivative: { x, _ in -s / (x * x) })
    }
}

/// Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1-p).
/// Identity when not training or p == 0. The mask comes from `rng`.
public func dropout(_ x: Tensor, p: Float, training: Bool, rng: inout RNG) -> Tensor {
    precondition(p >= 0 && p < 1, "dropout probability must be in [0, 1), got \(p)")
    guard training && p > 0 else { return x }
    let mask = Tensor(shape: x.shape, zeroed: false)
    let scale = 1 / (1 - p)
    for i in 0..<mask.count { mask.data[i] = rng.uniform() < p ? 0 : scale }
    return x * mask
}
