// The transformer's parts: a norm of either kind, causal self-attention with GQA and the
// position/QK-norm switches, and the MLP (SwiGLU or GELU). Shapes: x (B, T, C).
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

/// What earlier positions left behind, per layer: for standard attention keys and values
/// (B, Tcache, KVH, D) after RoPE; another attention (MLA) stores its own tensors, each
/// (B, Tcache, ...) and grown along the time axis.
public final class KVCache {
    public internal(set) var entries: [[Tensor]]

    public init(layers: Int) {
        entries = Array(repeating: [], count: layers)
    }

    /// Cached positions (the same for every sequence of the batch).
    public var length: Int { entries[0].first?.shape[1] ?? 0 }

    /// Float32 numbers one layer stores per token of one sequence (all its tensors).
    static func elementsPerToken(_ parts: [Tensor]) -> Int {
        parts.reduce(0) { $0 + $1.count / ($1.shape[0] * $1.shape[1]) }
    }

    /// Float32 numbers stored per token in one layer.
    public var elementsPerTokenPerLayer: Int { Self.elementsPerToken(entries[0]) }

    /// Bytes per token over all layers: what the cache costs, measured.
    public var bytesPerToken: Int {
        entries.reduce(0) { $0 + Self.elementsPerToken($1) } * MemoryLayout<Float>.size
    }

    /// Appends this step's tensors to the layer's along the time axis and returns the whole.
    public func append(layer: Int, _ parts: [Tensor]) -> [Tensor] {
        let whole =
            entries[layer].isEmpty ? parts : zip(entries[layer], parts).map { concat([$0, $1], axis: 1) }
        entries[layer] = whole
        return whole
    }
}

/// A causal self-attention layer the blocks can hold: standard GQA (below) or a drop-in such as
/// MLA. x: (B, T, C) -> (B, T, C); positions: T (shared) or B*T; mask additive (B, T, Tcache + T).
public protocol SelfAttention: Module {
    func callAsFunction(_ x: Tensor, positions: [Int], mask: Tensor?, cache: KVCache?, layer: Int) -> Tensor
}

/// Builds one layer's attention from the model config (called once per block, in order).
public typealias AttentionFactory = (TransformerConfig, inout RNG) -> any SelfAttention

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
        let kv = cache?.append(layer: layer, [k, v]) ?? [k, v]
        let out = attention(q: q, k: kv[0], v: kv[1], causal: true, mask: mask)
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

/// Builds one layer's MLP from the model config (called once per block, in order).
public typealias MLPFactory = (TransformerConfig, inout RNG) -> any FeedForwardLayer

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
        attn = attention?(c, &rng) ?? CausalSelfAttention(c, rng: &rng)
        mlp = mlpFactory?(c, &rng) ?? FeedForward(c, rng: &rng)
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
