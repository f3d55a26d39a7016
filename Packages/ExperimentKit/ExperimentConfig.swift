import Foundation
// Experiment configs: a Codable struct per experiment with every field defaulted and documented.
// A run's config is those defaults, then configs/base.json, then the ablation file (only what it
// changes), then `--set key.path=value` overrides. Unknown keys, wrong types and bad values are
// errors that name the key and the file, raised before any work starts.
// Keys that start with "_" are comments (`"_description"` is shown by `--list-ablations`), but
// `"_extends": "NAME"`, which layers the file over the ablation NAME instead of over base alone.
import LabSupport

public protocol ExperimentConfig: Codable, Sendable {
    /// The defaults of every field.
    init()
    /// Checks every value (a range for each number, the rules between fields); throws
    /// `LabError.invalid(key:_:related:)` naming the full key path (`Check` has the helpers).
    func validate() throws
    /// Keys the run sets itself, with why (the vocabulary comes from the tokenizer): setting one
    /// in a file or with --set is an error rather than a value silently replaced.
    static var derivedKeys: [String: String] { get }
}

extension ExperimentConfig {
    public func validate() throws {}
    public static var derivedKeys: [String: String] { [:] }
}

extension LabError {
    /// A bad value of `key`, from `validate()`.
    public static func invalid(key: String, _ reason: String, related: [String] = []) -> LabError {
        LabError(.config, "key '\(key)': \(reason)", key: key, related: related, reason: reason)
    }

    /// The same error for a config nested under `prefix` (`training` in `training.batchSize`).
    public func nested(under prefix: String) -> LabError {
        guard let key else { return self }
        return .invalid(key: "\(prefix).\(key)", reason, related: related.map { "\(prefix).\($0)" })
    }
}

/// Range and rule checks for `validate()`: each failure is a LabError naming its key.
public enum Check {
    /// `value` within `range` (integers).
    public static func range(_ key: String, _ value: Int, _ range: ClosedRange<Int>) throws {
        guard range.contains(value) else { throw LabError.invalid(key: key, "must be in \(describe(range))") }
    }

    /// `value` finite and within `range`; `openLow` / `openHigh` exclude the bound.
    public static func range(
        _ key: String, _ value: Double, _ range: ClosedRange<Double>, openLow: Bool = false, openHigh: Bool = false
    ) throws {
        let ok =
            value.isFinite && range.contains(value) && !(openLow && value == range.lowerBound)
            && !(openHigh && value == range.upperBound)
        guard ok else {
            let low = openLow ? "(" : "["
            let high = openHigh ? ")" : "]"
            throw LabError.invalid(
                key: key, "must be a finite number in \(low)\(range.lowerBound), \(range.upperBound)\(high)")
        }
    }

    /// A rule; `related` lists the other keys it involves.
    public static func that(_ ok: Bool, _ key: String, _ reason: @autoclosure () -> String, related: [String] = [])
        throws
    {
        guard ok else { throw LabError.invalid(key: key, reason(), related: related) }
    }

    /// One of `allowed`.
    public static func oneOf(_ key: String, _ value: String, _ allowed: [String]) throws {
        guard allowed.contains(value) else {
            throw LabError.invalid(key: key, "must be one of \(allowed.joined(separator: ", "))")
        }
    }

    /// Runs a nested config's checks with their keys under `prefix`.
    public static func nested(_ prefix: String, _ body: () throws -> Void) throws {
        do { try body() } catch let error as LabError where error.domain == .config {
            throw error.nested(under: prefix)
        }
    }

    static func describe(_ range: ClosedRange<Int>) -> String {
        range.upperBound == Int.max ? "\(range.lowerBound) or more" : "\(range.lowerBound)...\(range.upperBound)"
    }
}

/// One layer of overrides and where it came from (a file path or "--set").
public struct ConfigLayer: Sendable {
    public let source: String
    public let values: [String: JSONValue]

    public init(source: String, values: [String: JSONValue]) {
        self.source = source
        self.values = values
    }

    /// Reads a JSON object file. A missing file is an error unless `optional`.
    public static func file(_ path: String, optional: Bool = false) throws -> ConfigLayer? {
        guard let data = FileManager.default.contents(atPath: path) else {
            if optional { return nil }
            throw LabError(.config, "\(path): no such config file")
        }
        guard case .object(let values) = try JSONValue.parse(data, source: path) else {
            throw LabError(.config, "\(path): a config file must hold a JSON object")
        }
        return ConfigLayer(source: path, values: values)
    }

    /// `key.path=value` arguments; values parse as JSON, else as plain strings.
    public static func sets(_ assignments: [String]) throws -> ConfigLayer {
        var root: [String: JSONValue] = [:]
        for assignment in assignments {
            guard let eq = assignment.firstIndex(of: "="), eq != assignment.startIndex else {
                throw LabError(.config, "--set \(assignment): expected key.path=value")
            }
            let keyPath = String(assignment[..<eq])
            guard keyPath.split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ !$0.isEmpty }) else {
                throw LabError(.config, "--set \(assignment): '\(keyPath)' must be key names separated by single dots")
            }
            let text = String(assignment[assignment.index(after: eq)...])
            let value = (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) ?? .string(text)
            root = setting(root, path: keyPath.split(separator: ".").map(String.init), to: value)
        }
        return ConfigLayer(source: "--set", values: root)
    }

    static func setting(_ object: [String: JSONValue], path: [String], to value: JSONValue) -> [String: JSONValue] {
        var out = object
        guard let head = path.first else { return out }
        if path.count == 1 {
            out[head] = value
        } else {
            out[head] = .object(setting(out[head]?.objectValue ?? [:], path: Array(path.dropFirst()), to: value))
        }
        return out
    }
}

