import ExperimentKit
import HDF5Store
// The policy a post-training run leaves beside its results, `seed-N.policy.h5`: a self-describing
// checkpoint (weights, buffers, the model record with its tokenizer and config) that the next
// stage, `lab`, or Python loads as it loads a base model. Written only when the run finished, so
// a stage that finds it may build on it.
import NanoTransformer

public enum TrainedPolicy {
    /// Where `run` leaves its trained policy.
    public static func path<C>(of run: Run<C>) -> String {
        run.paths.results.replacingOccurrences(of: ".h5", with: ".policy.h5")
    }

    /// Writes `policy` after `step` updates (atomically, as every checkpoint).
    public static func save<C>(_ policy: NanoTransformer, record: ModelRecord, step: Int, run: Run<C>) throws {
        try Checkpoint.save(
            TrainingState(
                step: step, parameters: policy.namedParameters(),
                tensors: Dictionary(
                    uniqueKeysWithValues: policy.namedBuffers().map { ("buffer/" + $0.name, $0.tensor) }),
                configJSON: run.configJSON.jsonString, provenance: run.provenance, model: record),
            to: path(of: run))
    }
}
