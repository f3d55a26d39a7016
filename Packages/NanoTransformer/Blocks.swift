// The transformer's parts: a norm of either kind, causal self-attention with GQA and the
// position/QK-norm switches, and the MLP (SwiGLU or GELU). Shapes: x (B, T, C).
import Foundation
import TensorCore

/// RMSNorm or LayerNorm, as the config says.
final class Norm: Module {
    let rms: RMSNorm?
    let layer: LayerNorm?

    init(_ dim: Int, kind: NormKind, eps: Float) {
        rms = kind == .rms ? RMSNorm(dim, eps: eps) : nil
        layer = kind == .layer ? LayerNorm(dim, eps: eps) : nil
    }

    func namedParameters() -> [(name: String, tensor: Tensor)] { rms?.namedParameters() ?? layer!.namedParameters() }
    func callAsFunction(_ x: Tensor) -> Tensor { rms.map { $0(x) } ?? layer!(x) }
}

/// A causal self-attention layer the blocks can hold: standard GQA (below) or a drop-in such as
/// MLA. x: (B, T, C) -> (B, T, C); positions: T (shared) or B*T; mask additive (B, T, T), only
/// without a cache. With a cache (inside its begin/end), the layer stores its new keys and values
/// in it and attends over each row's slot.
public protocol SelfAttention: Module {
    func callAsFunction(_ x: Tensor, positions: [Int], mask: Tensor?, cache: KVCache?, layer: Int) -> Tensor
}

/// How every block gets its drop-in layer: the layer's kind and config, recorded in checkpoints so
/// the model can be rebuilt from the file, and the constructor (called once per block, in order).
public struct LayerFactory<Layer>: Sendable {
    /// Names the layer in checkpoints ("mla", "moe"); the standard layers are "gqa" and "dense".
    public let kind: String
    /// The layer's own config as JSON (sorted keys).
    public let configJSON: String
    let make: @Sendable (TransformerConfig, inout RNG) -> Layer

    public init<Config: Encodable>(
        kind: String, config: Config, make: @escaping @Sendable (TransformerConfig, inout RNG) -> Layer
    ) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        self.kind = kind
        configJSON = String(decoding: (try? encoder.encode(config)) ?? Data("{}".utf8), as: UTF8.self)
        self.make = make
    }

    public func callAsFunction(_ config: TransformerConfig, rng: inout RNG) -> Layer { make(config, &rng) }
}

/// Builds one block's attention (MLA); nil in a model means standard GQA attention.
public typealias AttentionFactory = LayerFactory<any SelfAttention>

final class CausalSelfAttention: SelfAttention {
    let config: TransformerConfig
    let wq, wk, wv, wo: Linear
    let qNorm, kNorm: RMSNorm?

    init(_ c: TransformerConfig, rng: inout RNG) {
        config = c
        let d = c.resolvedHeadDim
        wq = Linear(c.dModel, c.heads * d, bias: false, rng: &rng)
        wk = Linear(c.dModel, c.kvHeads * d, bias: false, rng: &rng)
        wv = Linear(c.dModel, c.kvHeads * d, bias: false, rng: &rng)
        wo = Linear(c.heads * d, c.dModel, bias: false, rng: &rng)
        qNorm = c.qkNorm ? RMSNorm(d, eps: Float(c.normEps)) : nil
        kNorm = c.qkNorm ? RMSNorm(d, eps: Float(c.normEps)) : nil
    }

    func namedParameters() -> [(name: String, tensor: Tensor)] {
        prefixed("wq", wq) + prefixed("wk", wk) + prefixed("wv", wv) + prefixed("wo", wo)
            + (qNorm.map { prefixed("q_norm", $0) } ?? []) + (kNorm.map { prefixed("k_norm", $0) } ?? [])
    }

    /// x: (B, T, C); positions: T (shared) or B*T; mask: additive (B, T, Tcache + T) or nil.
    func callAsFunction(_ x: Tensor, positions: [Int], mask: Tensor?, cache: KVCache?, layer: Int) -> Tensor {
        let (b, t) = (x.shape[0], x.shape[1])
        let d = config.resolvedHeadDim
        var q = wq(x).reshaped([b, t, config.heads, d])
        var k = wk(x).reshaped([b, t, config.kvHeads, d])
        let v = wv(x).reshaped([b, t, config.kvHeads, d])
        if let qNorm, let kNorm {
            q = qNorm(q)
            k = kNorm(k)
        }
        if config.positionEncoding == .rope {
            q = rope(q, positions: positions, base: config.ropeBase, positionScale: config.ropePositionScale)
            k = rope(k, positions: positions, base: config.ropeBase, positionScale: config.ropePositionScale)
        }
        let out: Tensor
        if let cache {
            precondition(mask == nil, "attention: a cached forward keeps sequences apart by slot, not by mask")
            let keys = SlabView(cache.store(k, layer: layer, part: 0), heads: config.kvHeads, dim: d)
            let values = SlabView(cache.store(v, layer: layer, part: 1), heads: config.kvHeads, dim: d)
            out = cachedAttention(q: q, keys: keys, values: values, slots: cache.rows, lengths: cache.visibleLengths)
        } else {
            out = attention(q: q, k: k, v: v, causal: true, mask: mask)
        }
        return wo(out.reshaped([b, t, config.heads * d]))
    }
}

