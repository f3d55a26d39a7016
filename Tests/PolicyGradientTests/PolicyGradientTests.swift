// The policy-gradient pieces on hand-computed values: GAE through a termination and a
// truncation (bootstrapped or not), plain returns as lambda 1, the clipped surrogate and value
// losses with their gradients, the KL estimators and clip fraction, advantage normalisation and
// explained variance.
import Foundation
import PolicyGradient
import TensorCore
import TestSupport
import Testing

@Suite struct PolicyGradientTests {
    // One env, four steps: step 1 terminates, step 2 is truncated (V(final obs) = 10), then one
    // more step with V(next obs) = 3. gamma = lambda = 0.5.
    let rewards: [Float] = [1, 2, 3, 4]
    let values: [Float] = [0.5, 1, 1.5, 2]
    let ends = RolloutEnds(
        terminated: [false, true, false, false], truncated: [false, false, true, false],
        truncationValues: [0, 0, 10, 0])

    @Test func gaeThroughATerminationAndABootstrappedTruncation() {
        let (a, r) = GAE.advantages(
            rewards: rewards, values: values, ends: ends, lastValues: [3], envs: 1, gamma: 0.5, lambda: 0.5,
            bootstrapTruncation: true)
        // delta_3 = 4 + .5*3 - 2 = 3.5; delta_2 = 3 + .5*10 - 1.5 = 6.5 (episode ends: no A_3);
        // delta_1 = 2 - 1 = 1 (terminal); A_0 = (1 + .5*1 - .5) + .25 * A_1 = 1.25.
        #expect(a == [1.25, 1, 6.5, 3.5])
        #expect(r == [1.75, 2, 8, 5.5])
    }

    @Test func truncationAsTerminationDropsTheBootstrap() {
        let (a, _) = GAE.advantages(
            rewards: rewards, values: values, ends: ends, lastValues: [3], envs: 1, gamma: 0.5, lambda: 0.5,
            bootstrapTruncation: false)
        #expect(a == [1.25, 1, 1.5, 3.5])
    }

    @Test func lambdaOneGivesThePlainDiscountedReturns() {
        let (_, r) = GAE.advantages(
            rewards: rewards, values: values, ends: ends, lastValues: [3], envs: 1, gamma: 0.5, lambda: 1,
            bootstrapTruncation: true)
        // R_3 = 4 + .5*3; R_2 = 3 + .5*10; R_1 = 2; R_0 = 1 + .5 * R_1.
        #expect(r == [2, 2, 8, 5.5])
    }

    @Test func vectorisedLayoutKeepsEnvironmentsApart() {
        // Env 0 is the case above; env 1 gets reward 0 and value 0 throughout, last value 0.
        let interleaved = RolloutEnds(
            terminated: ends.terminated.flatMap { [$0, false] }, truncated: ends.truncated.flatMap { [$0, false] },
            truncationValues: ends.truncationValues.flatMap { [$0, 0] })
        let (a, _) = GAE.advantages(
            rewards: rewards.flatMap { [$0, 0] }, values: values.flatMap { [$0, 0] }, ends: interleaved,
            lastValues: [3, 0], envs: 2, gamma: 0.5, lambda: 0.5, bootstrapTruncation: true)
        #expect(a == [1.25, 0, 1, 0, 6.5, 0, 3.5, 0])
    }

    @Test func clippedSurrogateOnHandValuesAndItsGradient() {
        // Ratios 1.5, 0.5, 1.1 with advantages 1, 1, -1 and eps 0.2:
        // max(-A r, -A clip(r)) = -1.2 (clipped), -0.5, 1.1 -> mean -0.2; unclipped mean -0.3.
        let old: [Float] = [0, 0, 0]
        let newLogProbs = Tensor([logf(1.5), logf(0.5), logf(1.1)]).requiringGrad()
        let loss = PolicyLoss.surrogate(
            newLogProbs: newLogProbs, oldLogProbs: old, advantages: [1, 1, -1], clip: 0.2, clipped: true)
        #expect(abs(loss.item - -0.2) < 1e-6)
        loss.backward()
        // d/dlogp (-A r) = -A r; the clipped branch passes no gradient.
        let g = newLogProbs.grad!.array
        #expect(abs(g[0]) < 1e-7 && abs(g[1] - -0.5 / 3) < 1e-6 && abs(g[2] - 1.1 / 3) < 1e-6)
        let unclipped = PolicyLoss.surrogate(
            newLogProbs: Tensor([logf(1.5), logf(0.5), logf(1.1)]), oldLogProbs: old, advantages: [1, 1, -1],
            clip: 0.2, clipped: false)
        #expect(abs(unclipped.item - -0.3) < 1e-6)

        let d = PolicyLoss.diagnostics(newLogProbs: newLogProbs.array, oldLogProbs: old, clip: 0.2)
        let logs = [log(1.5), log(0.5), log(1.1)]
        #expect(abs(d.approxKL1 - -logs.reduce(0, +) / 3) < 1e-6)
        #expect(abs(d.approxKL3 - zip([1.5, 0.5, 1.1], logs).map { $0 - 1 - $1 }.reduce(0, +) / 3) < 1e-6)
        #expect(abs(d.clipFraction - 2.0 / 3) < 1e-12)
    }

    @Test func clippedValueLossOnHandValues() {
        // V = (1, 3), V_old = (0, 2.5), R = (2, 2), eps 0.2: unclipped errors (1, 1); clipped
        // values (0.2, 2.7) give (3.24, 0.49); the max per sample (3.24, 1) -> 0.5 * mean = 1.06.
        let v = Tensor([1, 3]).requiringGrad()
        let loss = PolicyLoss.value(values: v, oldValues: [0, 2.5], returns: [2, 2], clip: 0.2, clipped: true)
        #expect(abs(loss.item - 1.06) < 1e-6)
        loss.backward()
        // Sample 0 takes the clipped branch (no gradient: V - V_old = 1 is past eps);
        // sample 1 the unclipped one: 0.5 * 2 (V - R) / 2.
        #expect(abs(v.grad!.array[0]) < 1e-7 && abs(v.grad!.array[1] - 0.5) < 1e-6)
        let plain = PolicyLoss.value(
            values: Tensor([1, 3]), oldValues: [0, 2.5], returns: [2, 2], clip: 0.2, clipped: false)
        #expect(abs(plain.item - 0.5) < 1e-6)
    }

    @Test func advantageNormalisationUsesTheUnbiasedStd() {
        let n = AdvantageNormalization.normalized([1, 2, 3, 4])
        let std = Float((5.0 / 3).squareRoot())
        #expect(zip(n, [-1.5, -0.5, 0.5, 1.5].map { $0 / std }).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test func explainedVariance() {
        let returns: [Float] = [1, 2, 3, 4]
        #expect(ExplainedVariance.of(predictions: returns, targets: returns) == 1)
        #expect(ExplainedVariance.of(predictions: [2.5, 2.5, 2.5, 2.5], targets: returns) == 0)
        #expect(ExplainedVariance.of(predictions: [4, 3, 2, 1], targets: returns) < 0)
    }
}
