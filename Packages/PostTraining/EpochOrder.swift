// Epochs over a fixed data set, as every post-training trainer reads its examples: each epoch visits
// every example once in an order drawn from the data stream; a batch takes the next `size` of the
// current order (the last batch of an epoch may be smaller). Its state (stream, order, cursor) goes
// into a checkpoint, so a resumed run reads exactly the examples the uninterrupted one would.
import ExperimentKit
import LabSupport
import TensorCore

public struct EpochOrder: Sendable {
    public let count: Int
    var rng: RNG
    var order: [Int] = []
    var cursor = 0

    public init(count: Int, rng: RNG) {
        precondition(count > 0, "EpochOrder: no examples")
        (self.count, self.rng) = (count, rng)
    }

    /// Batches of `size` per epoch.
    public func batchesPerEpoch(_ size: Int) -> Int { (count + size - 1) / size }

    /// The indices of the next batch.
    public mutating func next(_ size: Int) -> [Int] {
        if cursor >= order.count {
            order = rng.permutation(count)
            cursor = 0
        }
        let taken = Array(order[cursor..<min(cursor + size, order.count)])
        cursor += taken.count
        return taken
    }

    /// Adds this order's state to a checkpoint's task state under `name`.
    public func export(into state: inout TaskState, name: String = "data") {
        state.rngStreams[name] = rng.stateWords
        state.values["\(name).order"] = order.map(Double.init)
        state.counters["\(name).cursor"] = Double(cursor)
    }

    /// Restores it; a missing or damaged entry is an error naming `path` and the entry.
    public mutating func restore(from state: TaskState, name: String = "data", path: String) throws {
        rng = try state.stream(name, path: path)
        guard let saved = state.values["\(name).order"] else {
            throw LabError(.config, "\(path): no values '\(name).order'")
        }
        guard saved.allSatisfy({ $0.isFinite && $0 == $0.rounded() && $0 >= 0 && $0 < Double(count) }),
            saved.isEmpty || saved.map({ Int($0) }).sorted() == Array(0..<count)
        else {
            throw LabError(.config, "\(path): values '\(name).order' is not an order of the \(count) examples")
        }
        order = saved.map { Int($0) }
        cursor = try state.counter("\(name).cursor", in: 0...order.count, path: path)
    }
}
