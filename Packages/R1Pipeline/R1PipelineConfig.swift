import ExperimentKit
import Foundation
import GRPO
// The r1-pipeline experiment's config: which stages run, in order, and each stage's settings.
// Every stage's run records the whole config (so a results file says what made it), but a
// finished stage is reused as long as its own section and its input are unchanged
// (R1Stage.section). The stages, in the DeepSeek-R1 paper's order (REFERENCE.md section 10):
//   zero                GRPO (or Dr. GRPO) from reasoning-base with rule rewards only: R1-Zero
//   cold-start-data     k samples per prompt from zero, kept by the cold-start filters
//   cold-start-sft      SFT of reasoning-base on those samples
//   reasoning-rl        RL with accuracy + format + λ·language-consistency rewards
//   rejection-sampling  k samples per prompt from reasoning-rl, kept when correct and in one
//                       language, plus preference-world SFT data (the "non-reasoning" part)
//   sft-2               SFT of reasoning-base again, on that mix
//   final-rl            rule rewards on reasoning prompts, the reward-bpr model on preference ones
//   distill             SFT of a smaller base (the student) on final-rl's samples, kept by the filters
//   student-rl          RL on the student base directly (R1: distillation beats it)
import LabSupport
import PostTraining

public enum R1Stage: String, Codable, Sendable, CaseIterable {
    case zero
    case coldStartData = "cold-start-data"
    case coldStartSFT = "cold-start-sft"
    case reasoningRL = "reasoning-rl"
    case rejectionSampling = "rejection-sampling"
    case sft2 = "sft-2"
    case finalRL = "final-rl"
    case distill
    case studentRL = "student-rl"

    /// What a stage reads from the stage before it: a trained policy, a data set, or nothing (the
    /// student's RL starts from the student base).
    var reads: Output {
        switch self {
        case .zero, .coldStartData, .reasoningRL, .rejectionSampling, .finalRL, .distill: .policy
        case .coldStartSFT, .sft2: .data
        case .studentRL: .none
        }
    }

    /// What a stage leaves for the next one.
    var writes: Output {
        switch self {
        case .coldStartData, .rejectionSampling: .data
        default: .policy
        }
    }

    enum Output { case policy, data, none }
}

/// Sampling a data set from a policy: `prompts` fresh tasks (never an eval prompt), `samples` answers
/// each at `temperature`, at most `maxNewTokens` tokens.
public struct DataSampling: Codable, Sendable, Equatable {
    public var prompts = 400
    public var samples = 4
    public var temperature: Float = 0.7
    public var maxNewTokens = 64

    public init() {}

    func check(_ prefix: String) throws {
        try Check.range("\(prefix).prompts", prompts, 1...1_000_000)
        try Check.range("\(prefix).samples", samples, 1...1024)
        try Check.range("\(prefix).maxNewTokens", maxNewTokens, 1...100_000)
        guard temperature > 0 && temperature.isFinite else {
            throw LabError.invalid(key: "\(prefix).temperature", "\(temperature) must be positive")
        }
    }
}

/// An SFT stage: the optimisation, and how often it evaluates.
public struct SFTStageSettings: Codable, Sendable, Equatable {
    public var sft: SFTSettings = {
        var s = SFTSettings()
        (s.epochs, s.batchSize, s.optimizer.learningRate, s.optimizer.warmupSteps) = (2, 32, 3e-4, 10)
        return s
    }()
    /// Held-out examples (a share of the data set, taken from its end) for the held-out loss.
    public var heldOutShare = 0.1
    public var evalEvery = 0
    public var checkpointEvery = 100

    public init() {}

    func check(_ prefix: String) throws {
        do { try sft.check() } catch let error as LabError { throw error.nested(under: prefix) }
        guard (0..<0.5).contains(heldOutShare) else {
            throw LabError.invalid(key: "\(prefix).heldOutShare", "\(heldOutShare) must be in [0, 0.5)")
        }
        try Check.range("\(prefix).evalEvery", evalEvery, 0...Int.max)
        try Check.range("\(prefix).checkpointEvery", checkpointEvery, 1...Int.max)
    }
}

