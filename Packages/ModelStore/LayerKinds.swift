import Foundation
import HDF5Store
// The drop-in layers a checkpoint may name, by kind: the one table a new attention or MLP is
// added to. A checkpoint records each block's attention and MLP kind with its config
// (NanoTransformer's LayerFactory); loading looks the kind up here and rebuilds the factory.
import LabSupport
import MLA
import MoE
import NanoTransformer

public enum LayerKinds {
    /// Attention kinds: "gqa" is the model's own (GQA/MHA/MQA by its config).
    public static let attention: [String: @Sendable (Data) throws -> AttentionFactory?] = [
        "gqa": { _ in nil },
        "mla": { MultiHeadLatentAttention.factory(try JSONDecoder().decode(MLAConfig.self, from: $0)) },
    ]

    /// MLP kinds: "dense" is the model's own (SwiGLU or GELU by its config).
    public static let mlp: [String: @Sendable (Data) throws -> MLPFactory?] = [
        "dense": { _ in nil },
        "moe": { MixtureOfExperts.factory(try JSONDecoder().decode(MoEConfig.self, from: $0)) },
    ]

    /// The factory a record names, or an error naming the file, the field and the known kinds.
    static func factory<F>(
        _ table: [String: @Sendable (Data) throws -> F?], kind: String, config: String, field: String, source: String
    ) throws -> F? {
        guard let make = table[kind] else {
            throw LabError(
                .hdf5,
                "\(source): /model \(field) '\(kind)' is not a known kind (known: \(table.keys.sorted().joined(separator: ", ")))"
            )
        }
        do { return try make(Data(config.utf8)) } catch {
            throw LabError(.hdf5, "\(source): /model \(field)_config does not decode as a '\(kind)' config: \(error)")
        }
    }
}
