// What to do with a response that ran into the generation budget (DAPO section 3.4). With budget
// L_max (the sampling limit) and a window L_cache before it:
//   none        nothing: a truncated answer is scored like any other
//   softPenalty reward += 0 for |y| ≤ L_max − L_cache, ((L_max − L_cache) − |y|) / L_cache inside
//               the window (0 down to −1), −1 beyond L_max (DAPO's overlong reward shaping)
//   mask        a response cut by the limit (no stop token) is left out of the loss (DAPO's overlong
//               filtering): it keeps its place in its group's advantages, but its tokens weigh 0
public enum OverlongHandling: String, Codable, Sendable, CaseIterable {
    case none
    case softPenalty
    case mask
}

public struct OverlongShaping: Codable, Sendable, Equatable {
    public var handling = OverlongHandling.none
    /// L_cache, in tokens.
    public var window = 16

    public init(handling: OverlongHandling = .none, window: Int = 16) {
        (self.handling, self.window) = (handling, window)
    }

    /// The reward change of a response of `length` tokens under budget `budget` (softPenalty only).
    public func penalty(length: Int, budget: Int) -> Float {
        guard handling == .softPenalty else { return 0 }
        let safe = budget - window
        if length <= safe { return 0 }
        if length <= budget { return Float(safe - length) / Float(window) }
        return -1
    }

    /// Whether a response's tokens count in the loss.
    public func keepsInLoss(stopped: Bool) -> Bool { handling != .mask || stopped }
}
