// Fused softmax cross-entropy with an ignore index (as PyTorch's F.cross_entropy):
// loss_r = logsumexp(logits_r) - logits_r[target_r]; rows whose target is ignoreIndex add nothing.
import LabSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How per-row losses are combined.
public enum LossReduction: Sendable {
    /// Sum over counted rows divided by the number of counted rows (PyTorch's "mean").
    case mean
    /// Sum over counted rows.
    case sum
    /// One loss per row (ignored rows are 0): shape (N).
    case none
}

/// Forward: logits (N, V), targets (N) -> losses (N) and lse (N) saved for backward.
func crossEntropyForward(
    _ losses: UnsafeMutablePointer<Float>, _ lse: UnsafeMutablePointer<Float>, _ logits: UnsafePointer<Float>,
    _ targets: [Int], rows: Int, vocab: Int, ignoreIndex: Int
) {
    let box = UncheckedSendable((losses, lse, logits))
    targets.withUnsafeBufferPointer { t in
        let tb = UncheckedSendable(t)
        parallelFor(rows, costPerItem: vocab * 4) { range in
            let (losses, lse, logits) = box.value
            for r in range {
                let row = logits + r * vocab
                let m = maxRow(row, count: vocab)
                lse[r] = m + logf(sumExpRow(row, shift: m, count: vocab))
                let target = tb.value[r]
                losses[r] = target == ignoreIndex ? 0 : lse[r] - row[target]
            }
        }
    }
}

/// Backward: dlogits_r = rowScale_r * (softmax(logits_r) - onehot(target_r)); 0 for ignored rows.
func crossEntropyBackward(
    _ dlogits: UnsafeMutablePointer<Float>, _ rowScale: UnsafePointer<Float>, _ logits: UnsafePointer<Float>,
    _ lse: UnsafePointer<Float>, _ targets: [Int], rows: Int, vocab: Int, ignoreIndex: Int
) {
    let box = UncheckedSendable((dlogits, rowScale, logits, lse))
    targets.withUnsafeBufferPointer { t in
        let tb = UncheckedSendable(t)
        parallelFor(rows, costPerItem: vocab * 4) { range in
            let (dlogits, rowScale, logits, lse) = box.value
            for r in range {
                let d = dlogits + r * vocab
                let target = tb.value[r]
                if target == ignoreIndex {
                    d.update(repeating: 0, count: vocab)
                    continue
                }
                let row = logits + r * vocab
                let scale = rowScale[r]
                let l = lse[r]
                // An explicit loop: as a forEachBlock8 closure this exp-heavy body is not inlined.
                var j = 0
                while j < vocab {
                    let lanes = min(8, vocab - j)
                    store8(scale * exp8(load8(row + j, lanes) - l), d + j, lanes)
                    j += 8
                }
                d[target] -= scale
            }
        }
    }
}

/// Cross-entropy of logits (..., V) against integer targets (one per row), one autograd node.
public func crossEntropy(
    _ logits: Tensor, targets: [Int], ignoreIndex: Int = -100, reduction: LossReduction = .mean
) -> Tensor {
    let vocab = logits.shape.last!
    let rows = logits.count / vocab
    precondition(targets.count == rows, "crossEntropy: \(targets.count) targets for \(rows) rows of \(logits.shape)")
    for t in targets where t != ignoreIndex && (t < 0 || t >= vocab) {
        preconditionFailure("crossEntropy: target \(t) out of 0..<\(vocab)")
    }
    let losses = Tensor(shape: [rows], zeroed: false)
    let lse = Tensor(shape: [rows], zeroed: false)
    crossEntropyForward(losses.data, lse.data, logits.data, targets, rows: rows, vocab: vocab, ignoreIndex: ignoreIndex)
    let counted = targets.reduce(0) { $0 + ($1 == ignoreIndex ? 0 : 1) }
    let out: Tensor
    switch reduction {
    case .none: out = losses
    case .sum, .mean:
        var s: Double = 0
        for r in 0..<rows { s += Double(losses.data[r]) }
        let divisor = reduction == .mean ? Double(max(counted, 1)) : 1
        out = Tensor(scalar: Float(s / divisor))
    }
    return record(out, "cross_entropy", [logits]) { g in
        let rowScale = Tensor(shape: [rows], zeroed: false)
        switch reduction {
        case .none: rowScale.assign(g)
        case .sum: rowScale.fill(g.item)
        case .mean: rowScale.fill(g.item / Float(max(counted, 1)))
        }
        let dlogits = Tensor(shape: logits.shape, zeroed: false)
        crossEntropyBackward(
            dlogits.data, rowScale.data, logits.data, lse.data, targets, rows: rows, vocab: vocab,
            ignoreIndex: ignoreIndex)
        return [dlogits]
    }
}
