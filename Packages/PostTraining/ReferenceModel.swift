import Crypto
import Foundation
import HDF5Store
// The reference policy π_ref of the KL terms (PPO on text, GRPO) and of DPO's log-ratios: a frozen
// copy of a model, loaded from a checkpoint or copied from a live one, whose per-token
// log-probabilities of responses are computed in batches without a graph. DPO reads the same
// pairs every epoch, so they can be cached in an HDF5 file keyed by the model and the data:
//   /offsets (N+1, Int64)    sequence i's log-probs are log_probs[offsets[i]..<offsets[i+1]]
//   /log_probs (Σ R_i, Float32)
//   attributes model_sha256 (weights and buffers), data_sha256 (prompts, responses, temperature),
//   content_sha256 (the two datasets), written atomically.
// A cache for another model or other data, or one whose numbers changed, is an error naming the
// file and the key that differs, never silently used or overwritten.
import LabSupport
import ModelStore
import NanoTransformer
import TensorCore

public final class ReferenceModel {
    public let model: NanoTransformer
    /// SHA-256 of the weights and buffers (names, shapes, values): what a cache is keyed by.
    public let modelDigest: String

    /// A frozen copy of `model` (its later updates do not reach the reference).
    public convenience init(frozenCopyOf model: NanoTransformer) throws {
        try self.init(frozen: model.copy(with: model.config))
    }

    /// The model a checkpoint holds, frozen.
    public convenience init(checkpoint path: String) throws {
        try self.init(frozen: NanoTransformer.load(checkpoint: path))
    }

    init(frozen model: NanoTransformer) {
        for p in model.parameters { p.requiresGrad = false }
        self.model = model
        var sha = SHA256()
        for (name, tensor) in (model.namedParameters() + model.namedBuffers()).sorted(by: { $0.name < $1.name }) {
            sha.update(data: Array(name.utf8) + [0])
            tensor.shape.map { Int64($0).littleEndian }.withUnsafeBytes { sha.update(bufferPointer: $0) }
            tensor.array.withUnsafeBytes { sha.update(bufferPointer: $0) }
        }
        modelDigest = sha.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// log π_ref(y_t | x, y_<t) for every response token, in input order; `batchSize` pairs per
    /// forward (in input order, so the same call gives the same numbers).
    public func logProbs(prompts: [[Int]], responses: [[Int]], temperature: Float = 1, batchSize: Int = 16)
        -> [[Float]]
    {
        precondition(
            prompts.count == responses.count, "ReferenceModel: \(prompts.count) prompts, \(responses.count) responses")
        precondition(batchSize > 0, "ReferenceModel: batchSize must be positive")
        var out: [[Float]] = []
        out.reserveCapacity(prompts.count)
        var rng = RNG(seed: 0)  // no dropout at evaluation: unused
        withNoGrad {
            for start in stride(from: 0, to: prompts.count, by: batchSize) {
                let range = start..<min(start + batchSize, prompts.count)
                let batch = ResponseBatch(prompts: Array(prompts[range]), responses: Array(responses[range]))
                let values = model.responseLogProbs(batch, temperature: temperature, rng: &rng).logProbs.array
                for (row, response) in responses[range].enumerated() {
                    out.append(Array(values[(row * batch.width)..<(row * batch.width + response.count)]))
                }
            }
        }
        return out
    }

    /// As `logProbs`, read from `cache` when it holds this model's log-probs of this data, else
    /// computed and written there. A cache for another model or other data is an error.
    public func logProbs(
        prompts: [[Int]], responses: [[Int]], temperature: Float = 1, batchSize: Int = 16, cache: String
    ) throws -> [[Float]] {
        let dataDigest = Self.dataDigest(prompts: prompts, responses: responses, temperature: temperature)
        if FileManager.default.fileExists(atPath: cache) {
            return try readCache(cache, dataDigest: dataDigest, lengths: responses.map(\.count))
        }
        let result = logProbs(prompts: prompts, responses: responses, temperature: temperature, batchSize: batchSize)
        let offsets = [Int64(0)] + result.reduce(into: [Int64]()) { $0.append(($0.last ?? 0) + Int64($1.count)) }
        let flat = result.flatMap { $0 }
        try writeHDF5Atomically(to: cache) { file in
            try file.write(offsets, shape: [offsets.count], to: "offsets")
            try file.write(flat, shape: [flat.count], to: "log_probs")
            try file.setAttribute("model_sha256", modelDigest)
            try file.setAttribute("data_sha256", dataDigest)
            try file.setAttribute("content_sha256", Self.contentDigest(offsets, flat))
        }
        return result
    }

    func readCache(_ path: String, dataDigest: String, lengths: [Int]) throws -> [[Float]] {
        let file = try HDF5File(path: path, mode: .readOnly)
        defer { file.close() }
        for (key, expected, what) in [
            ("model_sha256", modelDigest, "another model"), ("data_sha256", dataDigest, "other data"),
        ] {
            let stored = try file.stringAttribute(key)
            guard stored == expected else {
                throw LabError(
                    .hdf5,
                    "\(path): cached reference log-probs are for \(what) (\(key) \(stored.prefix(12))…, expected \(expected.prefix(12))…): delete the file or give another cache path"
                )
            }
        }
        let (offsets, _) = try file.read(Int64.self, from: "offsets")
        let (flat, _) = try file.read(Float.self, from: "log_probs")
        guard try file.stringAttribute("content_sha256") == Self.contentDigest(offsets, flat) else {
            throw LabError(.hdf5, "\(path): /log_probs or /offsets do not match content_sha256 (the file is damaged)")
        }
        var expected: Int64 = 0
        let ends = lengths.map {
            expected += Int64($0)
            return expected
        }
        guard offsets.count == lengths.count + 1, offsets.first == 0, Array(offsets.dropFirst()) == ends,
            flat.count == Int(expected)
        else {
            throw LabError(.hdf5, "\(path): /offsets do not match the responses' lengths")
        }
        return lengths.indices.map { Array(flat[Int(offsets[$0])..<Int(offsets[$0 + 1])]) }
    }

    static func dataDigest(prompts: [[Int]], responses: [[Int]], temperature: Float) -> String {
        var sha = SHA256()
        for sequences in [prompts, responses] {
            Int64(sequences.count).littleEndian.bytes { sha.update(bufferPointer: $0) }
            for s in sequences {
                Int64(s.count).littleEndian.bytes { sha.update(bufferPointer: $0) }
                s.map { Int64($0).littleEndian }.withUnsafeBytes { sha.update(bufferPointer: $0) }
            }
        }
        temperature.bitPattern.littleEndian.bytes { sha.update(bufferPointer: $0) }
        return sha.finalize().map { String(format: "%02x", $0) }.joined()
    }

    static func contentDigest(_ offsets: [Int64], _ flat: [Float]) -> String {
        var sha = SHA256()
        offsets.withUnsafeBytes { sha.update(bufferPointer: $0) }
        flat.withUnsafeBytes { sha.update(bufferPointer: $0) }
        return sha.finalize().map { String(format: "%02x", $0) }.joined()
    }
}

extension FixedWidthInteger {
    fileprivate func bytes(_ body: (UnsafeRawBufferPointer) -> Void) { withUnsafeBytes(of: self) { body($0) } }
}
