// Routing replay for a whole model: record the experts every MoE layer chose in one forward,
// and force the same choices in later forwards over the same tokens (the RL packages compare
// old and new policies on identical routing, the fix GSPO's paper discusses for MoE models).
// For a whole rollout (prefill and every decode step, per sequence) see NanoTransformer's
// RoutingRecord, which Rollout carries when generation is asked to record it.
import NanoTransformer

public enum RoutingReplay {
    /// The N*K choices of every MoE layer in the model's last forward, in block order.
    public static func record(_ model: NanoTransformer) -> [[Int]] { model.mixtureOfExpertsLayers.map(\.lastChoice) }

    /// Forces `choices` (as record returned them) in the following forwards; nil lets every
    /// layer choose freely again.
    public static func replay(_ model: NanoTransformer, _ choices: [[Int]]?) {
        let layers = model.mixtureOfExpertsLayers
        precondition(
            choices == nil || choices!.count == layers.count,
            "replay: choices for \(choices!.count) of \(layers.count) MoE layers")
        for (i, layer) in layers.enumerated() { layer.replay = choices?[i] }
    }
}
