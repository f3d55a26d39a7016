// Reductions over one axis or the whole tensor, and the softmax family (fused forward/backward).
// A tensor is viewed as (outer, n, inner) around the reduced axis; each output element is
// reduced sequentially by one thread, so sums do not depend on the thread count.
import LabSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension Tensor {
    /// (outer, n, inner) sizes around `axis`.
    func axisSplit(_ axis: Int) -> (outer: Int, n: Int, inner: Int) {
        let a = normalizedAxis(axis)
        return (shape[..<a].reduce(1, *), shape[a], shape[(a + 1)...].reduce(1, *))
    }

    func reducedShape(_ axis: Int, keepDims: Bool) -> [Int] {
        var s = shape
        let a = normalizedAxis(axis)
        if keepDims { s[a] = 1 } else { s.remove(at: a) }
        return s
    }

    /// Sum over `axis`.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor {
        let (outer, n, inner) = axisSplit(axis)
        let out = Tensor(shape: reducedShape(axis, keepDims: keepDims))
        let x = data
        let o = out.data
        for p in 0..<outer {
            for j in 0..<n {
                let row = x + (p * n + j) * inner
                let dst = o + p * inner
                for i in 0..<inner { dst[i] += row[i] }
            }
        }
        let inputShape = shape
        let keptShape = reducedShape(axis, keepDims: true)
        return record(out, "sum_axis", [self]) { g in [g.reshaped(keptShape).expand(to: inputShape)] }
    }

    public func mean(axis: Int, keepDims: Bool = false) -> Tensor {
        sum(axis: axis, keepDims: keepDims) * (1 / Float(size(axis)))
    }

    /// Population variance (divide by n) over `axis`, or the unbiased one (n - 1).
    public func variance(axis: Int, keepDims: Bool = false, unbiased: Bool = false) -> Tensor {
        let centered = self - mean(axis: axis, keepDims: true)
        let n = size(axis)
        return centered.square().sum(axis: axis, keepDims: keepDims) * (1 / Float(unbiased ? n - 1 : n))
    }

    /// Maximum over `axis`; the gradient goes to the first position of the maximum.
    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        let (outer, n, inner) = axisSplit(axis)
        precondition(n > 0, "max over an empty axis")
        let out = Tensor(shape: reducedShape(axis, keepDims: keepDims), zeroed: false)
        var argmax = [Int](repeating: 0, count: outer * inner)
        for p in 0..<outer {
            for i in 0..<inner {
                var best = -Float.infinity
                var bestJ = 0
                for j in 0..<n {
                    let v = data[(p * n + j) * inner + i]
                    if v > best || j == 0 {
                        best = v
                        bestJ = j
                    }
                }
                out.data[p * inner + i] = best
                argmax[p * inner + i] = bestJ
            }
        }
        let inputShape = shape
        return record(out, "max_axis", [self]) { g in
            let dx = Tensor(shape: inputShape)
            for p in 0..<outer {
                for i in 0..<inner {
                    dx.data[(p * n + argmax[p * inner + i]) * inner + i] = g.data[p * inner + i]
                }
            }
            return [dx]
        }
    }

    /// Sum of all elements (accumulated in Double, in a fixed order).
    public func sum() -> Tensor {
        var s: Double = 0
        for i in 0..<count { s += Double(data[i]) }
        let out = Tensor(scalar: Float(s))
        let inputShape = shape
        return record(out, "sum", [self]) { g in [Tensor.full(inputShape, g.item)] }
    }

    public func mean() -> Tensor { sum() * (1 / Float(Swift.max(count, 1))) }

    /// log(sum(exp(x))) over `axis`, computed stably as m + log(sum(exp(x - m))).
    public func logSumExp(axis: Int, keepDims: Bool = false) -> Tensor {
        let (outer, n, inner) = axisSplit(axis)
        let out = Tensor(shape: reducedShape(axis, keepDims: keepDims), zeroed: false)
        for p in 0..<outer {
            for i in 0..<inner {
                let base = data + p * n * inner + i
                var m = -Float.infinity
                for j in 0..<n { m = Swift.max(m, base[j * inner]) }
                var s: Float = 0
                if m.isFinite { for j in 0..<n { s += expf(base[j * inner] - m) } }
                out.data[p * inner + i] = m.isFinite ? m + logf(s) : m
            }
        }
        let x = self
        return recordUsingOutput(out, "logsumexp", [self]) { g, out in
            // d lse / dx = softmax(x)
            let dx = Tensor(shape: x.shape, zeroed: false)
            for p in 0..<outer {
                for i in 0..<inner {
                    let lse = out.data[p * inner + i]
                    let gi = g.data[p * inner + i]
                    for j in 0..<n {
                        let k = (p * n + j) * inner + i
                        dx.data[k] = gi * expf(x.data[k] - lse)
                    }
                }
            }
            return [dx]
        }
    }

    /// Softmax over `axis` (default: last). Fused: dx = y * (g - sum(g * y)).
    public func softmax(axis: Int = -1) -> Tensor {
        let (outer, n, inner) = axisSplit(axis)
        let out = Tensor(shape: shape, zeroed: false)
        softmaxRows(data, out.data, outer: outer, n: n, inner: inner, log: false)
        return recordUsingOutput(out, "softmax", [self]) { g, out in
            let dx = Tensor(shape: out.shape, zeroed: false)
            forEachLine(outer: outer, n: n, inner: inner) { base in
                var dot: Float = 0
                for j in 0..<n { dot += g.data[base + j * inner] * out.data[base + j * inner] }
                for j in 0..<n {
                    let k = base + j * inner
                    dx.data[k] = out.data[k] * (g.data[k] - dot)
                }
            }
            return [dx]
        }
    }

    /// Log-softmax over `axis` (default: last), stable for large logits.
    /// Fused: dx = g - softmax * sum(g).
    public func logSoftmax(axis: Int = -1) -> Tensor {
        let (outer, n, inner) = axisSplit(axis)
        let out = Tensor(shape: shape, zeroed: false)
        softmaxRows(data, out.data, outer: outer, n: n, inner: inner, log: true)
        return recordUsingOutput(out, "log_softmax", [self]) { g, out in
            let dx = Tensor(shape: out.shape, zeroed: false)
            forEachLine(outer: outer, n: n, inner: inner) { base in
                var total: Float = 0
                for j in 0..<n { total += g.data[base + j * inner] }
                for j in 0..<n {
                    let k = base + j * inner
                    dx.data[k] = g.data[k] - expf(out.data[k]) * total
                }
            }
            return [dx]
        }
    }
}

