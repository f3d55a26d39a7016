// Inference for RL: prompts prefilled once into a KV cache (each prompt once, however many samples
// it gets), then one token at a time for the sequences still running; greedy, temperature, top-k
// and top-p sampling. Each sequence draws from its own RNG stream, so its samples do not depend on
// which other sequences share the batch; each sampled token's log-probability under the
// distribution it was drawn from is kept (the behaviour policy of PPO/GRPO's ratio), and each
// sequence says whether it ended on a stop token or at the length limit.
import LabSupport
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

    /// Throws naming the field that is out of range.
    public func check() throws {
        if !(temperature >= 0 && temperature.isFinite) {
            throw LabError(.model, "sampling.temperature: \(temperature) must be finite and >= 0")
        }
        if topK < 0 { throw LabError(.model, "sampling.topK: \(topK) must be >= 0 (0: off)") }
        if !(topP > 0 && topP <= 1) { throw LabError(.model, "sampling.topP: \(topP) must be in (0, 1]") }
    }

    /// A token drawn from one row of logits, and its log-probability under the distribution it
    /// was drawn from: softmax(logits / T) restricted to the top-k / top-p set and renormalised.
    /// Greedy decoding is a point mass: log-probability 0. `scratch` is reused across calls.
    public func sample(_ logits: UnsafeBufferPointer<Float>, rng: inout RNG, scratch: inout [Float]) -> (
        token: Int, logProb: Float
    ) {
        let v = logits.count
        if temperature == 0 {
            var best = 0
            for j in 1..<v where logits[j] > logits[best] { best = j }
            return (best, 0)
        }
        if topK == 0 && topP >= 1 {
            // The whole vocabulary in index order: no sort. The log-prob comes from the same row
            // statistics as NanoTransformer.responseLogProbs, so a recomputation gives it back.
            if scratch.count < v { scratch = [Float](repeating: 0, count: v) }
            let invT = 1 / temperature
            let (lse, token) = scratch.withUnsafeMutableBufferPointer { w in
                let lse = softmaxRowStatistics(
                    logits.baseAddress!, count: v, invTemperature: invT, weights: w.baseAddress!
                ).logSumExp
                return (lse, rng.categorical(UnsafeBufferPointer(rebasing: w[0..<v])))
            }
            return (token, logits[token] * invT - lse)
        }
        let order =
            topK > 0 ? Self.topIndices(logits, k: Swift.min(topK, v)) : Self.nucleusOrder(logits, temperature, topP)
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
        let chosen = rng.categorical(probs)
        let kept = probs.reduce(0.0) { $0 + Double($1) }
        return (order[chosen], Float(logDouble(Double(probs[chosen]) / kept)))
    }

    /// The k largest logits' indices, best first (ties to the lower index): a bounded heap over
    /// the row, O(V log k), then a sort of the k.
    public static func topIndices(_ logits: UnsafeBufferPointer<Float>, k: Int) -> [Int] {
        // "a before b": a has the larger logit, or the same logit and the lower index.
        func before(_ a: Int, _ b: Int) -> Bool { logits[a] > logits[b] || (logits[a] == logits[b] && a < b) }
        var heap: [Int] = []  // a min-heap under `before`: heap[0] is the worst of the k kept
        heap.reserveCapacity(k)
        func siftDown(_ start: Int) {
            var i = start
            while true {
                let (l, r) = (2 * i + 1, 2 * i + 2)
                var worst = i
                if l < heap.count && before(heap[worst], heap[l]) { worst = l }
                if r < heap.count && before(heap[worst], heap[r]) { worst = r }
                if worst == i { return }
                heap.swapAt(i, worst)
                i = worst
            }
        }
        for j in 0..<logits.count {
            if heap.count < k {
                heap.append(j)
                var i = heap.count - 1
                while i > 0 && before(heap[(i - 1) / 2], heap[i]) {
                    heap.swapAt(i, (i - 1) / 2)
                    i = (i - 1) / 2
                }
            } else if before(j, heap[0]) {
                heap[0] = j
                siftDown(0)
            }
        }
        return heap.sorted(by: before)
    }

    /// The most likely tokens, best first, until their probability under softmax(logits / T)
    /// reaches p (top-p alone): a max-heap over the row, popped only as far as needed.
    public static func nucleusOrder(_ logits: UnsafeBufferPointer<Float>, _ temperature: Float, _ p: Float) -> [Int] {
        func before(_ a: Int, _ b: Int) -> Bool { logits[a] > logits[b] || (logits[a] == logits[b] && a < b) }
        var heap = Array(0..<logits.count)
        func siftDown(_ start: Int, _ count: Int) {
            var i = start
            while true {
                let (l, r) = (2 * i + 1, 2 * i + 2)
                var best = i
                if l < count && before(heap[l], heap[best]) { best = l }
                if r < count && before(heap[r], heap[best]) { best = r }
                if best == i { return }
                heap.swapAt(i, best)
                i = best
            }
        }
        for i in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(i, heap.count) }
        let m = logits[heap[0]]
        let total = (0..<logits.count).reduce(0.0) { $0 + expDouble(Double((logits[$1] - m) / temperature)) }
        var order: [Int] = []
        var (cumulative, count) = (0.0, heap.count)
        while count > 0 {
            let top = heap[0]
            order.append(top)
            cumulative += expDouble(Double((logits[top] - m) / temperature)) / total
            if cumulative >= Double(p) { break }
            count -= 1
            heap.swapAt(0, count)
            siftDown(0, count)
        }
        return order
    }
}

