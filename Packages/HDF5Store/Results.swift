import Foundation
// Results of one run in one HDF5 file, readable from h5py without this project.
// Layout (format "llm-pipeline-lab/results/1"):
//   root attributes            format, experiment, ablation, seed, status (running | finished |
//                              interrupted | failed), config (resolved JSON), provenance (JSON),
//                              content_sha256 (the digest of the whole content, checked on load)
//   /metrics/<key>/step        int64, and /metrics/<key>/value float64, for a namespaced key
//                              such as "loss/train" (so the group is /metrics/loss/train)
//   /summary                   one float64 attribute per summary scalar
//   /samples/<name>/step       int64, and /samples/<name>/text strings
// The writer keeps the series in memory and rewrites the whole file atomically at most every
// `flushInterval` seconds and at the end: an interrupted run keeps everything it flushed.
import LabSupport

public struct MetricSeries: Sendable, Equatable {
    public var steps: [Int64] = []
    public var values: [Double] = []
    public init(steps: [Int64] = [], values: [Double] = []) {
        self.steps = steps
        self.values = values
    }
    public var last: Double? { values.last }
}

public struct TextSamples: Sendable, Equatable {
    public var steps: [Int64] = []
    public var texts: [String] = []
}

/// The contents of a results file.
public struct RunResults: Sendable {
    public static let format = "llm-pipeline-lab/results/1"

    public var experiment: String
    public var ablation: String
    public var seed: Int
    public var status: String
    public var configJSON: String
    public var provenanceJSON: String
    public var metrics: [String: MetricSeries] = [:]
    public var summary: [String: Double] = [:]
    public var samples: [String: TextSamples] = [:]

    public init(experiment: String, ablation: String, seed: Int, configJSON: String, provenanceJSON: String) {
        self.experiment = experiment
        self.ablation = ablation
        self.seed = seed
        self.status = "running"
        self.configJSON = configJSON
        self.provenanceJSON = provenanceJSON
    }

    /// Reads a results file, checking that it is one.
    public static func load(from path: String) throws -> RunResults {
        let file = try HDF5File(path: path, mode: .readOnly)
        defer { file.close() }
        guard file.hasAttribute("format"), try file.stringAttribute("format") == format else {
            throw LabError(.hdf5, "\(path): not a results file of this project (no format attribute '\(format)')")
        }
        var results = RunResults(
            experiment: try file.stringAttribute("experiment"), ablation: try file.stringAttribute("ablation"),
            seed: Int(try file.attribute("seed", as: Int64.self).first ?? 0),
            configJSON: try file.stringAttribute("config"), provenanceJSON: try file.stringAttribute("provenance"))
        results.status = try file.stringAttribute("status")
        // save always writes both groups: one that cannot be found is damage, not "no metrics".
        for group in ["metrics", "summary"] where !(try file.exists(group)) {
            throw LabError(.hdf5, "\(path): no /\(group) group: the results file is damaged")
        }
        if try file.exists("metrics") {
            for path in try file.datasets(under: "metrics") where path.hasSuffix("/step") {
                let key = String(path.dropLast("/step".count))
                results.metrics[key] = MetricSeries(
                    steps: try file.read(Int64.self, from: "metrics/\(key)/step").values,
                    values: try file.read(Double.self, from: "metrics/\(key)/value").values)
            }
        }
        if try file.exists("summary") {
            for name in try file.attributeNames(on: "summary") {
                results.summary[name] = try file.attribute(name, as: Double.self, on: "summary").first
            }
        }
        if try file.exists("samples") {
            for path in try file.datasets(under: "samples") where path.hasSuffix("/step") {
                let name = String(path.dropLast("/step".count))
                results.samples[name] = TextSamples(
                    steps: try file.read(Int64.self, from: "samples/\(name)/step").values,
                    texts: try file.readStrings(from: "samples/\(name)/text"))
            }
        }
        try verifyDigest(file, computed: results.contentDigest, what: "the results' content")
        return results
    }

    /// Writes the whole file atomically.
    public func save(to path: String) throws {
        try writeHDF5Atomically(to: path) { file in
            try file.setAttribute("format", Self.format)
            try file.setAttribute("experiment", experiment)
            try file.setAttribute("ablation", ablation)
            try file.setAttribute("seed", Int64(seed))
            try file.setAttribute("status", status)
            try file.setAttribute("config", configJSON)
            try file.setAttribute("provenance", provenanceJSON)
            try file.setAttribute("content_sha256", contentDigest)
            try file.createGroup("metrics")
            for (key, series) in metrics {
                try file.write(series.steps, shape: [series.steps.count], to: "metrics/\(key)/step")
                try file.write(series.values, shape: [series.values.count], to: "metrics/\(key)/value")
            }
            try file.createGroup("summary")
            for (name, value) in summary { try file.setAttribute(name, value, on: "summary") }
            for (name, s) in samples {
                try file.write(s.steps, shape: [s.steps.count], to: "samples/\(name)/step")
                try file.writeStrings(s.texts, to: "samples/\(name)/text")
            }
        }
    }

    /// Drops every metric point and sample after `step` (a resumed run re-measures them).
    public mutating func truncate(after step: Int) {
        for (key, series) in metrics {
            let keep = series.steps.prefix { $0 <= Int64(step) }.count
            metrics[key] = MetricSeries(
                steps: Array(series.steps.prefix(keep)), values: Array(series.values.prefix(keep)))
        }
        for (name, s) in samples {
            let keep = s.steps.prefix { $0 <= Int64(step) }.count
            samples[name] = TextSamples(steps: Array(s.steps.prefix(keep)), texts: Array(s.texts.prefix(keep)))
        }
    }
}

/// Collects a run's metrics and writes them to its results file as the run goes.
public final class ResultsWriter {
    public let path: String
    public private(set) var results: RunResults
    var flushInterval: TimeInterval
    private var lastFlush = Date()

    public init(path: String, results: RunResults, flushInterval: TimeInterval = 2) throws {
        self.path = path
        self.results = results
        self.flushInterval = flushInterval
        try flush()
    }

    public func log(_ key: String, step: Int, _ value: Double) {
        results.metrics[key, default: MetricSeries()].steps.append(Int64(step))
        results.metrics[key, default: MetricSeries()].values.append(value)
        flushIfDue()
    }

    public func log(_ metrics: [String: Double], step: Int) {
        for (key, value) in metrics { log(key, step: step, value) }
    }

    /// A text sample; a NUL character (which HDF5 strings cannot hold) is kept as U+FFFD.
    public func sample(_ name: String, step: Int, _ text: String) {
        results.samples[name, default: TextSamples()].steps.append(Int64(step))
        results.samples[name, default: TextSamples()].texts.append(
            text.replacingOccurrences(of: "\0", with: "\u{FFFD}"))
        flushIfDue()
    }

    public func summary(_ name: String, _ value: Double) { results.summary[name] = value }

    func flushIfDue() {
        if Date().timeIntervalSince(lastFlush) >= flushInterval { try? flush() }
    }

    public func flush() throws {
        try results.save(to: path)
        lastFlush = Date()
    }

    /// Marks the run `status` ("finished" or "interrupted") and writes the file.
    public func close(status: String) throws {
        results.status = status
        try flush()
    }
}
