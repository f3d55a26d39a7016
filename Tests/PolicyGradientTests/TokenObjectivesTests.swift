// The token-level objectives: TRL's own formulas (GRPO / Dr. GRPO / DAPO / GSPO / GSPO-token losses
// with their gradients and clip metrics, group advantages, PPO's value loss and GAE on text) through
// the fixture Scripts/reference/token_objectives.py computed with PyTorch; hand-computed cases;
// and the invariants: micro-batches add up to the batch, GSPO on one-token outputs is GRPO.
import Foundation
import PolicyGradient
import TensorCore
import TestSupport
import Testing

/// The fixture's loss types as aggregations (B sequences, TRL's max_completion_length 8).
func aggregation(_ lossType: String, batch: Int) -> LossAggregation {
    switch lossType {
    case "grpo": .sequenceMeanTokenMean
    case "dr_grpo": .constant(Float(batch * 8))
    default: .tokenMean  // bnpo, dapo
    }
}

@Suite struct TokenObjectivesTests {
    let fixture: ReferenceFixture

    init() throws { fixture = try ReferenceFixture("token_objectives.json") }

    @Test(arguments: [
        "grpo_token_beta", "bnpo_token_clip_higher", "dr_grpo_token", "dapo_token", "gspo_sequence",
        "gspo_sequence_beta", "gspo_token",
    ])
    func lossGradientAndClipMetricsEqualTRL(_ name: String) {
        let logps = fixture.tensor(name, "logps").requiringGrad()
        let (loss, diagnostics) = objective(name, logps: logps)
        #expect(abs(loss.item - fixture.tensor(name, "loss").item) < 1e-6, "loss \(loss.item)")
        loss.backward()
        let grad = fixture.tensor(name, "grad")
        #expect(logps.grad!.isClose(to: grad, atol: 1e-6), "max diff \(logps.grad!.maxAbsDifference(grad))")
        // Clipped shares per token (TRL's metric at token level; the GSPO paper's at sequence level).
        #expect(abs(diagnostics.clipLow - (fixture.parameter(name, "clip_low_tokens") as! Double)) < 1e-6)
        #expect(abs(diagnostics.clipHigh - (fixture.parameter(name, "clip_high_tokens") as! Double)) < 1e-6)
    }

    /// DAPO divides by the tokens of the whole batch, so two micro-batches that each divide by it
    /// add up to the batch: loss and every gradient.
    @Test(arguments: ["dapo_token", "grpo_token_beta", "dr_grpo_token"])
    func microBatchesAddUpToTheBatch(_ name: String) {
        let logps = fixture.tensor(name, "logps")
        let mask = fixture.tensor(name, "mask")
        let totals = LossAggregation.Totals(mask: mask)
        var loss: Float = 0
        var grads: [Tensor] = []
        for rows in [0..<2, 2..<6] {
            let part = logps.slice(axis: 0, rows).requiringGrad()
            let l = objective(name, logps: part, rows: rows, total: totals).loss
            l.backward()
            loss += l.item
            grads.append(part.grad!)
        }
        #expect(abs(loss - fixture.tensor(name, "loss").item) < 1e-6)
        #expect(concat(grads, axis: 0).isClose(to: fixture.tensor(name, "grad"), atol: 1e-6))
    }

    func objective(_ name: String, logps: Tensor, rows: Range<Int>? = nil, total: LossAggregation.Totals? = nil) -> (
        loss: Tensor, diagnostics: PolicyDiagnostics
    ) {
        let f = fixture
        func part(_ t: Tensor) -> Tensor { rows.map { t.slice(axis: 0, $0) } ?? t }
        let mask = part(f.tensor(name, "mask"))
        let level = f.parameter(name, "importance_sampling_level") as! String
        let (perToken, diagnostics) = TokenPolicyLoss.clippedSurrogate(
            logProbs: logps, oldLogProbs: part(f.tensor(name, "old_logps")),
            advantages: part(f.tensor(name, "advantages").reshaped([-1, 1])), mask: mask,
            clipLow: Float(f.parameter(name, "epsilon_low") as! Double),
            clipHigh: Float(f.parameter(name, "epsilon_high") as! Double),
            ratio: level == "token" ? .token : level == "sequence" ? .sequence : .sequenceToken)
        let beta = Float(f.parameter(name, "beta") as! Double)
        let kl = KLEstimator.k3.perToken(
            logProbs: logps, referenceLogProbs: part(f.tensor(name, "ref_logps")), mask: mask)
        let lossType = f.parameter(name, "loss_type") as! String
        return (aggregation(lossType, batch: 6).reduce(perToken + kl * beta, mask: mask, total: total), diagnostics)
    }