/// A position-wise MLP the blocks can hold: the dense one (below) or a drop-in such as a
/// mixture of experts. x: (B, T, C) -> (B, T, C).
public protocol FeedForwardLayer: Module {
    /// training: a forward whose loss will be back-propagated (MoE counts routing statistics).
    func callAsFunction(_ x: Tensor, training: Bool) -> Tensor
    /// Loss terms of the last training forward that the model adds to its loss (MoE: load
    /// balance, router z-loss), or nil.
    var auxiliaryLoss: Tensor? { get }
    /// State that is not trained by the optimiser but belongs in a checkpoint (MoE: routing bias).
    func namedBuffers() -> [(name: String, tensor: Tensor)]
}

extension FeedForwardLayer {
    public var auxiliaryLoss: Tensor? { nil }
    public func namedBuffers() -> [(name: String, tensor: Tensor)] { [] }
}

/// A drop-in MLP that routes each token to some of its experts (MoE). The model records the
/// choices of a generation per sequence and replays them in later forwards (RoutingRecord.swift).
public protocol RoutedFeedForward: FeedForwardLayer {
    /// Experts chosen per token (K).
    var choicesPerToken: Int { get }
    /// The N·K experts chosen in the last forward, token-major.
    var lastChoice: [Int] { get }
    /// When set, the following forwards use these N·K experts instead of choosing.
    var replay: [Int]? { get set }
}

/// Builds one block's MLP (MoE); nil in a model means the dense MLP of the config.
public typealias MLPFactory = LayerFactory<any FeedForwardLayer>

/// The dense MLP. Names: w1 (F, C), w3 (F, C) [swiglu], w2 (C, F).
public final class FeedForward: FeedForwardLayer {
    let w1, w2: Linear
    let w3: Linear?

    /// The block's MLP as the config says (hidden width resolvedMLPHidden).
    convenience init(_ c: TransformerConfig, rng: inout RNG) {
        self.init(dModel: c.dModel, hidden: c.resolvedMLPHidden, kind: c.mlp, rng: &rng)
    }

    /// Any width: MoE builds its experts and shared experts from this.
    public init(dModel: Int, hidden: Int, kind: MLPKind, rng: inout RNG) {
        w1 = Linear(dModel, hidden, bias: false, rng: &rng)
        w3 = kind == .swiglu ? Linear(dModel, hidden, bias: false, rng: &rng) : nil
        w2 = Linear(hidden, dModel, bias: false, rng: &rng)
    }

    public func namedParameters() -> [(name: String, tensor: Tensor)] {
        prefixed("w1", w1) + (w3.map { prefixed("w3", $0) } ?? []) + prefixed("w2", w2)
    }

    /// SwiGLU: W2 (SiLU(W1 x) * W3 x); GELU: W2 GELU(W1 x). x: (..., C) -> (..., C).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        if let w3 { return w2(swiglu(gate: w1(x), up: w3(x))) }
        return w2(w1(x).gelu())
    }

    public func callAsFunction(_ x: Tensor, training: Bool) -> Tensor { self(x) }
}

final class TransformerBlock: Module {
    let config: TransformerConfig
    let attnNorm, mlpNorm: Norm
    let attn: any SelfAttention
    let mlp: any FeedForwardLayer

    init(_ c: TransformerConfig, attention: AttentionFactory?, mlp mlpFactory: MLPFactory?, rng: inout RNG) {
        config = c
        attnNorm = Norm(c.dModel, kind: c.norm, eps: Float(c.normEps))
        mlpNorm = Norm(c.dModel, kind: c.norm, eps: Float(c.normEps))
        attn = attention?(c, rng: &rng) ?? CausalSelfAttention(c, rng: &rng)
        mlp = mlpFactory?(c, rng: &rng) ?? FeedForward(c, rng: &rng)
    }

    func namedParameters() -> [(name: String, tensor: Tensor)] {
        prefixed("attn_norm", attnNorm) + prefixed("attn", attn) + prefixed("mlp_norm", mlpNorm) + prefixed("mlp", mlp)
    }

    /// Pre-norm: x + f(norm(x)); post-norm (original transformer): norm(x + f(x)).
    func callAsFunction(
        _ x: Tensor, positions: [Int], mask: Tensor?, cache: KVCache?, layer: Int, training: Bool, rng: inout RNG
    ) -> Tensor {
        let p = Float(config.dropout)
        switch config.normPlacement {
        case .pre:
            let h =
                x
                + dropout(
                    attn(attnNorm(x), positions: positions, mask: mask, cache: cache, layer: layer), p: p,
                    training: training, rng: &rng)
            return h + dropout(mlp(mlpNorm(h), training: training), p: p, training: training, rng: &rng)
        case .post:
            let h = attnNorm(
                x
                    + dropout(
                        attn(x, positions: positions, mask: mask, cache: cache, layer: layer), p: p, training: training,
                        rng: &rng))
            return mlpNorm(h + dropout(mlp(h, training: training), p: p, training: training, rng: &rng))
        }
    }
}
