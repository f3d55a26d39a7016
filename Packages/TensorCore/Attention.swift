// Causal scaled dot-product attention with grouped-query heads (Vaswani et al. 2017;
// Ainslie et al. 2023), fused forward/backward. Query head h reads KV head h / (H / KVH).
// q: (B, Tq, H, D); k: (B, Tk, KVH, D); v: (B, Tk, KVH, Dv); out: (B, Tq, H, Dv); probabilities
// P: (B, H, Tq, Tk), saved. Dv may differ from D (MLA's decoupled RoPE widens only q and k).
// Causal: query i sits at absolute position Tk - Tq + i and sees keys 0...that position,
// so Tq < Tk is decoding with a KV cache. mask: additive, (Tq, Tk) or (B, Tq, Tk).
// Heads run in parallel, each with its own single-threaded sgemm calls.
import LabSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

struct AttentionShape {
    let batch, tq, tk, heads, kvHeads, headDim, valueDim: Int
    /// Row strides of k and v: their own width, or a wider cache slab's (CachedAttention.swift).
    let kRow, vRow: Int

    init(
        batch: Int, tq: Int, tk: Int, heads: Int, kvHeads: Int, headDim: Int, valueDim: Int, kRow: Int? = nil,
        vRow: Int? = nil
    ) {
        (self.batch, self.tq, self.tk, self.heads, self.kvHeads) = (batch, tq, tk, heads, kvHeads)
        (self.headDim, self.valueDim) = (headDim, valueDim)
        self.kRow = kRow ?? kvHeads * headDim
        self.vRow = vRow ?? kvHeads * valueDim
    }

    var group: Int { heads / kvHeads }
    var qRow: Int { heads * headDim }  // row stride of q
    var oRow: Int { heads * valueDim }  // row stride of out
    func qOffset(_ b: Int, _ h: Int) -> Int { b * tq * qRow + h * headDim }
    func oOffset(_ b: Int, _ h: Int) -> Int { b * tq * oRow + h * valueDim }
    func kOffset(_ b: Int, _ g: Int) -> Int { b * tk * kRow + g * headDim }
    func vOffset(_ b: Int, _ g: Int) -> Int { b * tk * vRow + g * valueDim }
    func pOffset(_ b: Int, _ h: Int) -> Int { (b * heads + h) * tq * tk }
}

/// Query rows are processed in blocks; under the causal mask a block only multiplies against
/// the keys it can see (0 ..< Tk - Tq + end of block), which skips about half the work.
let attentionQueryBlock = 32

/// Number of keys visible to query rows i0 ..< i1.
@inline(__always)
func visibleKeys(_ i1: Int, causal: Bool, _ s: AttentionShape) -> Int {
    causal ? min(s.tk, s.tk - s.tq + i1) : s.tk
}

/// Forward for one (b, h): P = softmax(scale * Q K^T + mask), O = P V, block by block.
func attentionForwardHead(
    _ out: UnsafeMutablePointer<Float>, _ p: UnsafeMutablePointer<Float>, _ q: UnsafePointer<Float>,
    _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>, _ mask: UnsafePointer<Float>?, causal: Bool,
    scale: Float, s: AttentionShape
) {
    let (tq, tk, d, dv) = (s.tq, s.tk, s.headDim, s.valueDim)
    let shift = tk - tq
    for i0 in stride(from: 0, to: tq, by: attentionQueryBlock) {
        let i1 = min(tq, i0 + attentionQueryBlock)
        let keys = visibleKeys(i1, causal: causal, s)
        let pBlock = p + i0 * tk
        if keys > 0 {
            sgemm(
                transposeA: false, transposeB: true, m: i1 - i0, n: keys, k: d, alpha: scale, q + i0 * s.qRow,
                lda: s.qRow, k, ldb: s.kRow, pBlock, ldc: tk)
        }
        for i in i0..<i1 {
            let row = p + i * tk
            if let mask { for j in 0..<keys { row[j] += mask[i * tk + j] } }
            let visible = causal ? min(i + shift + 1, tk) : tk
            let m = maxRow(row, count: visible)
            if !m.isFinite {  // every key masked: attend to nothing rather than produce NaN
                row.update(repeating: 0, count: tk)
                continue
            }
            let inv = 1 / expRow(row, row, shift: m, count: visible)
            for j in 0..<visible { row[j] *= inv }
            // Zeros up to the block's last visible key: P V and the backward pass read no further.
            for j in visible..<keys { row[j] = 0 }
        }
        sgemm(
            transposeA: false, transposeB: false, m: i1 - i0, n: dv, k: max(keys, 1), pBlock, lda: tk, v,
            ldb: s.vRow, out + i0 * s.oRow, ldc: s.oRow)
    }
}

