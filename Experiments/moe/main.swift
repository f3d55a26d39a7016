import ExperimentKit
import Foundation
// moe: mixture-of-experts MLPs in the nano transformer against dense MLPs of the same active and
// of the same total parameters, trained on the same corpus with the same loop (Packages/Pretraining);
// then top-1 vs top-2, shared experts, the three load-balancing methods and capacity dropping.
// Per step: expert load balance, dropped tokens, router entropy, routing change (MoEStep).
import LabSupport
import MoE
import NanoTransformer
import Pretraining
import TensorCore

/// The block's MLP: the dense SwiGLU of training.model.mlpHidden, or the MoE layer of `moe`.
enum MLPChoice: String, Codable { case dense, moe }

struct MoEExperimentConfig: ExperimentConfig {
    /// The pretraining run (model shape, data, optimiser, schedule).
    var training = PretrainConfig()
    var mlp = MLPChoice.moe
    /// The MoE layer (used when mlp is moe).
    var moe = MoEConfig()
    /// Measure the routing change (one extra forward of the step's last micro-batch) every this
    /// many steps; 0: never.
    var routingChangeEvery = 10

    init() {
        training.steps = 500
        training.evalEvery = 100
        training.model.mlpHidden = 384  // dense: the width of (K + N_s) = 3 experts of 128
        training.inferenceBenchmark = false
        training.contextEvaluation = false
    }

    static var derivedKeys: [String: String] {
        Dictionary(uniqueKeysWithValues: PretrainConfig.derivedKeys.map { ("training.\($0.key)", $0.value) })
    }

    func validate() throws {
        try Check.nested("training") { try training.validate() }
        if mlp == .moe {
            try LabError.checking(prefix: "moe", modelPrefix: "training") { try moe.check(training.model) }
        }
        try Check.range("routingChangeEvery", routingChangeEvery, 0...Int.max)
    }
}

enum MoEExperiment: Experiment {
    typealias Config = MoEExperimentConfig
    static let name = "moe"
    static let dataParallel = true  // under mpirun -np N (Notebooks-md/scale-out.md)
    static let summary = "MoE vs dense MLPs: top-K, shared experts, load balancing, capacity; loss, load, routing."
    static let source = SourceLocation(#filePath)
    static let resources = TaskResources(threads: 1, memory: "1024M")  // Scripts/measure-resources moe

    static func run(_ run: Run<Config>) throws -> RunOutcome {
        let c = run.config
        let moe = c.mlp == .moe ? c.moe : nil
        let batch = c.training.batchSize
        let time = c.training.model.contextLength
        return try Pretraining.run(
            run, c.training, repositoryRoot: source.repositoryRoot, mlp: moe.map(MixtureOfExperts.factory),
            // Only an MoE model has routing to balance and measure (and data parallelism refuses a hook).
            afterUpdate: moe == nil
                ? nil
                : { model, step, lastIds in
                    var metrics = MoEStep.finish(model)
                    if c.routingChangeEvery > 0 && step % c.routingChangeEvery == 0 {
                        metrics["moe/routing_change"] = MoEStep.routingChange(
                            model, ids: lastIds, batch: batch, time: time)
                    }
                    return metrics
                },
            trainedModel: { model in
                // Parameters a token uses: all but the routed experts it does not choose.
                let layers = Double(model.mixtureOfExpertsLayers.count)
                let (active, total) = (moe ?? MoEConfig()).parameters(dModel: c.training.model.dModel)
                let inactive = moe == nil ? 0 : layers * Double(total - active)
                run.results.summary("model/active_parameters", Double(model.parameterCount) - inactive)
            })
    }
}

ExperimentCommand<MoEExperiment>.main()
