// The evaluation harness of the reasoning world: a fixed set of tasks with checkable answers,
// answered by the model in the conversation format, scored by rules.
//   greedy accuracy   one greedy answer per task, the share that is correct
//   mean@n            n samples per task at the sampling temperature, the share that is correct
//                     (what R1 reports as pass@1, from 4 to 64 samples at T = 0.6)
//   pass@k            per task the unbiased estimate from its n samples (PassAtK.swift), averaged
//   format rate       the share of samples in the strict R1 format (ThinkAnswerFormat.swift)
//   stop rate         the share of samples that ended on <|end|> before the length limit
//   length            response tokens (without <|end|>), over all samples, correct ones, wrong ones
// Each sample draws from its own RNG stream split from the seed in (task, sample) order before any
// generation, so a task's samples are the same whichever tasks share its batch and however many
// prompts a batch holds: numbers compare across runs that use the same eval set and seed.
import Foundation
import LabSupport
import NanoTransformer
import TensorCore

/// A prompt, the rule that says whether a parsed response answers it, and the reward RL trains on
/// (by default 1 when correct, else 0).
public struct VerifiableTask: Sendable {
    public var prompt: String
    public var isCorrect: @Sendable (ParsedResponse) -> Bool
    public var reward: @Sendable (ParsedResponse) -> Double

    public init(
        prompt: String, isCorrect: @escaping @Sendable (ParsedResponse) -> Bool,
        reward: (@Sendable (ParsedResponse) -> Double)? = nil
    ) {
        (self.prompt, self.isCorrect) = (prompt, isCorrect)
        self.reward = reward ?? { isCorrect($0) ? 1 : 0 }
    }
}

extension ArithmeticTask {
    /// Judged by the answer's number; rewarded with TinyZero's 1.0 / 0.1 / 0.
    public func verifiable(_ language: CoTLanguage) -> VerifiableTask {
        let answer = answer
        return VerifiableTask(
            prompt: prompt(language), isCorrect: { $0.number == answer },
            reward: { RuleReward.tinyZero($0, truth: answer) })
    }
}

extension CountdownTask {
    /// Judged by the checker; rewarded with TinyZero's 1.0 / 0.1 / 0.
    public func verifiable(_ language: CoTLanguage) -> VerifiableTask {
        let task = self
        return VerifiableTask(
            prompt: prompt(language), isCorrect: { task.accuracy($0) == 1 }, reward: { task.tinyZeroReward($0) })
    }
}

public struct EvaluationSettings: Codable, Sendable, Equatable {
    /// Samples per task for mean@n and pass@k (0: greedy only).
    public var samples = 8
    public var temperature: Float = 0.6
    public var topP: Float = 1
    /// The k of pass@k reported (each at most `samples`).
    public var passK: [Int] = [1, 4, 8]
    public var maxNewTokens = 96
    public var seed: UInt64 = 0
    /// Prompts per generation batch (memory, not numbers).
    public var promptsPerBatch = 16

    public init() {}

    public func check() throws {
        if samples < 0 { throw LabError(.config, "evaluation.samples: \(samples) must be >= 0") }
        if let bad = passK.first(where: { $0 < 1 || $0 > samples }) {
            throw LabError(.config, "evaluation.passK: \(bad) must be within 1...samples (\(samples))")
        }
        if maxNewTokens < 1 { throw LabError(.config, "evaluation.maxNewTokens: \(maxNewTokens) must be >= 1") }
        if promptsPerBatch < 1 {
            throw LabError(.config, "evaluation.promptsPerBatch: \(promptsPerBatch) must be >= 1")
        }
        try Sampling(temperature: temperature, topP: topP).check()
    }
}

/// One response as the harness saw it.
public struct ScoredResponse: Sendable, Equatable {
    public var text: String
    /// Response tokens, without the stop token.
    public var length: Int
    public var stopped: Bool
    public var correct: Bool
    public var wellFormed: Bool
    /// Of `length`, the tokens the environment put in (an interjection's), not the model's.
    public var inserted = 0

    public init(text: String, length: Int, stopped: Bool, correct: Bool, wellFormed: Bool) {
        (self.text, self.length, self.stopped, self.correct, self.wellFormed) = (
            text, length, stopped, correct, wellFormed
        )
    }
}

public struct EvaluationReport: Sendable, Equatable {
    public var tasks: Int
    public var greedyAccuracy: Double
    public var meanAtN: Double
    public var passAtK: [Int: Double]
    public var formatRate: Double
    public var stopRate: Double
    public var meanLength: Double
    /// nil when no sample was correct (or none was wrong).
    public var meanLengthCorrect: Double?
    public var meanLengthWrong: Double?