    @Test(arguments: ["group", "none"])
    func groupAdvantagesEqualTRL(_ scale: String) {
        let name = "group_advantages_\(scale)"
        let ours = GroupAdvantages.compute(
            rewards: fixture.tensor(name, "rewards").array, groupSize: 4, scaleByStd: scale == "group")
        let theirs = fixture.tensor(name, "advantages").array
        for (a, b) in zip(ours, theirs) { #expect(abs(a - b) < 1e-5, "\(ours) vs \(theirs)") }
    }

    @Test func valueLossEqualsTRLsPPO() {
        let n = "ppo_value_loss"
        let vpred = fixture.tensor(n, "vpred").requiringGrad()
        let mask = fixture.tensor(n, "mask")
        let errors = TokenValueLoss.squaredErrors(
            values: vpred, oldValues: fixture.tensor(n, "values"), returns: fixture.tensor(n, "returns"), mask: mask,
            clip: 0.2, clipped: true)
        let loss = LossAggregation.tokenMean.reduce(errors, mask: mask) * 0.5
        #expect(abs(loss.item - fixture.tensor(n, "loss").item) < 1e-6)
        loss.backward()
        #expect(vpred.grad!.isClose(to: fixture.tensor(n, "grad"), atol: 1e-6))
    }

    @Test(arguments: ["ppo_gae_1.0_0.95", "ppo_gae_0.99_0.9"])
    func tokenGAEEqualsTRLsPPOLoop(_ n: String) {
        let lengths = fixture.parameter(n, "lengths") as! [Int]
        let (a, r) = GAE.tokenAdvantages(
            rewards: fixture.tensor(n, "rewards").array, values: fixture.tensor(n, "values").array, lengths: lengths,
            truncated: lengths.map { _ in false }, gamma: Float(fixture.parameter(n, "gamma") as! Double),
            lambda: Float(fixture.parameter(n, "lam") as! Double))
        #expect(Tensor(a).isClose(to: fixture.tensor(n, "advantages").reshaped([-1]), atol: 1e-5))
        #expect(Tensor(r).isClose(to: fixture.tensor(n, "returns").reshaped([-1]), atol: 1e-5))
    }
}

@Suite struct TokenObjectiveHandTests {
    let losses = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
    let mask = Tensor([1, 1, 0, 1, 0, 0], shape: [2, 3])

    @Test func aggregationsAsWrittenOut() {
        #expect(LossAggregation.sequenceMeanTokenMean.reduce(losses, mask: mask).item == (1.5 + 4) / 2)
        #expect(abs(LossAggregation.tokenMean.reduce(losses, mask: mask).item - 7.0 / 3) < 1e-6)
        #expect(abs(LossAggregation.constant(6).reduce(losses, mask: mask).item - 7.0 / 6) < 1e-6)
        // Two sequences of one micro-batch of a batch of four with 10 tokens.
        let totals = LossAggregation.Totals(sequences: 4, tokens: 10)
        #expect(LossAggregation.sequenceMeanTokenMean.reduce(losses, mask: mask, total: totals).item == 5.5 / 4)
        #expect(abs(LossAggregation.tokenMean.reduce(losses, mask: mask, total: totals).item - 0.7) < 1e-6)
    }

