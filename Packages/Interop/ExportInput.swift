// What `lab export` reads: the model a checkpoint describes and the tokenizer it carries (or one
// from a file, for a checkpoint written without it).
import Foundation
import HDF5Store
import LabSupport
import ModelStore
import NanoTransformer
import TensorCore
import Tokenizer

public enum ExportInput {
    public static func model(checkpoint path: String) throws -> NanoTransformer {
        try NanoTransformer.load(checkpoint: path)
    }

    public static func tokenizer(checkpoint path: String, file: String?) throws -> BPETokenizer {
        if let file { return try BPETokenizer.load(from: file) }
        return try BPETokenizer.load(checkpoint: path)
    }
}

extension ExportInput {
    /// `lab logits`: the ids (from `text`, or the comma-separated `ids`) and one row of logits
    /// per position, computed by our model from the checkpoint.
    public static func logits(checkpoint: String, text: String?, ids: String?) throws -> (ids: [Int], rows: [[Float]]) {
        let model = try model(checkpoint: checkpoint)
        let tokens: [Int]
        switch (text, ids) {
        case (let text?, nil):
            tokens = try tokenizer(checkpoint: checkpoint, file: nil).encode(text, allowedSpecial: .huggingFace)
        case (nil, let ids?):
            tokens = try ids.split(separator: ",").map { item in
                guard let id = Int(item.trimmingCharacters(in: .whitespaces)), id >= 0, id < model.config.vocabSize
                else {
                    throw LabError(.config, "--ids: '\(item)' is not a token id below \(model.config.vocabSize)")
                }
                return id
            }
        default: throw LabError(.config, "give --text or --ids (one of them)")
        }
        guard !tokens.isEmpty else { throw LabError(.config, "no tokens to compute logits for") }
        var rng = RNG(seed: 0)
        let out = withNoGrad { model.logits(tokens, batch: 1, time: tokens.count, rng: &rng) }
        let v = model.config.vocabSize
        return (tokens, (0..<tokens.count).map { t in Array(UnsafeBufferPointer(start: out.data + t * v, count: v)) })
    }
}
