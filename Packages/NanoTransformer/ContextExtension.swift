// Running a RoPE model beyond its training length: plain, position interpolation, NTK-aware.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Ways to run a RoPE model at a context L' longer than the training length L (s = L' / L).
public enum ContextExtension: String, Codable, Sendable, CaseIterable {
    /// Positions and base unchanged.
    case plain
    /// Position interpolation (Chen et al. 2023): positions scaled by L / L'.
    case interpolation
    /// NTK-aware scaling: base' = base * s^(d / (d - 2)).
    case ntk

    /// The config for evaluating at `factor` times the training length.
    public func apply(to config: TransformerConfig, factor: Double) -> TransformerConfig {
        var c = config
        switch self {
        case .plain: break
        case .interpolation: c.ropePositionScale = config.ropePositionScale / factor
        case .ntk:
            let d = Double(config.resolvedHeadDim)
            c.ropeBase = config.ropeBase * pow(factor, d / (d - 2))
        }
        return c
    }
}
