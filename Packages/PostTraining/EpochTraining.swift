// What every epoch-based post-training trainer (SFT, the reward model, DPO) keeps besides its
// model: the AdamW optimiser and its learning-rate schedule over the whole run, the epoch order of
// the examples (EpochOrder.swift) and the dropout stream, split from the run's seed in that order.
// Its state (order, cursor, both streams) goes into the checkpoint with the trainer's own.
import ExperimentKit
import TensorCore

public struct EpochTraining {
    public let adam: Adam
    public let schedule: LearningRateSchedule
    public var order: EpochOrder
    public var dropoutRNG: RNG
    public let updatesPerEpoch: Int
    public let epochs: Int

    public var totalUpdates: Int { updatesPerEpoch * epochs }

    public init(
        parameters: [(name: String, tensor: Tensor)], noDecay: Set<String>, optimizer: OptimizerSettings,
        examples: Int, batchSize: Int, epochs: Int, seed: UInt64
    ) {
        var root = RNG(seed: seed)
        order = EpochOrder(count: examples, rng: root.split())
        dropoutRNG = root.split()
        updatesPerEpoch = order.batchesPerEpoch(batchSize)
        self.epochs = epochs
        adam = optimizer.adamW(parameters, noDecay: noDecay)
        schedule = optimizer.schedule(totalSteps: updatesPerEpoch * epochs)
    }

    /// Epochs done after `updates` updates (fractional).
    public func epoch(after updates: Int) -> Double { Double(updates) / Double(updatesPerEpoch) }

    public func export(into state: inout TaskState) {
        order.export(into: &state)
        state.rngStreams["dropout"] = dropoutRNG.stateWords
    }

    public mutating func restore(from state: TaskState, path: String) throws {
        try order.restore(from: state, path: path)
        dropoutRNG = try state.stream("dropout", path: path)
    }
}
