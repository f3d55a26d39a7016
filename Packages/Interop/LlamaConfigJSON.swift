import Foundation
// Hugging Face's config.json for LlamaForCausalLM, from and to our TransformerConfig. RoPE is
// written both ways transformers has read it: `rope_theta` with `rope_scaling` (4.x) and
// `rope_parameters` (5.x). Position interpolation is the same operation in both projects: we
// multiply positions by ropePositionScale, HF's "linear" RoPE divides them by `factor`.
import LabSupport
import NanoTransformer

public enum LlamaConfigJSON {
    /// The config.json object for a model (already checked by LlamaLayout.check).
    public static func object(_ c: TransformerConfig, endTokenID: Int?) -> [String: Any] {
        var rope: [String: Any] = ["rope_type": "default", "rope_theta": c.ropeBase]
        var scaling: Any = NSNull()
        if c.ropePositionScale != 1 {
            rope = ["rope_type": "linear", "rope_theta": c.ropeBase, "factor": 1 / c.ropePositionScale]
            scaling = ["rope_type": "linear", "factor": 1 / c.ropePositionScale]
        }
        let end: Any = endTokenID.map { $0 as Any } ?? NSNull()
        return [
            "architectures": ["LlamaForCausalLM"], "model_type": "llama",
            "vocab_size": c.vocabSize, "hidden_size": c.dModel, "intermediate_size": c.resolvedMLPHidden,
            "num_hidden_layers": c.layers, "num_attention_heads": c.heads, "num_key_value_heads": c.kvHeads,
            "head_dim": c.resolvedHeadDim, "hidden_act": "silu", "max_position_embeddings": c.contextLength,
            "rms_norm_eps": c.normEps, "rope_theta": c.ropeBase, "rope_scaling": scaling, "rope_parameters": rope,
            "tie_word_embeddings": c.tiedEmbeddings, "attention_bias": false, "mlp_bias": false,
            "attention_dropout": 0.0, "initializer_range": c.initStd, "pretraining_tp": 1, "use_cache": true,
            "bos_token_id": NSNull(), "eos_token_id": end, "pad_token_id": NSNull(), "torch_dtype": "float32",
            "dtype": "float32",
        ]
    }

    /// Our config from a config.json object; errors name the file and the field.
    public static func config(from json: [String: Any], source: String) throws -> TransformerConfig {
        func fail(_ key: String, _ why: String) -> LabError { LabError(.config, "\(source): \(key): \(why)") }
        func int(_ key: String) throws -> Int {
            guard let value = json[key] else { throw fail(key, "missing") }
            guard let n = value as? Int else { throw fail(key, "'\(value)' is not an integer") }
            return n
        }
        func double(_ key: String, in object: [String: Any]? = nil) throws -> Double? {
            guard let value = (object ?? json)[key], !(value is NSNull) else { return nil }
            guard let x = value as? Double else { throw fail(key, "'\(value)' is not a number") }
            return x
        }
        func flag(_ key: String) throws -> Bool? {
            guard let value = json[key], !(value is NSNull) else { return nil }
            guard let b = value as? Bool else { throw fail(key, "'\(value)' is not true or false") }
            return b
        }
        let modelType = json["model_type"] as? String ?? "(none)"
        let architectures = json["architectures"] as? [String] ?? []
        guard modelType == "llama" else {
            throw fail(
                "model_type",
                "'\(modelType)' (architectures \(architectures)) is not 'llama': only LlamaForCausalLM imports")
        }
        if let other = architectures.first(where: { $0 != "LlamaForCausalLM" }) {
            throw fail("architectures", "'\(other)' is not LlamaForCausalLM")
        }
        if let act = json["hidden_act"] as? String, act != "silu" {
            throw fail("hidden_act", "'\(act)': our SwiGLU gates with SiLU only")
        }
        for key in ["attention_bias", "mlp_bias"] where try flag(key) == true {
            throw fail(key, "biases are not part of our model")
        }
        var c = TransformerConfig()
        c.vocabSize = try int("vocab_size")
        c.dModel = try int("hidden_size")
        c.mlpHidden = try int("intermediate_size")
        c.layers = try int("num_hidden_layers")
        c.heads = try int("num_attention_heads")
        c.kvHeads =
            json["num_key_value_heads"] is NSNull || json["num_key_value_heads"] == nil
            ? c.heads : try int("num_key_value_heads")
        c.headDim = json["head_dim"] == nil || json["head_dim"] is NSNull ? 0 : try int("head_dim")
        if c.headDim == 0 && c.heads > 0 && c.dModel % c.heads == 0 { c.headDim = c.dModel / c.heads }
        c.contextLength = try int("max_position_embeddings")
        c.normEps = try double("rms_norm_eps") ?? 1e-6
        c.tiedEmbeddings = try flag("tie_word_embeddings") ?? false
        c.initStd = try double("initializer_range") ?? 0.02
        // RoPE: rope_parameters (5.x) or rope_theta + rope_scaling (4.x).
        let parameters = json["rope_parameters"] as? [String: Any] ?? json["rope_scaling"] as? [String: Any]
        c.ropeBase =
            try double("rope_theta", in: json["rope_parameters"] as? [String: Any]) ?? double("rope_theta")
            ?? 10_000
        if let parameters {
            let type = parameters["rope_type"] as? String ?? parameters["type"] as? String ?? "default"
            switch type {
            case "default": break
            case "linear":
                guard let factor = try double("factor", in: parameters), factor.isFinite, factor > 0 else {
                    throw fail("rope_scaling.factor", "linear RoPE needs a positive factor")
                }
                c.ropePositionScale = 1 / factor
            default:
                throw fail("rope_type", "'\(type)' RoPE scaling is not ours (default and linear are)")
            }
        }
        do { try c.check() } catch let error as LabError {
            throw LabError(.config, "\(source): the config makes no valid model: \(error.message)")
        }
        return c
    }
}
