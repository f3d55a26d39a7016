// Tensor creation: constants, ranges and seeded random fills.
// Random fills draw from an explicit `RNG`, so every value comes from the run's seed.

extension Tensor {
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape) }

    public static func ones(_ shape: [Int]) -> Tensor { full(shape, 1) }

    public static func full(_ shape: [Int], _ value: Float) -> Tensor {
        let t = Tensor(shape: shape, zeroed: false)
        t.fill(value)
        return t
    }

    /// 0, 1, ..., n-1 as floats.
    public static func arange(_ n: Int) -> Tensor {
        let t = Tensor(shape: [n], zeroed: false)
        for i in 0..<n { t.data[i] = Float(i) }
        return t
    }

    /// N(mean, std^2) samples, drawn in storage order from `rng`.
    public static func randn(_ shape: [Int], mean: Float = 0, std: Float = 1, rng: inout RNG) -> Tensor {
        let t = Tensor(shape: shape, zeroed: false)
        for i in 0..<t.count { t.data[i] = mean + std * rng.normal() }
        return t
    }

    /// U[low, high) samples, drawn in storage order from `rng`.
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1, rng: inout RNG) -> Tensor {
        let t = Tensor(shape: shape, zeroed: false)
        for i in 0..<t.count { t.data[i] = low + (high - low) * rng.uniform() }
        return t
    }

    /// Marks this tensor as a leaf whose gradient is wanted; returns self for chaining.
    @discardableResult
    public func requiringGrad(_ flag: Bool = true) -> Tensor {
        precondition(isLeaf, "requiringGrad applies to leaf tensors")
        requiresGrad = flag
        return self
    }
}
