import Foundation
import HDF5Store
// The reference model: frozen (the live model's updates do not reach it, no gradients), its
// log-probs equal the model's own, cached log-probs equal recomputed ones, a cache for another
// model or other data or with damaged numbers is a named error, and a checkpoint loads into it.
import LabSupport
import NanoTransformer
import PostTraining
import TensorCore
import TestSupport
import Testing

@Suite struct ReferenceModelTests {
    static func model(seed: UInt64 = 1) throws -> NanoTransformer {
        var c = TransformerConfig()
        (c.vocabSize, c.dModel, c.layers, c.heads, c.kvHeads, c.contextLength) = (40, 32, 2, 4, 2, 32)
        var rng = RNG(seed: seed)
        return try NanoTransformer(c, rng: &rng)
    }

    static func data(_ n: Int = 7) -> (prompts: [[Int]], responses: [[Int]]) {
        var rng = RNG(seed: 5)
        let prompts = (0..<n).map { _ in (0..<(1 + rng.int(below: 6))).map { _ in rng.int(below: 40) } }
        let responses = (0..<n).map { _ in (0..<(1 + rng.int(below: 9))).map { _ in rng.int(below: 40) } }
        return (prompts, responses)
    }

    @Test func aFrozenCopyGivesTheModelsLogProbsAndIgnoresItsUpdates() throws {
        let live = try Self.model()
        let reference = try ReferenceModel(frozenCopyOf: live)
        let (prompts, responses) = Self.data()
        var rng = RNG(seed: 0)
        let own = withNoGrad {
            live.responseLogProbs(ResponseBatch(prompts: prompts, responses: responses), rng: &rng).logProbs
        }
        let values = reference.logProbs(prompts: prompts, responses: responses, batchSize: 16)
        for (i, row) in values.enumerated() {
            #expect(row.count == responses[i].count)
            #expect(row == Array(own.array[(i * own.shape[1])..<(i * own.shape[1] + row.count)]), "sequence \(i)")
        }
        #expect(reference.model.parameters.allSatisfy { !$0.requiresGrad })
        let digest = reference.modelDigest
        live.parameters[0].data[0] += 1  // a training step on the live model
        #expect(reference.logProbs(prompts: prompts, responses: responses) == values)
        #expect(try ReferenceModel(frozenCopyOf: live).modelDigest != digest)
    }

    @Test func batchSizeDoesNotChangeTheNumbers() throws {
        let reference = try ReferenceModel(frozenCopyOf: Self.model())
        let (prompts, responses) = Self.data(9)
        let one = reference.logProbs(prompts: prompts, responses: responses, batchSize: 1)
        for size in [2, 4, 9] {
            let other = reference.logProbs(prompts: prompts, responses: responses, batchSize: size)
            for (a, b) in zip(one, other) {
                #expect(zip(a, b).allSatisfy { abs($0 - $1) <= 1e-5 }, "batch size \(size)")
            }
        }
    }

    @Test func cachedLogProbsEqualRecomputedOnesAndAreKeyedByModelAndData() throws {
        let live = try Self.model()
        let reference = try ReferenceModel(frozenCopyOf: live)
        let (prompts, responses) = Self.data()
        let cache = temporaryFolder() + "/ref.h5"
        let computed = try reference.logProbs(prompts: prompts, responses: responses, cache: cache)
        #expect(computed == reference.logProbs(prompts: prompts, responses: responses))
        #expect(try reference.logProbs(prompts: prompts, responses: responses, cache: cache) == computed)
        // Another model, other data, another temperature: named errors, the file untouched.
        let before = try Data(contentsOf: URL(fileURLWithPath: cache))
        let other = try ReferenceModel(frozenCopyOf: Self.model(seed: 2))
        let e1 = expectLabError(.hdf5) { try other.logProbs(prompts: prompts, responses: responses, cache: cache) }
        #expect(e1?.message.contains("another model") == true && e1?.message.contains(cache) == true)
        var changed = responses
        changed[0][0] = (changed[0][0] + 1) % 40
        let e2 = expectLabError(.hdf5) { try reference.logProbs(prompts: prompts, responses: changed, cache: cache) }
        #expect(e2?.message.contains("other data") == true)
        expectLabError(.hdf5) {
            try reference.logProbs(prompts: prompts, responses: responses, temperature: 0.7, cache: cache)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: cache)) == before)
    }

    @Test func aDamagedCacheIsANamedError() throws {
        let reference = try ReferenceModel(frozenCopyOf: Self.model())
        let (prompts, responses) = Self.data()
        let cache = temporaryFolder() + "/ref.h5"
        _ = try reference.logProbs(prompts: prompts, responses: responses, cache: cache)
        // Rewrite one log-prob in place, keeping the keys.
        let file = try HDF5File(path: cache, mode: .readWrite)
        var (values, shape) = try file.read(Float.self, from: "log_probs")
        values[3] += 0.5
        try file.write(values, shape: shape, to: "log_probs")
        file.close()
        let error = expectLabError(.hdf5) {
            try reference.logProbs(prompts: prompts, responses: responses, cache: cache)
        }
        #expect(error?.message.contains("damaged") == true, "\(String(describing: error))")
        try "not hdf5".write(toFile: cache, atomically: true, encoding: .utf8)
        let garbage = expectLabError(.hdf5) {
            try reference.logProbs(prompts: prompts, responses: responses, cache: cache)
        }
        #expect(garbage?.message.contains(cache) == true, "\(String(describing: garbage))")
    }

    @Test func aCheckpointLoadsAsTheReference() throws {
        let model = try Self.model()
        let path = temporaryFolder() + "/policy.ckpt.h5"
        try Checkpoint.save(
            TrainingState(
                step: 1, parameters: model.namedParameters(),
                provenance: Provenance(gitCommit: "t", date: "t", swiftVersion: "t", threads: 1, command: "t"),
                model: model.modelRecord),
            to: path)
        let (prompts, responses) = Self.data()
        let loaded = try ReferenceModel(checkpoint: path)
        let copied = try ReferenceModel(frozenCopyOf: model)
        #expect(loaded.modelDigest == copied.modelDigest)
        #expect(
            loaded.logProbs(prompts: prompts, responses: responses)
                == copied.logProbs(prompts: prompts, responses: responses))
        expectLabError(.hdf5) { try ReferenceModel(checkpoint: temporaryFolder() + "/missing.ckpt.h5") }
    }
}
