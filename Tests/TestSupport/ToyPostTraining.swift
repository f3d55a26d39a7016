// Toy settings for the post-training experiments' end-to-end tests (base-models, sft, reward-bpr):
// a one-layer model of width 32 on the committed Shakespeare sample and a small fortunes-style
// file, so that each stage takes a second or two.
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
