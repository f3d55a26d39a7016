// RLHF's per-token rewards on a hand example (KL on every token, the score on the last, the
// switches), GAE over a padded batch against each response alone, and the adaptive KL controller
// against its formula.
import Foundation
import PolicyGradient
import RLHF
import TestSupport
import Testing

@Suite struct TokenRewardTests {
    static let logProbs: [[Float]] = [[-1, -2, -0.5], [-0.3]]
    static let reference: [[Float]] = [[-1.5, -1, -0.5], [-0.2]]

    @Test func klOnEveryTokenAndTheScoreOnTheLast() {
        let r = TokenRewards(
            logProbs: Self.logProbs, referenceLogProbs: Self.reference, scores: [2, -1], stopped: [true, true],
            beta: 0.1,
            settings: .init())
        // k1 = log π − log π_ref: 0.5, −1, 0 and −0.1.
        let expected: [[Float]] = [[-0.05, 0.1, 0 + 2], [0.01 - 1]]
        for (a, b) in zip(r.rewards.joined(), expected.joined()) { #expect(abs(a - b) < 1e-6, "\(r.rewards)") }
        #expect(abs(r.meanSequenceKL - (-0.5 - 0.1) / 2) < 1e-6)
    }

    @Test func theSwitches() {
        var s = TokenRewardSettings()
        s.estimator = .k3
        let k3 = TokenRewards(
            logProbs: Self.logProbs, referenceLogProbs: Self.reference, scores: [0, 0], stopped: [true, true], beta: 1,
            settings: s)
        // k3 with d = ref − lp: e^d − 1 − d ≥ 0.
        let d: Float = -0.5
        #expect(abs(k3.kl[0][0] - (exp(d) - 1 - d)) < 1e-6 && k3.kl.joined().allSatisfy { $0 >= 0 })
        s = TokenRewardSettings()
        s.placement = .loss
        (s.scoreClip, s.missingEndPenalty) = (1.5, 0.25)
        let loss = TokenRewards(
            logProbs: Self.logProbs, referenceLogProbs: Self.reference, scores: [2, -1], stopped: [true, false],
            beta: 0.1, settings: s)
        // No KL in the reward; the score clipped to 1.5; the cut response loses 0.25.
        #expect(loss.rewards == [[0, 0, 1.5], [-1.25]] && loss.scores == [1.5, -1.25])
    }

    /// GAE over a right-padded batch of responses of different lengths equals GAE over each
    /// response alone, and puts nothing on the padding.
    @Test func gaeOverAPaddedBatchEqualsEachSequenceAlone() {
        let rows: [(rewards: [Float], values: [Float], truncated: Bool)] = [
            ([0.1, -0.2], [0.3, 0.1], false), ([0, 0.5, -0.1, 1], [0.2, -0.4, 0.6, 0.05], true),
            ([0.2, 0, 0.7], [0.1, 0.3, -0.2], false),
        ]
        let width = 4
        func padded(_ x: [Float]) -> [Float] { x + [Float](repeating: 0, count: width - x.count) }
        let (a, r) = GAE.tokenAdvantages(
            rewards: rows.flatMap { padded($0.rewards) }, values: rows.flatMap { padded($0.values) },
            lengths: rows.map(\.rewards.count), truncated: rows.map(\.truncated), gamma: 1, lambda: 0.95)
        for (i, row) in rows.enumerated() {
            let alone = GAE.tokenAdvantages(
                rewards: row.rewards, values: row.values, lengths: [row.rewards.count], truncated: [row.truncated],
                gamma: 1, lambda: 0.95)
            #expect(Array(a[(i * width)..<(i * width + row.rewards.count)]) == alone.advantages, "row \(i)")
            #expect(Array(r[(i * width)..<(i * width + row.rewards.count)]) == alone.returns, "row \(i)")
            #expect(a[(i * width + row.rewards.count)..<((i + 1) * width)].allSatisfy { $0 == 0 }, "row \(i)")
        }
    }

    @Test func theAdaptiveControllerFollowsItsFormula() throws {
        var c = KLController(kind: .adaptive, beta: 0.2, target: 6, horizon: 10_000)
        c.update(kl: 9, responses: 256)  // e = clip(9/6 − 1) = 0.2 (clipped from 0.5)
        #expect(abs(c.beta - 0.2 * (1 + 0.2 * 256 / 10_000)) < 1e-12)
        let before = c.beta
        c.update(kl: 5.4, responses: 64)  // e = −0.1
        #expect(abs(c.beta - before * (1 - 0.1 * 64 / 10_000)) < 1e-12)
        var fixed = KLController(kind: .fixed, beta: 0.05)
        fixed.update(kl: 100, responses: 64)
        #expect(fixed.beta == 0.05)
        expectLabError(.config) { try KLController(kind: .adaptive, beta: 0.1, target: 0).check("rlhf.kl") }
    }
}
