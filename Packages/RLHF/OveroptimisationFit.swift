// Gao, Schulman & Hilton 2022 ("Scaling Laws for Reward Model Overoptimization"), their RL form:
// the gold reward gained over the initial policy, as a function of d = √KL(π ‖ π_init),
//   R(d) = d (α − β log d)
// rises, peaks and falls once the proxy is over-optimised. Fitted here by least squares, which is
// linear in (α, β): R_i = α · d_i + β · (−d_i log d_i), no intercept (R(0) = 0 by construction).
// Its peak: dR/dd = α − β (log d + 1) = 0  ⇒  d* = exp(α/β − 1),  R(d*) = β d*,  KL* = d*²;
// with β ≤ 0 the fitted curve never turns down and there is no peak.
import Foundation

public struct OveroptimisationFit: Sendable, Equatable {
    public var alpha: Double
    public var beta: Double

    public init(alpha: Double, beta: Double) { (self.alpha, self.beta) = (alpha, beta) }

    /// The fit to points (d, R) with d > 0 (others carry no information: R(0) = 0); nil with fewer
    /// than two such points or when they cannot separate α from β.
    public init?(d: [Double], gain: [Double]) {
        precondition(d.count == gain.count, "OveroptimisationFit: \(d.count) d values, \(gain.count) gains")
        let points = zip(d, gain).filter { $0.0 > 0 && $0.0.isFinite && $0.1.isFinite }
        guard points.count >= 2 else { return nil }
        // Normal equations of R = α x1 + β x2 with x1 = d, x2 = −d log d.
        var (s11, s12, s22, s1r, s2r) = (0.0, 0.0, 0.0, 0.0, 0.0)
        for (d, r) in points {
            let (x1, x2) = (d, -d * log(d))
            (s11, s12, s22, s1r, s2r) = (s11 + x1 * x1, s12 + x1 * x2, s22 + x2 * x2, s1r + x1 * r, s2r + x2 * r)
        }
        let det = s11 * s22 - s12 * s12
        guard abs(det) > 1e-12 * max(s11 * s22, 1e-300) else { return nil }
        alpha = (s1r * s22 - s2r * s12) / det
        beta = (s11 * s2r - s12 * s1r) / det
    }

    public func gain(at d: Double) -> Double { d > 0 ? d * (alpha - beta * log(d)) : 0 }

    /// d* where the fitted gain peaks (nil when β ≤ 0: no peak).
    public var peakD: Double? { beta > 0 ? exp(alpha / beta - 1) : nil }
    public var peakKL: Double? { peakD.map { $0 * $0 } }
    public var peakGain: Double? { peakD.map { beta * $0 } }
}