/// An RL stage: GRPO's settings and length, and R1's reward weights. The prompts, eval set and
/// harness are the pipeline's (R1PipelineConfig.mix, evalTasks, evaluation); the policy is the
/// stage's input.
public struct RLStageSettings: Codable, Sendable, Equatable {
    public var steps = 60
    /// The grpo experiment's GRPO (16 prompts x G 8, at most 64 tokens, clip 0.2, k3 KL β 0.04,
    /// AdamW 3e-5) sampled at temperature 0.7: its largest gain in this world (Notebooks-md/grpo.md).
    public var grpo: GRPOSettings = {
        var s = GRPOExperimentConfig().grpo
        s.temperature = 0.7
        return s
    }()
    public var reward = R1Reward()
    public var evalEvery = 20
    public var checkpointEvery = 20

    public init() {}

    func check(_ prefix: String) throws {
        try Check.range("\(prefix).steps", steps, 1...10_000_000)
        do { try grpo.check() } catch let error as LabError { throw error.nested(under: prefix) }
        try reward.check("\(prefix).reward")
        try Check.range("\(prefix).evalEvery", evalEvery, 1...Int.max)
        try Check.range("\(prefix).checkpointEvery", checkpointEvery, 1...Int.max)
    }
}

/// cold-start-data: samples of zero kept by the filters.
public struct ColdStartDataSettings: Codable, Sendable, Equatable {
    public var sampling = DataSampling()
    public var filter = ColdStartFilter()

    public init() {}

    func check(_ prefix: String) throws {
        try sampling.check("\(prefix).sampling")
        do { try filter.check() } catch let error as LabError { throw error.nested(under: prefix) }
    }
}

/// rejection-sampling: samples of reasoning-rl kept by the same filters, and preference-world SFT
/// examples (a quotation's opening and its rest) as the non-reasoning part.
public struct RejectionSamplingSettings: Codable, Sendable, Equatable {
    public var sampling = DataSampling()
    public var filter = ColdStartFilter()
    public var preferenceExamples = 800

    public init() {}

    func check(_ prefix: String) throws {
        try sampling.check("\(prefix).sampling")
        do { try filter.check() } catch let error as LabError { throw error.nested(under: prefix) }
        try Check.range("\(prefix).preferenceExamples", preferenceExamples, 0...1_000_000)
    }
}

/// final-rl: an RL stage whose prompts are a `preferenceShare` of preference-world openings,
/// rewarded by the reward model (reward-bpr's), the rest reasoning prompts with the rule rewards.
public struct FinalRLSettings: Codable, Sendable, Equatable {
    public var stage = RLStageSettings()
    public var preferenceShare = 0.25
    /// The reward model file: a path (.h5) relative to --out, or absolute.
    public var rewardModel = "reward-bpr/base/seed-0.reward-model.h5"
    /// The reward model's score is multiplied by this (its scale against the rule rewards' 0-1).
    public var preferenceScale = 1.0

    public init() {}

    func check(_ prefix: String) throws {
        try stage.check(prefix)
        guard (0...1).contains(preferenceShare) else {
            throw LabError.invalid(key: "\(prefix).preferenceShare", "\(preferenceShare) must be in [0, 1]")
        }
        if preferenceShare > 0 && rewardModel.isEmpty {
            throw LabError.invalid(key: "\(prefix).rewardModel", "names no file")
        }
        guard preferenceScale.isFinite && preferenceScale >= 0 else {
            throw LabError.invalid(key: "\(prefix).preferenceScale", "\(preferenceScale) must be finite and >= 0")
        }
    }
}

/// distill: a smaller base (the student) fine-tuned on the final model's samples, and the same
/// student trained by RL directly (R1's "distillation against RL on the small model").
public struct DistillSettings: Codable, Sendable, Equatable {
    /// The student base: a checkpoint path (.h5), or a run under the same --out.
    public var student = "base-models/base-small"
    public var sampling = DataSampling()
    public var filter = ColdStartFilter()
    public var sft = SFTStageSettings()
    /// The student's own RL (0 steps: no comparison run).
    public var rl = RLStageSettings()

    public init() {}

    func check(_ prefix: String) throws {
        if student.isEmpty { throw LabError.invalid(key: "\(prefix).student", "names no checkpoint") }
        try sampling.check("\(prefix).sampling")
        do { try filter.check() } catch let error as LabError { throw error.nested(under: prefix) }
        try sft.check("\(prefix).sft")
        try rl.check("\(prefix).rl")
    }
}

