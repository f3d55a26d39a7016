import Foundation
import HDF5Store
// The agent as a self-describing model: a PPO checkpoint's /model record holds its shape
// (observation size, action space, hidden widths, separate or shared networks, how the Gaussian's
// log std is parameterised), so `ActorCritic.load(checkpoint:)` rebuilds it from the file alone.
import LabSupport
import TensorCore

/// The agent's shape as the record stores it (JSON, field `config`).
struct ActorCriticShape: Codable, Equatable {
    var observationSize: Int
    /// Discrete actions 0..<actions, or nil for a box of `boxDimension` values in boxLow...boxHigh.
    var actions: Int?
    var boxDimension: Int?
    var boxLow: Float?
    var boxHigh: Float?
    var hidden: [Int]
    var shared: Bool
    var stateDependentStd: Bool
}

extension ActorCritic: SelfDescribingModel {
    public static let architecture = "ppo-actor-critic"

    public var modelRecord: ModelRecord {
        var shape = ActorCriticShape(
            observationSize: observationSize, hidden: hidden, shared: shared, stateDependentStd: stateDependentStd)
        switch actionSpace {
        case .discrete(let n): shape.actions = n
        case .box(let d, let low, let high): (shape.boxDimension, shape.boxLow, shape.boxHigh) = (d, low, high)
        }
        return ModelRecord(architecture: Self.architecture, config: shape)
    }

    public static func rebuild(from record: ModelRecord, source: String) throws -> ActorCritic {
        let shape = try record.config(ActorCriticShape.self, architecture: architecture, source: source)
        let space: ActionSpace
        if let n = shape.actions, n >= 1 {
            space = .discrete(n)
        } else if let d = shape.boxDimension, let low = shape.boxLow, let high = shape.boxHigh, d >= 1, low < high {
            space = .box(dimension: d, low: low, high: high)
        } else {
            throw LabError(.hdf5, "\(source): /model config has neither a discrete nor a box action space")
        }
        guard shape.observationSize >= 1, !shape.hidden.isEmpty, shape.hidden.allSatisfy({ $0 >= 1 }) else {
            throw LabError(.hdf5, "\(source): /model config: sizes must be positive")
        }
        var rng = RNG(seed: 0)  // weights are loaded next
        return ActorCritic(
            observationSize: shape.observationSize, actionSpace: space, hidden: shape.hidden, shared: shape.shared,
            orthogonalInit: false, stateDependentStd: shape.stateDependentStd, rng: &rng)
    }
}
