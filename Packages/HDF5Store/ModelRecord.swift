import Foundation
// A checkpoint that rebuilds its own model: the /model group records the architecture, its
// resolved config and parts (JSON), and the tokenizer when the model reads text, so loading needs
// the file alone (no launch config, no tokenizer folder, no code that knows the run's widths).
// Layout: /model attributes `architecture` and one JSON string per field (`config`, and e.g.
// `attention` / `attention_config` / `mlp` / `mlp_config` for the nano transformer);
// /model/tokenizer: one string, the tokenizer's own JSON. Readable from h5py with json.loads.
import LabSupport
import TensorCore

public struct ModelRecord: Equatable, Sendable {
    /// Which model type rebuilds it: "nano-transformer", "mlp", "ppo-actor-critic".
    public var architecture: String
    /// The model's resolved config and parts, each a string (JSON or a plain name).
    public var fields: [String: String]
    /// The tokenizer's JSON (the project's format), for models that read text.
    public var tokenizer: String?

    public init(architecture: String, fields: [String: String], tokenizer: String? = nil) {
        self.architecture = architecture
        self.fields = fields
        self.tokenizer = tokenizer
    }

    /// A record whose `config` field is `config` as JSON (sorted keys), plus `fields`.
    public init(architecture: String, config: some Encodable, fields: [String: String] = [:], tokenizer: String? = nil)
    {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var all = fields
        all["config"] = String(decoding: (try? encoder.encode(config)) ?? Data("{}".utf8), as: UTF8.self)
        self.init(architecture: architecture, fields: all, tokenizer: tokenizer)
    }

    /// The `config` field decoded, after checking the record is an `architecture`; errors name the
    /// file and what is wrong.
    public func config<Config: Decodable>(_ type: Config.Type, architecture expected: String, source: String) throws
        -> Config
    {
        guard architecture == expected else {
            throw LabError(.hdf5, "\(source): /model is a '\(architecture)', not a '\(expected)'")
        }
        let json = try field("config", source: source)
        do {
            return try JSONDecoder().decode(Config.self, from: Data(json.utf8))
        } catch {
            throw LabError(.hdf5, "\(source): /model config is not a '\(expected)' config: \(error)")
        }
    }

    /// A field that must be there; the error names the file and the field.
    public func field(_ name: String, source: String) throws -> String {
        guard let value = fields[name] else {
            throw LabError(.hdf5, "\(source): /model has no '\(name)' attribute (architecture '\(architecture)')")
        }
        return value
    }
}

/// A model type that a checkpoint can rebuild from its /model record alone.
public protocol SelfDescribingModel: Module {
    /// What a checkpoint stores beside the weights.
    var modelRecord: ModelRecord { get }
    /// A model of the recorded architecture and shape; its weights are then loaded by name.
    static func rebuild(from record: ModelRecord, source: String) throws -> Self
    /// Checkpointed state the optimiser does not train (MoE's routing bias), at /state/buffer/<name>.
    func namedBuffers() -> [(name: String, tensor: Tensor)]
}

extension SelfDescribingModel {
    public func namedBuffers() -> [(name: String, tensor: Tensor)] { [] }

    /// The model a checkpoint holds, from the file alone: rebuilt from /model, every parameter and
    /// buffer restored strictly (a missing, unexpected or misshapen tensor is a named error).
    public static func load(checkpoint path: String) throws -> Self {
        let state = try Checkpoint.load(from: path)
        guard let record = state.model else {
            throw LabError(
                .hdf5,
                "\(path): no /model group: this checkpoint does not describe its model (written before checkpoints did, or not a model checkpoint)"
            )
        }
        let model = try rebuild(from: record, source: path)
        try Checkpoint.restore(model.namedParameters(), from: state, path: path)
        try Checkpoint.restoreBuffers(model.namedBuffers(), from: state.tensors, path: path)
        return model
    }
}
