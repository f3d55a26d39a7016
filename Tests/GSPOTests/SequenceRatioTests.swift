// GSPO's sequence ratios through GRPO's loss (GSPO is the GRPO step with `ratio = .sequence`):
// equal to GRPO's token ratio on one-token answers, GSPO-token equal to GSPO in value and
// gradient with per-sequence advantages, and the sequence ratio of a long answer equal to the exp
// of its mean token log-ratio without overflow.
import Foundation
import GRPO
import GSPO
import PolicyGradient
import TensorCore
import Testing

@Suite struct SequenceRatioTests {
    static func lossAndGradient(
        _ ratio: ImportanceRatio, _ logProbs: [Float], _ old: [Float], _ mask: [Float], shape: [Int],
        advantages: [Float], clip: Float = 0.2
    ) -> (Float, [Float]) {
        let lp = Tensor(logProbs, shape: shape)
        lp.requiresGrad = true
        var loss = GRPOLoss()
        (loss.ratio, loss.beta, loss.clipLow, loss.clipHigh) = (ratio, 0, clip, clip)
        let out = loss(
            logProbs: lp, oldLogProbs: Tensor(old, shape: shape), referenceLogProbs: nil, advantages: advantages,
            mask: Tensor(mask, shape: shape), budget: shape[1])
        out.loss.backward()
        return (out.loss.item, lp.grad!.array)
    }

    @Test func oneTokenAnswersGiveGRPOsObjectiveAndGradient() {
        let (lp, old): ([Float], [Float]) = ([-0.3, -1.1, -2.0], [-0.4, -1.0, -2.05])
        let grpo = Self.lossAndGradient(.token, lp, old, [1, 1, 1], shape: [3, 1], advantages: [1, -0.5, 2])
        let gspo = Self.lossAndGradient(.sequence, lp, old, [1, 1, 1], shape: [3, 1], advantages: [1, -0.5, 2])
        #expect(abs(grpo.0 - gspo.0) < 1e-7 && zip(grpo.1, gspo.1).allSatisfy { abs($0 - $1) < 1e-7 })
    }

    @Test func gspoTokenEqualsGSPOWithPerSequenceAdvantages() {
        let lp: [Float] = [-0.3, -1.1, -2.0, -0.2, -0.9, 0]
        let old: [Float] = [-0.35, -1.0, -2.2, -0.25, -0.8, 0]
        let mask: [Float] = [1, 1, 1, 1, 1, 0]
        for clip: Float in [0.2, 3e-4] {  // GRPO's range, and GSPO's tiny one (where clipping acts)
            let s = Self.lossAndGradient(.sequence, lp, old, mask, shape: [2, 3], advantages: [1, -1], clip: clip)
            let t = Self.lossAndGradient(
                .sequenceToken, lp, old, mask, shape: [2, 3], advantages: [1, -1], clip: clip)
            #expect(abs(s.0 - t.0) < 1e-6, "clip \(clip): \(s.0) vs \(t.0)")
            #expect(zip(s.1, t.1).allSatisfy { abs($0 - $1) < 1e-6 }, "clip \(clip): \(s.1) vs \(t.1)")
        }
    }

    @Test func aLongAnswersSequenceRatioIsTheMeanLogRatioWithoutOverflow() {
        // 500 tokens whose log-ratios are each +2 or −2.5: their sum (±1000) would overflow exp;
        // the mean does not.
        let n = 500
        let lp = (0..<n).map { Float($0 % 2 == 0 ? 2.0 : -2.5) }
        let old = [Float](repeating: 0, count: n)
        let lpTensor = Tensor(lp, shape: [1, n])
        let (_, d) = TokenPolicyLoss.clippedSurrogate(
            logProbs: lpTensor, oldLogProbs: Tensor(old, shape: [1, n]), advantages: Tensor([1], shape: [1, 1]),
            mask: Tensor([Float](repeating: 1, count: n), shape: [1, n]), clipLow: 0.2, clipHigh: 0.2, ratio: .sequence)
        let expected = exp(Double(lp.reduce(0, +)) / Double(n))  // exp(-0.25)
        #expect(abs(d.ratioMean - expected) < 1e-5 && d.ratioMax.isFinite)
        let (loss, gradient) = Self.lossAndGradient(
            .sequence, lp, old, [Float](repeating: 1, count: n), shape: [1, n], advantages: [1])
        #expect(loss.isFinite && gradient.allSatisfy(\.isFinite))
    }

    @Test func thePresetChangesOnlyTheRatioTheClipAndTheAggregation() {
        var base = GRPOSettings()
        (base.groupSize, base.loss.aggregation, base.loss.beta) = (4, .dapo, 0.02)
        let gspo = GSPO.settings(base)
        #expect(gspo.loss.ratio == .sequence && gspo.loss.clipLow == 3e-4 && gspo.loss.clipHigh == 4e-4)
        #expect(gspo.loss.aggregation == .grpo && gspo.groupSize == 4 && gspo.loss.beta == 0.02)
        #expect(GSPO.settings(tokenLevel: true).loss.ratio == .sequenceToken)
    }
}

@Suite struct RatioVarianceTests {
    /// Two sequences with token log-ratios (ln 2, 0) and (0, 0, 0): token ratios 2, 1, 1, 1, 1
    /// (variance 0.16), sequence ratios √2 and 1 (variance ((√2 − 1) / 2)²).
    @Test func tokenAndSequenceRatioVariancesOnAHandExample() {
        let ln2 = Float(log(2.0))
        let (_, d) = TokenPolicyLoss.clippedSurrogate(
            logProbs: Tensor([ln2, 0, 0, 0, 0, 0], shape: [2, 3]), oldLogProbs: Tensor.zeros([2, 3]),
            advantages: Tensor([1, -1], shape: [2, 1]), mask: Tensor([1, 1, 0, 1, 1, 1], shape: [2, 3]),
            clipLow: 0.2, clipHigh: 0.2, ratio: .sequence)
        #expect(abs(d.tokenRatioVariance - 0.16) < 1e-6, "\(d)")
        let half = (2.0.squareRoot() - 1) / 2
        #expect(abs(d.sequenceRatioVariance - half * half) < 1e-6, "\(d)")
    }
}
