// The fused attention kernel and the cached-attention kernel against the scalar textbook loop
// (ReferenceAttention.swift): grouped-query heads, decoding rows at the end of longer keys, a value
// width different from the key width, additive masks with -inf, one ragged cache per row.
import TensorCore
import TestSupport
import Testing

@Suite struct ReferenceAttentionTests {
    struct Shape: Sendable, CustomTestStringConvertible {
        let batch, tq, tk, heads, kvHeads, d, dv: Int
        let causal: Bool
        var testDescription: String { "B\(batch) Tq\(tq) Tk\(tk) H\(heads)/\(kvHeads) D\(d) Dv\(dv) causal \(causal)" }
    }

    @Test(arguments: [
        Shape(batch: 2, tq: 7, tk: 7, heads: 4, kvHeads: 4, d: 8, dv: 8, causal: true),
        Shape(batch: 2, tq: 40, tk: 40, heads: 4, kvHeads: 2, d: 16, dv: 16, causal: true),  // two query blocks
        Shape(batch: 1, tq: 3, tk: 10, heads: 6, kvHeads: 1, d: 8, dv: 8, causal: true),  // decoding, MQA
        Shape(batch: 2, tq: 5, tk: 9, heads: 2, kvHeads: 2, d: 12, dv: 5, causal: false),  // Dv != D (MLA)
    ])
    func fusedForwardEqualsTheLoop(_ s: Shape) {
        var rng = RNG(seed: UInt64(s.tq * 31 + s.d))
        let q = Tensor.randn([s.batch, s.tq, s.heads, s.d], rng: &rng)
        let k = Tensor.randn([s.batch, s.tk, s.kvHeads, s.d], rng: &rng)
        let v = Tensor.randn([s.batch, s.tk, s.kvHeads, s.dv], rng: &rng)
        let fused = withNoGrad { attention(q: q, k: k, v: v, causal: s.causal, scale: 0.3) }
        let loop = referenceAttention(q: q, k: k, v: v, causal: s.causal, scale: 0.3)
        #expect(fused.isClose(to: loop, atol: 1e-5), "\(fused.maxAbsDifference(loop))")
    }

    /// A per-row additive mask with -inf (padding) on top of the causal rule, and one that hides
    /// every key of a row (the row's output is 0 in both).
    @Test func maskedForwardEqualsTheLoop() {
        var rng = RNG(seed: 9)
        let (b, t, h, d) = (2, 6, 2, 8)
        let q = Tensor.randn([b, t, h, d], rng: &rng)
        let k = Tensor.randn([b, t, h, d], rng: &rng)
        let v = Tensor.randn([b, t, h, d], rng: &rng)
        let mask = Tensor.zeros([b, t, t])
        for i in 0..<t { mask.data[(1 * t + i) * t + 0] = -.infinity }  // row 1 never sees key 0
        for j in 0..<t { mask.data[(0 * t + 2) * t + j] = -0.5 * Float(j) }
        let fused = withNoGrad { attention(q: q, k: k, v: v, causal: true, mask: mask) }
        let loop = referenceAttention(q: q, k: k, v: v, causal: true, mask: mask)
        #expect(fused.isClose(to: loop, atol: 1e-5), "\(fused.maxAbsDifference(loop))")
        #expect(fused.array.allSatisfy { $0.isFinite })
    }

    /// Rows of different cached lengths read from their own slots of one slab, keys and values
    /// side by side in its rows: the same numbers as the loop over each row's own keys.
    @Test func cachedAttentionEqualsTheLoopPerRow() {
        var rng = RNG(seed: 4)
        let (tq, heads, kvHeads, d, capacity) = (2, 4, 2, 8, 16)
        let slab = Tensor.randn([3, capacity, 2 * kvHeads * d], rng: &rng)
        let (slots, lengths) = ([2, 0], [9, 4])
        let q = Tensor.randn([2, tq, heads, d], rng: &rng)
        let out = cachedAttention(
            q: q, keys: SlabView(slab, heads: kvHeads, dim: d),
            values: SlabView(slab, heads: kvHeads, dim: d, offset: kvHeads * d),
            slots: slots, lengths: lengths)
        for row in 0..<2 {
            let cached = slab.slice(axis: 0, slots[row]..<(slots[row] + 1)).slice(axis: 1, 0..<lengths[row])
            let k = cached.slice(axis: 2, 0..<(kvHeads * d)).reshaped([1, lengths[row], kvHeads, d])
            let v = cached.slice(axis: 2, (kvHeads * d)..<(2 * kvHeads * d)).reshaped([1, lengths[row], kvHeads, d])
            let loop = referenceAttention(q: q.slice(axis: 0, row..<(row + 1)), k: k, v: v, causal: true)
            let got = out.slice(axis: 0, row..<(row + 1))
            #expect(got.isClose(to: loop, atol: 1e-5), "row \(row): \(got.maxAbsDifference(loop))")
        }
    }
}