public struct R1PipelineConfig: ExperimentConfig, Equatable {
    /// The stages this run makes, in order; each reads the one before it in this list (the first
    /// reads `base`). The no-cold-start ablation starts at reasoning-rl.
    public var stages = R1Stage.allCases
    /// reasoning-base: a checkpoint path (.h5), or a run under the same --out.
    public var base = "base-models/base"
    /// The reasoning tasks every stage trains and is evaluated on (the grpo experiment's mix: 1-2
    /// digit addition and 1-digit multiplication, 30 % asked in Chinese), the fixed eval set's size,
    /// and the harness.
    public var mix = GRPOExperimentConfig().mix
    public var evalTasks = 100
    public var evaluation = GRPOExperimentConfig().evaluation
    /// Held-out preference-world openings each stage's policy answers greedily (true reward, VADER).
    public var preferencePrompts = 50
    /// The fortunes folder (relative to the repository, or absolute).
    public var quotations = "Data/corpora/english/fortunes"
    public var zero: RLStageSettings = {
        var s = RLStageSettings()
        s.reward.language = 0
        return s
    }()
    public var coldStartData = ColdStartDataSettings()
    public var coldStartSFT = SFTStageSettings()
    public var reasoningRL = RLStageSettings()
    public var rejectionSampling = RejectionSamplingSettings()
    public var sft2 = SFTStageSettings()
    public var finalRL = FinalRLSettings()
    public var distill = DistillSettings()

    public init() {}

    public func validate() throws {
        guard !stages.isEmpty else { throw LabError.invalid(key: "stages", "lists no stage") }
        guard Set(stages).count == stages.count else {
            throw LabError.invalid(key: "stages", "a stage is listed twice")
        }
        let order = stages.map { R1Stage.allCases.firstIndex(of: $0)! }
        guard order == order.sorted() else {
            throw LabError.invalid(key: "stages", "\(stages.map(\.rawValue)) is not in the recipe's order")
        }
        // Each stage reads what the stage before it writes: a data set, or a policy (the first
        // stage's policy is reasoning-base).
        for (k, stage) in stages.enumerated() where stage.reads != .none {
            let before = k > 0 ? stages[k - 1].writes : .policy
            guard before == stage.reads else {
                let what = stage.reads == .data ? "a data set" : "a policy"
                throw LabError.invalid(
                    key: "stages", "\(stage.rawValue) reads \(what), which the stage before it does not make")
            }
        }
        if base.isEmpty { throw LabError.invalid(key: "base", "names no checkpoint") }
        try mix.check("mix")
        try Check.range("evalTasks", evalTasks, 1...100_000)
        try evaluation.check()
        try Check.range("preferencePrompts", preferencePrompts, 0...100_000)
        try zero.check("zero")
        try coldStartData.check("coldStartData")
        try coldStartSFT.check("coldStartSFT")
        try reasoningRL.check("reasoningRL")
        try rejectionSampling.check("rejectionSampling")
        try sft2.check("sft2")
        try finalRL.check("finalRL")
        try distill.check("distill")
    }

    /// The settings a stage's record is digested from: a finished stage is reused while these and
    /// its input are unchanged (the shared tasks and harness count for every stage).
    func section(_ stage: R1Stage) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        struct Shared: Encodable {
            let base: String, mix: ArithmeticMix, evalTasks: Int, evaluation: EvaluationSettings
            let preferencePrompts: Int, quotations: String
        }
        let shared = Shared(
            base: base, mix: mix, evalTasks: evalTasks, evaluation: evaluation, preferencePrompts: preferencePrompts,
            quotations: quotations)
        let own: Data =
            switch stage {
            case .zero: try encoder.encode(zero)
            case .coldStartData: try encoder.encode(coldStartData)
            case .coldStartSFT: try encoder.encode(coldStartSFT)
            case .reasoningRL: try encoder.encode(reasoningRL)
            case .rejectionSampling: try encoder.encode(rejectionSampling)
            case .sft2: try encoder.encode(sft2)
            case .finalRL: try encoder.encode(finalRL)
            case .distill:
                try encoder.encode([distill.student]) + encoder.encode(distill.sampling)
                    + encoder.encode(distill.filter) + encoder.encode(distill.sft)
            case .studentRL: try encoder.encode([distill.student]) + encoder.encode(distill.rl)
            }
        return String(decoding: try encoder.encode(shared), as: UTF8.self) + "\n" + stage.rawValue + "\n"
            + String(decoding: own, as: UTF8.self)
    }
}
