// The simulated human rater of the preference world: it ranks a prompt's K responses by their true
// reward (VADER), with Bradley-Terry noise of temperature τ:
//   τ = 0   the truly better response always wins (ties: the earlier one);
//   τ > 0   the ranking is drawn from the Plackett-Luce model with weights exp(r / τ): best first,
//           each place taken with probability exp(r_i / τ) / Σ_{j left} exp(r_j / τ). For K = 2 that
//           is exactly Bradley-Terry, P(a ≻ b) = σ((r_a − r_b) / τ), the model the reward model fits.
// The Bayes ceiling is the best agreement with the noisy labels any predictor can reach:
//   E[max(p, 1 − p)], p = σ(Δ / τ) over the pairs' true-reward differences Δ (1 at τ = 0, minus
//   the share of exact ties, which a predictor can only guess).
import Foundation
import LabSupport
import TensorCore

public struct SimulatedAnnotator: Sendable, Equatable, Codable {
    /// τ, in units of the true reward (VADER's compound, in [-1, 1]).
    public var temperature: Double

    public init(temperature: Double) throws {
        guard temperature >= 0 && temperature.isFinite else {
            throw LabError(.config, "annotator.temperature: \(temperature) must be finite and >= 0")
        }
        self.temperature = temperature
    }

    /// Indices 0..<K, best first.
    public func rank(_ trueRewards: [Double], rng: inout RNG) -> [Int] {
        if temperature == 0 {
            return trueRewards.indices.sorted {
                trueRewards[$0] > trueRewards[$1] || (trueRewards[$0] == trueRewards[$1] && $0 < $1)
            }
        }
        var left = Array(trueRewards.indices)
        var ranking: [Int] = []
        while !left.isEmpty {
            // Softmax over the remaining ones, shifted by their maximum for exp's range.
            let top = left.map { trueRewards[$0] }.max()!
            let weights = left.map { Foundation.exp((trueRewards[$0] - top) / temperature) }
            var u = rng.uniformDouble() * weights.reduce(0, +)
            var pick = left.count - 1
            for (k, w) in weights.enumerated() {
                if u < w {
                    pick = k
                    break
                }
                u -= w
            }
            ranking.append(left.remove(at: pick))
        }
        return ranking
    }

    /// P(a ≻ b) under this annotator.
    public func preferenceProbability(_ a: Double, over b: Double) -> Double {
        if temperature == 0 { return a > b ? 1 : a < b ? 0 : 0.5 }
        return 1 / (1 + Foundation.exp(-(a - b) / temperature))
    }

    /// The Bayes ceiling of label accuracy over pairs with these true-reward differences.
    public func bayesCeiling(differences: [Double]) -> Double {
        guard !differences.isEmpty else { return .nan }
        return differences.map { d in
            let p = preferenceProbability(d, over: 0)
            return Swift.max(p, 1 - p)
        }.reduce(0, +) / Double(differences.count)
    }
}
