// Learning-rate schedules: linear warmup, then constant, cosine or linear decay to a floor
// (nanoGPT's warmup + cosine; CleanRL's linear annealing is warmup 0, linear, floor 0).
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

public struct LearningRateSchedule: Codable, Sendable, Equatable {
    public enum Decay: String, Codable, Sendable { case constant, cosine, linear }

    /// Learning rate after warmup.
    public var peak: Float
    /// Steps of linear warmup: step s < warmup uses peak * (s + 1) / warmup.
    public var warmupSteps: Int
    /// Total steps of the run; decay reaches `floor` at this step.
    public var totalSteps: Int
    public var decay: Decay
    /// Final learning rate of the decay.
    public var floor: Float

    public init(peak: Float, warmupSteps: Int = 0, totalSteps: Int = 1, decay: Decay = .constant, floor: Float = 0) {
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.decay = decay
        self.floor = floor
    }

    /// The learning rate for 0-based update `step`.
    public func callAsFunction(_ step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps) }
        let span = Swift.max(totalSteps - warmupSteps, 1)
        let progress = Swift.min(Float(step - warmupSteps) / Float(span), 1)
        switch decay {
        case .constant: return peak
        case .linear: return peak + (floor - peak) * progress
        case .cosine: return floor + 0.5 * (1 + cosf(Float.pi * progress)) * (peak - floor)
        }
    }
}