/// Calls `body(base)` for every line along the reduced axis; element j of a line is at
/// base + j * inner. Lines are independent, so they run in parallel.
@inline(__always)
func forEachLine(outer: Int, n: Int, inner: Int, _ body: (Int) -> Void) {
    parallelFor(outer * inner, costPerItem: n * 4) { range in
        for line in range {
            let p = line / inner
            let i = line % inner
            body(p * n * inner + i)
        }
    }
}

func softmaxRows(
    _ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>, outer: Int, n: Int, inner: Int, log: Bool
) {
    let box = UncheckedSendable((x, y))
    if inner == 1 {
        // Contiguous rows (the last axis): vectorised exp.
        parallelFor(outer, costPerItem: n * 4) { range in
            let (x, y) = box.value
            for r in range {
                let xr = x + r * n
                let yr = y + r * n
                var m = maxRow(xr, count: n)
                if !m.isFinite { m = 0 }
                let s = expRow(yr, xr, shift: m, count: n)
                if log {
                    let logS = logf(s)
                    for j in 0..<n { yr[j] = (xr[j] - m) - logS }
                } else {
                    let inv = 1 / s
                    for j in 0..<n { yr[j] *= inv }
                }
            }
        }
        return
    }
    forEachLine(outer: outer, n: n, inner: inner) { base in
        let (x, y) = box.value
        var m = -Float.infinity
        for j in 0..<n { m = max(m, x[base + j * inner]) }
        if !m.isFinite { m = 0 }  // a row of -inf stays -inf / NaN-free zeros below
        var s: Float = 0
        for j in 0..<n {
            let e = expf(x[base + j * inner] - m)
            y[base + j * inner] = e
            s += e
        }
        if log {
            // (x - m) - log(s), not x - (m + log s): keeps the low bits when |m| is large.
            let logS = logf(s)
            for j in 0..<n { y[base + j * inner] = (x[base + j * inner] - m) - logS }
        } else {
            let inv = 1 / s
            for j in 0..<n { y[base + j * inner] *= inv }
        }
    }
}
