// The preference data of an experiment: for each prompt, K responses sampled from the policy
// (InstructGPT samples them from the SFT model), their true rewards, and the simulated
// annotator's ranking. Only finished responses (ending with <|end|>) are compared: a prompt whose
// K samples are not all finished is drawn again, up to `attempts` times, then dropped and counted
// (a reward model reads the end token's state, and a cut response is not an answer).
import LabSupport
import NanoTransformer
import PostTraining
import TensorCore

public enum PreferenceSampling {
    public struct Settings: Codable, Sendable, Equatable {
        /// Responses per prompt.
        public var k = 4
        public var temperature: Float = 1
        public var maxNewTokens = 48
        /// Draws of a prompt's K samples before it is dropped.
        public var attempts = 3
        public var promptsPerBatch = 32

        public init() {}

        public func check(_ prefix: String) throws {
            for (key, value, low) in [
                ("k", k, 2), ("maxNewTokens", maxNewTokens, 1), ("attempts", attempts, 1),
                ("promptsPerBatch", promptsPerBatch, 1),
            ] where value < low {
                throw LabError(.config, "\(prefix).\(key): \(value) must be at least \(low)")
            }
            if !(temperature > 0 && temperature.isFinite) {
                throw LabError(.config, "\(prefix).temperature: \(temperature) must be positive")
            }
        }
    }

    /// The data set for `prompts` (texts) and how many prompts were dropped. Sampling streams come
    /// from `samplingRNG` (one per sequence and attempt, in prompt order), rankings from `labelRNG`.
    public static func collect(
        policy: NanoTransformer, format: ConversationFormat, prompts: [String], settings: Settings,
        trueReward: (String) -> Double, annotator: SimulatedAnnotator, samplingRNG: inout RNG, labelRNG: inout RNG
    ) throws -> (data: PreferenceData, dropped: Int) {
        try settings.check("sampling")
        let k = settings.k
        var kept: (prompts: [[Int]], responses: [[[Int]]], rewards: [[Double]]) = ([], [], [])
        var dropped = 0
        for start in stride(from: 0, to: prompts.count, by: settings.promptsPerBatch) {
            var pending = Array(prompts[start..<min(start + settings.promptsPerBatch, prompts.count)]).map(
                format.promptIds)
            for attempt in 1...settings.attempts where !pending.isEmpty {
                let streams = (0..<(pending.count * k)).map { _ in samplingRNG.split() }
                let rollout = try policy.generate(
                    prompts: pending, samplesPerPrompt: k, maxNewTokens: settings.maxNewTokens,
                    sampling: Sampling(temperature: settings.temperature), stopTokens: [format.end], streams: streams)
                var again: [[Int]] = []
                for (i, prompt) in pending.enumerated() {
                    let range = (i * k)..<((i + 1) * k)
                    guard range.allSatisfy({ rollout.finish[$0] == .stop }) else {
                        if attempt < settings.attempts { again.append(prompt) } else { dropped += 1 }
                        continue
                    }
                    let responses = range.map { rollout.responses[$0] }
                    kept.prompts.append(prompt)
                    kept.responses.append(responses)
                    kept.rewards.append(try responses.map { trueReward(try format.responseText($0)) })
                }
                pending = again
            }
        }
        guard !kept.prompts.isEmpty else {
            throw LabError(
                .config,
                "preference sampling: no prompt got \(k) finished responses in \(settings.attempts) attempts (maxNewTokens \(settings.maxNewTokens)); the policy does not end its answers"
            )
        }
        let ranks = kept.rewards.map { annotator.rank($0, rng: &labelRNG) }
        let data = try PreferenceData(
            prompts: kept.prompts, responses: kept.responses, ranks: ranks, trueRewards: kept.rewards,
            temperature: annotator.temperature, endToken: format.end)
        return (data, dropped)
    }
}