    /// The report from scored responses: one greedy response per task, `samples[t]` the sampled
    /// ones of task t (all the same count n; empty when n = 0).
    public init(greedy: [ScoredResponse], samples: [[ScoredResponse]], passK: [Int]) {
        tasks = greedy.count
        greedyAccuracy = PassAtK.mean(greedy.map { $0.correct ? 1 : 0 })
        let all = samples.flatMap { $0 }
        let scored = all.isEmpty ? greedy : all
        meanAtN = PassAtK.mean(all.map { $0.correct ? 1 : 0 })
        passAtK = Dictionary(
            uniqueKeysWithValues: passK.map { k in
                (
                    k,
                    PassAtK.mean(
                        samples.map {
                            PassAtK.estimate(samples: $0.count, correct: $0.filter(\.correct).count, k: k)
                        })
                )
            })
        formatRate = PassAtK.mean(scored.map { $0.wellFormed ? 1 : 0 })
        stopRate = PassAtK.mean(scored.map { $0.stopped ? 1 : 0 })
        meanLength = PassAtK.mean(scored.map { Double($0.length) })
        let correct = scored.filter(\.correct)
        let wrong = scored.filter { !$0.correct }
        meanLengthCorrect = correct.isEmpty ? nil : PassAtK.mean(correct.map { Double($0.length) })
        meanLengthWrong = wrong.isEmpty ? nil : PassAtK.mean(wrong.map { Double($0.length) })
    }

    /// Flat metrics for a results file ("eval/greedy_accuracy", "eval/pass@4", ...); the lengths
    /// of correct or wrong answers only when there are some.
    public var metrics: [String: Double] {
        var m: [String: Double] = [
            "eval/greedy_accuracy": greedyAccuracy, "eval/mean@n": meanAtN, "eval/format_rate": formatRate,
            "eval/stop_rate": stopRate, "eval/length": meanLength,
        ]
        for (k, v) in passAtK { m["eval/pass@\(k)"] = v }
        if let meanLengthCorrect { m["eval/length_correct"] = meanLengthCorrect }
        if let meanLengthWrong { m["eval/length_wrong"] = meanLengthWrong }
        return m
    }
}

public enum Evaluation {
    /// Answers every task greedily and, when settings.samples > 0, n times by sampling; scores them.
    /// `interjection`: the environment's tokens put into responses as they are sampled (a tool's
    /// result), as in the rollouts of training.
    public static func run(
        _ model: NanoTransformer, format: ConversationFormat, tasks: [VerifiableTask], settings: EvaluationSettings,
        interjection: Interjection? = nil
    ) throws -> (report: EvaluationReport, greedy: [ScoredResponse], samples: [[ScoredResponse]]) {
        try settings.check()
        guard !tasks.isEmpty else { throw LabError(.config, "evaluation: the eval set is empty") }
        let prompts = tasks.map { format.promptIds($0.prompt) }
        var root = RNG(seed: settings.seed)
        let n = settings.samples
        let streams = (0..<(tasks.count * n)).map { _ in root.split() }
        let greedyStreams = (0..<tasks.count).map { _ in RNG(seed: 0) }  // greedy draws nothing
        var greedy: [ScoredResponse] = []
        var samples: [[ScoredResponse]] = []
        for start in stride(from: 0, to: tasks.count, by: settings.promptsPerBatch) {
            let range = start..<min(start + settings.promptsPerBatch, tasks.count)
            let g = try model.generate(
                prompts: Array(prompts[range]), maxNewTokens: settings.maxNewTokens, sampling: .greedy,
                stopTokens: [format.end], streams: Array(greedyStreams[range]), interjection: interjection)
            for (i, t) in range.enumerated() { greedy.append(try score(g, i, tasks[t], format)) }
            guard n > 0 else { continue }
            let s = try model.generate(
                prompts: Array(prompts[range]), samplesPerPrompt: n, maxNewTokens: settings.maxNewTokens,
                sampling: Sampling(temperature: settings.temperature, topP: settings.topP), stopTokens: [format.end],
                streams: Array(streams[(range.lowerBound * n)..<(range.upperBound * n)]), interjection: interjection)
            for (i, t) in range.enumerated() {
                samples.append(try (0..<n).map { try score(s, i * n + $0, tasks[t], format) })
            }
        }
        return (EvaluationReport(greedy: greedy, samples: n > 0 ? samples : [], passK: settings.passK), greedy, samples)
    }

    static func score(_ rollout: Rollout, _ i: Int, _ task: VerifiableTask, _ format: ConversationFormat) throws
        -> ScoredResponse
    {
        let ids = rollout.responses[i]
        let stopped = rollout.finish[i] == .stop
        let text = try format.responseText(ids)
        let parsed = ParsedResponse(text)
        var scored = ScoredResponse(
            text: text, length: ids.count - (stopped ? 1 : 0), stopped: stopped, correct: task.isCorrect(parsed),
            wellFormed: parsed.wellFormed)
        scored.inserted = rollout.inserted.isEmpty ? 0 : rollout.inserted[i].count { $0 }
        return scored
    }
}
