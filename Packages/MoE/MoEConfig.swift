// The mixture-of-experts layer's shape and its design switches (each one an ablation).
// Defaults are DeepSeek-V3's recipe at nano scale: fine-grained routed experts, one shared expert,
// sigmoid affinities with the chosen gates normalised, auxiliary-loss-free balancing, no dropping.
import LabSupport
import NanoTransformer

/// How the router turns logits u = W_r x into affinities s.
public enum RouterKind: String, Codable, Sendable {
    /// s = softmax(u) over experts (Switch, GShard, DeepSeek-V2).
    case softmax
    /// s = sigmoid(u) per expert (DeepSeek-V3).
    case sigmoid
}

/// How the experts' load is kept even.
public enum LoadBalancing: String, Codable, Sendable {
    case none
    /// Switch's loss alpha * N * sum_i f_i P_i added to the training loss.
    case auxLoss
    /// DeepSeek-V3: a bias b, used only to choose experts, moved by +-gamma after each step.
    case auxLossFree
}

public struct MoEConfig: Codable, Sendable, Equatable {
    /// Routed experts N_r.
    public var experts = 8
    /// Routed experts per token K.
    public var topK = 2
    /// Hidden width of each expert's SwiGLU (fine-grained experts: a fraction of the dense width).
    public var expertHidden = 128
    /// Shared experts N_s that every token goes through (each expertHidden wide; computed as one
    /// SwiGLU of N_s * expertHidden, which is the same function).
    public var sharedExperts = 1
    public var router = RouterKind.sigmoid
    /// Divide the chosen gates by their sum (DeepSeek-V3, GShard top-2); false keeps the raw
    /// affinities (Switch top-1, DeepSeek-V2).
    public var normalizeGates = true
    public var balancing = LoadBalancing.auxLossFree
    /// alpha of the Switch auxiliary loss (balancing auxLoss).
    public var auxLossWeight = 0.01
    /// gamma, the bias step of auxiliary-loss-free balancing.
    public var biasUpdateRate = 0.001
    /// Weight of the router z-loss mean(logsumexp(u)^2) (ST-MoE uses 1e-3; 0: off).
    public var routerZLoss = 0.0
    /// Tokens an expert takes per training forward: ceil(factor * tokens * K / N_r), the overflow
    /// dropped in token order (a dropped token keeps only the residual and shared path); 0: none.
    public var capacityFactor = 0.0

    public init() {}

    /// Checks the shape against the model; throws a message naming the field.
    public func check(_ model: TransformerConfig) throws {
        func fail(_ field: String, _ why: String, related: [String] = []) -> LabError {
            LabError(.model, key: field, why, related: related)
        }
        func finite(_ field: String, _ value: Double) throws {
            if !(value.isFinite && value >= 0) { throw fail(field, "must be a finite number, 0 or more") }
        }
        if !(1...1024).contains(experts) { throw fail("experts", "must be in 1...1024") }
        if topK < 1 || topK > experts {
            throw fail("topK", "\(topK) must be in 1...\(experts) (experts)", related: ["experts"])
        }
        if !(1...(1 << 20)).contains(expertHidden) { throw fail("expertHidden", "must be in 1...\(1 << 20)") }
        if !(0...64).contains(sharedExperts) { throw fail("sharedExperts", "must be in 0...64") }
        try finite("capacityFactor", capacityFactor)
        try finite("auxLossWeight", auxLossWeight)
        try finite("biasUpdateRate", biasUpdateRate)
        try finite("routerZLoss", routerZLoss)
        if model.mlp != .swiglu { throw fail("model.mlp", "must be swiglu: the experts are SwiGLU MLPs") }
    }

    /// Expert parameters a token uses ((K + N_s) experts) and the layer holds (N_r + N_s experts
    /// and the router), per layer, for a model width dModel.
    public func parameters(dModel: Int) -> (active: Int, total: Int) {
        let expert = 3 * dModel * expertHidden
        let router = experts * dModel
        return ((topK + sharedExperts) * expert + router, (experts + sharedExperts) * expert + router)
    }
}
