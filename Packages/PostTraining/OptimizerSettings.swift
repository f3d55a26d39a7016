// The optimiser every post-training trainer uses, as one block of settings: AdamW (β1 0.9, β2,
// ε 1e-8; no weight decay on norms and biases), a learning rate with linear warmup then constant,
// cosine or linear decay to `minLearningRateRatio` of the peak over the run, and the global
// gradient norm clipped. SFT, the reward model, DPO and GRPO embed it under `optimizer`.
import LabSupport
import TensorCore

public struct OptimizerSettings: Codable, Sendable, Equatable {
    public var learningRate: Double
    public var warmupSteps: Int
    public var decay: LearningRateSchedule.Decay
    public var minLearningRateRatio: Double
    public var weightDecay: Double
    public var gradClip: Double
    public var beta2: Double

    public init(
        learningRate: Double, warmupSteps: Int = 10, decay: LearningRateSchedule.Decay = .cosine,
        minLearningRateRatio: Double = 0.1, weightDecay: Double = 0, gradClip: Double = 1, beta2: Double = 0.95
    ) {
        (self.learningRate, self.warmupSteps, self.decay) = (learningRate, warmupSteps, decay)
        (self.minLearningRateRatio, self.weightDecay, self.gradClip, self.beta2) = (
            minLearningRateRatio, weightDecay, gradClip, beta2
        )
    }

    /// Errors name the key under `prefix` ("sft.optimizer", ...).
    public func check(_ prefix: String) throws {
        if !(learningRate > 0 && learningRate.isFinite) {
            throw LabError(.config, "\(prefix).learningRate: \(learningRate) must be positive")
        }
        if warmupSteps < 0 { throw LabError(.config, "\(prefix).warmupSteps: \(warmupSteps) must be >= 0") }
        if !(0...1).contains(minLearningRateRatio) {
            throw LabError(.config, "\(prefix).minLearningRateRatio: \(minLearningRateRatio) must be within 0...1")
        }
        if !(weightDecay >= 0) { throw LabError(.config, "\(prefix).weightDecay: \(weightDecay) must be >= 0") }
        if !(gradClip > 0) { throw LabError(.config, "\(prefix).gradClip: \(gradClip) must be positive") }
        if !(beta2 > 0 && beta2 < 1) { throw LabError(.config, "\(prefix).beta2: \(beta2) must be in (0, 1)") }
    }

    public func adamW(_ parameters: [(name: String, tensor: Tensor)], noDecay: Set<String>) -> Adam {
        Adam.adamW(parameters, beta2: Float(beta2), eps: 1e-8, weightDecay: Float(weightDecay), noDecay: noDecay)
    }

    /// The learning rate of each update of a run of `totalSteps` updates.
    public func schedule(totalSteps: Int) -> LearningRateSchedule {
        LearningRateSchedule(
            peak: Float(learningRate), warmupSteps: warmupSteps, totalSteps: totalSteps, decay: decay,
            floor: Float(learningRate * minLearningRateRatio))
    }
}
