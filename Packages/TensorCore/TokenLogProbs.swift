// Per-token log-probabilities and entropies under a tempered softmax, fused (the RL objectives'
// inputs): log pi(y_t) = x_t / T - logsumexp(x / T) and H = -sum_j p_j log p_j, read straight from
// the logits rows, no (N, V) log-softmax tensor. The sampler (NanoTransformer/Generation.swift)
// calls the same row function, so a behaviour log-prob and its recomputation differ only where
// the logits themselves differ.
import LabSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One row of softmax(x / T): its log-normaliser lse = log sum_j exp(x_j / T) and the mean of x / T
/// under it (entropy = lse - mean), both from one pass after the max. `weights`, when given,
/// receives exp(x_j / T - max_j x_j / T) (unnormalised probabilities, for sampling).
/// `invTemperature` is 1 / T; at T = 1 the scaling is exact, so these are the plain softmax's.
@inline(__always)
public func softmaxRowStatistics(
    _ x: UnsafePointer<Float>, count v: Int, invTemperature: Float, weights: UnsafeMutablePointer<Float>? = nil
) -> (logSumExp: Float, mean: Float) {
    // max(x / T) = max(x) / T exactly: rounding a positive scaling keeps the order.
    let m = maxRow(x, count: v) * invTemperature
    var sum = Float8()
    var centred = Float8()  // sum_j e_j (x_j / T - m): the entropy's term, without cancellation
    var i = 0
    while i < v {
        let lanes = min(8, v - i)
        let shifted = load8(x + i, lanes) * invTemperature - m
        let e = masked(exp8(shifted), lanes)
        if let weights { store8(e, weights + i, lanes) }
        sum += e
        centred += e * masked(shifted, lanes)
        i += 8
    }
    let s = sum.sum()
    return (m + logf(s), m + centred.sum() / s)
}

/// For every row r of logits (N, V): log p(targets[r]) under softmax(logits_r / temperature),
/// and, when asked, the entropy of that distribution (nats). Rows whose target is ignoreIndex
/// give 0 for both and no gradient. Two autograd nodes sharing one forward pass:
///   d logp_r / d x_rj = (1/T) (1[j = t_r] - p_rj)
///   d H_r / d x_rj   = -(1/T) p_rj (x_rj / T - E_p[x_r / T])
public func tokenLogProbs(
    _ logits: Tensor, targets: [Int], temperature: Float = 1, ignoreIndex: Int = -1, entropy wantEntropy: Bool = false
) -> (logProbs: Tensor, entropy: Tensor?) {
    let v = logits.shape.last!
    let rows = logits.count / Swift.max(v, 1)
    precondition(targets.count == rows, "tokenLogProbs: \(targets.count) targets for \(rows) rows of \(logits.shape)")
    precondition(temperature > 0 && temperature.isFinite, "tokenLogProbs: temperature \(temperature) must be > 0")
    for t in targets where t != ignoreIndex && (t < 0 || t >= v) {
        preconditionFailure("tokenLogProbs: target \(t) out of 0..<\(v)")
    }
    let invT = 1 / temperature
    let rowShape = Array(logits.shape.dropLast())
    let logProbs = Tensor(shape: rowShape, zeroed: false)
    let entropy = wantEntropy ? Tensor(shape: rowShape, zeroed: false) : nil
    let lse = Tensor(shape: [rows], zeroed: false)
    let mean = Tensor(shape: [rows], zeroed: false)
    let box = UncheckedSendable((logits.data, logProbs.data, entropy?.data, lse.data, mean.data))
    targets.withUnsafeBufferPointer { t in
        let tb = UncheckedSendable(t)
        parallelFor(rows, costPerItem: v * 4) { range in
            let (x, lp, h, lse, mean) = box.value
            for r in range {
                let target = tb.value[r]
                if target == ignoreIndex {
                    (lp[r], lse[r], mean[r]) = (0, 0, 0)
                    h?[r] = 0
                    continue
                }
                let row = x + r * v
                let stats = softmaxRowStatistics(row, count: v, invTemperature: invT)
                (lse[r], mean[r]) = (stats.logSumExp, stats.mean)
                lp[r] = row[target] * invT - stats.logSumExp
                h?[r] = stats.logSumExp - stats.mean
            }
        }
    }
    /// dL/dx for one node: the log-prob's (entropy false) or the entropy's, rows in parallel.
    func rowGradients(_ g: Tensor, entropy: Bool) -> Tensor {
        let dx = Tensor(shape: logits.shape, zeroed: false)
        let box = UncheckedSendable((dx.data, logits.data, g.data, lse.data, mean.data))
        targets.withUnsafeBufferPointer { t in
            let tb = UncheckedSendable(t)
            parallelFor(rows, costPerItem: v * 4) { range in
                let (dx, x, g, lse, mean) = box.value
                for r in range {
                    let d = dx + r * v
                    let target = tb.value[r]
                    if target == ignoreIndex {
                        d.update(repeating: 0, count: v)
                        continue
                    }
                    let (row, scale, l, e) = (x + r * v, g[r] * invT, lse[r], mean[r])
                    var j = 0
                    while j < v {  // written out: an exp-heavy closure would not be inlined
                        let lanes = min(8, v - j)
                        let scaled = load8(row + j, lanes) * invT
                        let p = exp8(scaled - l)
                        store8(entropy ? -scale * p * (scaled - e) : -scale * p, d + j, lanes)
                        j += 8
                    }
                    if !entropy { d[target] += scale }
                }
            }
        }
        return dx
    }
    let out = record(logProbs, "token_log_probs", [logits]) { g in [rowGradients(g, entropy: false)] }
    let outEntropy = entropy.map { h in record(h, "token_entropy", [logits]) { g in [rowGradients(g, entropy: true)] } }
    return (out, outEntropy)
}
