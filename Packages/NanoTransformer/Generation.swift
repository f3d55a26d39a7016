// Inference: prefill the prompt once, then decode one token at a time against the KV cache;
// greedy, temperature, top-k and top-p sampling from the caller's RNG; stop tokens; batches of
// prompts of different lengths (left-padded, pads masked out, each sequence at its own positions).
import TensorCore

public struct Sampling: Sendable, Equatable {
    /// 0 means greedy (argmax).
    public var temperature: Float
    /// Keep only the k most likely tokens (0: off).
    public var topK: Int
    /// Keep the smallest set of tokens whose probability reaches p (1: off).
    public var topP: Float

    public init(temperature: Float = 1, topK: Int = 0, topP: Float = 1) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
    }

    public static let greedy = Sampling(temperature: 0)

    /// A token drawn from one row of logits.
    public func sample(_ logits: UnsafeBufferPointer<Float>, rng: inout RNG) -> Int {
        let v = logits.count
        if temperature == 0 {
            var best = 0
            for j in 1..<v where logits[j] > logits[best] { best = j }
            return best
        }
        var order = Array(0..<v)
        order.sort { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        if topK > 0 { order = Array(order.prefix(topK)) }
        let m = logits[order[0]]
        var probs = order.map { Float(expDouble(Double((logits[$0] - m) / temperature))) }
        let total = probs.reduce(0, +)
        probs = probs.map { $0 / total }
        if topP < 1 {
            var cumulative: Float = 0
            var keep = 0
            for p in probs {
                cumulative += p
                keep += 1
                if cumulative >= topP { break }
            }
            probs = Array(probs.prefix(keep))
        }
        return order[rng.categorical(probs)]
    }
}

extension NanoTransformer {
    /// Generates up to `maxNewTokens` tokens after each prompt. A sequence stops after emitting a
    /// stop token (which is kept). Prompts may differ in length.
    public func generate(
        prompts: [[Int]], maxNewTokens: Int, sampling: Sampling = .greedy, stopTokens: Set<Int> = [], rng: inout RNG
    ) -> [[Int]] {
        precondition(!prompts.isEmpty && prompts.allSatisfy { !$0.isEmpty }, "generate needs non-empty prompts")
        return withNoGrad {
            let b = prompts.count
            let longest = prompts.map(\.count).max()!
            let padding = prompts.map { longest - $0.count }
            let cache = KVCache(layers: config.layers)
            // Left-padded prompt; pad keys get -inf; each sequence's positions start at 0.
            let ids = prompts.enumerated().flatMap { i, p in [Int](repeating: 0, count: padding[i]) + p }
            var positions = [Int]()
            for i in 0..<b { positions += (0..<longest).map { max($0 - padding[i], 0) } }
            var logits = self.logits(
                ids, batch: b, time: longest, positions: positions,
                mask: paddingMask(padding, queries: longest, keys: longest),
                cache: cache, rng: &rng)
            var outputs = [[Int]](repeating: [], count: b)
            var done = [Bool](repeating: false, count: b)
            var next = [Int](repeating: 0, count: b)
            for step in 0..<maxNewTokens {
                let v = config.vocabSize
                let t = logits.shape[1]
                for i in 0..<b {
                    let row = UnsafeBufferPointer(start: logits.data + (i * t + t - 1) * v, count: v)
                    next[i] = done[i] ? 0 : sampling.sample(row, rng: &rng)
                    if !done[i] {
                        outputs[i].append(next[i])
                        if stopTokens.contains(next[i]) { done[i] = true }
                    }
                }
                if done.allSatisfy({ $0 }) || step == maxNewTokens - 1 { break }
                let pos = (0..<b).map { prompts[$0].count + step }
                logits = self.logits(
                    next, batch: b, time: 1, positions: pos,
                    mask: paddingMask(padding, queries: 1, keys: cache.length + 1), cache: cache, rng: &rng)
            }
            return outputs
        }
    }

    /// Additive mask (B, queries, keys): -inf on each sequence's left padding, nil when none.
    func paddingMask(_ padding: [Int], queries: Int, keys: Int) -> Tensor? {
        guard padding.contains(where: { $0 > 0 }) else { return nil }
        let mask = Tensor(shape: [padding.count, queries, keys])
        for (i, pad) in padding.enumerated() {
            for q in 0..<queries { for k in 0..<pad { mask[i, q, k] = -.infinity } }
        }
        return mask
    }

    /// Log-probabilities of each sequence's tokens after the first, under the model: sequences are
    /// right-padded to the longest; `completionStart[i]` is the index of the first token to score.
    /// Returns per-token log-probs (B, T-1) with gradients, the 0/1 mask of scored tokens, and
    /// the per-sequence sums (mask-weighted).
    public func logProbs(_ sequences: [[Int]], completionStart: [Int], rng: inout RNG) -> (
        perToken: Tensor, mask: Tensor, sums: Tensor
    ) {
        precondition(sequences.count == completionStart.count, "one completion start per sequence")
        let b = sequences.count
        let t = sequences.map(\.count).max()!
        precondition(t >= 2, "sequences need at least two tokens")
        let ids = sequences.flatMap { $0 + [Int](repeating: 0, count: t - $0.count) }
        let logits = self.logits(ids, batch: b, time: t, rng: &rng)  // (B, T, V)
        let predicting = logits.slice(axis: 1, 0..<(t - 1)).logSoftmax()  // predicts tokens 1..<T
        var targets: [Int] = []
        let mask = Tensor(shape: [b, t - 1])
        for (i, s) in sequences.enumerated() {
            for j in 1..<t {
                targets.append(j < s.count ? s[j] : 0)
                if j < s.count && j >= max(completionStart[i], 1) { mask[i, j - 1] = 1 }
            }
        }
        let perToken = predicting.gatherLast(targets) * mask
        return (perToken, mask, perToken.sum(axis: 1))
    }
}
