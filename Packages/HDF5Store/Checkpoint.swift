import Foundation
// Checkpoints: a whole training state in one self-describing HDF5 file, readable from h5py.
// Layout (format "llm-pipeline-lab/checkpoint/1"):
//   /params/<name>             float32, one dataset per parameter, at its module name
//   /optimizer/<kind>/<name>   float32 optimiser buffers; attribute `step` on /optimizer
//   /rng/<stream>              uint64[4], xoshiro256** state of each RNG stream
//   /state/<name>              float32 tensors a run's future depends on (normalisers, ...)
//   /values/<name>             float64 arrays a run's future depends on (RL environment states,
//                              running statistics, episode records), never rounded to float32
//   /counters/<name>           float64 scalars (data cursor, skipped updates, ...)
//   /model                     the model's own description, when it has one (ModelRecord.swift):
//                              attributes architecture, config, ...; /model/tokenizer
//   root attributes            format, step, config (resolved JSON), provenance (JSON) and
//                              git_commit, date, swift_version, threads; content_sha256, the
//                              digest of all of the above, checked on load (ContentDigest.swift)
// Written to a temporary file and renamed, so a crash never leaves a broken checkpoint.
import LabSupport
import TensorCore

public struct TrainingState {
    public var step: Int
    public var parameters: [(name: String, tensor: Tensor)]
    public var optimizer: OptimizerState?
    public var rngStreams: [String: [UInt64]]
    public var tensors: [String: Tensor]
    public var values: [String: [Double]]
    public var counters: [String: Double]
    public var configJSON: String
    public var provenance: Provenance
    /// What rebuilds the model from this file alone (nil: the file only resumes its run).
    public var model: ModelRecord?

    public init(
        step: Int, parameters: [(name: String, tensor: Tensor)], optimizer: OptimizerState? = nil,
        rngStreams: [String: [UInt64]] = [:], tensors: [String: Tensor] = [:], values: [String: [Double]] = [:],
        counters: [String: Double] = [:], configJSON: String = "{}", provenance: Provenance, model: ModelRecord? = nil
    ) {
        self.step = step
        self.parameters = parameters
        self.optimizer = optimizer
        self.rngStreams = rngStreams
        self.tensors = tensors
        self.values = values
        self.counters = counters
        self.configJSON = configJSON
        self.provenance = provenance
        self.model = model
    }

    public func parameter(_ name: String) -> Tensor? { parameters.first { $0.name == name }?.tensor }
}

public enum Checkpoint {
    public static let format = "llm-pipeline-lab/checkpoint/1"

    public static func save(_ state: TrainingState, to path: String) throws {
        try writeHDF5Atomically(to: path) { file in
            try file.setAttribute("format", format)
            try file.setAttribute("step", Int64(state.step))
            try file.setAttribute("config", state.configJSON)
            try file.setAttribute("provenance", state.provenance.json)
            try file.setAttribute("git_commit", state.provenance.gitCommit)
            try file.setAttribute("date", state.provenance.date)
            try file.setAttribute("swift_version", state.provenance.swiftVersion)
            try file.setAttribute("threads", Int64(state.provenance.threads))
            try file.setAttribute("content_sha256", state.contentDigest)
            try file.createGroup("params")
            for (name, tensor) in state.parameters { try file.write(tensor, to: "params/\(name)") }
            if let optimizer = state.optimizer {
                try file.createGroup("optimizer")
                try file.setAttribute("step", Int64(optimizer.step), on: "optimizer")
                for (key, tensor) in optimizer.tensors.sorted(by: { $0.key < $1.key }) {
                    try file.write(tensor, to: "optimizer/\(key)")
                }
            }
            for (name, words) in state.rngStreams { try file.write(words, shape: [words.count], to: "rng/\(name)") }
            for (name, tensor) in state.tensors { try file.write(tensor, to: "state/\(name)") }
            for (name, array) in state.values { try file.write(array, shape: [array.count], to: "values/\(name)") }
            for (name, value) in state.counters { try file.write([value], shape: [], to: "counters/\(name)") }
            if let model = state.model {
                try file.createGroup("model")
                try file.setAttribute("architecture", model.architecture, on: "model")
                for (name, value) in model.fields.sorted(by: { $0.key < $1.key }) {
                    try file.setAttribute(name, value, on: "model")
                }
                if let tokenizer = model.tokenizer { try file.writeStrings([tokenizer], to: "model/tokenizer") }
            }
        }
    }

    public static func load(from path: String) throws -> TrainingState {
        let file = try HDF5File(path: path, mode: .readOnly)
        defer { file.close() }
        guard file.hasAttribute("format"), try file.stringAttribute("format") == format else {
            throw LabError(.hdf5, "\(path): not a checkpoint of this project (no format attribute '\(format)')")
        }
        let provenanceJSON = try file.stringAttribute("provenance")
        guard let provenance = try? JSONDecoder().decode(Provenance.self, from: Data(provenanceJSON.utf8)) else {
            throw LabError(.hdf5, "\(path): unreadable provenance attribute")
        }
        var state = TrainingState(
            step: Int(try file.attribute("step", as: Int64.self).first ?? 0), parameters: [],
            configJSON: try file.stringAttribute("config"), provenance: provenance)
        guard try file.exists("params") else {
            throw LabError(.hdf5, "\(path): no /params group: not a whole checkpoint")
        }
        state.parameters = try file.datasets(under: "params").map { ($0, try file.readTensor(from: "params/\($0)")) }
        if try file.exists("optimizer") {
            var tensors: [String: Tensor] = [:]
            for key in try file.datasets(under: "optimizer") {
                tensors[key] = try file.readTensor(from: "optimizer/\(key)")
            }
            let step = Int(try file.attribute("step", as: Int64.self, on: "optimizer").first ?? 0)
            state.optimizer = OptimizerState(step: step, tensors: tensors)
        }
        if try file.exists("rng") {
            for name in try file.datasets(under: "rng") {
                state.rngStreams[name] = try file.read(UInt64.self, from: "rng/\(name)", shape: [4])
            }
        }
        if try file.exists("state") {
            for name in try file.datasets(under: "state") {
                state.tensors[name] = try file.readTensor(from: "state/\(name)")
            }
        }
        if try file.exists("values") {
            for name in try file.datasets(under: "values") {
                state.values[name] = try file.read(Double.self, from: "values/\(name)").values
            }
        }
        if try file.exists("counters") {
            for name in try file.datasets(under: "counters") {
                state.counters[name] = try file.read(Double.self, from: "counters/\(name)").values.first
            }
        }
        if try file.exists("model") {
            var fields: [String: String] = [:]
            for name in try file.attributeNames(on: "model") where name != "architecture" {
                fields[name] = try file.stringAttribute(name, on: "model")
            }
            let tokenizer =
                try file.exists("model/tokenizer") ? try file.readStrings(from: "model/tokenizer").first : nil
            state.model = ModelRecord(
                architecture: try file.stringAttribute("architecture", on: "model"), fields: fields,
                tokenizer: tokenizer)
        }
        try verifyDigest(file, computed: state.contentDigest, what: "the checkpoint's content")
        return state
    }
}
