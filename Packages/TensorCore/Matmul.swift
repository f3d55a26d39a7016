// Matrix multiplication through cblas_sgemm. Transposed operands are passed to BLAS as flags
// (CblasTrans), never copied. Batched matmul loops sgemm over the leading batch dimensions.
import CBLAS

/// C (M, N) = alpha * op(A) op(B) + beta * C, all row-major; lda/ldb/ldc are row strides.
@inline(__always)
public func sgemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
    _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, _ c: UnsafeMutablePointer<Float>, ldc: Int
) {
    cblas_sgemm(
        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// op(a) @ op(b) where op transposes the last two dimensions when asked.
/// a: (..., M, K) [or (..., K, M) with transposeA]; b: (..., K, N) [or (..., N, K) with transposeB],
/// with the same leading batch dimensions, or b of rank 2 (a weight shared across the batch).
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    precondition(a.rank >= 2 && b.rank >= 2, "matmul needs rank >= 2, got \(a.shape) and \(b.shape)")
    if a.rank > 2 && b.rank == 2 && !transposeA {
        // A weight shared across the batch: one sgemm over the flattened rows.
        let k = a.shape[a.rank - 1]
        let rows = a.count / max(k, 1)
        let out = matmul2D(a.reshaped([rows, k]), b, transposeA: false, transposeB: transposeB)
        return out.reshaped(Array(a.shape.dropLast()) + [out.shape[1]])
    }
    precondition(
        a.rank == b.rank && a.shape.dropLast(2) == b.shape.dropLast(2),
        "matmul batch dimensions differ: \(a.shape) and \(b.shape)")
    if a.rank == 2 { return matmul2D(a, b, transposeA: transposeA, transposeB: transposeB) }
    return batchedMatmul(a, b, transposeA: transposeA, transposeB: transposeB)
}

/// (M, N) dimensions of op(a) @ op(b) and the shared K, checked.
func matmulDims(_ a: Tensor, _ b: Tensor, _ ta: Bool, _ tb: Bool) -> (m: Int, n: Int, k: Int) {
    let r = a.rank
    let (m, ka) = ta ? (a.shape[r - 1], a.shape[r - 2]) : (a.shape[r - 2], a.shape[r - 1])
    let (kb, n) = tb ? (b.shape[r - 1], b.shape[r - 2]) : (b.shape[r - 2], b.shape[r - 1])
    precondition(ka == kb, "matmul inner dimensions differ: \(a.shape)\(ta ? "ᵀ" : "") @ \(b.shape)\(tb ? "ᵀ" : "")")
    return (m, n, ka)
}

func matmul2D(_ a: Tensor, _ b: Tensor, transposeA ta: Bool, transposeB tb: Bool) -> Tensor {
    let (m, n, k) = matmulDims(a, b, ta, tb)
    let out = Tensor(shape: [m, n], zeroed: false)
    if k == 0 { out.fill(0) } else if m > 0 && n > 0 {
        sgemm(
            transposeA: ta, transposeB: tb, m: m, n: n, k: k, a.data, lda: a.shape[1], b.data, ldb: b.shape[1],
            out.data, ldc: n)
    }
    return record(out, "matmul", [a, b]) { g in matmulBackward(g, a, b, ta, tb) }
}

func batchedMatmul(_ a: Tensor, _ b: Tensor, transposeA ta: Bool, transposeB tb: Bool) -> Tensor {
    let (m, n, k) = matmulDims(a, b, ta, tb)
    let batchShape = Array(a.shape.dropLast(2))
    let batch = batchShape.reduce(1, *)
    let out = Tensor(shape: batchShape + [m, n], zeroed: k == 0)
    let aStride = a.shape[a.rank - 2] * a.shape[a.rank - 1]
    let bStride = b.shape[b.rank - 2] * b.shape[b.rank - 1]
    if k > 0 && m > 0 && n > 0 {
        for i in 0..<batch {
            sgemm(
                transposeA: ta, transposeB: tb, m: m, n: n, k: k, a.data + i * aStride, lda: a.shape[a.rank - 1],
                b.data + i * bStride, ldb: b.shape[b.rank - 1], out.data + i * m * n, ldc: n)
        }
    }
    return record(out, "bmm", [a, b]) { g in matmulBackward(g, a, b, ta, tb) }
}

/// C = op(A) op(B): dA and dB as matmuls of dC with the other operand, transposes as flags.
func matmulBackward(_ g: Tensor, _ a: Tensor, _ b: Tensor, _ ta: Bool, _ tb: Bool) -> [Tensor?] {
    var da: Tensor? = nil
    var db: Tensor? = nil
    if a.requiresGrad {
        da =
            switch (ta, tb) {
            case (false, false): matmul(g, b, transposeB: true)
            case (false, true): matmul(g, b)
            case (true, false): matmul(b, g, transposeB: true)
            case (true, true): matmul(b, g, transposeA: true, transposeB: true)
            }
    }
    if b.requiresGrad {
        db =
            switch (ta, tb) {
            case (false, false): matmul(a, g, transposeA: true)
            case (false, true): matmul(g, a, transposeA: true)
            case (true, false): matmul(a, g)
            case (true, true): matmul(g, a, transposeA: true, transposeB: true)
            }
    }
    return [da, db]
}
