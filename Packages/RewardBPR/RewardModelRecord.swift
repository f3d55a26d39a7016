import HDF5Store
// The reward model as a self-describing checkpoint, so the RL packages load it from the file alone:
// its /model record is the trunk's (config, layer kinds, LM head, tokenizer) under the
// architecture "reward-model", and its weights are the trunk's and the scalar head's by name
// (trunk.*, head.weight, head.bias). The reward-bpr experiment writes the trained and centred
// model as `seed-N.reward-model.h5` beside its results.
import LabSupport
import ModelStore
import NanoTransformer
import TensorCore
import Tokenizer

extension RewardModel: SelfDescribingModel {
    public static let architecture = "reward-model"

    public var modelRecord: ModelRecord {
        var record = trunk.modelRecord
        record.architecture = Self.architecture
        return record
    }

    /// The record with the tokenizer the model reads, checked against its vocabulary.
    public func modelRecord(tokenizer: BPETokenizer) throws -> ModelRecord {
        var record = try trunk.modelRecord(tokenizer: tokenizer)
        record.architecture = Self.architecture
        return record
    }

    public static func rebuild(from record: ModelRecord, source: String) throws -> RewardModel {
        guard record.architecture == architecture else {
            throw LabError(.hdf5, "\(source): /model is a '\(record.architecture)', not a '\(architecture)'")
        }
        var trunkRecord = record
        trunkRecord.architecture = NanoTransformer.architecture
        var rng = RNG(seed: 0)  // weights are loaded next
        return RewardModel(trunk: try NanoTransformer.rebuild(from: trunkRecord, source: source), rng: &rng)
    }

    public func namedBuffers() -> [(name: String, tensor: Tensor)] {
        trunk.namedBuffers().map { (name: "trunk.\($0.name)", tensor: $0.tensor) }
    }

    /// Writes the model (weights, buffers, record and tokenizer) to `path` atomically: a file the RL
    /// packages load with `RewardModel.load(checkpoint:)`; `configJSON` records what made it.
    public func save(to path: String, tokenizer: BPETokenizer, configJSON: String = "{}", provenance: Provenance)
        throws
    {
        let buffers = namedBuffers().map { ("buffer/" + $0.name, $0.tensor) }
        try Checkpoint.save(
            TrainingState(
                step: 0, parameters: namedParameters(), tensors: Dictionary(uniqueKeysWithValues: buffers),
                configJSON: configJSON, provenance: provenance, model: try modelRecord(tokenizer: tokenizer)),
            to: path)
    }
}
