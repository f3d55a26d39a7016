// The reward model's losses against hand-computed values and gradients, K-wise equal to pairwise
// at K = 2, and the simulated annotator against the Bradley-Terry probability.
import Foundation
import RewardBPR
import TensorCore
import TestSupport
import Testing

func logSigmoid(_ x: Double) -> Double { -log(1 + exp(-x)) }
func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

@Suite struct PreferenceLossTests {
    /// Scores of 5 responses: prompt 0 ranks 0 > 1 > 2 (3 pairs), prompt 1 ranks 3 > 4 (1 pair).
    static let scores: [Double] = [1.0, 0.2, -0.5, 0.3, 0.9]
    static let pairs =
        PreferencePair.allPairs(ranking: [0, 1, 2], prompt: 0) + PreferencePair.allPairs(ranking: [3, 4], prompt: 1)

    /// The loss and d loss / d score from the formula, in Double.
    static func expected(weights: [Double], margins: [Double] = [0, 0, 0, 0], centering: Double = 0) -> (
        Double, [Double]
    ) {
        var loss = 0.0
        var grad = [Double](repeating: 0, count: 5)
        for (p, (w, m)) in zip(pairs, zip(weights, margins)) {
            let d = scores[p.winner] - scores[p.loser] - m
            loss -= w * logSigmoid(d)
            grad[p.winner] -= w * sigmoid(-d)
            grad[p.loser] += w * sigmoid(-d)
            let s = scores[p.winner] + scores[p.loser]
            loss += centering / 4 * s * s
            grad[p.winner] += centering / 4 * 2 * s
            grad[p.loser] += centering / 4 * 2 * s
        }
        return (loss, grad)
    }

    static func measured(_ loss: PreferenceLoss, pairs: [PreferencePair] = pairs) -> (Double, [Double], Double) {
        let t = Tensor(scores.map(Float.init), shape: [5])
        t.requiresGrad = true
        let (l, accuracy, _) = loss(scores: t, pairs: pairs)
        l.backward()
        return (Double(l.item), t.grad!.array.map(Double.init), accuracy)
    }

    @Test func eachVariantAgainstItsFormula() {
        let cases: [(PreferenceLoss, [PreferencePair], (Double, [Double]))] = [
            (PreferenceLoss(kind: .pairwise), Self.pairs, Self.expected(weights: [0.25, 0.25, 0.25, 0.25])),
            // K-wise: prompt 0's three pairs weigh 1/3 each, prompt 1's one pair 1, then / 2 prompts.
            (PreferenceLoss(kind: .kWise), Self.pairs, Self.expected(weights: [1.0 / 6, 1.0 / 6, 1.0 / 6, 0.5])),
            (
                PreferenceLoss(kind: .pairwise, centering: 0.01), Self.pairs,
                Self.expected(weights: [0.25, 0.25, 0.25, 0.25], centering: 0.01)
            ),
            (
                PreferenceLoss(kind: .margin),
                Self.pairs.enumerated().map { i, p in
                    var q = p
                    q.margin = [0.5, 0, 0.25, 1][i]
                    return q
                }, Self.expected(weights: [0.25, 0.25, 0.25, 0.25], margins: [0.5, 0, 0.25, 1])
            ),
        ]
        for (loss, pairs, (value, gradient)) in cases {
            let (l, g, accuracy) = Self.measured(loss, pairs: pairs)
            #expect(abs(l - value) < 1e-6, "\(loss.kind) loss \(l) vs \(value)")
            #expect(zip(g, gradient).allSatisfy { abs($0 - $1) < 1e-6 }, "\(loss.kind) gradient \(g) vs \(gradient)")
            #expect(accuracy == 0.75)  // 3 > 4 is the one pair the scores get wrong
        }
    }

    @Test func kWiseEqualsPairwiseAtKTwo() {
        let pairs = (0..<3).map { PreferencePair(winner: 2 * $0 % 5, loser: (2 * $0 + 1) % 5, prompt: $0) }
        let (a, ga, _) = Self.measured(PreferenceLoss(kind: .kWise), pairs: pairs)
        let (b, gb, _) = Self.measured(PreferenceLoss(kind: .pairwise), pairs: pairs)
        #expect(abs(a - b) < 1e-7 && zip(ga, gb).allSatisfy { abs($0 - $1) < 1e-7 })
    }

    @Test func marginsComeFromTheTrueRewardsAndNeverPushAgainstALabel() {
        let pairs = PreferencePair.allPairs(
            ranking: [2, 0, 1], prompt: 0, trueRewards: [0.5, 0.9, -0.1], marginScale: 2)
        // 2 ≻ 0: true -0.1 vs 0.5, a flipped label: margin 0. 2 ≻ 1: flipped: 0. 0 ≻ 1: 0.5 vs 0.9: 0.
        #expect(pairs.map(\.margin) == [0, 0, 0])
        let right = PreferencePair.allPairs(
            ranking: [1, 0, 2], prompt: 0, trueRewards: [0.5, 0.9, -0.1], marginScale: 2)
        #expect(zip(right.map(\.margin), [Float(0.8), 2.0, 1.2]).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test func theAnnotatorIsBradleyTerry() throws {
        var rng = RNG(seed: 4)
        let exact = try SimulatedAnnotator(temperature: 0)
        #expect(exact.rank([0.1, 0.7, -0.3, 0.7], rng: &rng) == [1, 3, 0, 2])
        let noisy = try SimulatedAnnotator(temperature: 0.5)
        // K = 2: P(0 ≻ 1) = σ((0.4 − 0.1) / 0.5) = 0.6457; 20,000 draws, 4 standard errors is 0.0135.
        let draws = 20_000
        let wins = (0..<draws).count { _ in noisy.rank([0.4, 0.1], rng: &rng) == [0, 1] }
        let p = sigmoid(0.3 / 0.5)
        #expect(abs(Double(wins) / Double(draws) - p) < 4 * (p * (1 - p) / Double(draws)).squareRoot())
        #expect(abs(noisy.preferenceProbability(0.4, over: 0.1) - p) < 1e-12)
        // K = 3, first place: exp(r_i / τ) / Σ exp(r_j / τ).
        let rewards = [0.4, 0.1, -0.6]
        let firsts = (0..<draws).map { _ in noisy.rank(rewards, rng: &rng)[0] }
        let z = rewards.map { exp($0 / 0.5) }.reduce(0, +)
        for i in 0..<3 {
            let q = exp(rewards[i] / 0.5) / z
            #expect(
                abs(Double(firsts.count { $0 == i }) / Double(draws) - q) < 4
                    * (q * (1 - q) / Double(draws)).squareRoot())
        }
        // The Bayes ceiling: 1 without noise (0.5 for a tie), E[max(p, 1 − p)] with it.
        #expect(exact.bayesCeiling(differences: [0.3, -0.2, 0]) == 2.5 / 3)
        #expect(abs(noisy.bayesCeiling(differences: [0.3, -0.3]) - p) < 1e-12)
        expectLabError(.config) { try SimulatedAnnotator(temperature: -1) }
    }
}
