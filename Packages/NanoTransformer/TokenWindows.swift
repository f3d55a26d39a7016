// Training data as random contiguous windows of a token stream. The stream is cut into blocks;
// a seed-fixed share of blocks is held out for validation, so train and validation never share a
// token, and the split does not depend on the run's other random choices. A window never spans
// two blocks that were not adjacent in the corpus: it is drawn inside one segment (a run of
// consecutive blocks of the same split), every valid start in every segment equally likely.
import LabSupport
import TensorCore

public struct TokenWindows: Sendable {
    /// Runs of consecutive training blocks, and of consecutive held-out blocks, in corpus order.
    public let trainSegments: [[Int32]]
    public let validationSegments: [[Int32]]

    /// Splits `tokens` into blocks of `blockSize`, holding out `validationFraction` of them (at
    /// least one). A corpus of fewer than two blocks cannot be split; that is an error naming the
    /// sizes, not a validation set equal to the training data.
    public init(
        tokens: some Collection<Int>, blockSize: Int = 8192, validationFraction: Double = 0.1, seed: UInt64
    ) throws {
        let all = tokens.map { Int32($0) }
        let blocks = (all.count + blockSize - 1) / blockSize
        guard blocks >= 2 else {
            throw LabError(
                .model,
                "the corpus has \(all.count) tokens, \(blocks) block of \(blockSize): at least two are needed to hold one out for validation"
            )
        }
        var rng = RNG(seed: seed ^ 0x5EED_5911)
        let heldCount = min(blocks - 1, max(1, Int(Double(blocks) * validationFraction)))
        let held = Set(rng.permutation(blocks).prefix(heldCount))
        var train: [[Int32]] = []
        var validation: [[Int32]] = []
        for b in 0..<blocks {
            let slice = all[(b * blockSize)..<min((b + 1) * blockSize, all.count)]
            let isHeld = held.contains(b)
            // A block continues the segment of the block before it when both are in the same split.
            if b > 0 && held.contains(b - 1) == isHeld {
                if isHeld { validation[validation.count - 1] += slice } else { train[train.count - 1] += slice }
            } else if isHeld {
                validation.append(Array(slice))
            } else {
                train.append(Array(slice))
            }
        }
        trainSegments = train
        validationSegments = validation
    }

    /// Training and validation data given apart (a held-out set chosen by other means): each
    /// segment is a run of tokens a window may span.
    public init(trainSegments: [[Int32]], validationSegments: [[Int32]]) {
        self.trainSegments = trainSegments
        self.validationSegments = validationSegments
    }

    public var trainTokens: Int { trainSegments.reduce(0) { $0 + $1.count } }
    public var validationTokens: Int { validationSegments.reduce(0) { $0 + $1.count } }

    /// The longest window of `time` inputs (time + 1 tokens) that fits a segment of each split.
    public func fits(time: Int, validation useValidation: Bool) -> Bool {
        (useValidation ? validationSegments : trainSegments).contains { $0.count > time + 1 }
    }

    /// `batch` windows of `time + 1` tokens: inputs and next-token targets, (batch * time) each.
    /// One draw per window: a start among all the valid starts of all segments.
    public func batch(_ batch: Int, time: Int, validation useValidation: Bool = false, rng: inout RNG) -> (
        ids: [Int], targets: [Int]
    ) {
        let segments = useValidation ? validationSegments : trainSegments
        let starts = segments.map { Swift.max(0, $0.count - time - 1) }  // valid starts per segment
        let total = starts.reduce(0, +)
        precondition(total > 0, "no segment of \(segments.map(\.count)) tokens holds a window of \(time + 1)")
        var ids: [Int] = []
        var targets: [Int] = []
        ids.reserveCapacity(batch * time)
        targets.reserveCapacity(batch * time)
        for _ in 0..<batch {
            var start = rng.int(below: total)
            var k = 0
            while start >= starts[k] {
                start -= starts[k]
                k += 1
            }
            let source = segments[k]
            for j in 0..<time {
                ids.append(Int(source[start + j]))
                targets.append(Int(source[start + j + 1]))
            }
        }
        return (ids, targets)
    }
}