/// What an environment puts into a sequence while it is generated (a tool's result): called with
/// the sequence's index and its response so far after each sampled token of a running sequence;
/// returns the tokens to insert (none: decoding goes on).
public typealias Interjection = (_ sequence: Int, _ response: [Int]) -> [Int]

/// What a batch of generations produced, per sequence (prompt-major: sample k of prompt p is
/// sequence p * samplesPerPrompt + k).
public struct Rollout: Sendable {
    public enum Finish: String, Sendable, Equatable {
        /// Ended on a stop token (kept as the response's last token): the episode is over.
        case stop
        /// Cut by maxNewTokens: the text had a future (a value bootstrap may apply).
        case length
    }
    public var prompts: [[Int]]
    public var responses: [[Int]]
    /// log pi_behaviour(y_t) of each response token, under the distribution it was sampled from.
    public var logProbs: [[Float]]
    public var finish: [Finish]
    /// Each sequence's RNG stream as it was before its first draw: generating that sequence alone
    /// from it gives the same tokens.
    public var streams: [RNG]
    /// The experts each routed layer chose for each sequence's tokens (when recorded).
    public var routing: RoutingRecord?
    /// Per response token: true where the environment put it in (a tool's result, `Interjection`)
    /// rather than the policy sampling it; such a token has log-prob 0 here and no loss.
    public var inserted: [[Bool]] = []

    public var count: Int { responses.count }
    public var lengths: [Int] { responses.map(\.count) }

    /// The sequences at `indices`, in that order (a minibatch).
    public func subset(_ indices: [Int]) -> Rollout {
        Rollout(
            prompts: indices.map { prompts[$0] }, responses: indices.map { responses[$0] },
            logProbs: indices.map { logProbs[$0] }, finish: indices.map { finish[$0] },
            streams: indices.map { streams[$0] }, routing: routing?.subset(indices),
            inserted: indices.map { inserted[$0] })
    }

    /// 1 for each response token the policy sampled, 0 for inserted ones: (B, R) right-padded with
    /// 0 like `batch().mask`, which it refines.
    public func sampledMask() -> Tensor {
        let width = lengths.max() ?? 0
        let out = Tensor(shape: [count, width])
        for (i, row) in inserted.enumerated() { for (j, put) in row.enumerated() where !put { out[i, j] = 1 } }
        return out
    }

    /// The (prompt, response) pairs laid out for one forward.
    public func batch(padToken: Int = 0) -> ResponseBatch {
        ResponseBatch(prompts: prompts, responses: responses, padToken: padToken)
    }

    /// Behaviour log-probs as (B, R), right-padded with 0 (the batch's mask marks the real ones).
    public func behaviourLogProbs() -> Tensor {
        let width = lengths.max() ?? 0
        let out = Tensor(shape: [count, width])
        for (i, row) in logProbs.enumerated() { for (j, lp) in row.enumerated() { out[i, j] = lp } }
        return out
    }
}

