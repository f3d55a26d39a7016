// RMSNorm (Zhang & Sennrich 2019): y = x / sqrt(mean(x^2) + eps) * g, fused forward/backward.
// x, y: (N, C) rows (any leading shape); g: (C); rstd: (N), saved for backward.

func rmsNormForward(
    _ y: UnsafeMutablePointer<Float>, _ rstd: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
    _ g: UnsafePointer<Float>, rows: Int, cols: Int, eps: Float
) {
    let box = UncheckedBox((y, rstd, x, g))
    parallelFor(rows, costPerItem: cols * 3) { range in
        let (y, rstd, x, g) = box.value
        for r in range {
            let xr = x + r * cols
            let yr = y + r * cols
            var ss: Float = 0
            for j in 0..<cols { ss += xr[j] * xr[j] }
            let s = 1 / (ss / Float(cols) + eps).squareRoot()
            rstd[r] = s
            for j in 0..<cols { yr[j] = xr[j] * s * g[j] }
        }
    }
}

/// dx = rstd * (g*dy - x * rstd^2 * mean(g*dy*x)); dg = sum over rows of dy * x * rstd.
func rmsNormBackward(
    _ dx: UnsafeMutablePointer<Float>, _ dg: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>,
    _ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ rstd: UnsafePointer<Float>, rows: Int, cols: Int
) {
    let box = UncheckedBox((dx, dy, x, g, rstd))
    parallelFor(rows, costPerItem: cols * 4) { range in
        let (dx, dy, x, g, rstd) = box.value
        for r in range {
            let xr = x + r * cols
            let dyr = dy + r * cols
            let dxr = dx + r * cols
            let s = rstd[r]
            var dot: Float = 0
            for j in 0..<cols { dot += g[j] * dyr[j] * xr[j] }
            let k = s * s * s * dot / Float(cols)
            for j in 0..<cols { dxr[j] = s * g[j] * dyr[j] - k * xr[j] }
        }
    }
    // dg sums over rows: done sequentially by column so the order is fixed.
    dg.update(repeating: 0, count: cols)
    for r in 0..<rows {
        let xr = x + r * cols
        let dyr = dy + r * cols
        let s = rstd[r]
        for j in 0..<cols { dg[j] += dyr[j] * xr[j] * s }
    }
}

/// RMSNorm over the last axis of x with gain `weight` (C).
public func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float = 1e-5) -> Tensor {
    let cols = x.shape.last!
    precondition(weight.shape == [cols], "rmsNorm: weight \(weight.shape) for last dimension \(cols)")
    let rows = x.count / cols
    let y = Tensor(shape: x.shape, zeroed: false)
    let rstd = Tensor(shape: [rows], zeroed: false)
    rmsNormForward(y.data, rstd.data, x.data, weight.data, rows: rows, cols: cols, eps: eps)
    return record(y, "rms_norm", [x, weight]) { dy in
        let dx = Tensor(shape: x.shape, zeroed: false)
        let dg = Tensor(shape: [cols], zeroed: false)
        rmsNormBackward(dx.data, dg.data, dy.data, x.data, weight.data, rstd.data, rows: rows, cols: cols)
        return [dx, dg]
    }
}
