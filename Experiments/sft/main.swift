import ExperimentKit
// sft: supervised fine-tuning of reasoning-base on worked arithmetic solutions, and its
// ablations: the loss on response tokens or all tokens, packed or padded rows, 1 or 3 epochs, the
// data size, correct-only or noisy solutions (SFTStages.swift; Notebooks-md/sft.md).
import LabSupport
import PostTraining

enum SFTExperiment: Experiment {
    typealias Config = SFTExperimentConfig
    static let name = "sft"
    static let summary = "SFT on worked solutions: loss tokens, packing, epochs, data size, noisy data."
    static let source = SourceLocation(#filePath)
    static let resources = TaskResources(threads: 1, memory: "2048M")  // Scripts/measure-resources sft

    static func run(_ run: Run<Config>) throws -> RunOutcome {
        try SFTStages.run(run, repositoryRoot: source.repositoryRoot)
    }
}

ExperimentCommand<SFTExperiment>.main()
