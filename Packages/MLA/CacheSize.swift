// KV-cache size per token (DeepSeek-V2, table 1), in float32 numbers per layer:
//   MHA 2 n_h d_h,   GQA 2 n_g d_h,   MQA 2 d_h,   MLA d_c + d_R.
import NanoTransformer

public enum AttentionKind: String, Codable, Sendable, CaseIterable {
    case mha, gqa, mqa, mla
}

public enum CacheSize {
    /// Float32 numbers cached per token per layer. For GQA pass the model's kvHeads.
    public static func elementsPerTokenPerLayer(
        _ kind: AttentionKind, model: TransformerConfig, mla: MLAConfig = MLAConfig()
    ) -> Int {
        let dh = model.resolvedHeadDim
        switch kind {
        case .mha: return 2 * model.heads * dh
        case .gqa: return 2 * model.kvHeads * dh
        case .mqa: return 2 * dh
        case .mla: return mla.latentDim + mla.ropeDim
        }
    }

    /// Bytes per token over all layers.
    public static func bytesPerToken(_ kind: AttentionKind, model: TransformerConfig, mla: MLAConfig = MLAConfig())
        -> Int
    {
        elementsPerTokenPerLayer(kind, model: model, mla: mla) * model.layers * MemoryLayout<Float>.size
    }
}
