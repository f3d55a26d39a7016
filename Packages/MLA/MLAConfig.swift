// The shape of multi-head latent attention (DeepSeek-V2, section 2.1). The model's dModel, heads,
// RoPE base and position scale come from its TransformerConfig.
import LabSupport
import NanoTransformer

public struct MLAConfig: Codable, Sendable, Equatable {
    /// d_c: width of the joint key-value latent c_KV (the cache holds it per token and layer).
    public var latentDim = 32
    /// d'_c: width of the query latent c_Q; 0 = no query compression (as DeepSeek-V2-Lite).
    public var queryLatentDim = 0
    /// d_R: per-head width of the decoupled RoPE query q_R and of the one shared RoPE key k_R.
    public var ropeDim = 16
    /// d_h: per-head width of the content query/key and of the value; 0 = dModel / heads.
    public var headDim = 0
    /// How the cached path attends: reconstruct K and V (naive) or attend over the latent (absorbed).
    public var inference = MLAInference.absorbed

    public init() {}

    public func resolvedHeadDim(_ model: TransformerConfig) -> Int {
        headDim > 0 ? headDim : model.dModel / model.heads
    }

    /// Throws naming the offending field (and the model fields a rule relates it to).
    public func check(_ model: TransformerConfig) throws {
        func fail(_ field: String, _ why: String, related: [String] = []) -> LabError {
            LabError(.model, key: field, why, related: related)
        }
        if !(1...65536).contains(latentDim) { throw fail("latentDim", "must be in 1...65536") }
        if !(0...65536).contains(queryLatentDim) { throw fail("queryLatentDim", "must be 0 (none) or in 1...65536") }
        if !(2...4096).contains(ropeDim) || ropeDim % 2 != 0 { throw fail("ropeDim", "must be even and in 2...4096") }
        if !(0...4096).contains(headDim) { throw fail("headDim", "must be in 0...4096") }
        if headDim == 0 && model.dModel % model.heads != 0 {
            throw fail("headDim", "set it, or let heads divide dModel", related: ["model.dModel", "model.heads"])
        }
        if model.positionEncoding != .rope {
            throw fail("model.positionEncoding", "must be rope: MLA's decoupled key needs it")
        }
    }

    /// Float32 numbers cached per token and layer: c_KV and k_R, d_c + d_R.
    public var cachedElementsPerTokenPerLayer: Int { latentDim + ropeDim }
}

/// The two inference paths of MLA; training always takes the naive one (it needs K and V anyway).
public enum MLAInference: String, Codable, Sendable, CaseIterable {
    /// K = [W_UK c_KV ; k_R], V = W_UV c_KV for every cached token, then ordinary attention.
    case naive
    /// W_UK moved to the query and W_UV to the output: attention runs over (c_KV, k_R) as one
    /// shared head of width d_c + d_R; K and V are never formed.
    case absorbed
}
