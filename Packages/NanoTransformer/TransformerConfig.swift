// The decoder-only transformer's shape and its design switches (each one an ablation).
// Defaults are the modern recipe: RoPE, SwiGLU, RMSNorm pre-norm, no biases, tied embeddings.
import LabSupport

public enum PositionEncoding: String, Codable, Sendable { case rope, learned, none }
public enum MLPKind: String, Codable, Sendable { case swiglu, gelu }
public enum NormPlacement: String, Codable, Sendable { case pre, post }
public enum NormKind: String, Codable, Sendable { case rms, layer }

public struct TransformerConfig: Codable, Sendable, Equatable {
    /// Vocabulary size.
    public var vocabSize = 512
    /// Residual stream width d_model.
    public var dModel = 128
    public var layers = 4
    /// Query heads.
    public var heads = 4
    /// Key/value heads: heads = MHA, 1 = MQA, in between = GQA (must divide heads).
    public var kvHeads = 4
    /// Per-head width; 0 means dModel / heads.
    public var headDim = 0
    /// MLP hidden width; 0 means 8/3 dModel rounded up to a multiple of 32 (SwiGLU) or 4 dModel (GELU).
    public var mlpHidden = 0
    /// Longest sequence the learned position table (if any) covers, and the training length.
    public var contextLength = 128
    /// RoPE base theta.
    public var ropeBase = 10_000.0
    /// RoPE position scale: 1, or L / L' for position interpolation at a longer context.
    public var ropePositionScale = 1.0
    public var normEps = 1e-5
    /// Share the token embedding with the LM head.
    public var tiedEmbeddings = true
    /// Dropout on attention output and MLP output (training only).
    public var dropout = 0.0
    public var positionEncoding = PositionEncoding.rope
    public var mlp = MLPKind.swiglu
    public var normPlacement = NormPlacement.pre
    public var norm = NormKind.rms
    /// RMS-normalise queries and keys per head before RoPE (Wortsman et al. 2023).
    public var qkNorm = false
    /// Weight of the z-loss mean(logsumexp(logits)^2) (0: off; PaLM uses 1e-4).
    public var zLoss = 0.0
    /// Std of the N(0, std^2) initialisation; residual projections get std / sqrt(2 layers).
    public var initStd = 0.02

    public init() {}

    public var resolvedHeadDim: Int { headDim > 0 ? headDim : dModel / heads }
    public var resolvedMLPHidden: Int {
        if mlpHidden > 0 { return mlpHidden }
        return mlp == .swiglu ? (8 * dModel / 3 + 31) / 32 * 32 : 4 * dModel
    }

    /// Checks every field (a range for each number, the rules between them); throws a
    /// LabError naming the field (and the fields a rule relates it to). The upper bounds
    /// are far beyond a CPU model: a value past them is a typo, not a plan.
    public func check() throws {
        func range(_ field: String, _ value: Int, _ r: ClosedRange<Int>) throws {
            if !r.contains(value) {
                throw LabError(.model, key: field, "must be in \(r.lowerBound)...\(r.upperBound)")
            }
        }
        func positive(_ field: String, _ value: Double, below limit: Double = .infinity) throws {
            if !(value.isFinite && value > 0 && value < limit) {
                throw LabError(.model, key: field, "must be a finite number in (0, \(limit))")
            }
        }
        try range("vocabSize", vocabSize, 2...(1 << 20))
        try range("dModel", dModel, 1...16384)
        try range("layers", layers, 1...512)
        try range("heads", heads, 1...1024)
        try range("kvHeads", kvHeads, 1...1024)
        if heads % kvHeads != 0 {
            throw LabError(.model, key: "kvHeads", "\(kvHeads) must divide heads \(heads)", related: ["heads"])
        }
        try range("headDim", headDim, 0...4096)
        if headDim == 0 && dModel % heads != 0 {
            throw LabError(
                .model,
                key: "heads", "\(heads) must divide dModel \(dModel) (or set headDim)",
                related: ["dModel", "headDim"])
        }
        if positionEncoding == .rope && resolvedHeadDim % 2 != 0 {
            throw LabError(
                .model,
                key: "headDim", "RoPE needs an even head dimension, got \(resolvedHeadDim)",
                related: ["dModel", "heads", "positionEncoding"])
        }
        try range("mlpHidden", mlpHidden, 0...(1 << 20))
        try range("contextLength", contextLength, 2...(1 << 20))
        if !(ropeBase.isFinite && ropeBase > 1) {
            throw LabError(.model, key: "ropeBase", "must be a finite number above 1")
        }
        try positive("ropePositionScale", ropePositionScale)
        try positive("normEps", normEps, below: 1)
        if !(dropout >= 0 && dropout < 1) { throw LabError(.model, key: "dropout", "must be in [0, 1)") }
        if !(zLoss.isFinite && zLoss >= 0) {
            throw LabError(.model, key: "zLoss", "must be a finite number, 0 or more")
        }
        try positive("initStd", initStd)
    }

    /// KV-cache bytes per token for all layers (float32 K and V): 2 * layers * kvHeads * headDim * 4.
    public var kvCacheBytesPerToken: Int { 2 * layers * kvHeads * resolvedHeadDim * 4 }
}
