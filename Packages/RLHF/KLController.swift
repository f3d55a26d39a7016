// β of the KL leash between the policy and its reference (InstructGPT, TRL's PPO).
//   fixed      β stays as set
//   adaptive   Ziegler et al. 2019: a proportional controller toward a target KL. After each batch
//              of n responses with mean KL (summed over a response's tokens) k:
//                e = clip(k / target − 1, −0.2, 0.2);   β ← β · (1 + e · n / horizon)
//              (n / horizon is the step size K_β; with TRL's old defaults target 6, horizon 10,000.)
import LabSupport

public struct KLController: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case fixed, adaptive }

    public var kind = Kind.fixed
    /// β now (the initial β in a config).
    public var beta = 0.05
    /// Adaptive: the KL per response to hold.
    public var target = 6.0
    /// Adaptive: responses over which the controller acts.
    public var horizon = 10_000.0

    public init(kind: Kind = .fixed, beta: Double = 0.05, target: Double = 6, horizon: Double = 10_000) {
        (self.kind, self.beta, self.target, self.horizon) = (kind, beta, target, horizon)
    }

    public func check(_ prefix: String) throws {
        if !(beta >= 0 && beta.isFinite) { throw LabError(.config, "\(prefix).beta: \(beta) must be finite and >= 0") }
        if kind == .adaptive {
            if !(target > 0) { throw LabError(.config, "\(prefix).target: \(target) must be positive") }
            if !(horizon > 0) { throw LabError(.config, "\(prefix).horizon: \(horizon) must be positive") }
        }
    }

    /// β after a batch of `responses` whose mean per-response KL was `kl`.
    public mutating func update(kl: Double, responses: Int) {
        guard kind == .adaptive, kl.isFinite else { return }
        let error = min(max(kl / target - 1, -0.2), 0.2)
        beta *= 1 + error * Double(responses) / horizon
    }
}
