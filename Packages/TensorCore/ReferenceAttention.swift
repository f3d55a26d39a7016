// The textbook attention, one scalar loop per output number, beside the fused kernel
// (Attention.swift) as its specification: same shapes and rules (grouped-query heads, causal
// rows at the end of the keys, an additive mask), no blocks, no sgemm, sums in Double. Slow;
// the tests hold the fused forward and the cached-attention kernel to it.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// out[b, i, h, :] = sum_j softmax_j(scale * q[b, i, h] . k[b, j, h / group] + mask[i, j]) v[b, j, h / group].
/// q (B, Tq, H, D), k (B, Tk, KVH, D), v (B, Tk, KVH, Dv), mask (Tq, Tk) or (B, Tq, Tk); query i
/// sees keys 0 ... Tk - Tq + i when causal. No gradient.
public func referenceAttention(
    q: Tensor, k: Tensor, v: Tensor, causal: Bool = true, mask: Tensor? = nil, scale: Float? = nil
) -> Tensor {
    let (batch, tq, heads, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
    let (tk, kvHeads, dv) = (k.shape[1], k.shape[2], v.shape[3])
    let group = heads / kvHeads
    let sc = Double(scale ?? 1 / Float(d).squareRoot())
    let out = Tensor.zeros([batch, tq, heads, dv])
    for b in 0..<batch {
        for h in 0..<heads {
            let g = h / group
            for i in 0..<tq {
                let visible = causal ? tk - tq + i + 1 : tk
                var scores = [Double](repeating: 0, count: visible)
                for j in 0..<visible {
                    var dot = 0.0
                    for c in 0..<d {
                        dot +=
                            Double(q.data[((b * tq + i) * heads + h) * d + c])
                            * Double(k.data[((b * tk + j) * kvHeads + g) * d + c])
                    }
                    scores[j] = sc * dot
                    if let mask {
                        let row = mask.count == tq * tk ? i * tk : (b * tq + i) * tk
                        scores[j] += Double(mask.data[row + j])
                    }
                }
                let top = scores.max() ?? 0
                let weights = scores.map { top == -.infinity ? 0 : exp($0 - top) }
                let total = weights.reduce(0, +)
                for c in 0..<dv {
                    var sum = 0.0
                    for j in 0..<visible { sum += weights[j] * Double(v.data[((b * tk + j) * kvHeads + g) * dv + c]) }
                    out.data[((b * tq + i) * heads + h) * dv + c] = Float(total > 0 ? sum / total : 0)
                }
            }
        }
    }
    return out
}
