// Multi-head latent attention (DeepSeek-V2, eqs. 9-19), a drop-in attention for NanoTransformer.
// Per token, keys and values come from one small latent; that latent and one shared RoPE key are
// all the KV cache keeps.
//
//   c_KV = RMSNorm(W_DKV h)                    (B, T, d_c)        cached
//   k_C  = W_UK c_KV,   v_C = W_UV c_KV        (B, T, H, d_h)
//   k_R  = RoPE(W_KR h)                        (B, T, 1, d_R)     cached, shared by all heads
//   c_Q  = RMSNorm(W_DQ h)  (or h itself)      (B, T, d'_c)
//   q_C  = W_UQ c_Q,    q_R = RoPE(W_QR c_Q)   (B, T, H, d_h), (B, T, H, d_R)
//   q_i = [q_C,i ; q_R,i],  k_i = [k_C,i ; k_R],  softmax(q_i . k_i / sqrt(d_h + d_R)) v_C,i
//   out = W_O [o_1 ; ... ; o_H]
// Absorbed inference (associativity): q_C,i . (W_UK,i c) = (W_UK,i^T q_C,i) . c, and
// W_O,i W_UV,i (sum_j p_j c_j): attention runs over the cached latents directly. RoPE sits between
// q and W_UK (R_m W_UK depends on the position m), so it cannot be absorbed: hence the separate,
// unabsorbed k_R.
//
// Parameter names under blocks.{i}.attn: w_dq.weight (d'_c, C) and q_norm.weight (d'_c) with query
// compression; w_uq.weight (H*d_h, d'_c or C), w_qr.weight (H*d_R, d'_c or C),
// w_dkv.weight (d_c, C), kv_norm.weight (d_c), w_uk.weight (H*d_h, d_c), w_uv.weight (H*d_h, d_c),
// w_kr.weight (d_R, C), wo.weight (C, H*d_h).
import NanoTransformer
import TensorCore

public final class MultiHeadLatentAttention: SelfAttention {
    public let model: TransformerConfig
    public let config: MLAConfig
    let wdq: Linear?
    let qNorm: RMSNorm?
    let wuq, wqr, wdkv, wuk, wuv, wkr, wo: Linear
    let kvNorm: RMSNorm

    public init(_ model: TransformerConfig, _ config: MLAConfig, rng: inout RNG) {
        self.model = model
        self.config = config
        let (c, h, dh, dr, dc) = (
            model.dModel, model.heads, config.resolvedHeadDim(model), config.ropeDim, config.latentDim
        )
        let eps = Float(model.normEps)
        let queryIn = config.queryLatentDim > 0 ? config.queryLatentDim : c
        wdq = config.queryLatentDim > 0 ? Linear(c, config.queryLatentDim, bias: false, rng: &rng) : nil
        qNorm = config.queryLatentDim > 0 ? RMSNorm(config.queryLatentDim, eps: eps) : nil
        wuq = Linear(queryIn, h * dh, bias: false, rng: &rng)
        wqr = Linear(queryIn, h * dr, bias: false, rng: &rng)
        wdkv = Linear(c, dc, bias: false, rng: &rng)
        kvNorm = RMSNorm(dc, eps: eps)
        wuk = Linear(dc, h * dh, bias: false, rng: &rng)
        wuv = Linear(dc, h * dh, bias: false, rng: &rng)
        wkr = Linear(c, dr, bias: false, rng: &rng)
        wo = Linear(h * dh, c, bias: false, rng: &rng)
    }

    /// The factory NanoTransformer takes: every block gets MLA with this shape (kind "mla").
    public static func factory(_ config: MLAConfig) -> AttentionFactory {
        AttentionFactory(kind: "mla", config: config) { model, rng in MultiHeadLatentAttention(model, config, rng: &rng)
        }
    }

    public func namedParameters() -> [(name: String, tensor: Tensor)] {
        var out: [(name: String, tensor: Tensor)] = []
        if let wdq, let qNorm { out += prefixed("w_dq", wdq) + prefixed("q_norm", qNorm) }
        out += prefixed("w_uq", wuq) + prefixed("w_qr", wqr) + prefixed("w_dkv", wdkv) + prefixed("kv_norm", kvNorm)
        return out + prefixed("w_uk", wuk) + prefixed("w_uv", wuv) + prefixed("w_kr", wkr) + prefixed("wo", wo)
    }

    func rotated(_ x: Tensor, _ positions: [Int]) -> Tensor {
        rope(x, positions: positions, base: model.ropeBase, positionScale: model.ropePositionScale)
    }

