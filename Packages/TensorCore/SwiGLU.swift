// SwiGLU gate (Shazeer 2020): h = SiLU(a) * b with a = x W1, b = x W3, fused forward/backward.
// a, b, h: same shape (N, hidden).

func swigluForward(_ h: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) {
    let box = UncheckedBox((h, a, b))
    parallelFor(count, costPerItem: 8) { range in
        let (h, a, b) = box.value
        forEachBlock8(range) { i, lanes in
            let x = load8(a + i, lanes)
            store8(x * sigmoid8(x) * load8(b + i, lanes), h + i, lanes)
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
        forEachBlock8(range) { i, lanes in
            let x = load8(a + i, lanes)
            let g = load8(dh + i, lanes)
            let s = sigmoid8(x)
            store8(g * load8(b + i, lanes) * s * (1 + x * (1 - s)), da + i, lanes)
            store8(g * x * s, db + i, lanes)
        }
    }
}

/// SiLU(gate) * up, one autograd node.
public func swiglu(gate: Tensor, up: Tensor) -> Tensor {
    precondition(gate.shape == up.shape, "swiglu: gate \(gate.shape) and up \(up.shape) differ")
    let h = Tensor(shape: gate.shape, zeroed: false)
    swigluForward(h.data, gate.data, up.data, count: h.count)
    return record(h, "swiglu", [gate, up]) { [count = h.count] dh in
        let da = Tensor(shape: gate.shape, zeroed: false)
        let db = Tensor(shape: up.shape, zeroed: false)
        swigluBackward(da.data, db.data, dh.data, gate.data, up.data, count: count)
        return [da, db]
    }
}
