import ExperimentKit
// knowledge-and-tools: small experiments on claims about what post-training can and cannot teach
// (Notebooks-md/knowledge-and-tools.md). Built so far: counting — tiny transformers trained from
// scratch to count a letter in a word or the items of a list, with the tokenizer as the ablation
// (bytes only, BPE 512 or 2048, BPE with the word spelled out). Metrics (CountingStudy.swift):
//   eval/accuracy, eval/accuracy/lettersInWord, eval/accuracy/itemsInList, eval/accuracy/count_<n>
//                                   greedy answers to the fixed eval tasks, every evalEvery and at the end
//   loss/train, loss/heldout, ...   the SFT loop's (PostTraining's SFTTask)
//   summaries data/word_tokens (tokens of the counted word), data/prompt_tokens, tokenizer/vocab_size
import KnowledgeAndTools
import LabSupport

public struct KnowledgeAndToolsConfig: ExperimentConfig, Equatable {
    /// Which study a run is (the parts the issue names that are built).
    public enum Part: String, Codable, Sendable { case counting }
    public var part = Part.counting
    public var counting = CountingConfig()

    public init() {}

    public func validate() throws { try counting.validate() }

    public static var derivedKeys: [String: String] {
        ["counting.model.vocabSize": "the tokenizer's vocabulary (counting.tokenizerVocab) sets it"]
    }
}

enum KnowledgeAndToolsExperiment: Experiment {
    typealias Config = KnowledgeAndToolsConfig
    static let name = "knowledge-and-tools"
    static let summary = "Counting against the tokenizer (bytes, BPE, spelled words); more parts to come."
    static let source = SourceLocation(#filePath)
    static let resources = TaskResources(threads: 1, memory: "768M")  // Scripts/measure-resources knowledge-and-tools

    static func run(_ run: Run<Config>) throws -> RunOutcome {
        switch run.config.part {
        case .counting: try CountingStudy.run(run, run.config.counting)
        }
    }
}

ExperimentCommand<KnowledgeAndToolsExperiment>.main()
