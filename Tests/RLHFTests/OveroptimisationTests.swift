// Gao et al.'s RL form R(d) = d (α − β log d), fitted: exact points give back α and β and the peak
// where dR/dd = 0; a curve that never turns down has no peak; too few points give no fit.
import Foundation
import RLHF
import Testing

@Suite struct OveroptimisationTests {
    @Test func exactPointsGiveBackTheCurveAndItsPeak() throws {
        let truth = OveroptimisationFit(alpha: 1, beta: 0.5)
        let d = [0, 0.3, 0.8, 1.5, 2.5, 4.0, 6.0]
        let fit = try #require(OveroptimisationFit(d: d, gain: d.map(truth.gain(at:))))
        #expect(abs(fit.alpha - 1) < 1e-9 && abs(fit.beta - 0.5) < 1e-9)
        // α/β − 1 = 1: the peak is at d* = e, with gain β e and KL e².
        #expect(abs(try #require(fit.peakD) - exp(1)) < 1e-6)
        #expect(abs(try #require(fit.peakGain) - 0.5 * exp(1)) < 1e-6)
        #expect(abs(try #require(fit.peakKL) - exp(2)) < 1e-5)
        // The fitted gain is highest at the peak.
        let peak = fit.gain(at: exp(1))
        #expect(fit.gain(at: 2.5) < peak && fit.gain(at: 3) < peak)
    }

    @Test func noisyPointsFitByLeastSquares() throws {
        let d = [0.5, 1, 1.5, 2, 2.5, 3]
        let noise = [0.01, -0.02, 0.015, -0.01, 0.005, -0.01]
        let truth = OveroptimisationFit(alpha: 0.6, beta: 0.3)
        let fit = try #require(OveroptimisationFit(d: d, gain: zip(d, noise).map { truth.gain(at: $0) + $1 }))
        #expect(abs(fit.alpha - 0.6) < 0.05 && abs(fit.beta - 0.3) < 0.05, "\(fit)")
        // The residuals of the fit are orthogonal to both regressors (normal equations).
        let residuals = zip(d, noise).map { truth.gain(at: $0) + $1 - fit.gain(at: $0) }
        #expect(abs(zip(d, residuals).map { $0 * $1 }.reduce(0, +)) < 1e-9)
        #expect(abs(zip(d, residuals).map { -$0 * log($0) * $1 }.reduce(0, +)) < 1e-9)
    }

    @Test func aRisingCurveHasNoPeakAndTooFewPointsNoFit() throws {
        let d = [0.5, 1, 2, 3]
        let fit = try #require(OveroptimisationFit(d: d, gain: d.map { 0.2 * $0 + 0.05 * $0 * log($0) }))
        #expect(fit.beta < 0 && fit.peakD == nil && fit.peakKL == nil && fit.peakGain == nil)
        #expect(OveroptimisationFit(d: [0, 1], gain: [0, 0.3]) == nil)
        #expect(OveroptimisationFit(d: [], gain: []) == nil)
    }
}
