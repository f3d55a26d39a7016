// GRPO's pieces on hand examples: each advantage rule (groups of unequal lengths in the loss), each
// aggregation's weights, their agreement up to a constant with one-token answers, REINFORCE with
// the group baseline at ratio 1 and β = 0, the k3 term's value and gradient, clip-higher,
// DAPO's overlong shaping, and the skewed reward's outliers.
import Foundation
import GRPO
import LabSupport
import PolicyGradient
import TensorCore
import Testing

@Suite struct GRPOPiecesTests {
    @Test func eachAdvantageRuleOnAHandGroup() {
        let r: [Float] = [1, 0, 0, 1, 0, 0, 0, 1]  // two groups of 4
        let mean1 = 0.5
        let std1 = (4 * 0.25 / 3).squareRoot()  // Bessel
        let grpo = GroupBaseline(rule: .grpo).advantages(r, groupSize: 4)
        #expect(abs(Double(grpo[0]) - (1 - mean1) / (std1 + 1e-4)) < 1e-5)
        let dr = GroupBaseline(rule: .drGRPO).advantages(r, groupSize: 4)
        #expect(dr[0] == 0.5 && dr[1] == -0.5 && dr[7] == 0.75 && dr[4] == -0.25)
        // RLOO: r_i minus the mean of the other three.
        let rloo = GroupBaseline(rule: .rloo).advantages(r, groupSize: 4)
        #expect(abs(rloo[0] - (1 - 1.0 / 3)) < 1e-6 && abs(rloo[1] - (0 - 2.0 / 3)) < 1e-6)
        #expect(abs(rloo[7] - 1) < 1e-6 && abs(rloo[4] - (0 - 1.0 / 3)) < 1e-6)
        // Equal rewards: no signal under any rule.
        for rule in AdvantageRule.allCases {
            #expect(GroupBaseline(rule: rule).advantages([1, 1, 1], groupSize: 3) == [0, 0, 0], "\(rule)")
        }
        #expect(GroupBaseline.zeroVarianceGroups([1, 1, 0, 1, 0.5, 0.5], groupSize: 2) == 2)
    }

    @Test func gapoTakesTheMedianOfTheNarrowestHalf() {
        // Sorted: 0, 0.1, 0.1, 0.2, 0.9, 5, 8, 10; half = 4 values; narrowest window [0, 0.2] -> median 0.1.
        #expect(abs(GroupBaseline.hdiMedian([10, 0.1, 0, 5, 0.2, 8, 0.1, 0.9], share: 0.5) - 0.1) < 1e-12)
        #expect(GroupBaseline.hdiMedian([3, 1, 2], share: 1) == 2)
        #expect(GroupBaseline.hdiMedian([4, 4.5, 9], share: 0.5) == 4.25)  // window of 2: [4, 4.5]
        var b = GroupBaseline(rule: .gapo)
        b.hdiShare = 0.5
        let r: [Float] = [0, 0, 0, 0, 0, 0, 0, 10]  // one outlier
        let a = b.advantages(r, groupSize: 8)
        // Q = 0, so the seven zeros get exactly 0 and only the outlier is pushed (GRPO's mean would
        // push all seven down).
        #expect(a.prefix(7).allSatisfy { $0 == 0 } && a[7] > 0)
        #expect(GroupBaseline(rule: .grpo).advantages(r, groupSize: 8)[0] < 0)
    }

