// The MoE layer (DeepSeekMoE): h = sum_shared FFN_s(x) + sum_{i in TopK} g_i FFN_i(x); the block
// adds the residual. A drop-in for the nano transformer's MLP (NanoTransformer.MLPFactory).
// Shapes: x (B, T, C) flattened to N = B*T tokens (N, C); E routed experts, K per token.
//
// Parameter names under blocks.{i}.mlp:
//   router.weight (E, C)
//   experts.{e}.w1.weight (H, C)   experts.{e}.w3.weight (H, C)   experts.{e}.w2.weight (C, H)
//   shared.w1.weight (S*H, C)      shared.w3.weight (S*H, C)      shared.w2.weight (C, S*H)   [S > 0]
// Buffer (checkpointed, not trained): routing_bias (E).
import NanoTransformer
import TensorCore

public final class MixtureOfExperts: RoutedFeedForward {
    public let config: MoEConfig
    let router: Linear
    let experts: [FeedForward]
    let shared: FeedForward?
    /// b: added to the affinities only to choose experts; moved by finishStep (auxLossFree).
    public let routingBias: Tensor
    /// Balance and router z-loss of the last training forward (nil when neither is on).
    public private(set) var auxiliaryLoss: Tensor?
    /// The N*K experts chosen in the last forward (training or not): record them for replay.
    public private(set) var lastChoice: [Int] = []
    /// When set, the next forwards use these N*K experts instead of choosing (routing replay).
    public var replay: [Int]?
    /// Routing since the last finishStep (training forwards only).
    public private(set) var statistics: RoutingStatistics

    public init(_ moe: MoEConfig, dModel: Int, rng: inout RNG) {
        config = moe
        router = Linear(dModel, moe.experts, bias: false, rng: &rng)
        experts = (0..<moe.experts).map { _ in
            FeedForward(dModel: dModel, hidden: moe.expertHidden, kind: .swiglu, rng: &rng)
        }
        shared =
            moe.sharedExperts > 0
            ? FeedForward(dModel: dModel, hidden: moe.sharedExperts * moe.expertHidden, kind: .swiglu, rng: &rng)
            : nil
        routingBias = Tensor.zeros([moe.experts])
        statistics = RoutingStatistics(experts: moe.experts)
    }

    /// The factory a NanoTransformer takes to put this layer in every block (kind "moe").
    public static func factory(_ moe: MoEConfig) -> MLPFactory {
        MLPFactory(kind: "moe", config: moe) { c, rng in MixtureOfExperts(moe, dModel: c.dModel, rng: &rng) }
    }

    public var choicesPerToken: Int { config.topK }

    public func namedParameters() -> [(name: String, tensor: Tensor)] {
        var out = prefixed("router", router)
        for (e, expert) in experts.enumerated() { out += prefixed("experts.\(e)", expert) }
        if let shared { out += prefixed("shared", shared) }
        return out
    }

    public func namedBuffers() -> [(name: String, tensor: Tensor)] { [(name: "routing_bias", tensor: routingBias)] }

    /// x: (B, T, C) -> (B, T, C). Capacity applies to training forwards only: evaluation and
    /// generation route every token (one decoded token would otherwise meet a capacity of one).
    public func callAsFunction(_ x: Tensor, training: Bool) -> Tensor {
        let shape = x.shape
        let c = shape[shape.count - 1]
        let n = x.count / c
        let k = config.topK
        let tokens = x.reshaped([n, c])
        let routing = Router.route(
            tokens, weight: router.weight, kind: config.router, topK: k, normalizeGates: config.normalizeGates,
            bias: config.balancing == .auxLossFree ? routingBias : nil, replay: replay)
        lastChoice = routing.experts
        let capacity =
            training
            ? ExpertDispatch.capacity(factor: config.capacityFactor, assignments: n * k, expertCount: config.experts)
            : nil
        let dispatch = ExpertDispatch(
            experts: routing.experts, topK: k, expertCount: config.experts, capacity: capacity)

        // Each expert: gather its rows, one SwiGLU (three GEMMs) over them, scale by the gates;
        // then one scatter-add of every expert's rows back to token order.
        let gates = routing.gates.reshaped([n * k, 1])
        var outputs: [Tensor] = []
        var destination: [Int] = []
        for (e, expert) in experts.enumerated() where !dispatch.rows[e].isEmpty {
            let y = expert(tokens.indexSelect(rows: dispatch.rows[e]))
            outputs.append(y * gates.indexSelect(rows: dispatch.slots[e]))
            destination += dispatch.rows[e]
        }
        var out =
            outputs.isEmpty
            ? Tensor.zeros([n, c]) : concat(outputs, axis: 0).scatterAddRows(destination, rowCount: n)
        if let shared { out = out + shared(tokens) }

        auxiliaryLoss = nil
        if training {
            let load = Router.load(routing.experts, expertCount: config.experts)
            var losses: [Tensor] = []
            if config.balancing == .auxLoss {
                losses.append(Router.balanceLoss(routing, load: load, weight: Float(config.auxLossWeight)))
            }
            if config.routerZLoss > 0 { losses.append(Router.zLoss(routing, coefficient: Float(config.routerZLoss))) }
            auxiliaryLoss = losses.isEmpty ? nil : losses.dropFirst().reduce(losses[0], +)
            for e in 0..<config.experts { statistics.load[e] += load[e] }
            statistics.dropped += dispatch.dropped
            statistics.tokens += n
            statistics.entropySum += Router.entropySum(routing)
        }
        return out.reshaped(shape)
    }

    /// Ends an optimiser step: with auxiliary-loss-free balancing, b_i += gamma * sign(mean load -
    /// load_i) (an overloaded expert becomes less likely to be chosen, an underloaded one more);
    /// returns the step's statistics and starts new ones.
    @discardableResult
    public func finishStep() -> RoutingStatistics {
        let step = statistics
        if config.balancing == .auxLossFree && step.assignments > 0 {
            let mean = Double(step.assignments) / Double(config.experts)
            let gamma = Float(config.biasUpdateRate)
            for e in 0..<config.experts {
                let load = Double(step.load[e])
                routingBias.data[e] += load > mean ? -gamma : (load < mean ? gamma : 0)
            }
        }
        statistics = RoutingStatistics(experts: config.experts)
        return step
    }
}
