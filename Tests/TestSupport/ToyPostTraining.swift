// Toy settings for the post-training experiments' end-to-end tests (base-models, sft, reward-bpr,
// ppo-rlhf): a one-layer model of width 32 on the committed Shakespeare sample and a small
// fortunes-style file, so that each stage takes a second or two; and the toy chat policy and
// reward models that the later stages start from.
import Foundation

/// Command-line settings of a toy base-models or sft stage.
public let toyStage = [
    "--set", "data=sample", "--set", "tokenizerVocab=400", "--set", "model.dModel=32", "--set", "model.layers=1",
    "--set", "model.heads=2", "--set", "model.kvHeads=2", "--set", "model.contextLength=256", "--set",
    "pretrainSolutions=300", "--set", "sft.batchSize=8", "--set", "evalTasks=6", "--set", "evaluation.samples=2",
    "--set", "evaluation.passK=[1,2]", "--set", "evaluation.maxNewTokens=24", "--set", "examples=40", "--set",
    "heldOutExamples=8", "--threads", "1",
]

/// A folder holding one fortunes-style file of 60 short quotations (the preference world's source).
public func toyQuotations() throws -> String {
    let folder = NSTemporaryDirectory() + "quotations-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let quotations = (0..<60).map { i in
        "A good friend is a joy number \(i) and a bad day is only a day, so smile and be glad of it.\n"
    }
    try quotations.joined(separator: "%\n").write(toFile: "\(folder)/toy.txt", atomically: true, encoding: .utf8)
    return folder
}

/// A toy stage that did not finish: the product, its arguments and its standard error.
public struct ToyStageError: Error, CustomStringConvertible {
    public let description: String
}

/// Runs `product` with `arguments`; a non-zero exit is a ToyStageError naming the command.
public func runToyStage(_ product: String, _ arguments: [String]) throws {
    let result = try runProduct(product, arguments)
    guard result.status == 0 else {
        throw ToyStageError(
            description: "\(product) \(arguments.joined(separator: " ")): exit \(result.status): \(result.stderr)")
    }
}

/// base-models' toy chat-pretrain and then chat-base under `out`, on the quotations in the folder
/// `quotations`: the policy reward-bpr and ppo-rlhf start from (sampled at temperature 0.5 it ends
/// its answers).
public func makeToyChatBase(out: String, quotations: String) throws {
    for (ablation, extra) in [
        ("chat-pretrain", ["--steps", "4"]), ("chat-base", ["--set", "sft.epochs=30", "--set", "sft.batchSize=4"]),
    ] {
        try runToyStage(
            "base-models",
            ["--ablation", ablation, "--out", out, "--set", "quotations=\(quotations)"] + toyStage + extra)
    }
}

/// reward-bpr's `ablations` at toy size under `out` (after makeToyChatBase): 8 training and 4
/// held-out prompts, 2 updates, each writing its reward model beside its results.
public func makeToyRewardModels(out: String, quotations: String, ablations: [String] = ["base"]) throws {
    for ablation in ablations {
        try runToyStage(
            "reward-bpr",
            [
                "--ablation", ablation, "--steps", "2", "--out", out, "--set", "quotations=\(quotations)", "--set",
                "prompts=8", "--set", "heldOutPrompts=4", "--set", "sampling.maxNewTokens=96", "--set",
                "sampling.attempts=4", "--set", "sampling.temperature=0.5", "--threads", "1",
            ])
    }
}
