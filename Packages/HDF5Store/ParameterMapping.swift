// Restoring parameters by name, strictly by default, or through an explicit mapping when one
// model seeds another: an LM checkpoint seeds a reward model (its lm_head unused, its score_head
// new) or a policy with a value head. Every name that does not fit, and every shape that differs,
// is listed in one error before anything is copied; what the mapping allowed is reported back.
import LabSupport
import TensorCore

/// How checkpoint names meet model names. Patterns are exact names, or prefixes ending in "*".
public struct ParameterMapping: Sendable {
    /// Checkpoint-name prefixes rewritten before matching, first match wins: ("", "policy.")
    /// prefixes every name, ("model.", "") strips one.
    public var rename: [(from: String, to: String)]
    /// Model parameters that may be absent from the checkpoint (they keep their initial values).
    public var allowMissing: [String]
    /// Checkpoint tensors (names as stored) that may have no parameter in the model.
    public var allowUnused: [String]

    public init(rename: [(from: String, to: String)] = [], allowMissing: [String] = [], allowUnused: [String] = []) {
        self.rename = rename
        self.allowMissing = allowMissing
        self.allowUnused = allowUnused
    }

    /// Every name must match: no renaming, nothing missing, nothing unused.
    public static let strict = ParameterMapping()

    /// The model name a checkpoint name maps to.
    public func modelName(_ stored: String) -> String {
        for (from, to) in rename where stored.hasPrefix(from) { return to + stored.dropFirst(from.count) }
        return stored
    }

    static func matches(_ name: String, _ patterns: [String]) -> Bool {
        patterns.contains { $0.hasSuffix("*") ? name.hasPrefix($0.dropLast()) : name == $0 }
    }
}

/// What a restore did: the parameters loaded, and the absences the mapping allowed.
public struct RestoreReport: Sendable, Equatable {
    /// Model names that received a checkpoint tensor.
    public var loaded: [String]
    /// Model names left at their initial values (allowed missing).
    public var missing: [String]
    /// Checkpoint names not used (allowed unused).
    public var unused: [String]
}

extension Checkpoint {
    /// Copies checkpoint parameters into `parameters` through `mapping`. Every missing,
    /// unexpected or mismatched tensor is listed in one error before anything is copied.
    @discardableResult
    public static func restore(
        _ parameters: [(name: String, tensor: Tensor)], from state: TrainingState, path: String,
        mapping: ParameterMapping = .strict
    ) throws -> RestoreReport {
        var problems: [String] = []
        var byModelName: [String: (stored: String, tensor: Tensor)] = [:]
        var unused: [String] = []
        let expected = Set(parameters.map(\.name))
        for (stored, tensor) in state.parameters.sorted(by: { $0.name < $1.name }) {
            let name = mapping.modelName(stored)
            if !expected.contains(name) {
                if ParameterMapping.matches(stored, mapping.allowUnused) {
                    unused.append(stored)
                } else {
                    problems.append(stored == name ? "unexpected '\(stored)'" : "unexpected '\(stored)' (as '\(name)')")
                }
            } else if let other = byModelName[name] {
                problems.append("'\(other.stored)' and '\(stored)' both map to '\(name)'")
            } else {
                byModelName[name] = (stored, tensor)
            }
        }
        var missing: [String] = []
        for (name, tensor) in parameters {
            guard let saved = byModelName[name] else {
                if ParameterMapping.matches(name, mapping.allowMissing) {
                    missing.append(name)
                } else {
                    problems.append("missing '\(name)'")
                }
                continue
            }
            if saved.tensor.shape != tensor.shape {
                problems.append("'\(name)' is \(saved.tensor.shape) in the checkpoint, \(tensor.shape) in the model")
            }
        }
        guard problems.isEmpty else {
            throw LabError(.hdf5, "\(path): checkpoint does not fit the model: \(problems.joined(separator: "; "))")
        }
        var loaded: [String] = []
        for (name, tensor) in parameters {
            guard let saved = byModelName[name] else { continue }
            tensor.assign(saved.tensor)
            loaded.append(name)
        }
        return RestoreReport(loaded: loaded, missing: missing, unused: unused)
    }

    /// Copies a model's buffers from a checkpoint's state tensors (/state/buffer/<name>); each
    /// must be there with its shape.
    public static func restoreBuffers(
        _ buffers: [(name: String, tensor: Tensor)], from tensors: [String: Tensor], path: String
    ) throws {
        for (name, buffer) in buffers {
            guard let saved = tensors["buffer/" + name] else {
                throw LabError(.hdf5, "\(path): buffer '\(name)' missing (/state/buffer/\(name))")
            }
            guard saved.shape == buffer.shape else {
                throw LabError(
                    .hdf5,
                    "\(path): buffer '\(name)' is \(saved.shape) in the checkpoint, \(buffer.shape) in the model")
            }
            buffer.assign(saved)
        }
    }
}
