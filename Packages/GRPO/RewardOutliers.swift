// A skewed reward for GAPO's setting (REFERENCE.md section 6): the reasoning world's rule reward
// with rare large outliers added, as a faulty or heavy-tailed grader would give them. A response
// gets `bonus` added with probability `share`, whether it is right or not; which responses do is
// a pure function of the prompt and the response's text (FNV-1a of both), so a rerun, a resume and
// every advantage rule see the same outliers. A group of 8 with one outlier of +5 has its mean
// pulled up by 5/8: under a mean baseline every other answer, right ones included, then looks
// worse than average; the median of the highest-density interval ignores the outlier.
import LabSupport

public struct RewardOutliers: Codable, Sendable, Equatable {
    /// Probability that a response's reward gets the bonus (0: off).
    public var share = 0.0
    public var bonus = 5.0

    public init(share: Double = 0, bonus: Double = 5) { (self.share, self.bonus) = (share, bonus) }

    public func check(_ prefix: String) throws {
        if !(0...1).contains(share) { throw LabError(.config, "\(prefix).share: \(share) must be in [0, 1]") }
        if !bonus.isFinite { throw LabError(.config, "\(prefix).bonus: \(bonus) must be finite") }
    }

    /// The reward change of `response` to `prompt`: `bonus` for the chosen few, else 0.
    public func change(prompt: String, response: String) -> Double {
        guard share > 0 else { return 0 }
        return Self.unitHash(prompt + "\u{0}" + response) < share ? bonus : 0
    }

    /// FNV-1a (64 bits) of the text's UTF-8 bytes, mapped to [0, 1).
    static func unitHash(_ text: String) -> Double {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return Double(h >> 11) / Double(1 << 53)
    }
}