    @Test func clipHigherClipsEachSideAtItsOwnEpsilon() {
        // Token 1: r = e^0.5 > 1.28 with A = 1: clipped at 1.28. Token 2: r = e^-0.5 < 0.8 with
        // A = -1: clipped at 0.8. Token 3: r = e^0.1, inside: -r A.
        let old = Tensor([0, 0, 0], shape: [1, 3])
        let new = Tensor([0.5, -0.5, 0.1], shape: [1, 3]).requiringGrad()
        let a = Tensor([1, -1, 1], shape: [1, 3])
        let (perToken, d) = TokenPolicyLoss.clippedSurrogate(
            logProbs: new, oldLogProbs: old, advantages: a, mask: Tensor.ones([1, 3]), clipLow: 0.2, clipHigh: 0.28)
        #expect(abs(perToken[0, 0] + 1.28) < 1e-6 && abs(perToken[0, 1] - 0.8) < 1e-6)
        #expect(abs(perToken[0, 2] + expf(0.1)) < 1e-6)
        #expect(abs(d.clipHigh - 1.0 / 3) < 1e-9 && abs(d.clipLow - 1.0 / 3) < 1e-9)
        perToken.sum().backward()
        #expect(new.grad!.array[0] == 0 && new.grad!.array[1] == 0, "clipped tokens pass no gradient")
        #expect(abs(new.grad!.array[2] + expf(0.1)) < 1e-6)
    }

    @Test func theSequenceRatioIsTheLengthNormalisedLikelihoodRatio() {
        let new = Tensor([0.1, 0.3, 9], shape: [1, 3])
        let (_, d) = TokenPolicyLoss.clippedSurrogate(
            logProbs: new, oldLogProbs: Tensor.zeros([1, 3]), advantages: Tensor([1], shape: [1, 1]),
            mask: Tensor([1, 1, 0], shape: [1, 3]), clipLow: 0.5, clipHigh: 0.5, ratio: .sequence)
        #expect(abs(d.ratioMean - exp(0.2)) < 1e-6, "exp(mean(0.1, 0.3)); the padded 9 is ignored")
    }

