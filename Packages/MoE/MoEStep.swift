// The per-step work and metrics of the MoE layers of a model, after each optimiser step:
// bias update (auxiliary-loss-free balancing), load statistics, and the routing change.
// Metrics (means over the MoE layers):
//   moe/load_max_over_mean   max_i load_i / mean load of the step (1 = balanced, N_r = collapsed)
//   moe/load_cv              std / mean of the load (0 = balanced)
//   moe/dropped_fraction     assignments dropped by the capacity limit
//   moe/router_entropy       mean entropy of the normalised affinities per token (nats; ln N_r = uniform)
//   moe/routing_change       share of tokens whose chosen experts (as a set) differ before and
//                            after the step on the same batch (measured every routingChangeEvery steps)
import NanoTransformer
import TensorCore

extension NanoTransformer {
    /// The model's MoE layers, in block order.
    public var mixtureOfExpertsLayers: [MixtureOfExperts] { feedForwardLayers.compactMap { $0 as? MixtureOfExperts } }
}

public enum MoEStep {
    /// Ends the step in every MoE layer (bias update) and returns the step's metrics.
    public static func finish(_ model: NanoTransformer) -> [String: Double] {
        let steps = model.mixtureOfExpertsLayers.map { $0.finishStep() }
        guard !steps.isEmpty else { return [:] }
        func mean(_ f: (RoutingStatistics) -> Double) -> Double { steps.map(f).reduce(0, +) / Double(steps.count) }
        return [
            "moe/load_max_over_mean": mean(\.loadMaxOverMean), "moe/load_cv": mean(\.loadCV),
            "moe/dropped_fraction": mean(\.droppedFraction), "moe/router_entropy": mean(\.routerEntropy),
        ]
    }

    /// Share of tokens whose set of chosen experts differs between two choices of K per token.
    public static func changedShare(_ before: [Int], _ after: [Int], topK k: Int) -> Double {
        precondition(before.count == after.count && before.count % k == 0, "changedShare: choices of different sizes")
        let tokens = before.count / k
        guard tokens > 0 else { return 0 }
        var changed = 0
        for t in 0..<tokens where Set(before[(t * k)..<(t * k + k)]) != Set(after[(t * k)..<(t * k + k)]) {
            changed += 1
        }
        return Double(changed) / Double(tokens)
    }

    /// Routing change of the last step: the choices of the last training forward (on `ids`)
    /// against those of a forward on the same ids with the updated model. Mean over the layers.
    public static func routingChange(_ model: NanoTransformer, ids: [Int], batch: Int, time: Int) -> Double {
        let layers = model.mixtureOfExpertsLayers
        guard !layers.isEmpty else { return 0 }
        let before = layers.map(\.lastChoice)
        var rng = RNG(seed: 0)  // no dropout outside training: unused
        _ = withNoGrad { model.logits(ids, batch: batch, time: time, rng: &rng) }
        return zip(before, layers).map { changedShare($0, $1.lastChoice, topK: $1.config.topK) }.reduce(0, +)
            / Double(layers.count)
    }
}