extension NanoTransformer {
    /// Generates up to `maxNewTokens` tokens for `samplesPerPrompt` samples of each prompt; one
    /// RNG stream per sequence is split from `rng`, in sequence order.
    public func generate(
        prompts: [[Int]], samplesPerPrompt: Int = 1, maxNewTokens: Int, sampling: Sampling = .greedy,
        stopTokens: Set<Int> = [], recordRouting: Bool = false, rng: inout RNG
    ) throws -> Rollout {
        let streams = (0..<(prompts.count * Swift.max(samplesPerPrompt, 0))).map { _ in rng.split() }
        return try generate(
            prompts: prompts, samplesPerPrompt: samplesPerPrompt, maxNewTokens: maxNewTokens, sampling: sampling,
            stopTokens: stopTokens, recordRouting: recordRouting, streams: streams)
    }

    /// As above, with the streams given (one per sequence, prompt-major). A sequence stops after
    /// emitting a stop token (kept) or maxNewTokens sampled tokens; finished sequences are not fed
    /// again. `interjection`: after each sampled token of a running sequence, the tokens the
    /// environment puts in (a tool's result), appended to the response as inserted and fed to the
    /// model with the sampled token in one ragged forward; they do not count against maxNewTokens.
    public func generate(
        prompts: [[Int]], samplesPerPrompt: Int = 1, maxNewTokens: Int, sampling: Sampling = .greedy,
        stopTokens: Set<Int> = [], recordRouting: Bool = false, streams: [RNG], interjection: Interjection? = nil
    ) throws -> Rollout {
        try checkGeneration(prompts, samplesPerPrompt, maxNewTokens, sampling, streams)
        if interjection != nil && recordRouting && !routedLayers.isEmpty {
            throw LabError(
                .model,
                "generate: routing records of inserted tokens are not kept yet (recordRouting with an interjection)")
        }
        let n = samplesPerPrompt
        let count = prompts.count * n
        var rollout = Rollout(
            prompts: prompts.flatMap { Array(repeating: $0, count: n) }, responses: Array(repeating: [], count: count),
            logProbs: Array(repeating: [], count: count), finish: Array(repeating: .length, count: count),
            streams: streams, routing: nil, inserted: Array(repeating: [], count: count))
        guard maxNewTokens > 0 else { return rollout }
        let routed = routedLayers
        var routing = recordRouting && !routed.isEmpty ? RoutingRecord(sequences: count, layers: routed.count) : nil
        return try withNoGrad {
            var rngs = streams
            var scratch: [Float] = []
            let v = config.vocabSize
            let longest = prompts.map(\.count).max()!
            let cache = KVCache(layers: config.layers, slots: count, capacity: longest + maxNewTokens - 1)
            // Prefill: every prompt once, right-padded, into the slot of its first sample; its
            // last real token's logits start every sample of it.
            let promptSlots = (0..<prompts.count).map { $0 * n }
            let ids = prompts.flatMap { $0 + [Int](repeating: 0, count: longest - $0.count) }
            var unusedRNG = RNG(seed: 0)  // no dropout outside training
            let hidden = hiddenStates(
                ids, batch: prompts.count, time: longest, cache: cache, slots: promptSlots,
                counted: prompts.map(\.count), rng: &unusedRNG)
            let lastRows = prompts.enumerated().map { $0 * longest + $1.count - 1 }
            var logits = languageModelHead(
                hidden.reshaped([prompts.count * longest, config.dModel]).indexSelect(rows: lastRows))
            if routing != nil {
                for (p, prompt) in prompts.enumerated() {
                    for k in 0..<n {
                        routing!.append(routed, rows: [p * longest..<(p * longest + prompt.count)], to: [p * n + k])
                    }
                }
            }
            for p in 0..<prompts.count { for k in 1..<Swift.max(n, 1) { cache.copy(slot: p * n, to: p * n + k) } }
            // logits row of each running sequence: its prompt's row at first, then its own.
            var active = Array(0..<count)
            var rowOf = (0..<count).map { $0 / n }
            for step in 0..<maxNewTokens {
                var next: [Int] = []
                for s in active {
                    let row = UnsafeBufferPointer(start: logits.data + rowOf[s] * v, count: v)
                    let (token, logProb) = sampling.sample(row, rng: &rngs[s], scratch: &scratch)
                    rollout.responses[s].append(token)
                    rollout.logProbs[s].append(logProb)
                    rollout.inserted[s].append(false)
                    if stopTokens.contains(token) { rollout.finish[s] = .stop }
                    next.append(token)
                }
                let running = zip(active, next).filter { rollout.finish[$0.0] != .stop }
                if running.isEmpty || step == maxNewTokens - 1 { break }
                active = running.map(\.0)
                // What each running sequence feeds next: its sampled token, then what the
                // environment puts in after it.
                var feeds = running.map { [$0.1] }
                if let interjection {
                    for (i, s) in active.enumerated() {
                        let put = interjection(s, rollout.responses[s])
                        guard !put.isEmpty else { continue }
                        if let bad = put.first(where: { !(0..<v).contains($0) }) {
                            throw LabError(
                                .model, "generate: the interjection put in token \(bad), outside the vocabulary (\(v))")
                        }
                        if config.positionEncoding == .learned
                            && cache.lengths[s] + 1 + put.count > config.contextLength
                        {
                            throw LabError(
                                .model,
                                "generate: sequence \(s) with the \(put.count) tokens put in would pass the learned positions (\(config.contextLength))"
                            )
                        }
                        rollout.responses[s] += put
                        rollout.logProbs[s] += [Float](repeating: 0, count: put.count)
                        rollout.inserted[s] += [Bool](repeating: true, count: put.count)
                        feeds[i] += put
                    }
                }
                let width = feeds.map(\.count).max()!
                if width == 1 {
                    let h = hiddenStates(
                        running.map(\.1), batch: active.count, time: 1, cache: cache, slots: active, rng: &unusedRNG)
                    logits = languageModelHead(h.reshaped([active.count, config.dModel]))
                } else {
                    // Ragged: right-padded rows, each slot keeping its own tokens; a row's next
                    // logits are those of its last real position.
                    let h = hiddenStates(
                        feeds.flatMap { $0 + [Int](repeating: 0, count: width - $0.count) }, batch: active.count,
                        time: width, cache: cache, slots: active, counted: feeds.map(\.count), rng: &unusedRNG)
                    let last = feeds.enumerated().map { $0 * width + $1.count - 1 }
                    logits = languageModelHead(
                        h.reshaped([active.count * width, config.dModel]).indexSelect(rows: last))
                }
                if routing != nil {
                    routing!.append(routed, rows: active.indices.map { $0..<($0 + 1) }, to: active)
                }
                for (row, s) in active.enumerated() { rowOf[s] = row }
            }
            rollout.routing = routing
            return rollout
        }
    }

