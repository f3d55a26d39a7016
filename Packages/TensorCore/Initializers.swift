// Parameter initialisers: normal, uniform, zeros and orthogonal (Saxe et al. 2014, as
// torch.nn.init.orthogonal_: QR of a Gaussian matrix with the signs of R's diagonal fixed).

public enum Init {
    public static func normal(_ t: Tensor, mean: Float = 0, std: Float, rng: inout RNG) {
        for i in 0..<t.count { t.data[i] = mean + std * rng.normal() }
    }

    public static func uniform(_ t: Tensor, low: Float, high: Float, rng: inout RNG) {
        for i in 0..<t.count { t.data[i] = low + (high - low) * rng.uniform() }
    }

    public static func zeros(_ t: Tensor) { t.fill(0) }

    public static func constant(_ t: Tensor, _ value: Float) { t.fill(value) }

    /// Fills a (rows, cols...) tensor with a (semi-)orthogonal matrix times `gain`: rows are
    /// orthonormal when rows <= cols, columns when rows >= cols.
    public static func orthogonal(_ t: Tensor, gain: Float = 1, rng: inout RNG) {
        precondition(t.rank >= 2, "orthogonal init needs rank >= 2, got \(t.shape)")
        let rows = t.shape[0]
        let cols = t.count / rows
        // Gram-Schmidt on the columns of a (long, short) Gaussian matrix: equal to QR with
        // R's diagonal made positive.
        let long = Swift.max(rows, cols)
        let short = Swift.min(rows, cols)
        var a = [Double](repeating: 0, count: long * short)  // column-major: column c at c*long
        for r in 0..<long { for c in 0..<short { a[c * long + r] = Double(rng.normal()) } }
        for c in 0..<short {
            for _ in 0..<2 {  // twice: re-orthogonalisation keeps Q orthogonal to rounding
                for p in 0..<c {
                    var dot = 0.0
                    for r in 0..<long { dot += a[p * long + r] * a[c * long + r] }
                    for r in 0..<long { a[c * long + r] -= dot * a[p * long + r] }
                }
            }
            var norm = 0.0
            for r in 0..<long { norm += a[c * long + r] * a[c * long + r] }
            norm = norm.squareRoot()
            for r in 0..<long { a[c * long + r] /= norm }
        }
        for r in 0..<rows {
            for c in 0..<cols {
                let value = rows >= cols ? a[c * long + r] : a[r * long + c]
                t.data[r * cols + c] = gain * Float(value)
            }
        }
    }
}
