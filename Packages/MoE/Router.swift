// The router: logits u = W_r x, affinities s, the top-K choice (over s + b when a balancing bias
// is given, or a recorded choice replayed), the gates g, and the router's own losses.
// Shapes: x (N, C) tokens; u, s (N, E); chosen experts N*K (token-major); g (N, K).
// Everything here is Float32, as the tensor core is: no low-precision router to worry about.
import Foundation
import TensorCore

/// The router's decision for N tokens.
public struct Routing {
    /// Chosen experts, K per token, token-major (N*K); order within a token: best first.
    public let experts: [Int]
    /// Gate of each chosen expert (N, K), with gradients to the router weight.
    public let gates: Tensor
    /// Router logits u (N, E).
    public let logits: Tensor
    /// Affinities normalised to sum 1 per token (N, E): softmax(u), or s / sum(s) for sigmoid.
    /// P_i of the balance loss and the router entropy are computed from these.
    public let probabilities: Tensor
}

public enum Router {
    /// Routes the tokens x (N, C) with the router weight (E, C).
    /// bias: b (E), added to the affinities only to choose (auxiliary-loss-free balancing).
    /// replay: N*K experts to use instead of choosing (routing replay).
    public static func route(
        _ x: Tensor, weight: Tensor, kind: RouterKind, topK k: Int, normalizeGates: Bool, bias: Tensor? = nil,
        replay: [Int]? = nil
    ) -> Routing {
        let (n, e) = (x.shape[0], weight.shape[0])
        let logits = matmul(x, weight, transposeB: true)
        let affinities = kind == .softmax ? logits.softmax(axis: -1) : logits.sigmoid()
        let experts: [Int]
        if let replay {
            precondition(replay.count == n * k, "routing replay: \(replay.count) experts for \(n) tokens x top-\(k)")
            precondition(replay.allSatisfy { (0..<e).contains($0) }, "routing replay: expert out of 0..<\(e)")
            experts = replay
        } else {
            experts = withNoGrad { (bias.map { affinities + $0 } ?? affinities).topK(k).indices }
        }
        // g_{t,j} = s_{t, chosen_j}, optionally / sum_j s_{t, chosen_j}.
        let flat = experts.enumerated().map { slot, expert in (slot / k) * e + expert }
        var gates = affinities.reshaped([n * e, 1]).indexSelect(rows: flat).reshaped([n, k])
        if normalizeGates { gates = gates / gates.sum(axis: -1, keepDims: true) }
        let probabilities =
            kind == .softmax ? affinities : affinities / affinities.sum(axis: -1, keepDims: true)
        return Routing(experts: experts, gates: gates, logits: logits, probabilities: probabilities)
    }

    /// Assignments per expert (before any capacity drops): the load.
    public static func load(_ experts: [Int], expertCount: Int) -> [Int] {
        var load = [Int](repeating: 0, count: expertCount)
        for expert in experts { load[expert] += 1 }
        return load
    }

    /// Switch Transformer's balance loss: alpha * N_r * sum_i f_i P_i, with f_i = load_i / (N K)
    /// the share of assignments that went to expert i and P_i = mean over tokens of probability i.
    /// Equals alpha when both are uniform; only P carries a gradient. `load` as `Router.load` gives it.
    public static func balanceLoss(_ routing: Routing, load: [Int], weight alpha: Float) -> Tensor {
        let expertCount = load.count
        let f = Tensor(load.map { Float($0) / Float(routing.experts.count) })
        let p = routing.probabilities.mean(axis: 0)
        return (f * p).sum() * (alpha * Float(expertCount))
    }

    /// ST-MoE's router z-loss: coefficient * mean over tokens of logsumexp(u)^2.
    public static func zLoss(_ routing: Routing, coefficient: Float) -> Tensor {
        routing.logits.logSumExp(axis: -1).square().mean() * coefficient
    }

    /// Sum over tokens of the entropy -sum_i p_i ln p_i (nats) of the normalised affinities.
    public static func entropySum(_ routing: Routing) -> Double {
        let p = routing.probabilities
        var total = 0.0
        for i in 0..<p.count where p.data[i] > 0 { total -= Double(p.data[i]) * Double(logf(p.data[i])) }
        return total
    }
}
