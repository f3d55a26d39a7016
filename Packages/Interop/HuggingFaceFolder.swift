import Foundation
// A Hugging Face model folder: config.json, model.safetensors (or shards with their index),
// tokenizer.json and tokenizer_config.json. Export writes the folder beside its target and
// renames it into place (an existing folder is replaced only when asked); import reads one back
// into our model and tokenizer, every tensor's name and shape checked.
import HDF5Store
import LabSupport
import ModelStore
import NanoTransformer
import TensorCore
import Tokenizer

public enum HuggingFaceFolder {
    /// Tensors of a model under Hugging Face's names (float32 copies of ours).
    public static func tensors(of model: NanoTransformer) throws -> [String: NamedArray] {
        try LlamaLayout.check(model)
        let ours = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.name, $0.tensor) })
        let names = LlamaLayout.names(for: model.config)
        if let extra = Set(ours.keys).subtracting(names.map(\.ours)).sorted().first {
            throw LabError(.model, "'\(extra)' has no place in the Llama layout")
        }
        var out: [String: NamedArray] = [:]
        for name in names {
            guard let t = ours[name.ours] else { throw LabError(.model, "'\(name.ours)' is missing from the model") }
            out[name.huggingFace] = NamedArray(
                shape: t.shape, values: Array(UnsafeBufferPointer(start: t.data, count: t.count)))
        }
        return out
    }

    /// The special token that ends a response or document, when the tokenizer has one.
    static func endToken(_ tokenizer: BPETokenizer) -> (String, Int)? {
        for name in ["<|end|>", "<|endoftext|>", "</s>", "<|eot_id|>"] {
            if let id = tokenizer.specialTokens[name] { return (name, id) }
        }
        return nil
    }

    /// The four files of an export, by name.
    public static func files(model: NanoTransformer, tokenizer: BPETokenizer) throws -> [String: [UInt8]] {
        guard tokenizer.vocabSize == model.config.vocabSize else {
            throw LabError(
                .tokenizer,
                "the tokenizer has \(tokenizer.vocabSize) tokens, the model's vocabulary \(model.config.vocabSize)")
        }
        _ = try ByteLevelVocabulary(tokenizer)  // one id per string, or a named error
        let weights = try SafeTensors.encode(tensors(of: model), metadata: ["format": "pt"])
        let end = endToken(tokenizer)
        let config = LlamaConfigJSON.object(model.config, endTokenID: end?.1)
        var tokenizerConfig: [String: Any] = [
            "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": model.config.contextLength,
            "clean_up_tokenization_spaces": false, "add_bos_token": false, "add_eos_token": false,
        ]
        if let end { tokenizerConfig["eos_token"] = end.0 }
        func json(_ object: Any) throws -> [UInt8] {
            Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])) + [10]
        }
        return [
            "config.json": try json(config), "model.safetensors": weights,
            "tokenizer.json": Array(try tokenizer.huggingFaceJSON()),
            "tokenizer_config.json": try json(tokenizerConfig),
        ]
    }

    /// Writes the export to `folder`: built in `<folder>.tmp-<pid>` and renamed into place. An
    /// existing folder is an error unless `overwrite` (then it is replaced only once the new one
    /// is complete).
    public static func export(model: NanoTransformer, tokenizer: BPETokenizer, to folder: String, overwrite: Bool)
        throws
    {
        try writeFolderAtomically(try files(model: model, tokenizer: tokenizer), to: folder, overwrite: overwrite)
    }

    /// Our model and tokenizer from a Hugging Face Llama folder. The embedding (and LM head)
    /// rows are reordered into our tokenizer's ids (`theirID[ours]` is the row they had).
    public static func load(_ folder: String) throws -> (
        model: NanoTransformer, tokenizer: BPETokenizer, theirID: [Int]
    ) {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw LabError(.config, "\(folder): no such folder")
        }
        let configPath = "\(folder)/config.json"
        guard let configData = FileManager.default.contents(atPath: configPath) else {
            throw LabError(.config, "\(configPath): missing (a Hugging Face model folder has config.json)")
        }
        guard let json = (try? JSONSerialization.jsonObject(with: configData)) as? [String: Any] else {
            throw LabError(.config, "\(configPath): not a JSON object")
        }
        let config = try LlamaConfigJSON.config(from: json, source: configPath)
        let tokenizerPath = "\(folder)/tokenizer.json"
        guard let tokenizerData = FileManager.default.contents(atPath: tokenizerPath) else {
            throw LabError(.tokenizer, "\(tokenizerPath): missing (the model's ids mean nothing without it)")
        }
        let (tokenizer, theirID) = try ByteLevelVocabulary.importTokenizer(json: tokenizerData, source: tokenizerPath)
        guard tokenizer.vocabSize == config.vocabSize, theirID.allSatisfy({ $0 < config.vocabSize }) else {
            throw LabError(
                .tokenizer,
                "\(tokenizerPath): \(tokenizer.vocabSize) tokens (ids up to \(theirID.max() ?? 0)) for vocab_size \(config.vocabSize) in config.json: every row of the embedding needs its token"
            )
        }
        var weights = try readWeights(folder)
        var rng = RNG(seed: 0)
        let model = try NanoTransformer(config, rng: &rng)
        let names = LlamaLayout.names(for: config)
        let ours = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.name, $0.tensor) })
        // A tied model may still store lm_head (some exporters do): it must then be the embedding.
        if config.tiedEmbeddings, let head = weights.removeValue(forKey: LlamaLayout.head.huggingFace),
            head != weights[LlamaLayout.embedding.huggingFace]
        {
            throw LabError(
                .model, "\(folder): lm_head.weight differs from model.embed_tokens.weight in a tied model")
        }
        weights.removeValue(forKey: "model.rotary_emb.inv_freq")  // a buffer some old exports saved
        for name in names {
            guard let source = weights.removeValue(forKey: name.huggingFace) else {
                throw LabError(.model, "\(folder): tensor '\(name.huggingFace)' is missing")
            }
            let target = ours[name.ours]!
            guard source.shape == target.shape else {
                throw LabError(
                    .model,
                    "\(folder): tensor '\(name.huggingFace)' has shape \(source.shape), config.json makes it \(target.shape)"
                )
            }
            if name == LlamaLayout.embedding || name == LlamaLayout.head {
                let c = target.shape[1]
                for (row, theirs) in theirID.enumerated() {
                    source.values.withUnsafeBufferPointer {
                        (target.data + row * c).update(from: $0.baseAddress! + theirs * c, count: c)
                    }
                }
            } else {
                source.values.withUnsafeBufferPointer { target.data.update(from: $0.baseAddress!, count: target.count) }
            }
        }
        if let stray = weights.keys.sorted().first {
            throw LabError(.model, "\(folder): tensor '\(stray)' has no place in our model")
        }
        return (model, tokenizer, theirID)
    }

    /// model.safetensors, or the shards model.safetensors.index.json lists.
    static func readWeights(_ folder: String) throws -> [String: NamedArray] {
        let single = "\(folder)/model.safetensors"
        if FileManager.default.fileExists(atPath: single) { return try SafeTensors.read(single) }
        let indexPath = "\(folder)/model.safetensors.index.json"
        guard let data = FileManager.default.contents(atPath: indexPath) else {
            throw LabError(.model, "\(folder): neither model.safetensors nor model.safetensors.index.json")
        }
        guard let index = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
            let map = index["weight_map"] as? [String: String]
        else { throw LabError(.model, "\(indexPath): no weight_map") }
        var out: [String: NamedArray] = [:]
        for shard in Set(map.values).sorted() {
            for (name, t) in try SafeTensors.read("\(folder)/\(shard)") where map[name] == shard { out[name] = t }
        }
        if let missing = map.keys.sorted().first(where: { out[$0] == nil }) {
            throw LabError(.model, "\(indexPath): '\(missing)' is not in its shard \(map[missing]!)")
        }
        return out
    }
}

