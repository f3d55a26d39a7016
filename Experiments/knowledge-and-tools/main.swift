import ExperimentKit
// knowledge-and-tools: small experiments on claims about what post-training can and cannot teach
// (Notebooks-md/knowledge-and-tools.md), one `part` per claim, each in its own file of the package:
//   counting       CountingStudy.swift       a letter in a word, items in a list, against the tokenizer
//   contextQA      ContextQAStudy.swift      "I don't know" taught from the context, at a share of the data
//   selfKnowledge  SelfKnowledgeStudy.swift  "I don't know" from what the model knows (two stages)
//   tools          ToolsStudy.swift          multiplication: answer only, chain of thought, a calculator
//                                            call; SFT, then GRPO from it (two stages)
//   safety         SafetyStudy.swift         a linear probe by layer, refusals with a safety prompt
// Every part trains tiny transformers (ScratchModel.swift) through PostTraining's SFT loop, or
// GRPO's; each file's header lists its metrics. A later stage (sk-answer-all, sk-idk-*, tools-*-rl)
// starts from its earlier stage's policy for the same seed (Scripts/knowledge-and-tools-study runs
// them in order).
import KnowledgeAndTools
import LabSupport

public struct KnowledgeAndToolsConfig: ExperimentConfig, Equatable {
    /// Which study a run is (the parts the issue names that are built).
    public enum Part: String, Codable, Sendable { case counting, contextQA, selfKnowledge, tools, safety }
    public var part = Part.counting
    public var counting = CountingConfig()
    public var contextQA = ContextQAConfig()
    public var selfKnowledge = SelfKnowledgeConfig()
    public var tools = ToolsConfig()
    public var safety = SafetyConfig()

    public init() {}

    /// Only the part a run is checks its settings (the others are not used).
    public func validate() throws {
        switch part {
        case .counting: try counting.validate()
        case .contextQA: try contextQA.validate()
        case .selfKnowledge: try selfKnowledge.validate()
        case .tools: try tools.validate()
        case .safety: try safety.validate()
        }
    }

    public static var derivedKeys: [String: String] {
        Dictionary(
            uniqueKeysWithValues: ["counting", "contextQA", "selfKnowledge", "tools", "safety"].map {
                ("\($0).model.vocabSize", "the tokenizer's vocabulary (\($0).tokenizerVocab) sets it")
            })
    }
}

enum KnowledgeAndToolsExperiment: Experiment {
    typealias Config = KnowledgeAndToolsConfig
    static let name = "knowledge-and-tools"
    static let summary =
        "Counting against the tokenizer, \"I don't know\" from the context and from self-knowledge, tools for arithmetic, a safety probe."
    static let source = SourceLocation(#filePath)
    static let resources = TaskResources(threads: 1, memory: "2816M")  // Scripts/measure-resources knowledge-and-tools

    static func run(_ run: Run<Config>) throws -> RunOutcome {
        switch run.config.part {
        case .counting: try CountingStudy.run(run, run.config.counting)
        case .contextQA: try ContextQAStudy.run(run, run.config.contextQA)
        case .selfKnowledge: try SelfKnowledgeStudy.run(run, run.config.selfKnowledge)
        case .tools: try ToolsStudy.run(run, run.config.tools)
        case .safety: try SafetyStudy.run(run, run.config.safety)
        }
    }
}

ExperimentCommand<KnowledgeAndToolsExperiment>.main()
