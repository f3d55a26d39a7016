// Routing replay across a rollout: the experts every routed layer (MoE) chose for each sequence's
// tokens, recorded during generation (the prompt at prefill, then one token per decode step) and
// forced again in a later forward over any subset of the sequences, so the ratio pi / pi_old of an
// MoE policy compares the same routing (the fix the GSPO paper discusses).
import TensorCore

public struct RoutingRecord: Sendable, Equatable {
    /// choices[s][l]: routed layer l's K experts for every token of sequence s that was fed to the
    /// model (prompt, then each response token but the last), token-major.
    public private(set) var choices: [[[Int]]]

    public init(sequences: Int, layers: Int) {
        choices = Array(repeating: Array(repeating: [], count: layers), count: sequences)
    }

    /// A record from its choices (one sent between processes).
    public init(choices: [[[Int]]]) { self.choices = choices }

    /// Appends the last forward's choices: batch rows `rows[i]` (token ranges of that forward) to
    /// sequence `sequences[i]`.
    mutating func append(_ layers: [any RoutedFeedForward], rows: [Range<Int>], to sequences: [Int]) {
        for (l, layer) in layers.enumerated() {
            let k = layer.choicesPerToken
            for (range, s) in zip(rows, sequences) {
                choices[s][l] += layer.lastChoice[(range.lowerBound * k)..<(range.upperBound * k)]
            }
        }
    }

    public func subset(_ indices: [Int]) -> RoutingRecord {
        var out = RoutingRecord(sequences: 0, layers: 0)
        out.choices = indices.map { choices[$0] }
        return out
    }
}

extension NanoTransformer {
    /// The blocks' routed MLPs, in order.
    public var routedLayers: [any RoutedFeedForward] { feedForwardLayers.compactMap { $0 as? any RoutedFeedForward } }

    /// Makes every routed layer use the recorded experts in the following forwards over `batch`,
    /// whose row i is the record's sequence i. Positions the record does not cover (a response's
    /// last token, padding) take experts 0..<K: nothing read from those positions' outputs
    /// depends on them, except the MoE balance loss and statistics, which count them.
    public func replayRouting(_ record: RoutingRecord, batch: ResponseBatch) {
        precondition(
            record.choices.count == batch.batch,
            "replayRouting: \(record.choices.count) sequences for \(batch.batch) rows")
        for (l, layer) in routedLayers.enumerated() {
            let k = layer.choicesPerToken
            var forced: [Int] = []
            forced.reserveCapacity(batch.batch * batch.time * k)
            for i in 0..<batch.batch {
                let recorded = record.choices[i][l]
                precondition(
                    recorded.count <= batch.time * k,
                    "replayRouting: sequence \(i) has more routed tokens than the batch")
                forced += recorded
                for _ in 0..<(batch.time - recorded.count / k) { forced += 0..<k }
            }
            layer.replay = forced
        }
    }

    /// Lets every routed layer choose freely again.
    public func stopRoutingReplay() { for layer in routedLayers { layer.replay = nil } }
}
