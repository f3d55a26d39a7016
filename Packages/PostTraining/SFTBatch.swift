// Supervised fine-tuning's batches: rendered (prompt, response) sequences laid out for one forward,
// with the next-token targets the loss reads.
//   padded   one sequence per row, right-padded to the longest of the batch (causal attention
//            never looks right, so padding needs no mask)
//   packed   sequences one after another in rows of `window` tokens (next fit, in order), each
//            with its own positions from 0 and an attention mask that keeps it to itself: the
//            same numbers as running each sequence alone, with no compute spent on padding
// Targets: position j of a sequence predicts token j + 1 of the same sequence, never the next
// sequence's first token; with the response-only loss (the default, as InstructGPT and TRL's
// completion-only collator) only response tokens are targets, so prompt tokens get no gradient.
//   loss = Σ_{counted targets} −log p(target) / N,  N = the counted targets of the whole update
// (every micro-batch), so splitting an update into micro-batches does not change it.
import LabSupport
import TensorCore

/// One training sequence: ids and where the response starts (ConversationFormat.render).
public struct SFTExample: Sendable, Equatable, Codable {
    public var ids: [Int]
    public var responseStart: Int

    public init(ids: [Int], responseStart: Int) {
        precondition(responseStart >= 1 && responseStart < ids.count, "SFTExample: the response must follow a prompt")
        (self.ids, self.responseStart) = (ids, responseStart)
    }
}

public enum SFTLayout: String, Codable, Sendable, CaseIterable {
    case padded
    case packed
}

public enum SFTLossTokens: String, Codable, Sendable, CaseIterable {
    /// Response tokens only.
    case response
    /// Every next token of the sequence, prompt included.
    case all
}

public struct SFTBatch: Sendable {
    public let rows: Int
    public let time: Int
    /// rows*time ids; padding is token 0.
    public let ids: [Int]
    /// rows*time next-token targets, -1 where nothing is predicted.
    public let targets: [Int]
    /// rows*time positions (restarting at each packed sequence).
    public let positions: [Int]
    /// Additive (rows, time, time) mask keeping packed sequences apart; nil when padded.
    public let mask: Tensor?
    /// Padding positions (no sequence).
    public let padding: Int
    /// How many targets are counted.
    public var counted: Int { targets.count { $0 >= 0 } }

    public init(_ examples: [SFTExample], layout: SFTLayout, lossTokens: SFTLossTokens, window: Int) throws {
        guard !examples.isEmpty else { throw LabError(.config, "SFTBatch: no examples") }
        if let long = examples.firstIndex(where: { $0.ids.count > window }) {
            throw LabError(
                .config,
                "SFT example \(long) has \(examples[long].ids.count) tokens, more than the window of \(window) (raise the window or drop long examples)"
            )
        }
        // Rows as lists of examples.
        var rowsOfExamples: [[SFTExample]] = []
        switch layout {
        case .padded:
            rowsOfExamples = examples.map { [$0] }
        case .packed:
            var used = window
            for e in examples {
                if used + e.ids.count > window {
                    rowsOfExamples.append([])
                    used = 0
                }
                rowsOfExamples[rowsOfExamples.count - 1].append(e)
                used += e.ids.count
            }
        }
        let t = layout == .packed ? window : examples.map(\.ids.count).max()!
        var ids: [Int] = []
        var targets: [Int] = []
        var positions: [Int] = []
        var mask: [Float] = []
        var padding = 0
        for row in rowsOfExamples {
            var segment: [Int] = []  // which sequence each position belongs to (-1: padding)
            for (s, e) in row.enumerated() {
                ids += e.ids
                positions += 0..<e.ids.count
                segment += [Int](repeating: s, count: e.ids.count)
                for j in 0..<e.ids.count {
                    let next = j + 1
                    let counted = next < e.ids.count && (lossTokens == .all || next >= e.responseStart)
                    targets.append(counted ? e.ids[next] : -1)
                }
            }
            let pad = t - segment.count
            padding += pad
            ids += [Int](repeating: 0, count: pad)
            targets += [Int](repeating: -1, count: pad)
            positions += (0..<pad).map { segment.count + $0 }  // after the last sequence; nothing reads them
            segment += [Int](repeating: -1, count: pad)
            if layout == .packed {
                for i in 0..<t { for j in 0..<t { mask.append(segment[i] == segment[j] ? 0 : -.infinity) } }
            }
        }
        (rows, time, self.ids, self.targets, self.positions) = (rowsOfExamples.count, t, ids, targets, positions)
        self.padding = padding
        self.mask = layout == .packed ? Tensor(mask, shape: [rowsOfExamples.count, t, t]) : nil
    }

    /// Σ −log p(target) over the counted targets / `normalizer` (default: the batch's own count,
    /// the mean), from logits (rows*time, V) of this batch.
    public func loss(_ logits: Tensor, normalizer: Int? = nil) -> Tensor {
        crossEntropy(logits, targets: targets, ignoreIndex: -1, reduction: .sum) / Float(normalizer ?? counted)
    }
}
