// Rotary position embedding (Su et al. 2021), fused forward/backward.
// Pairing: "rotate-half" (GPT-NeoX / HF Llama): dimension i pairs with i + D/2, i < D/2,
// rotated by angle m * theta_i with theta_i = base^(-2i/D) and m the (scaled) position.
// x, y: (B, T, H, D); positions: T (shared by the batch) or B*T values.
import LabSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// cos and sin of m * theta_i for each listed position: (P, D/2) each, computed in Double.
/// `positionScale` multiplies positions (position interpolation uses L / L' < 1).
public func ropeAngles(positions: [Int], headDim: Int, base: Double, positionScale: Double = 1) -> (
    cos: [Float], sin: [Float]
) {
    precondition(headDim % 2 == 0, "RoPE needs an even head dimension, got \(headDim)")
    let half = headDim / 2
    var c = [Float](repeating: 0, count: positions.count * half)
    var s = c
    for (p, m) in positions.enumerated() {
        for i in 0..<half {
            let theta = powDouble(base, -2 * Double(i) / Double(headDim))
            let angle = Double(m) * positionScale * theta
            c[p * half + i] = Float(cosDouble(angle))
            s[p * half + i] = Float(sinDouble(angle))
        }
    }
    return (c, s)
}

/// The last tables `rope` computed: every layer's q and k, in forward and backward, rotate by the
/// same angles, and each table costs a pow, cos and sin per entry.
final class RoPETables: Sendable {
    static let shared = RoPETables()

    private struct Entry {
        let positions: [Int]
        let headDim: Int
        let base, positionScale: Double
        let cos, sin: [Float]
    }

    private let last = Mutex<Entry?>(nil)

    func angles(positions: [Int], headDim: Int, base: Double, positionScale: Double) -> (cos: [Float], sin: [Float]) {
        if let hit = last.withLock({ entry -> Entry? in
            guard let entry, entry.headDim == headDim, entry.base == base, entry.positionScale == positionScale,
                entry.positions == positions
            else { return nil }
            return entry
        }) {
            return (hit.cos, hit.sin)
        }
        let (c, s) = ropeAngles(positions: positions, headDim: headDim, base: base, positionScale: positionScale)
        let entry = Entry(
            positions: positions, headDim: headDim, base: base, positionScale: positionScale, cos: c, sin: s)
        last.withLock { $0 = entry }
        return (c, s)
    }
}

/// y1 = x1 cos - x2 sin, y2 = x1 sin + x2 cos for each (x1, x2) = (x[i], x[i + D/2]).
/// With `inverse`, rotates by -angle (the backward pass: the transpose of a rotation).
func ropeApply(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, cos: [Float], sin: [Float],
    batch: Int, time: Int, heads: Int, headDim: Int, perBatchPositions: Bool, inverse: Bool
) {
    let half = headDim / 2
    let sign: Float = inverse ? -1 : 1
    let box = UncheckedSendable((y, x))
    cos.withUnsafeBufferPointer { cp in
        sin.withUnsafeBufferPointer { sp in
            let tables = UncheckedSendable((cp, sp))
            parallelFor(batch * time, costPerItem: heads * headDim * 2) { range in
                let (y, x) = box.value
                let (cp, sp) = tables.value
                for bt in range {
                    let p = perBatchPositions ? bt : bt % time
                    let c = cp.baseAddress! + p * half
                    let s = sp.baseAddress! + p * half
                    for h in 0..<heads {
                        let off = (bt * heads + h) * headDim
                        // 8 pairs at a time; each lane is the scalar formula.
                        var i = 0
                        while i < half {
                            let lanes = min(8, half - i)
                            let x1 = load8(x + off + i, lanes)
                            let x2 = load8(x + off + i + half, lanes)
                            let ci = load8(c + i, lanes)
                            let si = sign * load8(s + i, lanes)
                            store8(x1 * ci - x2 * si, y + off + i, lanes)
                            store8(x1 * si + x2 * ci, y + off + i + half, lanes)
                            i += 8
                        }
                    }
                }
            }
        }
    }
}

/// Applies RoPE to x (B, T, H, D) at `positions` (T values, or B*T for per-sequence positions).
public func rope(_ x: Tensor, positions: [Int], base: Double = 10_000, positionScale: Double = 1) -> Tensor {
    precondition(x.rank == 4, "rope expects (B, T, H, D), got \(x.shape)")
    let (b, t, h, d) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    precondition(
        positions.count == t || positions.count == b * t, "rope: \(positions.count) positions for B=\(b), T=\(t)")
    let perBatch = positions.count == b * t && b > 1
    let (c, s) = RoPETables.shared.angles(positions: positions, headDim: d, base: base, positionScale: positionScale)
    let y = Tensor(shape: x.shape, zeroed: false)
    ropeApply(
        y.data, x.data, cos: c, sin: s, batch: b, time: t, heads: h, headDim: d, perBatchPositions: perBatch,
        inverse: false)
    return record(y, "rope", [x]) { dy in
        let dx = Tensor(shape: x.shape, zeroed: false)
        ropeApply(
            dx.data, dy.data, cos: c, sin: s, batch: b, time: t, heads: h, headDim: d, perBatchPositions: perBatch,
            inverse: true)
        return [dx]
    }
}