/// Writes `files` into a new folder `<folder>.tmp-<pid>`, then renames it to `folder`.
func writeFolderAtomically(_ files: [String: [UInt8]], to folder: String, overwrite: Bool) throws {
    let manager = FileManager.default
    if manager.fileExists(atPath: folder) && !overwrite {
        throw LabError(.config, "\(folder): exists (pass --overwrite to replace it)")
    }
    let pid = ProcessInfo.processInfo.processIdentifier
    let temporary = "\(folder).tmp-\(pid)"
    try? manager.removeItem(atPath: temporary)
    do {
        try manager.createDirectory(atPath: temporary, withIntermediateDirectories: true)
    } catch {
        throw LabError(.config, "\(temporary): cannot create: \(error.localizedDescription)")
    }
    do {
        for (name, bytes) in files { try writeFileDurably(bytes, to: "\(temporary)/\(name)") }
        if manager.fileExists(atPath: folder) {
            let old = "\(folder).old-\(pid)"
            try manager.moveItem(atPath: folder, toPath: old)
            try manager.moveItem(atPath: temporary, toPath: folder)
            try? manager.removeItem(atPath: old)
        } else {
            try manager.moveItem(atPath: temporary, toPath: folder)
        }
    } catch {
        try? manager.removeItem(atPath: temporary)
        if let error = error as? LabError { throw error }
        throw LabError(.config, "\(folder): cannot write the export: \(error.localizedDescription)")
    }
}

extension HuggingFaceFolder {
    /// `lab import`: a Hugging Face Llama folder as one of our model checkpoints (step 0, the
    /// model record with its tokenizer), written atomically; an existing file only when asked.
    public static func importCheckpoint(from folder: String, to path: String, overwrite: Bool) throws -> NanoTransformer
    {
        if FileManager.default.fileExists(atPath: path) && !overwrite {
            throw LabError(.config, "\(path): exists (pass --overwrite to replace it)")
        }
        let (model, tokenizer, _) = try load(folder)
        let state = TrainingState(
            step: 0, parameters: model.namedParameters(), provenance: .current(threads: Threads.count),
            model: try model.modelRecord(tokenizer: tokenizer))
        try Checkpoint.save(state, to: path)
        return model
    }
}
