import CBLAS
// Matrix multiplication through cblas_sgemm. Transposed operands are passed to BLAS as flags
// (CblasTrans), never copied. Batched matmul loops sgemm over the leading batch dimensions.
//
// Threading: OpenBLAS's own threads change the low bits of a product with the thread count
// (its partition picks different micro-kernel paths; measured: up to 4e-5 apart at K = 512).
// So OpenBLAS always runs single-threaded here, and a large product is cut into row (or column)
// blocks whose layout depends only on M, N and K; the tensor core's threads take the blocks.
// Every block is then computed the same way at any thread count: results are bit-identical.
import LabSupport

/// OpenBLAS is set to one thread once, before the first product.
let blasSingleThreaded: Void = openblas_set_num_threads(1)

/// C (M, N) = alpha * op(A) op(B) + beta * C, all row-major; lda/ldb/ldc are row strides.
/// One single-threaded OpenBLAS call: sgemv when M = 1, else sgemm (chosen by shape alone).
@inline(__always)
public func sgemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
    _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, _ c: UnsafeMutablePointer<Float>, ldc: Int
) {
    _ = blasSingleThreaded
    if m == 1 {
        // One row (decoding): a matrix-vector product. sgemm would repack all of B for it.
        let incX = Int32(transposeA ? lda : 1)
        if transposeB {  // C = a Bᵀ: y = B x with B (n, k)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), alpha, b, Int32(ldb), a, incX, beta, c, 1)
        } else {  // C = a B: y = Bᵀ x with B (k, n)
            cblas_sgemv(CblasRowMajor, CblasTrans, Int32(k), Int32(n), alpha, b, Int32(ldb), a, incX, beta, c, 1)
        }
        return
    }
    var beta = beta
    if beta == 0 {
        // OpenBLAS zeroes C in a pass of its own before it accumulates (sgemm_beta, 5 % of a
        // training step); memset and beta = 1 give the same bits and are 2-10 % faster on the
        // model's products, 24 % on attention's small ones (Benchmarks/README.md).
        if ldc == n {
            c.update(repeating: 0, count: m * n)
        } else {
            for row in 0..<m { (c + row * ldc).update(repeating: 0, count: n) }
        }
        beta = 1
    }
    cblas_sgemm(
        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// The same product as `sgemm`, cut into blocks of rows of C (or of columns when N is the larger
/// side) that run on the tensor core's threads. The cut depends only on (M, N, K).
public func sgemmBlocked(
    transposeA ta: Bool, transposeB tb: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
    _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, _ c: UnsafeMutablePointer<Float>, ldc: Int
) {
    let blocks = gemmBlockCount(m: m, n: n, k: k)
    if blocks == 1 {
        sgemm(
            transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: alpha, a, lda: lda, b, ldb: ldb, beta: beta, c,
            ldc: ldc)
        return
    }
    let splitRows = m >= n
    let side = splitRows ? m : n
    let box = UncheckedSendable((a, b, c))
    parallelFor(blocks, costPerItem: Int.max / blocks) { range in
        let (a, b, c) = box.value
        for block in range {
            // Block edges rounded to 16 (the widest micro-kernel) so only the last block is ragged.
            let lo = min(side, (side * block / blocks + 15) / 16 * 16)
            let hi = block == blocks - 1 ? side : min(side, (side * (block + 1) / blocks + 15) / 16 * 16)
            guard lo < hi else { continue }
            if splitRows {
                // Rows lo..<hi of C: rows of A, or columns of A when it is transposed.
                let aBlock = ta ? a + lo : a + lo * lda
                sgemm(
                    transposeA: ta, transposeB: tb, m: hi - lo, n: n, k: k, alpha: alpha, aBlock, lda: lda, b, ldb: ldb,
                    beta: beta, c + lo * ldc, ldc: ldc)
            } else {
                let bBlock = tb ? b + lo * ldb : b + lo
                sgemm(
                    transposeA: ta, transposeB: tb, m: m, n: hi - lo, k: k, alpha: alpha, a, lda: lda, bBlock, ldb: ldb,
                    beta: beta, c + lo, ldc: ldc)
            }
        }
    }
}

/// How many blocks a product is cut into: 1 below about 2M multiply-adds, else one block per
/// 256 rows (or columns), between 2 and 8. Every block repacks the shared operand, so fewer,
/// larger blocks are faster (measured at 256^3: 4 blocks 0.83x raw sgemm, 2 blocks ~0.95x).
/// A function of the sizes only, never of the thread count.
func gemmBlockCount(m: Int, n: Int, k: Int) -> Int {
    // A few rows against a large weight (decoding: M = batch): memory-bound, so the weight's
    // columns are shared out from a smaller size on (no repacking cost worth counting at M <= 8).
    if m <= 8 && n >= 512 && n * k >= 1 << 20 { return min(8, max(2, n / 512)) }
    if m * n * k < 1 << 21 { return 1 }
    return min(8, max(2, max(m, n) / 256))
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
    if k == 0 {
        out.fill(0)
    } else if m > 0 && n > 0 {
        sgemmBlocked(
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
        // One single-threaded call per batch item, the items spread over the threads.
        let box = UncheckedSendable((a.data, b.data, out.data))
        let (lda, ldb) = (a.shape[a.rank - 1], b.shape[b.rank - 1])
        parallelFor(batch, costPerItem: m * n * k) { range in
            let (ad, bd, od) = box.value
            for i in range {
                sgemm(
                    transposeA: ta, transposeB: tb, m: m, n: n, k: k, ad + i * aStride, lda: lda, bd + i * bStride,
                    ldb: ldb, od + i * m * n, ldc: n)
            }
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
