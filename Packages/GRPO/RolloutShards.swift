import Distributed
import LabSupport
// A step's rollout in shards: the prompts split into `shards` contiguous batches, one generate call
// each; a process generates its share of the shards and every process receives every shard, in
// shard order (an all-gather: a copy, so every token and log-prob arrives bit for bit). The
// batching is the shards' whatever the number of processes: the behaviour log-probs of a forward
// depend on its batch in the last bits, so N processes equal one process with the same shards.
// On the wire a sequence is floats (ids and counts are integers below 2^24, exact):
//   prompt count, prompt ids, response count, response ids, log-probs, inserted (0/1 per response
//   token: put in by the environment, not sampled), stopped (0/1),
//   routed layers L (0: no record), then per layer: choice count, choices.
import NanoTransformer

struct RolloutShards {
    var prompts: [[Int]] = []
    var responses: [[Int]] = []
    var logProbs: [[Float]] = []
    var inserted: [[Bool]] = []
    var stopped: [Bool] = []
    /// The experts of every routed layer for every sequence (nil when not recorded).
    var routing: [[[Int]]]?

    /// The prompts of shard q of `count` prompts split into `shards`.
    static func prompts(shard q: Int, of shards: Int, count: Int) -> Range<Int> {
        (count * q / shards)..<(count * (q + 1) / shards)
    }

    static func encode(_ rollout: Rollout) -> [Float] {
        var out: [Float] = []
        for i in 0..<rollout.count {
            let (prompt, response) = (rollout.prompts[i], rollout.responses[i])
            out.append(Float(prompt.count))
            out += prompt.map(Float.init)
            out.append(Float(response.count))
            out += response.map(Float.init)
            out += rollout.logProbs[i]
            out += rollout.inserted[i].map { $0 ? 1 : 0 }
            out.append(rollout.finish[i] == .stop ? 1 : 0)
            let layers = rollout.routing?.choices[i] ?? []
            out.append(Float(layers.count))
            for choices in layers {
                out.append(Float(choices.count))
                out += choices.map(Float.init)
            }
        }
        return out
    }

    /// The sequences of every process's buffer, in rank order (each holds its shards in order).
    static func decode(_ buffers: [[Float]]) throws -> RolloutShards {
        var all = RolloutShards()
        var routing: [[[Int]]] = []
        for (rank, buffer) in buffers.enumerated() {
            var at = 0
            func take(_ n: Int) throws -> ArraySlice<Float> {
                guard n >= 0, at + n <= buffer.count else {
                    throw LabError(
                        .config, "rollout shards: process \(rank)'s buffer ends at \(buffer.count) floats, mid-sequence"
                    )
                }
                defer { at += n }
                return buffer[at..<(at + n)]
            }
            func integers(_ n: Int) throws -> [Int] {
                try take(n).map { value in
                    guard let i = Int(exactly: value) else {
                        throw LabError(
                            .config, "rollout shards: process \(rank) sent \(value) where a count or an id goes")
                    }
                    return i
                }
            }
            func count() throws -> Int { try integers(1)[0] }
            while at < buffer.count {
                all.prompts.append(try integers(try count()))
                let length = try count()
                all.responses.append(try integers(length))
                all.logProbs.append(Array(try take(length)))
                all.inserted.append(try integers(length).map { $0 == 1 })
                all.stopped.append(try count() == 1)
                routing.append(try (0..<(try count())).map { _ in try integers(try count()) })
            }
        }
        all.routing = routing.contains { !$0.isEmpty } ? routing : nil
        return all
    }
}

extension Communicator {
    /// Every shard's sequences on every process; this process generated `mine`.
    func gatherRollout(_ mine: [Rollout]) throws -> RolloutShards {
        try RolloutShards.decode(allGather(mine.flatMap(RolloutShards.encode), what: "the rollout's shards"))
    }
}
