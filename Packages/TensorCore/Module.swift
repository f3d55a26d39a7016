// Modules and parameters: a module lists its parameters with hierarchical names
// (`blocks.0.attn.wq.weight`), which are also the checkpoint layout.

public protocol Module: AnyObject {
    /// Every parameter of this module and its children, named relative to this module.
    func namedParameters() -> [(name: String, tensor: Tensor)]
}

extension Module {
    public var parameters: [Tensor] { namedParameters().map(\.tensor) }

    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    public func parameter(named name: String) -> Tensor? {
        namedParameters().first { $0.name == name }?.tensor
    }

    public func zeroGrad() { for p in parameters { p.grad = nil } }
}

/// Prefixes a child's parameter names: `prefix.name`.
public func prefixed(_ prefix: String, _ child: Module) -> [(name: String, tensor: Tensor)] {
    child.namedParameters().map { (name: "\(prefix).\($0.name)", tensor: $0.tensor) }
}

/// y = x W^T + b; weight (out, in) as PyTorch's nn.Linear, so checkpoints map one to one.
public final class Linear: Module {
    public let weight: Tensor
    public let bias: Tensor?

    /// PyTorch's default initialisation: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias.
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: inout RNG) {
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = Tensor.uniform([outFeatures, inFeatures], low: -bound, high: bound, rng: &rng).requiringGrad()
        self.bias = bias ? Tensor.uniform([outFeatures], low: -bound, high: bound, rng: &rng).requiringGrad() : nil
    }

    public func namedParameters() -> [(name: String, tensor: Tensor)] {
        [(name: "weight", tensor: weight)] + (bias.map { [(name: "bias", tensor: $0)] } ?? [])
    }

    /// x: (..., in) -> (..., out); one sgemm with W passed transposed.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = matmul(x, weight, transposeB: true)
        return bias.map { y + $0 } ?? y
    }
}

/// Token embedding table (V, C), initialised N(0, std^2).
public final class Embedding: Module {
    public let weight: Tensor

    public init(_ count: Int, _ dim: Int, std: Float = 1, rng: inout RNG) {
        weight = Tensor.randn([count, dim], std: std, rng: &rng).requiringGrad()
    }

    public func namedParameters() -> [(name: String, tensor: Tensor)] { [(name: "weight", tensor: weight)] }

    public func callAsFunction(_ ids: [Int], shape: [Int]) -> Tensor { embedding(weight, ids: ids, shape: shape) }
}

public final class RMSNorm: Module {
    public let weight: Tensor
    public let eps: Float

    public init(_ dim: Int, eps: Float = 1e-5) {
        weight = Tensor.ones([dim]).requiringGrad()
        self.eps = eps
    }

    public func namedParameters() -> [(name: String, tensor: Tensor)] { [(name: "weight", tensor: weight)] }

    public func callAsFunction(_ x: Tensor) -> Tensor { rmsNorm(x, weight: weight, eps: eps) }
}

public final class LayerNorm: Module {
    public let weight: Tensor
    public let bias: Tensor
    public let eps: Float

    public init(_ dim: Int, eps: Float = 1e-5) {
        weight = Tensor.ones([dim]).requiringGrad()
        bias = Tensor.zeros([dim]).requiringGrad()
        self.eps = eps
    }

    public func namedParameters() -> [(name: String, tensor: Tensor)] {
        [(name: "weight", tensor: weight), (name: "bias", tensor: bias)]
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { layerNorm(x, weight: weight, bias: bias, eps: eps) }
}

public enum Activation: String, Codable, Sendable {
    case tanh, relu, gelu, silu

    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .tanh: x.tanh()
        case .relu: x.relu()
        case .gelu: x.gelu()
        case .silu: x.silu()
        }
    }
}

/// A multilayer perceptron: Linear, activation, ..., Linear (no activation after the last).
/// Layers are named `layers.0`, `layers.1`, ...
public final class MLP: Module {
    public let layers: [Linear]
    public let activation: Activation

    /// sizes: [in, hidden..., out].
    public init(sizes: [Int], activation: Activation, bias: Bool = true, rng: inout RNG) {
        precondition(sizes.count >= 2, "MLP needs at least input and output sizes")
        var layers: [Linear] = []
        for i in 0..<(sizes.count - 1) { layers.append(Linear(sizes[i], sizes[i + 1], bias: bias, rng: &rng)) }
        self.layers = layers
        self.activation = activation
    }

    public func namedParameters() -> [(name: String, tensor: Tensor)] {
        layers.enumerated().flatMap { prefixed("layers.\($0.offset)", $0.element) }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        for (i, layer) in layers.enumerated() {
            h = layer(h)
            if i < layers.count - 1 { h = activation(h) }
        }
        return h
    }
}
