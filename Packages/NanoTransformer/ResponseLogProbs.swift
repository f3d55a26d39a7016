// Per-token log-probabilities of responses for the RL and preference objectives: (prompt,
// response) pairs right-padded into one (B, T) forward (padding only after a sequence, so no
// mask and every sequence at positions 0...), the hidden states of the rows that predict response
// tokens gathered, the LM head on those rows only, and the fused log-prob/entropy kernel
// (TensorCore/TokenLogProbs.swift). Outputs are (B, R) with R the longest response and a 0/1 mask.
import TensorCore

/// (prompt, response) pairs laid out for one forward.
public struct ResponseBatch: Sendable {
    public let prompts: [[Int]]
    public let responses: [[Int]]
    /// B sequences of T = the longest prompt + response; R = the longest response.
    public let batch, time, width: Int
    /// B*T ids: prompt, response, then padding.
    public let ids: [Int]
    /// B*R rows of the (B*T) hidden states: the one predicting response token j of sequence i
    /// is i*T + P_i + j - 1 (padding entries repeat row i*T; their targets are -1).
    public let predictingRows: [Int]
    /// B*R response tokens, -1 where padded.
    public let targets: [Int]
    /// Each sequence's last real position, P_i + R_i - 1 (a reward head reads it).
    public let lastIndex: [Int]

    public init(prompts: [[Int]], responses: [[Int]], padToken: Int = 0) {
        precondition(
            prompts.count == responses.count, "ResponseBatch: \(prompts.count) prompts, \(responses.count) responses")
        precondition(prompts.allSatisfy { !$0.isEmpty }, "ResponseBatch: every prompt needs a token to predict from")
        self.prompts = prompts
        self.responses = responses
        batch = prompts.count
        time = zip(prompts, responses).map { $0.count + $1.count }.max() ?? 0
        width = responses.map(\.count).max() ?? 0
        var ids: [Int] = []
        var rows: [Int] = []
        var targets: [Int] = []
        for (i, (p, r)) in zip(prompts, responses).enumerated() {
            ids += p + r + [Int](repeating: padToken, count: time - p.count - r.count)
            for j in 0..<width {
                rows.append(j < r.count ? i * time + p.count + j - 1 : i * time)
                targets.append(j < r.count ? r[j] : -1)
            }
        }
        self.ids = ids
        predictingRows = rows
        self.targets = targets
        lastIndex = zip(prompts, responses).map { $0.count + $1.count - 1 }
    }

    /// (B, R) with 1 at real response tokens.
    public var mask: Tensor { Tensor(targets.map { $0 == -1 ? 0 : 1 }, shape: [batch, width]) }

    /// The hidden states (B, T, C) of the predicting rows: (B*R, C), with gradients.
    public func predictingStates(_ hidden: Tensor) -> Tensor {
        hidden.reshaped([batch * time, hidden.shape[2]]).indexSelect(rows: predictingRows)
    }
}

/// Log-probs of response tokens, (B, R) each, 0 where the mask is 0.
public struct TokenLogProbs {
    /// log pi(y_t | x, y_<t) under softmax(logits / temperature), with gradients.
    public let logProbs: Tensor
    /// The entropy of that distribution at each token (nats), when asked.
    public let entropy: Tensor?
    public let mask: Tensor
    /// A training forward's auxiliary losses of drop-in MLPs (MoE), to add to the objective.
    public let auxiliaryLoss: Tensor?

    /// Per-sequence sums (B): log pi(y | x).
    public var sequenceLogProbs: Tensor { logProbs.sum(axis: 1) }
}

extension NanoTransformer {
    /// One forward over the batch. `training`: dropout and drop-in MLPs in training mode (MoE
    /// adds its auxiliary losses and routing statistics, as in pretraining).
    public func responseLogProbs(
        _ batch: ResponseBatch, temperature: Float = 1, entropy: Bool = false, training: Bool = false, rng: inout RNG
    ) -> TokenLogProbs {
        let hidden = hiddenStates(batch.ids, batch: batch.batch, time: batch.time, training: training, rng: &rng)
        return responseLogProbs(batch, hidden: hidden, temperature: temperature, entropy: entropy, training: training)
    }

    /// From hidden states already computed (a policy and its value head share one trunk pass).
    public func responseLogProbs(
        _ batch: ResponseBatch, hidden: Tensor, temperature: Float = 1, entropy: Bool = false, training: Bool = false
    ) -> TokenLogProbs {
        let logits = languageModelHead(batch.predictingStates(hidden))  // (B*R, V)
        let (lp, h) = tokenLogProbs(logits, targets: batch.targets, temperature: temperature, entropy: entropy)
        let shape = [batch.batch, batch.width]
        return TokenLogProbs(
            logProbs: lp.reshaped(shape), entropy: h?.reshaped(shape), mask: batch.mask,
            auxiliaryLoss: training ? auxiliaryLoss : nil)
    }
}
