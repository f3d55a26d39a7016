import Foundation
// GGUF (llama.cpp's model file, version 3), written for the "llama" architecture:
//   "GGUF" u32 version, u64 tensor count, u64 key count, then the metadata keys (string key,
//   u32 type, value), then one info per tensor (name, u32 dims, u64 sizes innermost first, u32
//   type, u64 offset), padding to 32 bytes, then the tensors, each starting at a multiple of 32.
// Strings are a u64 byte count and the bytes; everything is little-endian. A row-major (rows,
// cols) matrix is GGUF's (ne0 = cols, ne1 = rows) with the same bytes.
//
// The RoPE pairing: we and Hugging Face rotate dimension i with i + D/2 ("rotate-half");
// llama.cpp's llama architecture rotates 2i with 2i + 1 (interleaved). So the rows of q and k are
// permuted per head, row h·D + 2j + s taking our row h·D + s·D/2 + j, as llama.cpp's own
// converter does. q·k is unchanged (both sides move the same way); v and o are untouched.
import HDF5Store
import LabSupport
import NanoTransformer
import Tokenizer

#if canImport(Glibc)
    import Glibc
#endif

public enum GGUFFile {
    public static let alignment = 32

    /// A metadata value of one of GGUF's types.
    public enum Value: Equatable, Sendable {
        case uint32(UInt32)
        case int32(Int32)
        case float32(Float)
        case bool(Bool)
        case string(String)
        case strings([String])
        case int32s([Int32])

        var typeCode: UInt32 {
            switch self {
            case .uint32: 4
            case .int32: 5
            case .float32: 6
            case .bool: 7
            case .string: 8
            case .strings, .int32s: 9
            }
        }
    }

    /// Rows of a q or k matrix from rotate-half to interleaved order, per head of `headDim` rows.
    public static func interleavedRoPERows(_ values: [Float], rows: Int, cols: Int, headDim: Int) -> [Float] {
        var out = values
        let half = headDim / 2
        for head in 0..<(rows / headDim) {
            for j in 0..<half {
                for s in 0..<2 {
                    let to = head * headDim + 2 * j + s
                    let from = head * headDim + s * half + j
                    for c in 0..<cols { out[to * cols + c] = values[from * cols + c] }
                }
            }
        }
        return out
    }

    /// The metadata llama.cpp reads for a llama model with this tokenizer.
    public static func metadata(_ model: NanoTransformer, tokenizer: BPETokenizer, name: String, f16: Bool) throws
        -> [(String, Value)]
    {
        let c = model.config
        let vocabulary = try ByteLevelVocabulary(tokenizer)
        var out: [(String, Value)] = [
            ("general.architecture", .string("llama")), ("general.name", .string(name)),
            ("general.file_type", .uint32(f16 ? 1 : 0)),
            ("llama.vocab_size", .uint32(UInt32(c.vocabSize))),
            ("llama.context_length", .uint32(UInt32(c.contextLength))),
            ("llama.embedding_length", .uint32(UInt32(c.dModel))),
            ("llama.block_count", .uint32(UInt32(c.layers))),
            ("llama.feed_forward_length", .uint32(UInt32(c.resolvedMLPHidden))),
            ("llama.attention.head_count", .uint32(UInt32(c.heads))),
            ("llama.attention.head_count_kv", .uint32(UInt32(c.kvHeads))),
            ("llama.attention.key_length", .uint32(UInt32(c.resolvedHeadDim))),
            ("llama.attention.value_length", .uint32(UInt32(c.resolvedHeadDim))),
            ("llama.attention.layer_norm_rms_epsilon", .float32(Float(c.normEps))),
            ("llama.rope.dimension_count", .uint32(UInt32(c.resolvedHeadDim))),
            ("llama.rope.freq_base", .float32(Float(c.ropeBase))),
        ]
        if c.ropePositionScale != 1 {
            out += [
                ("llama.rope.scaling.type", .string("linear")),
                ("llama.rope.scaling.factor", .float32(Float(1 / c.ropePositionScale))),
            ]
        }
        out += [
            ("tokenizer.ggml.model", .string("gpt2")),
            // llama.cpp's names for the two split patterns (Llama 3's is GPT-4's).
            ("tokenizer.ggml.pre", .string(tokenizer.pattern == .gpt2 ? "gpt-2" : "llama-bpe")),
            ("tokenizer.ggml.tokens", .strings(vocabulary.tokens)),
            (
                "tokenizer.ggml.token_type",
                .int32s((0..<vocabulary.tokens.count).map { vocabulary.special.contains($0) ? 3 : 1 })
            ),
            ("tokenizer.ggml.merges", .strings(vocabulary.merges.map { "\($0.left) \($0.right)" })),
            ("tokenizer.ggml.add_bos_token", .bool(false)),
        ]
        if let end = HuggingFaceFolder.endToken(tokenizer) {
            out += [
                ("tokenizer.ggml.bos_token_id", .uint32(UInt32(end.1))),
                ("tokenizer.ggml.eos_token_id", .uint32(UInt32(end.1))),
            ]
        }
        return out
    }

