// Thread control: the tensor core's own parallel loops (elementwise, rows, GEMM blocks,
// attention heads). OpenBLAS itself stays single-threaded (see Matmul.swift), and work is split
// so results never depend on the thread count: each output element is computed by exactly one
// thread, in an order fixed by the shapes.

public enum Threads {
    nonisolated(unsafe) private static var current = 1

    /// Number of threads for matmuls and parallel kernels.
    public static var count: Int { current }

    /// Sets the thread count for matmuls and the parallel kernels (>= 1).
    public static func set(_ n: Int) {
        precondition(n >= 1, "thread count must be at least 1")
        current = n
    }
}

/// Runs `body` over `0..<n` split into contiguous ranges, in parallel when the work is large
/// enough (`n * costPerItem` above a threshold). Each index is handled exactly once.
/// Four ranges per thread, claimed as threads come free: a thread that starts late (or loses
/// its CPU for a moment) takes fewer, instead of the others waiting for it.
@inline(__always)
func parallelFor(_ n: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
    let threads = Threads.count
    if threads <= 1 || n < 2 || n * costPerItem < 32_768 {
        body(0..<n)
        return
    }
    let chunks = min(threads * 4, n)
    WorkerPool.shared.run(chunks: chunks, threads: threads) { c in
        let lo = n * c / chunks
        let hi = n * (c + 1) / chunks
        if lo < hi { body(lo..<hi) }
    }
}
