// nano-transformer: pretrain the decoder-only LM on Shakespeare with the project's BPE, then
// measure context extension and inference speed. Every architectural switch is an ablation;
// the loop itself is Packages/Pretraining (shared with the MLA and MoE experiments).
import ExperimentKit
import Pretraining

enum PretrainExperiment: Experiment {
    typealias Config = PretrainConfig
    static let name = "nano-transformer"
    static let dataParallel = true  // under mpirun -np N (Notebooks-md/scale-out.md)
    static let summary = "Pretrain the nano transformer on Shakespeare; ablate its design choices."
    static let source = SourceLocation(#filePath)
    static let resources = TaskResources(threads: 1, memory: "768M")  // Scripts/measure-resources nano-transformer

    static func run(_ run: Run<Config>) throws -> RunOutcome {
        try Pretraining.run(run, run.config, repositoryRoot: source.repositoryRoot)
    }
}

ExperimentCommand<PretrainExperiment>.main()