/// Backward for one KV group (b, g), summing over its query heads in order, block by block:
/// dP = dO V^T; dS = P * (dP - rowsum(dO * O)) * scale; dQ = dS K; dK += dS^T Q; dV += P^T dO.
func attentionBackwardGroup(
    b: Int, g: Int, dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
    dv: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, out: UnsafePointer<Float>,
    p: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    scratch: UnsafeMutablePointer<Float>, scale: Float, causal: Bool, s: AttentionShape
) {
    let (tq, tk, d, dvDim) = (s.tq, s.tk, s.headDim, s.valueDim)
    let (ko, vo) = (s.kOffset(b, g), s.vOffset(b, g))
    for h in (g * s.group)..<((g + 1) * s.group) {
        let qo = s.qOffset(b, h)
        let oo = s.oOffset(b, h)
        let ph = p + s.pOffset(b, h)
        for i0 in stride(from: 0, to: tq, by: attentionQueryBlock) {
            let i1 = min(tq, i0 + attentionQueryBlock)
            let rows = i1 - i0
            let keys = visibleKeys(i1, causal: causal, s)
            guard keys > 0 else {
                for i in 0..<rows { (dq + qo + (i0 + i) * s.qRow).update(repeating: 0, count: d) }
                continue
            }
            let ds = scratch  // (rows, keys) with row stride tk
            let pBlock = ph + i0 * tk
            let doBlock = dout + oo + i0 * s.oRow
            let qBlock = q + qo + i0 * s.qRow
            sgemm(
                transposeA: false, transposeB: true, m: rows, n: keys, k: dvDim, doBlock, lda: s.oRow, v + vo,
                ldb: s.vRow, ds, ldc: tk)
            for i in 0..<rows {
                let dot = dotRow(doBlock + i * s.oRow, out + oo + (i0 + i) * s.oRow, count: dvDim)
                let row = ds + i * tk
                let prow = pBlock + i * tk
                forEachBlock8(0..<keys) { j, lanes in
                    store8(load8(prow + j, lanes) * (load8(row + j, lanes) - dot) * scale, row + j, lanes)
                }
            }
            sgemm(
                transposeA: false, transposeB: false, m: rows, n: d, k: keys, ds, lda: tk, k + ko, ldb: s.kRow,
                dq + qo + i0 * s.qRow, ldc: s.qRow)
            sgemm(
                transposeA: true, transposeB: false, m: keys, n: d, k: rows, ds, lda: tk, qBlock, ldb: s.qRow,
                beta: 1, dk + ko, ldc: s.kRow)
            sgemm(
                transposeA: true, transposeB: false, m: keys, n: dvDim, k: rows, pBlock, lda: tk, doBlock,
                ldb: s.oRow, beta: 1, dv + vo, ldc: s.vRow)
        }
    }
}

/// Scaled dot-product attention with grouped-query heads; one autograd node.
/// `scale` defaults to 1/sqrt(D).
public func attention(
    q: Tensor, k: Tensor, v: Tensor, causal: Bool = true, mask: Tensor? = nil, scale: Float? = nil
) -> Tensor {
    precondition(q.rank == 4 && k.rank == 4 && v.rank == 4, "attention expects (B, T, H, D) tensors")
    precondition(k.shape.dropLast() == v.shape.dropLast(), "attention: k \(k.shape) and v \(v.shape) differ")
    let s = AttentionShape(
        batch: q.shape[0], tq: q.shape[1], tk: k.shape[1], heads: q.shape[2], kvHeads: k.shape[2], headDim: q.shape[3],
        valueDim: v.shape[3])
    precondition(k.shape[0] == s.batch && k.shape[3] == s.headDim, "attention: k \(k.shape) does not fit q \(q.shape)")
    precondition(s.heads % s.kvHeads == 0, "attention: kvHeads \(s.kvHeads) must divide heads \(s.heads)")
    precondition(!causal || s.tq <= s.tk, "causal attention needs Tq <= Tk")
    if let mask {
        precondition(
            mask.count == s.tq * s.tk || mask.count == s.batch * s.tq * s.tk,
            "attention mask \(mask.shape) must be (Tq, Tk) or (B, Tq, Tk)")
    }
    let perBatchMask = mask.map { $0.count == s.batch * s.tq * s.tk && s.batch > 1 } ?? false
    let sc = scale ?? 1 / Float(s.headDim).squareRoot()
    let out = Tensor(shape: [s.batch, s.tq, s.heads, s.valueDim], zeroed: false)
    let probs = Tensor(shape: [s.batch, s.heads, s.tq, s.tk], zeroed: false)
    let box = UncheckedSendable((out.data, probs.data, q.data, k.data, v.data, mask?.data))
    do {
        parallelFor(s.batch * s.heads, costPerItem: s.tq * s.tk * s.headDim * 4) { range in
            let (o, p, qd, kd, vd, md) = box.value
            for bh in range {
                let (b, h) = (bh / s.heads, bh % s.heads)
                let maskHead = md.map { UnsafePointer($0 + (perBatchMask ? b * s.tq * s.tk : 0)) }
                attentionForwardHead(
                    o + s.oOffset(b, h), p + s.pOffset(b, h), qd + s.qOffset(b, h), kd + s.kOffset(b, h / s.group),
                    vd + s.vOffset(b, h / s.group), maskHead, causal: causal, scale: sc, s: s)
            }
        }
    }
    var inputs = [q, k, v]
    if let mask { inputs.append(mask.detach()) }
    return recordUsingOutput(out, "attention", inputs) { dout, out in
        let dq = Tensor(shape: q.shape, zeroed: false)
        let dk = Tensor(shape: k.shape)
        let dv = Tensor(shape: v.shape)
        let box = UncheckedSendable(
            (dq.data, dk.data, dv.data, dout.data, out.data, probs.data, q.data, k.data, v.data))
        do {
            parallelFor(s.batch * s.kvHeads, costPerItem: s.group * s.tq * s.tk * s.headDim * 8) { range in
                let (dq, dk, dv, dout, o, p, qd, kd, vd) = box.value
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: attentionQueryBlock * s.tk)
                defer { scratch.deallocate() }
                for bg in range {
                    attentionBackwardGroup(
                        b: bg / s.kvHeads, g: bg % s.kvHeads, dq: dq, dk: dk, dv: dv, dout: dout, out: o, p: p, q: qd,
                        k: kd, v: vd, scratch: scratch, scale: sc, causal: causal, s: s)
                }
            }
        }
        return [dq, dk, dv, nil]
    }
}
