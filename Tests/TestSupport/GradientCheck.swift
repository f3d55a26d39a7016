// Finite-difference gradient checks: compares backward() against central differences of
// L = sum(f(inputs) * w) for a fixed random w, element by element.
import TensorCore

public struct GradientCheckResult: CustomStringConvertible {
    /// Worst |analytic - numeric| / max(1, |numeric|) over all checked elements.
    public let worstError: Float
    public let worstLocation: String
    public var description: String { "worst error \(worstError) at \(worstLocation)" }
}

/// Checks the gradient of every input that requires grad. `f` must be deterministic.
public func gradientCheck(
    _ inputs: [Tensor], eps: Float = 1e-2, seed: UInt64 = 7, _ f: () -> Tensor
) -> GradientCheckResult {
    for x in inputs { x.grad = nil }
    let probe = f()
    var rng = RNG(seed: seed)
    let w = Tensor.randn(probe.shape, rng: &rng)
    func loss() -> Double {
        let y = withNoGrad { f() }
        var s = 0.0
        for i in 0..<y.count { s += Double(y.data[i]) * Double(w.data[i]) }
        return s
    }
    (probe * w).sum().backward()
    var worst: Float = 0
    var location = "nowhere"
    for (k, x) in inputs.enumerated() where x.requiresGrad {
        let analytic = x.grad ?? Tensor.zeros(x.shape)
        for i in 0..<x.count {
            let saved = x.data[i]
            x.data[i] = saved + eps
            let up = loss()
            x.data[i] = saved - eps
            let down = loss()
            x.data[i] = saved
            let numeric = Float((up - down) / Double(2 * eps))
            let error = abs(analytic.data[i] - numeric) / max(1, abs(numeric))
            if error > worst {
                worst = error
                location = "input \(k) element \(i): analytic \(analytic.data[i]) numeric \(numeric)"
            }
        }
    }
    return GradientCheckResult(worstError: worst, worstLocation: location)
}
