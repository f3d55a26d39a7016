// SwiGLU gate (Shazeer 2020): h = SiLU(a) * b with a = x W1, b = x W3, fused forward/backward.
// a, b, h, sig: same shape (N, hidden).
import LabSupport

/// h = a * sigmoid(a) * b; when `sig` is given, sigmoid(a) is kept there for the backward pass
/// (the exp and division are most of the kernel's cost).
func swigluForward(
    _ h: UnsafeMutablePointer<Float>, _ sig: UnsafeMutablePointer<Float>?, _ a: UnsafePointer<Float>,
    _ b: UnsafePointer<Float>, count: Int
) {
    let box = UncheckedSendable((h, sig, a, b))
    parallelFor(count, costPerItem: 8) { range in
        let (h, sig, a, b) = box.value
        var i = range.lowerBound
        while i < range.upperBound {  // not forEachBlock8: the optimiser would not inline this body
            let lanes = min(8, range.upperBound - i)
            let x = load8(a + i, lanes)
            let s = sigmoid8(x)
            if let sig { store8(s, sig + i, lanes) }
            store8(x * s * load8(b + i, lanes), h + i, lanes)
            i += 8
        }
    }
}

/// da = dh * b * sig(a) * (1 + a (1 - sig(a))); db = dh * a * sig(a).
func swigluBackward(
    _ da: UnsafeMutablePointer<Float>, _ db: UnsafeMutablePointer<Float>, _ dh: UnsafePointer<Float>,
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ sig: UnsafePointer<Float>, count: Int
) {
    let box = UncheckedSendable((da, db, dh, a, b, sig))
    parallelFor(count, costPerItem: 4) { range in
        let (da, db, dh, a, b, sig) = box.value
        var i = range.lowerBound
        while i < range.upperBound {  // not forEachBlock8: the optimiser would not inline this body
            let lanes = min(8, range.upperBound - i)
            let x = load8(a + i, lanes)
            let g = load8(dh + i, lanes)
            let s = load8(sig + i, lanes)
            store8(g * load8(b + i, lanes) * s * (1 + x * (1 - s)), da + i, lanes)
            store8(g * x * s, db + i, lanes)
            i += 8
        }
    }
}

/// SiLU(gate) * up, one autograd node.
public func swiglu(gate: Tensor, up: Tensor) -> Tensor {
    precondition(gate.shape == up.shape, "swiglu: gate \(gate.shape) and up \(up.shape) differ")
    let h = Tensor(shape: gate.shape, zeroed: false)
    let recording = GradMode.isEnabled && (gate.requiresGrad || up.requiresGrad)
    let sig = recording ? Tensor(shape: gate.shape, zeroed: false) : nil
    swigluForward(h.data, sig?.data, gate.data, up.data, count: h.count)
    return record(h, "swiglu", [gate, up]) { [count = h.count] dh in
        let da = Tensor(shape: gate.shape, zeroed: false)
        let db = Tensor(shape: up.shape, zeroed: false)
        swigluBackward(da.data, db.data, dh.data, gate.data, up.data, sig!.data, count: count)
        return [da, db]
    }
}
