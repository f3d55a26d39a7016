// The critic-free advantage of every sample of a group of G answers to one prompt, one rule per
// paper. r are the group's rewards, in the order the rollout holds them (prompt-major).
//   grpo     A_i = (r_i − mean r) / (std r + ε)          DeepSeekMath (std with Bessel's correction, as TRL)
//   drGRPO   A_i = r_i − mean r                            Dr. GRPO: no division, no difficulty bias
//   rloo     A_i = r_i − mean_{j≠i} r_j = G/(G−1) (r_i − mean r)   leave-one-out (Ahmadian et al. 2024)
//   gapo     A_i = (r_i − Q) / (std r + ε), Q the median of the group's highest-density interval:
//            the narrowest window of sorted rewards holding ⌈share · G⌉ of them (the lowest such
//            window on a tie), so a few large outliers move the baseline far less than the mean
//            (Zhang et al. 2025, GAPO; REFERENCE.md section 6)
// The first two are PolicyGradient's GroupAdvantages (pinned to TRL by a fixture). A group whose
// rewards are all equal gets A = 0 under every rule: nothing to learn from it (DAPO's dynamic
// sampling replaces such groups).
import LabSupport
import PolicyGradient

public enum AdvantageRule: String, Codable, Sendable, CaseIterable {
    case grpo
    case drGRPO
    case rloo
    case gapo
}

public struct GroupBaseline: Codable, Sendable, Equatable {
    public var rule = AdvantageRule.grpo
    /// ε added to the std (TRL: 1e-4).
    public var epsilon: Float = 1e-4
    /// GAPO: the share of the group its highest-density interval holds.
    public var hdiShare = 0.5

    public init(rule: AdvantageRule = .grpo) { self.rule = rule }

    /// Errors name the key under `prefix`.
    public func check(_ prefix: String) throws {
        if !(epsilon >= 0 && epsilon.isFinite) {
            throw LabError(.config, "\(prefix).epsilon: \(epsilon) must be finite and >= 0")
        }
        if !(hdiShare > 0 && hdiShare <= 1) {
            throw LabError(.config, "\(prefix).hdiShare: \(hdiShare) must be in (0, 1]")
        }
    }

    /// One advantage per reward; rewards in groups of `g` consecutive ones.
    public func advantages(_ rewards: [Float], groupSize g: Int) -> [Float] {
        precondition(g >= 1 && rewards.count % g == 0, "GroupBaseline: \(rewards.count) rewards in groups of \(g)")
        switch rule {
        case .grpo: return GroupAdvantages.compute(rewards: rewards, groupSize: g, scaleByStd: true, eps: epsilon)
        case .drGRPO: return GroupAdvantages.compute(rewards: rewards, groupSize: g, scaleByStd: false)
        case .rloo:
            guard g > 1 else { return [Float](repeating: 0, count: rewards.count) }
            let centred = GroupAdvantages.compute(rewards: rewards, groupSize: g, scaleByStd: false)
            return centred.map { $0 * Float(g) / Float(g - 1) }
        case .gapo:
            var out: [Float] = []
            for start in stride(from: 0, to: rewards.count, by: g) {
                let group = rewards[start..<(start + g)].map(Double.init)
                let q = Self.hdiMedian(group, share: hdiShare)
                let mean = group.reduce(0, +) / Double(g)
                let variance = g > 1 ? group.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(g - 1) : 0
                let scale = 1 / (variance.squareRoot() + Double(epsilon))
                out += group.map { Float(($0 - q) * scale) }
            }
            return out
        }
    }

    /// The median of the narrowest window of sorted values holding ⌈share · n⌉ of them.
    public static func hdiMedian(_ values: [Double], share: Double) -> Double {
        let sorted = values.sorted()
        let n = sorted.count
        let k = Swift.min(n, Swift.max(1, Int((share * Double(n)).rounded(.up))))
        var start = 0
        for s in 0...(n - k) where sorted[s + k - 1] - sorted[s] < sorted[start + k - 1] - sorted[start] {
            start = s
        }
        let window = sorted[start..<(start + k)]
        let mid = start + k / 2
        return k % 2 == 1 ? window[mid] : (window[mid - 1] + window[mid]) / 2
    }

    /// How many groups have rewards that are all equal.
    public static func zeroVarianceGroups(_ rewards: [Float], groupSize g: Int) -> Int {
        stride(from: 0, to: rewards.count, by: g).count { start in
            rewards[start..<(start + g)].allSatisfy { $0 == rewards[start] }
        }
    }
}
