// RMSNorm (Zhang & Sennrich 2019): y = x / sqrt(mean(x^2) + eps) * g, fused forward/backward.
// x, y: (N, C) rows (any leading shape); g: (C); rstd: (N), saved for backward.
import LabSupport

func rmsNormForward(
    _ y: UnsafeMutablePointer<Float>, _ rstd: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
    _ g: UnsafePointer<Float>, rows: Int, cols: Int, eps: Float
) {
    let box = UncheckedSendable((y, rstd, x, g))
    parallelFor(rows, costPerItem: cols * 3) { range in
        let (y, rstd, x, g) = box.value
        for r in range {
            let xr = x + r * cols
            let yr = y + r * cols
            let s = 1 / (dotRow(xr, xr, count: cols) / Float(cols) + eps).squareRoot()
            rstd[r] = s
            forEachBlock8(0..<cols) { j, lanes in store8(load8(xr + j, lanes) * s * load8(g + j, lanes), yr + j, lanes)
            }
        }
    }
}

/// dx = rstd * (g*dy - x * rstd^2 * mean(g*dy*x)); dg = sum over rows of dy * x * rstd.
func rmsNormBackward(
    _ dx: UnsafeMutablePointer<Float>, _ dg: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>,
    _ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ rstd: UnsafePointer<Float>, rows: Int, cols: Int
) {
    let box = UncheckedSendable((dx, dy, x, g, rstd))
    parallelFor(rows, costPerItem: cols * 4) { range in
        let (dx, dy, x, g, rstd) = box.value
        for r in range {
            let xr = x + r * cols
            let dyr = dy + r * cols
            let dxr = dx + r * cols
            let s = rstd[r]
            var dot = Float8()
            forEachBlock8(0..<cols) { j, lanes in
                dot += load8(g + j, lanes) * load8(dyr + j, lanes) * load8(xr + j, lanes)
            }
            let k = s * s * s * dot.sum() / Float(cols)
            forEachBlock8(0..<cols) { j, lanes in
                store8(s * load8(g + j, lanes) * load8(dyr + j, lanes) - k * load8(xr + j, lanes), dxr + j, lanes)
            }
        }
    }
    columnSumOverRows(dg, rows: rows, cols: cols) { r, j, lanes in
        load8(dy + r * cols + j, lanes) * load8(x + r * cols + j, lanes) * rstd[r]
    }
}

/// out[j] = sum over r = 0 ..< rows of term(r, j) for the 8 columns at j, rows added in order
/// (a fixed order, whatever the thread count); strips of 8 columns run in parallel.
@inline(__always)
func columnSumOverRows(
    _ out: UnsafeMutablePointer<Float>, rows: Int, cols: Int, _ term: (Int, Int, Int) -> Float8
) {
    let strips = (cols + 7) / 8
    let box = UncheckedSendable(out)
    parallelFor(strips, costPerItem: rows * 8) { range in
        let out = box.value
        for strip in range {
            let j = strip * 8
            let lanes = min(8, cols - j)
            var sum = Float8()
            for r in 0..<rows { sum += term(r, j, lanes) }
            store8(sum, out + j, lanes)
        }
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
