// The one error type of every package: what went wrong, in one line that names the file, key,
// layer or tensor at fault, and the domain that raised it (so a caller can tell a bad config
// from a damaged checkpoint without a type per package).

public struct LabError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Domain: String, Sendable {
        /// Tensors, optimisers, RNG states (TensorCore).
        case tensorCore
        /// HDF5 files: checkpoints, results (HDF5Store, ModelStore).
        case hdf5
        case tokenizer
        /// Near-duplicate detection (MinHash).
        case dedup
        /// Model shapes and layers (NanoTransformer, MLA, MoE).
        case model
        /// PPO's settings and trainer state.
        case ppo
        /// Experiment configs and command lines (ExperimentKit).
        case config
    }

    public let domain: Domain
    /// The whole one-line message.
    public let message: String
    /// The config key or field at fault, when one is, and the keys a rule relates it to.
    public let key: String?
    public let related: [String]
    /// What is wrong, without the key (the message itself when there is no key).
    public let reason: String

    public init(_ domain: Domain, _ message: String, key: String? = nil, related: [String] = [], reason: String? = nil)
    {
        (self.domain, self.message, self.key, self.related) = (domain, message, key, related)
        self.reason = reason ?? message
    }

    /// A bad value of a field: "key: reason".
    public init(_ domain: Domain, key: String, _ reason: String, related: [String] = []) {
        self.init(domain, "\(key): \(reason)", key: key, related: related, reason: reason)
    }

    public var description: String { message }
}