    /// The tensors under GGUF's names: q and k rows interleaved, matrices in float16 when `f16`
    /// (norm gains stay float32, as llama.cpp keeps one-dimensional tensors).
    public static func tensors(_ model: NanoTransformer, f16: Bool) throws -> [(
        name: String, shape: [Int], values: [Float], f16: Bool
    )] {
        let weights = try HuggingFaceFolder.tensors(of: model)
        let d = model.config.resolvedHeadDim
        return LlamaLayout.names(for: model.config).map { name in
            let t = weights[name.huggingFace]!
            let values =
                name.ropeRows == nil
                ? t.values : interleavedRoPERows(t.values, rows: t.shape[0], cols: t.shape[1], headDim: d)
            return (name.gguf, t.shape, values, f16 && t.shape.count == 2)
        }
    }

    /// The file's bytes.
    public static func encode(_ model: NanoTransformer, tokenizer: BPETokenizer, name: String, f16: Bool) throws
        -> [UInt8]
    {
        guard tokenizer.vocabSize == model.config.vocabSize else {
            throw LabError(
                .tokenizer,
                "the tokenizer has \(tokenizer.vocabSize) tokens, the model's vocabulary \(model.config.vocabSize)")
        }
        let keys = try metadata(model, tokenizer: tokenizer, name: name, f16: f16)
        let tensors = try tensors(model, f16: f16)
        var out: [UInt8] = Array("GGUF".utf8)
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func string(_ s: String) {
            u64(UInt64(s.utf8.count))
            out += Array(s.utf8)
        }
        u32(3)
        u64(UInt64(tensors.count))
        u64(UInt64(keys.count))
        for (key, value) in keys {
            string(key)
            u32(value.typeCode)
            switch value {
            case .uint32(let v): u32(v)
            case .int32(let v): u32(UInt32(bitPattern: v))
            case .float32(let v): u32(v.bitPattern)
            case .bool(let v): out.append(v ? 1 : 0)
            case .string(let v): string(v)
            case .strings(let list):
                u32(8)
                u64(UInt64(list.count))
                for item in list { string(item) }
            case .int32s(let list):
                u32(5)
                u64(UInt64(list.count))
                for item in list { u32(UInt32(bitPattern: item)) }
            }
        }
        var offset = 0
        for t in tensors {
            string(t.name)
            u32(UInt32(t.shape.count))
            for n in t.shape.reversed() { u64(UInt64(n)) }
            u32(t.f16 ? 1 : 0)
            u64(UInt64(offset))
            offset += (t.values.count * (t.f16 ? 2 : 4) + alignment - 1) / alignment * alignment
        }
        while out.count % alignment != 0 { out.append(0) }
        for t in tensors {
            if t.f16 {
                for v in t.values {
                    withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { out.append(contentsOf: $0) }
                }
            } else {
                for v in t.values { u32(v.bitPattern) }
            }
            while out.count % alignment != 0 { out.append(0) }
        }
        return out
    }

    /// Writes the file through a temporary and a rename (an existing file only when `overwrite`).
    public static func export(
        model: NanoTransformer, tokenizer: BPETokenizer, to path: String, name: String, f16: Bool, overwrite: Bool
    ) throws {
        if FileManager.default.fileExists(atPath: path) && !overwrite {
            throw LabError(.config, "\(path): exists (pass --overwrite to replace it)")
        }
        let bytes = try encode(model, tokenizer: tokenizer, name: name, f16: f16)
        let temporary = "\(path).tmp-\(ProcessInfo.processInfo.processIdentifier)"
        do {
            try writeFileDurably(bytes, to: temporary)
            guard rename(temporary, path) == 0 else {
                throw LabError(.config, "\(path): cannot rename the temporary file into place (errno \(errno))")
            }
        } catch {
            unlink(temporary)
            throw error
        }
    }
}
