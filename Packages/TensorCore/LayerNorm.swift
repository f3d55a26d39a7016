// LayerNorm (Ba et al. 2016): y = (x - mean) / sqrt(var + eps) * g + b, fused forward/backward.
// x, y: (N, C) rows (any leading shape); g, b: (C); mean, rstd: (N), saved for backward.
import LabSupport

func layerNormForward(
    _ y: UnsafeMutablePointer<Float>, _ mean: UnsafeMutablePointer<Float>, _ rstd: UnsafeMutablePointer<Float>,
    _ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ b: UnsafePointer<Float>, rows: Int, cols: Int, eps: Float
) {
    let box = UncheckedSendable((y, mean, rstd, x, g, b))
    parallelFor(rows, costPerItem: cols * 4) { range in
        let (y, mean, rstd, x, g, b) = box.value
        for r in range {
            let xr = x + r * cols
            let yr = y + r * cols
            let m = sumRow(xr, count: cols) / Float(cols)
            var v = Float8()
            var j = 0
            while j + 8 <= cols {  // written out: see forEachBlock8
                let d = load8(xr + j, 8) - m
                v += d * d
                j += 8
            }
            if j < cols {
                let d = masked(load8(xr + j, cols - j) - m, cols - j)
                v += d * d
            }
            let s = 1 / (v.sum() / Float(cols) + eps).squareRoot()
            mean[r] = m
            rstd[r] = s
            forEachBlock8(0..<cols) { j, lanes in
                store8((load8(xr + j, lanes) - m) * s * load8(g + j, lanes) + load8(b + j, lanes), yr + j, lanes)
            }
        }
    }
}

/// With xhat = (x - mean) * rstd and dxhat = dy * g:
/// dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)); dg = sum dy * xhat; db = sum dy.
func layerNormBackward(
    _ dx: UnsafeMutablePointer<Float>, _ dg: UnsafeMutablePointer<Float>, _ db: UnsafeMutablePointer<Float>,
    _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>,
    _ mean: UnsafePointer<Float>, _ rstd: UnsafePointer<Float>, rows: Int, cols: Int
) {
    let box = UncheckedSendable((dx, dy, x, g, mean, rstd))
    parallelFor(rows, costPerItem: cols * 6) { range in
        let (dx, dy, x, g, mean, rstd) = box.value
        for r in range {
            let xr = x + r * cols
            let dyr = dy + r * cols
            let dxr = dx + r * cols
            let (m, s) = (mean[r], rstd[r])
            var sumD = Float8()
            var sumDX = Float8()
            forEachBlock8(0..<cols) { j, lanes in
                let d = load8(dyr + j, lanes) * load8(g + j, lanes)
                sumD += d
                sumDX += d * masked((load8(xr + j, lanes) - m) * s, lanes)
            }
            let meanD = sumD.sum() / Float(cols)
            let meanDX = sumDX.sum() / Float(cols)
            forEachBlock8(0..<cols) { j, lanes in
                let xhat = (load8(xr + j, lanes) - m) * s
                store8(s * (load8(dyr + j, lanes) * load8(g + j, lanes) - meanD - xhat * meanDX), dxr + j, lanes)
            }
        }
    }
    columnSumOverRows(dg, rows: rows, cols: cols) { r, j, lanes in
        load8(dy + r * cols + j, lanes) * (load8(x + r * cols + j, lanes) - mean[r]) * rstd[r]
    }
    columnSumOverRows(db, rows: rows, cols: cols) { r, j, lanes in load8(dy + r * cols + j, lanes) }
}

/// LayerNorm over the last axis of x with gain `weight` and shift `bias` (both (C)).
public func layerNorm(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float = 1e-5) -> Tensor {
    let cols = x.shape.last!
    precondition(weight.shape == [cols] && bias.shape == [cols], "layerNorm: weight/bias must be (\(cols))")
    let rows = x.count / cols
    let y = Tensor(shape: x.shape, zeroed: false)
    let mean = Tensor(shape: [rows], zeroed: false)
    let rstd = Tensor(shape: [rows], zeroed: false)
    layerNormForward(y.data, mean.data, rstd.data, x.data, weight.data, bias.data, rows: rows, cols: cols, eps: eps)
    return record(y, "layer_norm", [x, weight, bias]) { dy in
        let dx = Tensor(shape: x.shape, zeroed: false)
        let dg = Tensor(shape: [cols], zeroed: false)
        let db = Tensor(shape: [cols], zeroed: false)
        layerNormBackward(
            dx.data, dg.data, db.data, dy.data, x.data, weight.data, mean.data, rstd.data, rows: rows, cols: cols)
        return [dx, dg, db]
    }
}
