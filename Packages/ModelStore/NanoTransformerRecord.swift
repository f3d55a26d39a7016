import Foundation
import HDF5Store
// The nano transformer as a self-describing model: its /model record holds the resolved config
// (vocabulary and every width written out, as trained), the blocks' attention and MLP kinds with
// their configs, and whether the untied LM head is there; `NanoTransformer.load(checkpoint:)`
// rebuilds it from the file alone, drop-in layers included (LayerKinds.swift).
import LabSupport
import NanoTransformer
import TensorCore
import Tokenizer

extension NanoTransformer: SelfDescribingModel {
    public static let architecture = "nano-transformer"

    public var modelRecord: ModelRecord {
        var resolved = config
        resolved.headDim = config.resolvedHeadDim
        resolved.mlpHidden = config.resolvedMLPHidden
        return ModelRecord(
            architecture: Self.architecture, config: resolved,
            fields: [
                "attention": attentionKind.kind, "attention_config": attentionKind.configJSON, "mlp": mlpKind.kind,
                "mlp_config": mlpKind.configJSON, "lm_head": hasLanguageModelHead ? "true" : "false",
            ])
    }

    /// The record with the tokenizer the model reads (its ids are the embedding's rows).
    public func modelRecord(tokenizer: BPETokenizer) throws -> ModelRecord {
        guard tokenizer.vocabSize == config.vocabSize else {
            throw LabError(
                .model,
                "modelRecord: tokenizer of \(tokenizer.vocabSize) tokens for a vocabulary of \(config.vocabSize)")
        }
        var record = modelRecord
        record.tokenizer = String(decoding: tokenizer.json(), as: UTF8.self)
        return record
    }

    public static func rebuild(from record: ModelRecord, source: String) throws -> NanoTransformer {
        let config = try record.config(TransformerConfig.self, architecture: architecture, source: source)
        let attention = try LayerKinds.factory(
            LayerKinds.attention, kind: try record.field("attention", source: source),
            config: try record.field("attention_config", source: source), field: "attention", source: source)
        let mlp = try LayerKinds.factory(
            LayerKinds.mlp, kind: try record.field("mlp", source: source),
            config: try record.field("mlp_config", source: source),
            field: "mlp", source: source)
        let head = record.fields["lm_head"] ?? "true"
        guard head == "true" || head == "false" else {
            throw LabError(.hdf5, "\(source): /model lm_head '\(head)' is not true or false")
        }
        var rng = RNG(seed: 0)  // weights are loaded next
        do {
            return try NanoTransformer(
                config, attention: attention, mlp: mlp, languageModelHead: head == "true", rng: &rng)
        } catch let error as LabError where error.domain == .model {
            throw LabError(.hdf5, "\(source): /model config: \(error.message)")
        }
    }
}

extension BPETokenizer {
    /// The tokenizer a model checkpoint embeds (/model/tokenizer).
    public static func load(checkpoint path: String) throws -> BPETokenizer {
        let state = try Checkpoint.load(from: path)
        guard let json = state.model?.tokenizer else {
            throw LabError(.hdf5, "\(path): no /model/tokenizer: this checkpoint does not carry its tokenizer")
        }
        return try decode(json: Data(json.utf8), source: "\(path) /model/tokenizer")
    }
}