    /// Two sequences of lengths 3 and 1 (B = 2, T = 3); per-token loss weights by hand.
    @Test func eachAggregationWeighsTokensAsWritten() {
        let mask = Tensor([1, 1, 1, 1, 0, 0], shape: [2, 3])
        let advantages: [Float] = [1, -2]
        for (aggregation, weights) in [
            (GRPOAggregation.grpo, [Float(1.0 / 6), 1.0 / 6, 1.0 / 6, 0.5]),  // 1/(B |o_i|)
            (.dapo, [0.25, 0.25, 0.25, 0.25]),  // 1/N tokens
            (.drGRPO, [0.1, 0.1, 0.1, 0.1]),  // 1/(B * budget 5)
        ] as [(GRPOAggregation, [Float])] {
            var loss = GRPOLoss()
            (loss.aggregation, loss.beta) = (aggregation, 0)
            let logProbs = Tensor([-1, -2, -0.5, -3, 0, 0], shape: [2, 3])
            logProbs.requiresGrad = true
            let out = loss(
                logProbs: logProbs, oldLogProbs: logProbs.detach().copy(), referenceLogProbs: nil,
                advantages: advantages, mask: mask, budget: 5)
            out.loss.backward()
            // At ratio 1 and β = 0 the gradient is REINFORCE's: −A_i · weight_it.
            let g = logProbs.grad!.array
            let owner = [0, 0, 0, 1]  // which sequence each real token belongs to
            var expected = [Float](repeating: 0, count: 6)
            for k in 0..<4 { expected[k] = -advantages[owner[k]] * weights[k] }
            #expect(zip(g, expected).allSatisfy { abs($0 - $1) < 1e-6 }, "\(aggregation): \(g) vs \(expected)")
            #expect(out.diagnostics.ratioMean == 1 && out.diagnostics.clipFraction == 0)
            // The loss's value: −Σ w A (ratio 1).
            let firstWeight: Float = weights[0] + weights[1] + weights[2]
            let value: Float = -(advantages[0] * firstWeight + advantages[1] * weights[3])
            #expect(abs(out.loss.item - value) < 1e-6, "\(aggregation)")
        }
    }

    @Test func withOneTokenAnswersTheAggregationsAgreeUpToTheirConstant() {
        let mask = Tensor([1, 1, 1, 1], shape: [4, 1])
        let logProbs = Tensor([-0.1, -0.7, -1.2, -0.4], shape: [4, 1])
        let old = Tensor([-0.2, -0.6, -1.0, -0.5], shape: [4, 1])
        let values = GRPOAggregation.allCases.map { aggregation -> Float in
            var loss = GRPOLoss()
            (loss.aggregation, loss.beta) = (aggregation, 0)
            return loss(
                logProbs: logProbs, oldLogProbs: old, referenceLogProbs: nil, advantages: [1, -1, 0.5, -0.5],
                mask: mask, budget: 8
            ).loss.item
        }
        // grpo and dapo both divide by 4 here; Dr. GRPO by B x budget = 32.
        #expect(abs(values[0] - values[1]) < 1e-7 && abs(values[2] * 8 - values[0]) < 1e-6)
    }

    @Test func theK3TermByHand() {
        let mask = Tensor([1, 1], shape: [1, 2])
        let logProbs = Tensor([-1, -2], shape: [1, 2])
        logProbs.requiresGrad = true
        let reference = Tensor([-1.5, -1], shape: [1, 2])
        var loss = GRPOLoss()
        (loss.beta, loss.aggregation) = (0.5, .dapo)
        let out = loss(
            logProbs: logProbs, oldLogProbs: logProbs.detach().copy(), referenceLogProbs: reference, advantages: [0],
            mask: mask, budget: 2)
        out.loss.backward()
        // k3 = e^(ref−lp) − (ref−lp) − 1; d/d lp = 1 − e^(ref−lp); loss = β · mean.
        let d = [-0.5, 1.0]
        let k3 = d.map { exp($0) - $0 - 1 }
        #expect(abs(out.kl! - (k3[0] + k3[1]) / 2) < 1e-6)
        #expect(abs(Double(out.loss.item) - 0.5 * (k3[0] + k3[1]) / 2) < 1e-6)
        let grad = logProbs.grad!.array
        for j in 0..<2 { #expect(abs(Double(grad[j]) - 0.5 * 0.5 * (1 - exp(d[j]))) < 1e-6) }
    }

    @Test func clipHigherClipsExactlyWhereItShould() {
        // Ratios 1.25 and 0.7 with positive and negative advantages; ε_low 0.2, ε_high 0.28.
        let mask = Tensor([1, 1, 1, 1], shape: [2, 2])
        let old = Tensor([0, 0, 0, 0], shape: [2, 2])
        let logProbs = Tensor([Float(log(1.25)), Float(log(0.7)), Float(log(1.3)), Float(log(0.79))], shape: [2, 2])
        logProbs.requiresGrad = true
        var loss = GRPOLoss()
        (loss.clipLow, loss.clipHigh, loss.beta, loss.aggregation) = (0.2, 0.28, 0, .dapo)
        let out = loss(
            logProbs: logProbs, oldLogProbs: old, referenceLogProbs: nil, advantages: [1, -1], mask: mask, budget: 2)
        out.loss.backward()
        let g = logProbs.grad!.array
        // Row 0 (A = 1): 1.25 < 1.28 is not clipped (it would be at ε 0.2); 0.7 below 0.8 with A > 0
        // is not clipped either (min keeps the lower objective). Row 1 (A = −1): 1.3 > 1.28 is not
        // clipped for A < 0; 0.79 < 0.8 with A < 0 is clipped: no gradient.
        #expect(g[0] != 0 && g[1] != 0 && g[2] != 0 && g[3] == 0)
        #expect(out.diagnostics.clipLow == 0.25 && out.diagnostics.clipHigh == 0)
        var symmetric = loss
        symmetric.clipHigh = 0.2
        let logProbs2 = logProbs.detach().copy()
        logProbs2.requiresGrad = true
        symmetric(
            logProbs: logProbs2, oldLogProbs: old, referenceLogProbs: nil, advantages: [1, -1], mask: mask, budget: 2
        )
        .loss.backward()
        #expect(logProbs2.grad!.array[0] == 0)  // at ε_high 0.2, 1.25 > 1.2 with A > 0 is clipped
    }

    @Test func overlongShaping() {
        let soft = OverlongShaping(handling: .softPenalty, window: 4)
        #expect(soft.penalty(length: 12, budget: 16) == 0)
        #expect(soft.penalty(length: 14, budget: 16) == -0.5)
        #expect(soft.penalty(length: 16, budget: 16) == -1)
        #expect(soft.penalty(length: 17, budget: 16) == -1)
        #expect(OverlongShaping().penalty(length: 16, budget: 16) == 0)
        let mask = OverlongShaping(handling: .mask)
        #expect(
            !mask.keepsInLoss(stopped: false) && mask.keepsInLoss(stopped: true) && soft.keepsInLoss(stopped: false))
    }

