// The spike guard against llm.c's outlier detector: the z-score by hand, a spike and the recovery
// after it, a lasting level shift absorbed instead of freezing training, non-finite values, and a
// restored state deciding exactly as the original.
import LabSupport
import NanoTransformer
import TestSupport
import Testing

@Suite struct SpikeGuardTests {
    /// Feeds (loss, norm) pairs; returns the decisions.
    func feed(_ guardRail: inout SpikeGuard, _ losses: [Double], norm: Double = 1) -> [Bool] {
        losses.map { guardRail.accept(loss: $0, gradNorm: norm) }
    }

    @Test func theZScoreIsLlmcsWithTheNewValueInTheWindow() {
        // Window 4: [1, 2, 3, 4], then 10 replaces 1: [2, 3, 4, 10], mean 4.75,
        // var = (4 + 9 + 16 + 100) / 4 - 4.75^2 = 9.6875, z = 5.25 / 3.1125 = 1.687.
        var strict = SpikeGuard(window: 4, threshold: 1.6)
        #expect(feed(&strict, [1, 2, 3, 4, 10]) == [true, true, true, true, false])
        var lenient = SpikeGuard(window: 4, threshold: 1.7)
        #expect(feed(&lenient, [1, 2, 3, 4, 10]) == [true, true, true, true, true])
        #expect(strict.skipped == 1 && lenient.skipped == 0)
    }

    @Test func aSpikeIsSkippedAndTrainingGoesOn() {
        // With the new value in the window a z-score is at most sqrt(window - 1) = 3 here: a
        // threshold must be below it to ever fire (PretrainConfig checks spikeZ against it).
        var never = SpikeGuard(window: 10, threshold: 3)
        #expect(feed(&never, (0..<10).map { _ in 1 } + [1e9]).allSatisfy { $0 })
        var g = SpikeGuard(window: 10, threshold: 2.5)
        let calm = (0..<10).map { 1 + 0.01 * Double($0 % 3) }
        #expect(feed(&g, calm).allSatisfy { $0 }, "no decision while the window fills")
        #expect(feed(&g, [100]) == [false])
        #expect(feed(&g, calm).allSatisfy { $0 }, "the next normal steps are accepted")
        // A spike in the gradient norm alone counts too.
        #expect(g.accept(loss: 1.01, gradNorm: 1000) == false && g.skipped == 2)
    }

    @Test func aLevelShiftIsAbsorbedNotFrozen() {
        // The loss jumps from about 1 to about 3 for good: only the first few steps of the new
        // level are spikes; once they fill the window the level is normal. (A guard that only
        // remembered accepted steps would call every later step a spike and never update again.)
        var g = SpikeGuard(window: 10, threshold: 2.5)
        _ = feed(&g, (0..<10).map { 1 + 0.01 * Double($0 % 3) })
        let shifted = feed(&g, (0..<30).map { 3 + 0.01 * Double($0 % 3) })
        #expect(shifted.first == false)
        #expect(shifted.suffix(20).allSatisfy { $0 }, "\(shifted)")
        #expect(g.skipped < 10)
    }

    @Test func nonFiniteValuesAreSpikesAndDoNotPoisonTheWindow() {
        var g = SpikeGuard(window: 5, threshold: 3)
        _ = feed(&g, [1, 1.1, 0.9, 1, 1.05])
        #expect(g.accept(loss: .nan, gradNorm: 1) == false)
        #expect(g.accept(loss: 1, gradNorm: .infinity) == false)
        #expect(feed(&g, [1.02, 0.98]) == [true, true], "the window holds no NaN")
        #expect(g.skipped == 2)
    }

    @Test func aRestoredGuardDecidesExactlyAsTheOriginal() throws {
        var original = SpikeGuard(window: 7, threshold: 2)
        let values: [Double] = (0..<40).map { (i: Int) -> Double in
            let wobble = 0.3 * Double((i * 7919) % 11) / 11
            return 1 + wobble + (i % 13 == 12 ? 4 : 0)  // a spike every 13 steps
        }
        _ = feed(&original, Array(values.prefix(17)))
        let (losses, norms, skipped) = original.state
        var restored = SpikeGuard(window: 7, threshold: 2)
        try restored.restore(losses: losses, gradNorms: norms, skipped: skipped, path: "ckpt.h5")
        #expect(restored == original)
        #expect(feed(&restored, Array(values.dropFirst(17))) == feed(&original, Array(values.dropFirst(17))))
        #expect(restored == original)
        // A state that does not fit the window is an error naming the file.
        var other = SpikeGuard(window: 3, threshold: 2)
        expectLabError(.model) {
            try other.restore(losses: losses, gradNorms: norms, skipped: skipped, path: "ckpt.h5")
        }
    }
}