    /// Every input of a generation, checked before any work: errors name what is wrong.
    func checkGeneration(_ prompts: [[Int]], _ n: Int, _ maxNewTokens: Int, _ sampling: Sampling, _ streams: [RNG])
        throws
    {
        try sampling.check()
        guard !prompts.isEmpty else { throw LabError(.model, "generate: no prompts") }
        if let empty = prompts.firstIndex(where: \.isEmpty) {
            throw LabError(.model, "generate: prompt \(empty) is empty")
        }
        for (i, prompt) in prompts.enumerated() {
            if let bad = prompt.first(where: { !(0..<config.vocabSize).contains($0) }) {
                throw LabError(
                    .model,
                    "generate: prompt \(i) has token \(bad), outside the vocabulary 0..<\(config.vocabSize)")
            }
        }
        if n < 1 { throw LabError(.model, "generate: samplesPerPrompt \(n) must be at least 1") }
        if maxNewTokens < 0 { throw LabError(.model, "generate: maxNewTokens \(maxNewTokens) must be >= 0") }
        if streams.count != prompts.count * n {
            throw LabError(.model, "generate: \(streams.count) RNG streams for \(prompts.count * n) sequences")
        }
        let longest = prompts.map(\.count).max()!
        if config.positionEncoding == .learned && longest + maxNewTokens - 1 > config.contextLength {
            throw LabError(
                .model,
                "generate: \(longest) prompt + \(maxNewTokens) new tokens need positions beyond the learned table of \(config.contextLength)"
            )
        }
    }
}
