// What the routers did over one optimiser step (all micro-batches, training forwards only):
// the numbers that say whether the experts are balanced and whether routing is healthy.

public struct RoutingStatistics: Equatable, Sendable {
    /// Assignments per expert, before capacity drops.
    public var load: [Int]
    /// Assignments dropped by the capacity limit.
    public var dropped = 0
    /// Tokens routed (each makes K assignments).
    public var tokens = 0
    /// Sum over tokens of the router entropy (nats).
    public var entropySum = 0.0

    public init(experts: Int) { load = Array(repeating: 0, count: experts) }

    public var assignments: Int { load.reduce(0, +) }
    var meanLoad: Double { Double(assignments) / Double(load.count) }

    /// max_i load_i / mean load: 1 when perfectly balanced, N_r when one expert takes everything.
    public var loadMaxOverMean: Double { assignments == 0 ? 0 : Double(load.max()!) / meanLoad }

    /// Coefficient of variation of the load, std / mean (population std): 0 when balanced.
    public var loadCV: Double {
        guard assignments > 0 else { return 0 }
        let mean = meanLoad
        let variance = load.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(load.count)
        return variance.squareRoot() / mean
    }

    /// Share of assignments the capacity limit dropped.
    public var droppedFraction: Double { assignments == 0 ? 0 : Double(dropped) / Double(assignments) }

    /// Mean router entropy per token (nats); ln N_r is uniform routing, 0 is certain.
    public var routerEntropy: Double { tokens == 0 ? 0 : entropySum / Double(tokens) }
}
