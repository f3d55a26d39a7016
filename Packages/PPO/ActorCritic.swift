// The agent: an actor (policy) and a critic (value), as separate 64-64 tanh MLPs (detail 13,
// CleanRL's choice) or one shared trunk with two heads. Discrete actions: a categorical over
// logits; continuous: a diagonal Gaussian whose log std is a state-independent parameter
// initialised at 0 (continuous details 1-3) or, as an ablation, a second output of the actor.
// Orthogonal init (detail 2): hidden layers gain sqrt 2, policy head 0.01, value head 1, biases 0;
// otherwise PyTorch's default Linear init.
// Parameter names: actor.layers.{i}.*, critic.layers.{i}.* (separate) or trunk.layers.{i}.*,
// policy_head.*, value_head.* (shared); log_std (1, A) (state-independent Gaussian).
// Shapes: observations (B, O); logits or means (B, A); values (B).
import Foundation
import TensorCore

public final class ActorCritic: Module {
    public let actionSpace: ActionSpace
    public let observationSize: Int
    public let hidden: [Int]
    public let shared: Bool
    let actor, critic: MLP?
    let trunk: MLP?
    let policyHead, valueHead: Linear?
    let logStd: Tensor?
    public let stateDependentStd: Bool

    public init(
        observationSize: Int, actionSpace: ActionSpace, hidden: [Int], shared: Bool, orthogonalInit: Bool,
        stateDependentStd: Bool = false, rng: inout RNG
    ) {
        self.actionSpace = actionSpace
        self.observationSize = observationSize
        self.hidden = hidden
        self.shared = shared
        self.stateDependentStd = stateDependentStd
        let outputs: Int
        switch actionSpace {
        case .discrete(let n): outputs = n
        case .box(let d, _, _): outputs = stateDependentStd ? 2 * d : d
        }
        if shared {
            trunk = MLP(sizes: [observationSize] + hidden, activation: .tanh, rng: &rng)
            policyHead = Linear(hidden.last!, outputs, rng: &rng)
            valueHead = Linear(hidden.last!, 1, rng: &rng)
            (actor, critic) = (nil, nil)
        } else {
            actor = MLP(sizes: [observationSize] + hidden + [outputs], activation: .tanh, rng: &rng)
            critic = MLP(sizes: [observationSize] + hidden + [1], activation: .tanh, rng: &rng)
            (trunk, policyHead, valueHead) = (nil, nil, nil)
        }
        if case .box(let d, _, _) = actionSpace, !stateDependentStd {
            logStd = Tensor.zeros([1, d]).requiringGrad()
        } else {
            logStd = nil
        }
        if orthogonalInit { initializeOrthogonally(rng: &rng) }
    }

    /// Detail 2: every hidden layer orthogonal with gain sqrt 2, the policy output 0.01, the
    /// value output 1, biases 0.
    func initializeOrthogonally(rng: inout RNG) {
        let hiddenGain = Float(2).squareRoot()
        var layers: [(Linear, Float)] = []
        if let actor, let critic {
            for (i, layer) in actor.layers.enumerated() {
                layers.append((layer, i == actor.layers.count - 1 ? 0.01 : hiddenGain))
            }
            for (i, layer) in critic.layers.enumerated() {
                layers.append((layer, i == critic.layers.count - 1 ? 1 : hiddenGain))
            }
        }
        if let trunk, let policyHead, let valueHead {
            layers += trunk.layers.map { ($0, hiddenGain) } + [(policyHead, 0.01), (valueHead, 1)]
        }
        for (layer, gain) in layers {
            Init.orthogonal(layer.weight, gain: gain, rng: &rng)
            if let bias = layer.bias { bias.fill(0) }
        }
    }

    public func namedParameters() -> [(name: String, tensor: Tensor)] {
        var out: [(name: String, tensor: Tensor)] = []
        if let actor, let critic { out += prefixed("actor", actor) + prefixed("critic", critic) }
        if let trunk, let policyHead, let valueHead {
            out += prefixed("trunk", trunk) + prefixed("policy_head", policyHead) + prefixed("value_head", valueHead)
        }
        if let logStd { out.append((name: "log_std", tensor: logStd)) }
        return out
    }

    /// Policy outputs (logits, or means and log stds) and values (B) for observations (B, O).
    public func callAsFunction(_ observations: Tensor) -> (policy: PolicyDistribution, values: Tensor) {
        let b = observations.shape[0]
        let policyOut: Tensor
        let values: Tensor
        if let actor, let critic {
            policyOut = actor(observations)
            values = critic(observations).reshaped([b])
        } else {
            let h = trunk!(observations).tanh()
            policyOut = policyHead!(h)
            values = valueHead!(h).reshaped([b])
        }
        switch actionSpace {
        case .discrete: return (.categorical(logits: policyOut), values)
        case .box(let d, _, _):
            if stateDependentStd {
                return (
                    .gaussian(mean: policyOut.slice(axis: 1, 0..<d), logStd: policyOut.slice(axis: 1, d..<(2 * d))),
                    values
                )
            }
            return (.gaussian(mean: policyOut, logStd: logStd!.expand(to: [b, d])), values)
        }
    }
}
