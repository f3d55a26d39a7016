// Training data as random contiguous windows of a token stream. The stream is cut into blocks;
// a seed-fixed share of blocks is held out for validation, so train and validation never overlap
// and the split does not depend on the run's other random choices.
import TensorCore

public struct TokenWindows: Sendable {
    public let train: [Int32]
    public let validation: [Int32]

    /// Splits `tokens` into blocks of `blockSize`, holding out `validationFraction` of them.
    public init(tokens: some Collection<Int>, blockSize: Int = 8192, validationFraction: Double = 0.1, seed: UInt64) {
        let all = tokens.map { Int32($0) }
        let blocks = max(1, (all.count + blockSize - 1) / blockSize)
        var rng = RNG(seed: seed ^ 0x5EED_5911)
        let held = Set(rng.permutation(blocks).prefix(max(1, Int(Double(blocks) * validationFraction))))
        var train: [Int32] = []
        var validation: [Int32] = []
        for b in 0..<blocks {
            let slice = all[(b * blockSize)..<min((b + 1) * blockSize, all.count)]
            if held.contains(b) && blocks > 1 { validation += slice } else { train += slice }
        }
        self.train = train
        self.validation = validation.isEmpty ? Array(train.suffix(blockSize)) : validation
    }

    /// `batch` windows of `time + 1` tokens: inputs and next-token targets, (batch * time) each.
    public func batch(_ batch: Int, time: Int, validation useValidation: Bool = false, rng: inout RNG) -> (
        ids: [Int], targets: [Int]
    ) {
        let source = useValidation ? validation : train
        precondition(source.count > time + 1, "token stream of \(source.count) is too short for windows of \(time + 1)")
        var ids: [Int] = []
        var targets: [Int] = []
        ids.reserveCapacity(batch * time)
        targets.reserveCapacity(batch * time)
        for _ in 0..<batch {
            let start = rng.int(below: source.count - time - 1)
            for j in 0..<time {
                ids.append(Int(source[start + j]))
                targets.append(Int(source[start + j + 1]))
            }
        }
        return (ids, targets)
    }
}
