import ExperimentKit
// base-models: the checkpoints the post-training experiments start from (SFTStages.swift):
//   base            reasoning-base: pretrained on Shakespeare and generated worked solutions (every format, both
//                   CoT languages, some wrong, some language-mixed), with the special tokens
//   base-moe        reasoning-base with MoE MLPs of the same active parameters, pretrained the same
//                   way (the gspo experiment's MoE policy)
//   chat-pretrain   pretrained on Shakespeare and the fortunes quotations
//   chat-base       chat-pretrain fine-tuned to answer a quotation's opening in the conversation
//                   format
// Scripts/base-models makes base, chat-pretrain and chat-base (a finished one is kept);
// Scripts/gspo-study makes base-moe.
import LabSupport
import PostTraining

enum BaseModelsExperiment: Experiment {
    typealias Config = SFTExperimentConfig
    static let name = "base-models"
    static let summary = "The base models of post-training: reasoning-base, chat-pretrain, chat-base."
    static let source = SourceLocation(#filePath)
    static let resources = TaskResources(threads: 1, memory: "2304M")  // Scripts/measure-resources base-models

    static func run(_ run: Run<Config>) throws -> RunOutcome {
        try SFTStages.run(run, repositoryRoot: source.repositoryRoot)
    }
}

ExperimentCommand<BaseModelsExperiment>.main()