    /// The diagnostics of a batch's parts pooled are the whole batch's (the parts of an
    /// accumulated or data-parallel step), for every ratio; one part is returned unchanged.
    @Test(arguments: ImportanceRatio.allCases)
    func pooledDiagnosticsOfThePartsAreTheBatchs(kind: ImportanceRatio) {
        var rng = RNG(seed: 2)
        let (b, t) = (7, 5)
        let old = Tensor.randn([b, t], std: 0.5, rng: &rng)
        let new = old + Tensor.randn([b, t], std: 0.3, rng: &rng)
        let a = Tensor.randn([b, 1], rng: &rng)
        let maskValues = (0..<b).flatMap { i in (0..<t).map { j in Float(j < [5, 3, 1, 4, 0, 2, 5][i] ? 1 : 0) } }
        func diagnostics(_ rows: Range<Int>) -> PolicyDiagnostics {
            func pick(_ x: Tensor, _ width: Int) -> Tensor {
                Tensor(rows.flatMap { i in x.array[(i * width)..<((i + 1) * width)] }, shape: [rows.count, width])
            }
            return TokenPolicyLoss.clippedSurrogate(
                logProbs: pick(new, t), oldLogProbs: pick(old, t), advantages: pick(a, 1),
                mask: pick(Tensor(maskValues, shape: [b, t]), t), clipLow: 0.01, clipHigh: 0.02, ratio: kind
            ).diagnostics
        }
        let whole = diagnostics(0..<b)
        #expect(PolicyDiagnostics.pooled([whole]) == whole)
        let pooled = PolicyDiagnostics.pooled([diagnostics(0..<2), diagnostics(2..<5), diagnostics(5..<7)])
        #expect(pooled.tokens == 20 && pooled.sequences == 6 && whole.tokens == 20 && whole.sequences == 6)
        let pairs: [(Double, Double)] = [
            (pooled.clipLow, whole.clipLow), (pooled.clipHigh, whole.clipHigh), (pooled.ratioMean, whole.ratioMean),
            (pooled.ratioMin, whole.ratioMin), (pooled.ratioMax, whole.ratioMax),
            (pooled.approxKL1, whole.approxKL1), (pooled.approxKL3, whole.approxKL3),
            (pooled.tokenRatioVariance, whole.tokenRatioVariance),
            (pooled.sequenceRatioVariance, whole.sequenceRatioVariance),
            (pooled.tokenRatioMean, whole.tokenRatioMean), (pooled.sequenceRatioMean, whole.sequenceRatioMean),
        ]
        for (i, (x, y)) in pairs.enumerated() { #expect(abs(x - y) < 1e-12, "diagnostic \(i): \(x) vs \(y)") }
        #expect(whole.clipFraction > 0 && whole.tokenRatioVariance > 0, "the case exercises the clip and the spread")
    }

    /// With one-token outputs the sequence ratio is the token ratio: GSPO is GRPO.
    @Test func gspoOnOneTokenOutputsEqualsGRPO() {
        var rng = RNG(seed: 1)
        let old = Tensor.randn([5, 1], std: 0.5, rng: &rng)
        let start = (old + Tensor.randn([5, 1], std: 0.3, rng: &rng)).array
        let a = Tensor.randn([5, 1], rng: &rng)
        var results: [(Float, [Float])] = []
        for kind in ImportanceRatio.allCases {
            let new = Tensor(start, shape: [5, 1]).requiringGrad()
            let (perToken, _) = TokenPolicyLoss.clippedSurrogate(
                logProbs: new, oldLogProbs: old, advantages: a, mask: Tensor.ones([5, 1]), clipLow: 0.2, clipHigh: 0.2,
                ratio: kind)
            let loss = LossAggregation.sequenceMeanTokenMean.reduce(perToken, mask: Tensor.ones([5, 1]))
            loss.backward()
            results.append((loss.item, new.grad!.array))
        }
        for r in results.dropFirst() {
            #expect(abs(r.0 - results[0].0) < 1e-6)
            for (x, y) in zip(r.1, results[0].1) { #expect(abs(x - y) < 1e-6) }
        }
    }

    @Test func klEstimatorsOnHandValues() {
        let logp = Tensor([0.5, 0], shape: [1, 2]).requiringGrad()
        let ref = Tensor.zeros([1, 2])
        let mask = Tensor([1, 0], shape: [1, 2])
        #expect(KLEstimator.k1.perToken(logProbs: logp, referenceLogProbs: ref, mask: mask).array == [0.5, 0])
        #expect(KLEstimator.k2.perToken(logProbs: logp, referenceLogProbs: ref, mask: mask).array == [0.125, 0])
        let k3 = KLEstimator.k3.perToken(logProbs: logp, referenceLogProbs: ref, mask: mask)
        #expect(abs(k3.array[0] - (expf(-0.5) + 0.5 - 1)) < 1e-7)
        k3.sum().backward()
        #expect(abs(logp.grad!.array[0] - (1 - expf(-0.5))) < 1e-6, "d k3 / d logp = 1 - pi_ref / pi")
    }

    @Test func groupAdvantagesOfAnAllEqualGroupAreZero() {
        let a = GroupAdvantages.compute(rewards: [1, 1, 1, 0, 1, 0], groupSize: 3, scaleByStd: true)
        #expect(Array(a.prefix(3)) == [0, 0, 0])
        // Group (0, 1, 0): mean 1/3, unbiased std sqrt(1/3).
        #expect(abs(a[4] - Float((2.0 / 3) / ((1.0 / 3).squareRoot() + 1e-4))) < 1e-5)
    }

    @Test func tokenGAEBootstrapsATruncatedSequenceOnly() {
        // Two sequences of length 2, padded to 3: the first cut by the length limit (bootstrap 0.4),
        // the second ended by its stop token. gamma = lambda = 1.
        let (a, r) = GAE.tokenAdvantages(
            rewards: [0, 1, 7, 0, 1, 7], values: [0.5, 0.2, 9, 0.5, 0.2, 9], lengths: [2, 2], truncated: [true, false],
            bootstrapValues: [0.4, 0.4], gamma: 1, lambda: 1)
        // Truncated: delta_1 = 1 + 0.4 - 0.2 = 1.2, A_0 = (0 + 0.2 - 0.5) + 1.2 = 0.9. Stopped: 0.8, 0.5.
        for (x, y) in zip(a, [0.9, 1.2, 0, 0.5, 0.8, 0] as [Float]) { #expect(abs(x - y) < 1e-6, "\(a)") }
        for (x, y) in zip(r, [1.4, 1.4, 0, 1, 1, 0] as [Float]) { #expect(abs(x - y) < 1e-6, "\(r)") }
        let noBootstrap = GAE.tokenAdvantages(
            rewards: [0, 1, 7], values: [0.5, 0.2, 9], lengths: [2], truncated: [true], gamma: 1, lambda: 1)
        #expect(abs(noBootstrap.advantages[1] - 0.8) < 1e-6, "TRL's choice: no bootstrap at the length limit")
    }
}
