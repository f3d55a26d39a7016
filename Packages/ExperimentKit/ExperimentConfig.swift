// Experiment configs: a Codable struct per experiment with every field defaulted and documented.
// A run's config is those defaults, then configs/base.json, then the ablation file (only what it
// changes), then `--set key.path=value` overrides. Unknown keys, wrong types and bad values are
// errors that name the key and the file, raised before any work starts.
// Keys that start with "_" are comments (`"_description"` is shown by `--list-ablations`), but
// `"_extends": "NAME"`, which layers the file over the ablation NAME instead of over base alone.
import Foundation

public protocol ExperimentConfig: Codable, Sendable {
    /// The defaults of every field.
    init()
    /// Checks values (ranges, combinations); throw `ConfigError.invalid(key:_:)`.
    func validate() throws
}

extension ExperimentConfig {
    public func validate() throws {}
}

public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let message: String
    /// The key at fault, when one is (resolved to its source file by the resolver).
    public let key: String?
    public init(_ message: String, key: String? = nil) {
        self.message = message
        self.key = key
    }
    public var description: String { message }

    /// A bad value of `key`, from `validate()`.
    public static func invalid(key: String, _ reason: String) -> ConfigError {
        ConfigError("key '\(key)': \(reason)", key: key)
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
            throw ConfigError("\(path): no such config file")
        }
        guard case .object(let values) = try JSONValue.parse(data, source: path) else {
            throw ConfigError("\(path): a config file must hold a JSON object")
        }
        return ConfigLayer(source: path, values: values)
    }

    /// `key.path=value` arguments; values parse as JSON, else as plain strings.
    public static func sets(_ assignments: [String]) throws -> ConfigLayer {
        var root: [String: JSONValue] = [:]
        for assignment in assignments {
            guard let eq = assignment.firstIndex(of: "="), eq != assignment.startIndex else {
                throw ConfigError("--set \(assignment): expected key.path=value")
            }
            let keyPath = String(assignment[..<eq])
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
}

public enum ConfigResolver {
    /// Applies `layers` over the defaults of `Config`, checking keys, types and values.
    public static func resolve<Config: ExperimentConfig>(_ type: Config.Type, layers: [ConfigLayer]) throws
        -> ResolvedConfig<Config>
    {
        let defaults = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(Config()))
        guard case .object(var merged) = defaults else { throw ConfigError("config defaults must encode to an object") }
        var sources: [String: String] = [:]
        for layer in layers {
            merged = try merge(layer.values, into: merged, prefix: "", source: layer.source, sources: &sources)
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
        } catch let error as ConfigError {
            if let key = error.key { throw ConfigError("\(sources[key] ?? "defaults"): \(error.message)", key: key) }
            throw error
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
                throw ConfigError("\(source): unknown key '\(path)' (known keys: \(known))", key: path)
            }
            switch (existing, value) {
            case (.object(let b), .object(let o)):
                out[key] = .object(try merge(o, into: b, prefix: path, source: source, sources: &sources))
            case (.bool, .bool), (.number, .number), (.string, .string), (.array, .array):
                out[key] = value
                sources[path] = source
            default:
                throw ConfigError(
                    "\(source): key '\(path)' must be \(existing.kindName), got \(value.kindName)", key: path)
            }
        }
        return out
    }

    /// Some decoding errors (an integer field given 2.5) come without a key path; find the
    /// overridden key that fails on its own.
    static func culprit<Config: ExperimentConfig>(
        defaults: JSONValue, merged: [String: JSONValue], sources: [String: String], _ type: Config.Type
    ) -> ConfigError? {
        guard case .object(let base) = defaults else { return nil }
        for key in sources.keys.sorted() {
            guard let value = JSONValue.object(merged).value(at: key) else { continue }
            let single = ConfigLayer.setting(base, path: key.split(separator: ".").map(String.init), to: value)
            let data = (try? JSONEncoder().encode(JSONValue.object(single))) ?? Data()
            if (try? JSONDecoder().decode(Config.self, from: data)) == nil {
                return ConfigError(
                    "\(sources[key]!): key '\(key)': \(value.jsonString) is not a valid value here", key: key)
            }
        }
        return nil
    }

    static func describe(_ error: DecodingError, sources: [String: String]) -> ConfigError {
        func keyPath(_ path: [CodingKey]) -> String { path.map(\.stringValue).joined(separator: ".") }
        switch error {
        case .dataCorrupted(let context), .typeMismatch(_, let context), .valueNotFound(_, let context):
            let key = keyPath(context.codingPath)
            return ConfigError("\(sources[key] ?? "defaults"): key '\(key)': \(context.debugDescription)", key: key)
        case .keyNotFound(let missing, let context):
            let key = keyPath(context.codingPath + [missing])
            return ConfigError("config is missing key '\(key)'", key: key)
        @unknown default:
            return ConfigError("config: \(error)")
        }
    }
}
