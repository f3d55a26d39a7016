import Crypto
import Foundation
// A checkpoint's or results file's content as one SHA-256 digest, stored in the root attribute
// `content_sha256` when written and recomputed when read: a byte flipped anywhere that changes what
// the file says (a weight, a counter, a config string in HDF5's unchecksummed global heap) is an
// error naming the file, never a silent resume from a damaged or edited file. The digest is over
// a canonical serialisation (names sorted, numbers as their raw bytes), so it does not depend on
// how HDF5 laid the file out. Files written before the digest existed have no attribute and are
// read as before.
import LabSupport
import TensorCore

struct ContentHasher {
    var sha = SHA256()

    mutating func add(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeBytes { sha.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        add(count: bytes.count)
        bytes.removeAll()
    }

    mutating func add(count: Int) { withUnsafeBytes(of: Int64(count).littleEndian) { sha.update(bufferPointer: $0) } }

    mutating func add<T: BitwiseCopyable>(_ values: [T]) {
        add(count: values.count)
        values.withUnsafeBytes { sha.update(bufferPointer: $0) }
    }

    mutating func add(_ name: String, _ tensor: Tensor) {
        add(name)
        add(tensor.shape)
        add(tensor.array)
    }

    func hex() -> String { sha.finalize().map { String(format: "%02x", $0) }.joined() }
}

extension TrainingState {
    /// The digest of everything a checkpoint stores.
    public var contentDigest: String {
        var h = ContentHasher()
        h.add("llm-pipeline-lab/checkpoint")
        h.add([Int64(step)])
        for (name, tensor) in parameters.sorted(by: { $0.name < $1.name }) { h.add("param/" + name, tensor) }
        if let optimizer {
            h.add([Int64(optimizer.step)])
            for (key, tensor) in optimizer.tensors.sorted(by: { $0.key < $1.key }) { h.add("optimizer/" + key, tensor) }
        }
        for (name, words) in rngStreams.sorted(by: { $0.key < $1.key }) {
            h.add("rng/" + name)
            h.add(words)
        }
        for (name, tensor) in tensors.sorted(by: { $0.key < $1.key }) { h.add("state/" + name, tensor) }
        for (name, array) in values.sorted(by: { $0.key < $1.key }) {
            h.add("values/" + name)
            h.add(array)
        }
        for (name, value) in counters.sorted(by: { $0.key < $1.key }) {
            h.add("counters/" + name)
            h.add([value])
        }
        h.add(configJSON)
        h.add(provenance.json)
        if let model {
            h.add("model/" + model.architecture)
            for (key, value) in model.fields.sorted(by: { $0.key < $1.key }) { h.add(key + "=" + value) }
            h.add(model.tokenizer ?? "")
        }
        return h.hex()
    }
}

extension RunResults {
    /// The digest of everything a results file stores.
    public var contentDigest: String {
        var h = ContentHasher()
        h.add("llm-pipeline-lab/results")
        for text in [experiment, ablation, status, configJSON, provenanceJSON] { h.add(text) }
        h.add([Int64(seed)])
        for (key, series) in metrics.sorted(by: { $0.key < $1.key }) {
            h.add("metrics/" + key)
            h.add(series.steps)
            h.add(series.values)
        }
        for (name, value) in summary.sorted(by: { $0.key < $1.key }) {
            h.add("summary/" + name)
            h.add([value])
        }
        for (name, s) in samples.sorted(by: { $0.key < $1.key }) {
            h.add("samples/" + name)
            h.add(s.steps)
            for text in s.texts { h.add(text) }
        }
        return h.hex()
    }
}

/// Checks a file's stored digest against its content; a file without one predates digests.
func verifyDigest(_ file: HDF5File, computed: @autoclosure () -> String, what: String) throws {
    guard file.hasAttribute("content_sha256") else { return }
    let stored = try file.stringAttribute("content_sha256")
    guard stored == computed() else {
        throw LabError(
            .hdf5,
            "\(file.path): \(what) does not match its checksum (content_sha256): the file was damaged or edited after it was written"
        )
    }
}
