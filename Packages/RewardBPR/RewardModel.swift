// The reward model r(x, y): the nano transformer's trunk and a scalar head read at the last token
// of the response (its <|end|>), as InstructGPT's RM and TRL's AutoModelForSequenceClassification.
// It starts from the SFT policy (its LM head is not used) or from a fresh initialisation.
// After training, `centre(on:)` moves the head's bias so that the mean score of a set of
// responses (InstructGPT: the demonstrations; here the SFT policy's samples) is 0, which leaves
// every comparison unchanged and gives RL a reward whose zero means "as good as the start".
import LabSupport
import ModelStore
import NanoTransformer
import TensorCore

public final class RewardModel: Module {
    public let trunk: NanoTransformer
    public let head: ScalarHead

    /// A reward model on `trunk` (its weights are used as they are) with a new head.
    public init(trunk: NanoTransformer, rng: inout RNG) {
        self.trunk = trunk
        head = ScalarHead(dModel: trunk.config.dModel, bias: true, rng: &rng)
    }

    /// The trunk of a policy checkpoint (the SFT model) and a new head.
    public convenience init(policyCheckpoint path: String, rng: inout RNG) throws {
        self.init(trunk: try NanoTransformer.load(checkpoint: path), rng: &rng)
    }

    public func namedParameters() -> [(name: String, tensor: Tensor)] {
        // The LM head's weights (tied: the embedding, which the trunk needs anyway) stay; an untied
        // lm_head is not read by the reward and gets no gradient.
        trunk.namedParameters().map { (name: "trunk.\($0.name)", tensor: $0.tensor) }
            + head.namedParameters().map { (name: "head.\($0.name)", tensor: $0.tensor) }
    }

    /// Scores (B) of a batch's (prompt, response) pairs, with gradients when training.
    public func scores(_ batch: ResponseBatch, training: Bool = false, rng: inout RNG) -> Tensor {
        let hidden = trunk.hiddenStates(batch.ids, batch: batch.batch, time: batch.time, training: training, rng: &rng)
        return head(hidden, lastIndex: batch.lastIndex)
    }

    /// Scores without a graph, `batchSize` sequences per forward, in input order: the scoring API of
    /// the RL packages.
    public func score(prompts: [[Int]], responses: [[Int]], batchSize: Int = 32) -> [Float] {
        precondition(batchSize > 0, "RewardModel.score: batchSize must be positive")
        var out: [Float] = []
        var rng = RNG(seed: 0)  // no dropout outside training
        withNoGrad {
            for start in stride(from: 0, to: prompts.count, by: batchSize) {
                let range = start..<min(start + batchSize, prompts.count)
                out +=
                    scores(ResponseBatch(prompts: Array(prompts[range]), responses: Array(responses[range])), rng: &rng)
                    .array
            }
        }
        return out
    }

    /// Shifts the head's bias so that these responses' mean score is 0; returns the shift.
    @discardableResult
    public func centre(onPrompts prompts: [[Int]], responses: [[Int]]) -> Float {
        let s = score(prompts: prompts, responses: responses)
        let mean = s.reduce(0, +) / Float(max(s.count, 1))
        let bias = head.namedParameters().first { $0.name == "bias" }!.tensor
        bias.data[0] -= mean
        return mean
    }
}