    /// The outliers are off by default, rare at the share asked for (20,000 answers: the binomial
    /// standard error is 0.0015), the bonus exactly, and a function of prompt and text alone.
    @Test func rewardOutliersAreRareExactAndRepeatable() {
        #expect(RewardOutliers().change(prompt: "What is 2 + 2?", response: "<answer>4</answer>") == 0)
        let outliers = RewardOutliers(share: 0.05, bonus: 5)
        let answers = (0..<20_000).map { ("What is \($0 % 97) + \($0 / 97)?", "<answer>\($0)</answer>") }
        let changes = answers.map { outliers.change(prompt: $0.0, response: $0.1) }
        #expect(Set(changes) == [0, 5])
        #expect(abs(Double(changes.count { $0 == 5 }) / 20_000 - 0.05) < 0.006)
        #expect(answers.map { outliers.change(prompt: $0.0, response: $0.1) } == changes)
        // The same answer to another prompt is another draw (about 2 x 5 % x 95 % of pairs differ).
        let moved = answers.prefix(2000).count {
            outliers.change(prompt: $0.0 + " ", response: $0.1) != outliers.change(prompt: $0.0, response: $0.1)
        }
        #expect(moved > 50 && moved < 400, "\(moved)")
        #expect(RewardOutliers(share: 1, bonus: 2).change(prompt: "p", response: "r") == 2)
    }
}

@Suite struct GRPOSettingsTests {
    /// Each setting out of range is a named error.
    @Test func badSettingsAreNamed() {
        let cases: [((inout GRPOSettings) -> Void, String)] = [
            ({ $0.baseline.hdiShare = 0 }, "grpo.baseline.hdiShare"),
            ({ $0.baseline.hdiShare = 1.5 }, "grpo.baseline.hdiShare"),
            ({ $0.baseline.epsilon = -1 }, "grpo.baseline.epsilon"),
            ({ $0.overlong = OverlongShaping(handling: .softPenalty, window: 0) }, "grpo.overlong.window"),
            ({ $0.overlong = OverlongShaping(handling: .softPenalty, window: 100) }, "grpo.overlong.window"),
            ({ $0.optimizer.learningRate = 0 }, "grpo.optimizer.learningRate"),
            ({ $0.rewardOutliers.share = 1.5 }, "grpo.rewardOutliers.share"),
            ({ $0.rewardOutliers.bonus = .infinity }, "grpo.rewardOutliers.bonus"),
        ]
        for (edit, key) in cases {
            var s = GRPOSettings()
            edit(&s)
            let error = #expect(throws: LabError.self) { try s.check() }
            #expect(error?.message.hasPrefix(key) == true, "\(key): \(String(describing: error))")
        }
    }
}
