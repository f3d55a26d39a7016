import Foundation
import HDF5Store
// The tensor core's MLP as a self-describing model (the worked example's network): its /model
// record holds the layer sizes, the activation and whether the layers have biases.
import LabSupport
import TensorCore

struct MLPShape: Codable, Equatable {
    var sizes: [Int]
    var activation: Activation
    var bias: Bool
}

extension MLP: SelfDescribingModel {
    public static let architecture = "mlp"

    public var modelRecord: ModelRecord {
        ModelRecord(
            architecture: Self.architecture,
            config: MLPShape(
                sizes: [layers[0].weight.shape[1]] + layers.map { $0.weight.shape[0] }, activation: activation,
                bias: layers[0].bias != nil))
    }

    public static func rebuild(from record: ModelRecord, source: String) throws -> Self {
        let shape = try record.config(MLPShape.self, architecture: architecture, source: source)
        guard shape.sizes.count >= 2, shape.sizes.allSatisfy({ $0 >= 1 }) else {
            throw LabError(.hdf5, "\(source): /model config: an MLP needs at least two positive sizes")
        }
        var rng = RNG(seed: 0)  // weights are loaded next
        return Self(sizes: shape.sizes, activation: shape.activation, bias: shape.bias, rng: &rng)
    }
}