    /// x: (B, T, C) -> (B, T, C). With a cache, [c_KV ; k_R] of these tokens go to its one slab
    /// for this layer (S, capacity, d_c + d_R) and the attention path is `config.inference`;
    /// without one (training) it is the naive path.
    public func callAsFunction(_ x: Tensor, positions: [Int], mask: Tensor?, cache: KVCache?, layer: Int) -> Tensor {
        let (b, t) = (x.shape[0], x.shape[1])
        let (h, dh, dr, dc) = (model.heads, config.resolvedHeadDim(model), config.ropeDim, config.latentDim)
        let cq = wdq.map { qNorm!($0(x)) } ?? x
        let qC = wuq(cq).reshaped([b, t, h, dh])
        let qR = rotated(wqr(cq).reshaped([b, t, h, dr]), positions)
        let latent = kvNorm(wdkv(x))  // (B, T, d_c)
        let kR = rotated(wkr(x).reshaped([b, t, 1, dr]), positions)
        let scale = 1 / Float(dh + dr).squareRoot()
        let heads: Tensor  // (B, T, H, d_h): o_i = sum_j p_ij v_C,j
        guard let cache else {
            heads = naiveAttention(qC: qC, qR: qR, latent: latent, kR: kR, mask: mask, scale: scale)
            return wo(heads.reshaped([b, t, h * dh]))
        }
        precondition(mask == nil, "MLA: a cached forward keeps sequences apart by slot, not by mask")
        let slab = cache.store(concat([latent, kR.reshaped([b, t, dr])], axis: 2), layer: layer, part: 0)
        switch config.inference {
        case .naive:
            // Each row's cached latents and RoPE keys, K and V rebuilt from them, then attention.
            heads = concat(
                cache.rows.indices.map { row in
                    let (slot, keys) = (cache.rows[row], cache.visibleLengths[row])
                    let cached = slab.slice(axis: 0, slot..<(slot + 1)).slice(axis: 1, 0..<keys)  // (1, len, d_c + d_R)
                    return naiveAttention(
                        qC: qC.slice(axis: 0, row..<(row + 1)), qR: qR.slice(axis: 0, row..<(row + 1)),
                        latent: cached.slice(axis: 2, 0..<dc),
                        kR: cached.slice(axis: 2, dc..<(dc + dr)).reshaped([1, keys, 1, dr]),
                        mask: nil, scale: scale)
                }, axis: 0)
        case .absorbed:
            // q~_i = W_UK,i^T q_C,i: (H, B*T, d_h) @ (H, d_h, d_c) -> (B, T, H, d_c).
            let perHeadUK = wuk.weight.reshaped([h, dh, dc])
            let qLatent = matmul(qC.permuted([2, 0, 1, 3]).reshaped([h, b * t, dh]), perHeadUK)
                .reshaped([h, b, t, dc]).permuted([1, 2, 0, 3])
            // One shared head over the slab in place: keys [c_KV ; k_R], values c_KV.
            let latentOut = cachedAttention(
                q: concat([qLatent, qR], axis: 3), keys: SlabView(slab, heads: 1, dim: dc + dr),
                values: SlabView(slab, heads: 1, dim: dc), slots: cache.rows, lengths: cache.visibleLengths,
                scale: scale)  // (B, T, H, d_c)
            // W_UV,i applied after attention: (H, B*T, d_c) @ (H, d_h, d_c)^T -> (B, T, H, d_h).
            let perHeadUV = wuv.weight.reshaped([h, dh, dc])
            heads = matmul(latentOut.permuted([2, 0, 1, 3]).reshaped([h, b * t, dc]), perHeadUV, transposeB: true)
                .reshaped([h, b, t, dh]).permuted([1, 2, 0, 3])
        }
        return wo(heads.reshaped([b, t, h * dh]))
    }

    /// K = [W_UK c_KV ; k_R], V = W_UV c_KV for every key, then ordinary attention (training, and
    /// the naive inference path). latent (B, Tk, d_c), kR (B, Tk, 1, d_R); queries the last Tq.
    func naiveAttention(qC: Tensor, qR: Tensor, latent: Tensor, kR: Tensor, mask: Tensor?, scale: Float) -> Tensor {
        let (b, tk) = (latent.shape[0], latent.shape[1])
        let (h, dh, dr) = (model.heads, config.resolvedHeadDim(model), config.ropeDim)
        let kC = wuk(latent).reshaped([b, tk, h, dh])
        let v = wuv(latent).reshaped([b, tk, h, dh])
        let k = concat([kC, kR.expand(to: [b, tk, h, dr])], axis: 3)
        return attention(q: concat([qC, qR], axis: 3), k: k, v: v, causal: true, mask: mask, scale: scale)
    }
}
