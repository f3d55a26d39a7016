// The nano transformer in Llama's layout: which configs are a Llama, and the one table that
// names every parameter three ways (ours, Hugging Face's LlamaForCausalLM, llama.cpp's GGUF).
// Our projections are not fused (wq, wk, wv and w1, w3 are separate), so each of our tensors is
// exactly one of theirs; the only change of values is GGUF's RoPE pairing of q and k
// (GGUFFile.swift).
import LabSupport
import NanoTransformer

/// One parameter under its three names; `{i}` stands for the block index.
public struct LlamaTensorName: Sendable, Equatable {
    public let ours: String
    public let huggingFace: String
    public let gguf: String
    /// q and k: rows in rotate-half order per head, which GGUF stores interleaved.
    public let ropeRows: RoPERows?

    public enum RoPERows: Sendable { case queryHeads, keyValueHeads }
}

public enum LlamaLayout {
    /// Per block, in our order.
    public static let block: [LlamaTensorName] = [
        .init(
            ours: "blocks.{i}.attn_norm.weight", huggingFace: "model.layers.{i}.input_layernorm.weight",
            gguf: "blk.{i}.attn_norm.weight", ropeRows: nil),
        .init(
            ours: "blocks.{i}.attn.wq.weight", huggingFace: "model.layers.{i}.self_attn.q_proj.weight",
            gguf: "blk.{i}.attn_q.weight", ropeRows: .queryHeads),
        .init(
            ours: "blocks.{i}.attn.wk.weight", huggingFace: "model.layers.{i}.self_attn.k_proj.weight",
            gguf: "blk.{i}.attn_k.weight", ropeRows: .keyValueHeads),
        .init(
            ours: "blocks.{i}.attn.wv.weight", huggingFace: "model.layers.{i}.self_attn.v_proj.weight",
            gguf: "blk.{i}.attn_v.weight", ropeRows: nil),
        .init(
            ours: "blocks.{i}.attn.wo.weight", huggingFace: "model.layers.{i}.self_attn.o_proj.weight",
            gguf: "blk.{i}.attn_output.weight", ropeRows: nil),
        .init(
            ours: "blocks.{i}.mlp_norm.weight", huggingFace: "model.layers.{i}.post_attention_layernorm.weight",
            gguf: "blk.{i}.ffn_norm.weight", ropeRows: nil),
        .init(
            ours: "blocks.{i}.mlp.w1.weight", huggingFace: "model.layers.{i}.mlp.gate_proj.weight",
            gguf: "blk.{i}.ffn_gate.weight", ropeRows: nil),
        .init(
            ours: "blocks.{i}.mlp.w3.weight", huggingFace: "model.layers.{i}.mlp.up_proj.weight",
            gguf: "blk.{i}.ffn_up.weight", ropeRows: nil),
        .init(
            ours: "blocks.{i}.mlp.w2.weight", huggingFace: "model.layers.{i}.mlp.down_proj.weight",
            gguf: "blk.{i}.ffn_down.weight", ropeRows: nil),
    ]

    public static let embedding = LlamaTensorName(
        ours: "tok_embeddings.weight", huggingFace: "model.embed_tokens.weight", gguf: "token_embd.weight",
        ropeRows: nil)
    public static let finalNorm = LlamaTensorName(
        ours: "norm.weight", huggingFace: "model.norm.weight", gguf: "output_norm.weight", ropeRows: nil)
    /// Only in untied models (tied ones read the embedding in all three layouts).
    public static let head = LlamaTensorName(
        ours: "lm_head.weight", huggingFace: "lm_head.weight", gguf: "output.weight", ropeRows: nil)

    /// Every parameter of a model of this config, block indices filled in, in our order.
    public static func names(for config: TransformerConfig) -> [LlamaTensorName] {
        var out = [embedding]
        for i in 0..<config.layers {
            out += block.map {
                LlamaTensorName(
                    ours: $0.ours.replacingOccurrences(of: "{i}", with: "\(i)"),
                    huggingFace: $0.huggingFace.replacingOccurrences(of: "{i}", with: "\(i)"),
                    gguf: $0.gguf.replacingOccurrences(of: "{i}", with: "\(i)"), ropeRows: $0.ropeRows)
            }
        }
        out.append(finalNorm)
        if !config.tiedEmbeddings { out.append(head) }
        return out
    }

    /// Throws, naming the layer and the reason, unless the model is a Llama: GQA attention with
    /// RoPE and no QK-norm, a dense SwiGLU MLP, RMSNorm before each sublayer.
    public static func check(_ model: NanoTransformer) throws {
        let c = model.config
        func refuse(_ layer: String, _ why: String) -> LabError {
            LabError(.model, "\(layer): \(why); LlamaForCausalLM has no such layer, so this model does not export")
        }
        if model.attentionKind.kind != "gqa" {
            throw refuse(
                "blocks.0.attn", "'\(model.attentionKind.kind)' attention (latent key/value projections) replaces GQA")
        }
        if model.mlpKind.kind != "dense" {
            throw refuse("blocks.0.mlp", "'\(model.mlpKind.kind)' MLP (routed experts) replaces the dense SwiGLU MLP")
        }
        switch c.positionEncoding {
        case .rope: break
        case .learned: throw refuse("pos_embeddings", "learned absolute positions instead of RoPE")
        case .none: throw refuse("blocks.0.attn", "no position encoding (Llama always rotates q and k by RoPE)")
        }
        if c.qkNorm { throw refuse("blocks.0.attn.q_norm", "RMSNorm of queries and keys (QK-norm)") }
        if c.mlp != .swiglu { throw refuse("blocks.0.mlp", "a GELU MLP instead of SwiGLU") }
        if c.norm != .rms { throw refuse("blocks.0.attn_norm", "LayerNorm (mean and bias) instead of RMSNorm") }
        if c.normPlacement != .pre { throw refuse("blocks.0.attn_norm", "post-norm (the norm after the residual add)") }
        if !model.hasLanguageModelHead { throw refuse("lm_head", "a trunk without its LM head") }
    }
}