/// A resolved config: the typed value, its JSON (stored in every result and checkpoint), and the
/// source of every overridden key.
public struct ResolvedConfig<Config: ExperimentConfig> {
    public let value: Config
    public let json: JSONValue
    public let sources: [String: String]

    /// The JSON as printed at a run's start: a derived key shows where its value comes from
    /// instead of the placeholder it holds until the run sets it.
    public func displayed(derivedKeys: [String: String]) -> JSONValue {
        var object = json.objectValue ?? [:]
        for (key, why) in derivedKeys {
            object = ConfigLayer.setting(
                object, path: key.split(separator: ".").map(String.init), to: .string("(set by the run: \(why))"))
        }
        return .object(object)
    }
}

public enum ConfigResolver {
    /// Applies `layers` over the defaults of `Config`, checking keys, types and values.
    public static func resolve<Config: ExperimentConfig>(_ type: Config.Type, layers: [ConfigLayer]) throws
        -> ResolvedConfig<Config>
    {
        let defaults = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(Config()))
        guard case .object(var merged) = defaults else {
            throw LabError(.config, "config defaults must encode to an object")
        }
        var sources: [String: String] = [:]
        for layer in layers {
            merged = try merge(layer.values, into: merged, prefix: "", source: layer.source, sources: &sources)
        }
        for (key, why) in Config.derivedKeys.sorted(by: { $0.key < $1.key }) {
            if let source = sources[key] {
                throw LabError(.config, "\(source): key '\(key)' cannot be set: \(why)", key: key)
            }
        }
        let json = JSONValue.object(merged)
        let value: Config
        do {
            value = try JSONDecoder().decode(Config.self, from: JSONEncoder().encode(json))
        } catch let error as DecodingError {
            throw culprit(defaults: defaults, merged: merged, sources: sources, type)
                ?? describe(error, sources: sources)
        }
        do {
            try value.validate()
        } catch let error as LabError where error.domain == .config {
            guard let key = error.key else { throw error }
            // "<source>: key 'a.b' = v: reason (with 'a.c' = w from <source>)": every key the rule
            // involves, with the layer its value came from (a file, --set, or the defaults).
            func shown(_ k: String) -> String { json.value(at: k)?.jsonString ?? "?" }
            let with = error.related.map { "'\($0)' = \(shown($0)) from \(sources[$0] ?? "defaults")" }
            throw LabError(
                .config,
                "\(sources[key] ?? "defaults"): key '\(key)' = \(shown(key)): \(error.reason)"
                    + (with.isEmpty ? "" : " (with \(with.joined(separator: ", ")))"), key: key, related: error.related,
                reason: error.reason)
        }
        return ResolvedConfig(value: value, json: json, sources: sources)
    }

    static func merge(
        _ overrides: [String: JSONValue], into base: [String: JSONValue], prefix: String, source: String,
        sources: inout [String: String]
    ) throws -> [String: JSONValue] {
        var out = base
        for key in overrides.keys.sorted() where !key.hasPrefix("_") {
            let value = overrides[key]!
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            guard let existing = base[key] else {
                let known = base.keys.sorted().joined(separator: ", ")
                throw LabError(.config, "\(source): unknown key '\(path)' (known keys: \(known))", key: path)
            }
            switch (existing, value) {
            case (.object(let b), .object(let o)):
                out[key] = .object(try merge(o, into: b, prefix: path, source: source, sources: &sources))
            case (.bool, .bool), (.number, .number), (.string, .string), (.array, .array):
                out[key] = value
                sources[path] = source
            default:
                throw LabError(
                    .config,
                    "\(source): key '\(path)' must be \(existing.kindName), got \(value.kindName)", key: path)
            }
        }
        return out
    }

    /// Some decoding errors (an integer field given 2.5) come without a key path; find the
    /// overridden key that fails on its own.
    static func culprit<Config: ExperimentConfig>(
        defaults: JSONValue, merged: [String: JSONValue], sources: [String: String], _ type: Config.Type
    ) -> LabError? {
        guard case .object(let base) = defaults else { return nil }
        for key in sources.keys.sorted() {
            guard let value = JSONValue.object(merged).value(at: key) else { continue }
            let single = ConfigLayer.setting(base, path: key.split(separator: ".").map(String.init), to: value)
            let data = (try? JSONEncoder().encode(JSONValue.object(single))) ?? Data()
            if (try? JSONDecoder().decode(Config.self, from: data)) == nil {
                return LabError(
                    .config,
                    "\(sources[key]!): key '\(key)': \(value.jsonString) is not a valid value here", key: key)
            }
        }
        return nil
    }

    static func describe(_ error: DecodingError, sources: [String: String]) -> LabError {
        func keyPath(_ path: [CodingKey]) -> String { path.map(\.stringValue).joined(separator: ".") }
        switch error {
        case .dataCorrupted(let context), .typeMismatch(_, let context), .valueNotFound(_, let context):
            let key = keyPath(context.codingPath)
            return LabError(
                .config, "\(sources[key] ?? "defaults"): key '\(key)': \(context.debugDescription)", key: key)
        case .keyNotFound(let missing, let context):
            let key = keyPath(context.codingPath + [missing])
            return LabError(.config, "config is missing key '\(key)'", key: key)
        @unknown default:
            return LabError(.config, "config: \(error)")
        }
    }
}
