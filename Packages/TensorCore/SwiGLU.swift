// SwiGLU gate (Shazeer 2020): h = SiLU(a) * b with a = x W1, b = x W3, fused forward/backward.
// a, b, h: same shape (N, hidden).

func swigluForward(_ h: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) {
    let box = UncheckedBox((h, a, b))
    parallelFor(count, costPerItem: 8) { range in
        let (h, a, b) = box.value
        for i in range {
            let x = a[i]
            h[i] = x * sigmoidScalar(x) * b[i]
        }
    }
}

/// da = dh * b * sig(a) * (1 + a (1 - sig(a))); db = dh * a * sig(a).
func swigluBackward(
    _ da: UnsafeMutablePointer<Float>, _ db: UnsafeMutablePointer<Float>, _ dh: UnsafePointer<Float>,
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int
) {
    let box = UncheckedBox((da, db, dh, a, b))
    parallelFor(count, costPerItem: 8) { range in
        let (da, db, dh, a, b) = box.value
        for i in range {
            let x = a[i]
            let s = sigmoidScalar(x)
            da[i] = dh[i] * b[i] * s * (1 + x * (1 - s))
            db[i] = dh[i] * x * s
        }
    }
}

/// SiLU(gate) * up, one autograd node.
public func swiglu(gate: Tensor, up: Tensor) -> Tensor {
    precondition(gate.shape == up.shape, "swiglu: gate \(gate.shape) and up \(up.shape) differ")
    let h = Tensor(shape: gate.shape, zeroed: false)
    swigluForward(h.data, gate.data, up.data, count: h.count)
    return record(h, "swiglu", [gate, up]) { dh in
        let da = Tensor(shape: gate.shape, zeroed: false)
        let db = Tensor(shape: up.shape, zeroed: false)
        swigluBackward(da.data, db.data, dh.data, gate.data, up.data, count: h.count)
        return [da, db]
    }
}
