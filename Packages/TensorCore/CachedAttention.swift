// Attention of new queries over a preallocated KV cache, one sequence per batch row, each with its
// own number of cached tokens (inference only: no graph). The same per-head kernel as training's
// attention (Attention.swift), reading keys and values in place from the cache's slabs.
// q: (B, Tq, H, D); a slab: (S, capacity, width), S cache slots; row b reads slot slots[b], whose
// first lengths[b] positions are its keys, the last Tq of them the queries' own (causal).
import LabSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Keys or values as they sit in a cache slab (S, capacity, width): `heads` heads of `dim`
/// numbers each, starting at column `offset` of every row.
public struct SlabView {
    public let slab: Tensor
    public let heads: Int
    public let dim: Int
    public let offset: Int

    public init(_ slab: Tensor, heads: Int, dim: Int, offset: Int = 0) {
        precondition(slab.rank == 3, "SlabView: a slab is (slots, capacity, width), got \(slab.shape)")
        precondition(offset >= 0 && offset + heads * dim <= slab.shape[2], "SlabView: columns beyond \(slab.shape)")
        self.slab = slab
        self.heads = heads
        self.dim = dim
        self.offset = offset
    }

    var rowStride: Int { slab.shape[2] }
    /// First number of slot `s`'s first row.
    func base(slot s: Int) -> UnsafePointer<Float> { UnsafePointer(slab.data + s * slab.shape[1] * rowStride + offset) }
}

/// softmax(scale q kᵀ) v for every row b over the first lengths[b] keys of slot slots[b], causal
/// with the Tq queries at positions lengths[b] - Tq ..< lengths[b]. Returns (B, Tq, H, Dv).
public func cachedAttention(
    q: Tensor, keys: SlabView, values: SlabView, slots: [Int], lengths: [Int], scale: Float? = nil
) -> Tensor {
    precondition(q.rank == 4, "cachedAttention expects q (B, Tq, H, D), got \(q.shape)")
    let (b, tq, heads, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
    precondition(slots.count == b && lengths.count == b, "cachedAttention: one slot and one length per row")
    precondition(keys.dim == d && keys.heads == values.heads, "cachedAttention: keys \(keys.heads)x\(keys.dim) for q")
    precondition(heads % keys.heads == 0, "cachedAttention: kvHeads \(keys.heads) must divide heads \(heads)")
    let capacity = keys.slab.shape[1]
    for (slot, length) in zip(slots, lengths) {
        precondition(slot >= 0 && slot < keys.slab.shape[0], "cachedAttention: slot \(slot) of \(keys.slab.shape[0])")
        precondition(length >= tq && length <= capacity, "cachedAttention: \(length) keys for \(tq) queries")
    }
    let dv = values.dim
    let out = Tensor(shape: [b, tq, heads, dv], zeroed: false)
    let sc = scale ?? 1 / Float(d).squareRoot()
    let longest = lengths.max() ?? 0
    let box = UncheckedSendable((out.data, q.data))
    parallelFor(b * heads, costPerItem: tq * longest * d * 4) { range in
        let (o, qd) = box.value
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(tq * longest, 1))
        defer { scratch.deallocate() }
        for bh in range {
            let (row, h) = (bh / heads, bh % heads)
            let s = AttentionShape(
                batch: 1, tq: tq, tk: lengths[row], heads: heads, kvHeads: keys.heads, headDim: d, valueDim: dv,
                kRow: keys.rowStride, vRow: values.rowStride)
            let g = h / s.group
            attentionForwardHead(
                o + row * tq * s.oRow + s.oOffset(0, h), scratch, qd + row * tq * s.qRow + s.qOffset(0, h),
                keys.base(slot: slots[row]) + g * d, values.base(slot: slots[row]) + g * dv, nil, causal: true,
                scale: sc, s: s)
        }
    }
    return out
}
