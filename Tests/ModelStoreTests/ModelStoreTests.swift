import Foundation
import HDF5Store
// Self-describing checkpoints: every language-model experiment's checkpoint rebuilds its model
// from the file alone (drop-in layers, buffers and tokenizer included) and reproduces the run's
// own final validation loss to the bit; one model seeds another through an explicit mapping; bad
// records are named errors.
import LabSupport
import MLA
import MoE
import ModelStore
import NanoTransformer
import Pretraining
import TensorCore
import TestSupport
import Testing
import Tokenizer

/// Toy sizes for each experiment's pretraining settings (under `prefix`).
func toy(_ prefix: String) -> [String] {
    [
        "data=sample", "tokenizerVocab=300", "model.dModel=32", "model.layers=1", "model.contextLength=16",
        "batchSize=2", "evalBatches=2", "evalEvery=2", "inferenceBenchmark=false", "contextEvaluation=false",
    ].flatMap { ["--set", prefix + $0] } + ["--threads", "1", "--steps", "3", "--all-ablations"]
}

/// (experiment, extra settings, where the pretraining settings sit in its config).
let languageModelExperiments: [(String, [String], String)] = [
    ("nano-transformer", [], ""),
    // MLA's widest latent (128) needs a wider model for the parameter matching to fit.
    (
        "mla", ["--set", "training.model.dModel=64", "--set", "speedLengths=[8]", "--set", "decodeTokens=2"],
        "training."
    ),
    ("moe", ["--set", "training.model.mlpHidden=48", "--set", "moe.expertHidden=16"], "training."),
]

@Suite(.serialized) struct ExperimentCheckpointTests {
    @Test(arguments: languageModelExperiments.map(\.0))
    func everyAblationsCheckpointReproducesItsValidationLossFromTheFileAlone(experiment: String) throws {
        let (_, extra, prefix) = languageModelExperiments.first { $0.0 == experiment }!
        let out = temporaryFolder()
        let result = try runProduct(experiment, ["--out", out] + toy(prefix) + extra)
        #expect(result.status == 0, "\(result.stderr)")
        for ablation in try experimentAblations(experiment) {
            let checkpoint = "\(out)/\(experiment)/\(ablation)/seed-0.ckpt.h5"
            let model = try NanoTransformer.load(checkpoint: checkpoint)
            let tokenizer = try BPETokenizer.load(checkpoint: checkpoint)
            #expect(model.config.vocabSize == tokenizer.vocabSize, "\(ablation)")
            // The run's settings, from the checkpoint's own config, to rebuild its validation windows.
            let saved = try JSONSerialization.jsonObject(
                with: Data(try Checkpoint.load(from: checkpoint).configJSON.utf8))
            let settings = prefix.isEmpty ? saved : (saved as! [String: Any])["training"]!
            let c = try JSONDecoder().decode(
                PretrainConfig.self, from: JSONSerialization.data(withJSONObject: settings))
            let (_, tokens) = try CorpusTokens.load(c, cacheFolder: "\(out)/tokens", repositoryRoot: repositoryRoot())
            var rng = RNG(seed: 99)  // Pretraining's evaluation stream
            let loss = model.validationLoss(
                try TokenWindows(tokens: tokens, seed: 1234), batches: c.evalBatches, batchSize: c.batchSize,
                time: model.config.contextLength, rng: &rng)
            let results = try RunResults.load(from: "\(out)/\(experiment)/\(ablation)/seed-0.h5")
            #expect(loss == results.metrics["loss/val"]!.values.last!, "\(experiment)/\(ablation)")
            #expect(model.attentionKind.kind == (ablation.hasPrefix("mla") ? "mla" : "gqa"), "\(ablation)")
            let moe = experiment == "moe" && !ablation.hasPrefix("dense")
            #expect(model.mlpKind.kind == (moe ? "moe" : "dense"), "\(ablation)")
        }
    }
}

/// The repository root (the Data/sample folder the toy runs tokenised).
func repositoryRoot(testFile: String = #filePath) -> String {
    URL(fileURLWithPath: testFile).deletingLastPathComponent().appendingPathComponent("../..").standardized.path
}

func tinyLM(_ edit: (inout TransformerConfig) -> Void = { _ in }) throws -> NanoTransformer {
    var c = TransformerConfig()
    (c.vocabSize, c.dModel, c.layers, c.heads, c.kvHeads, c.contextLength) = (40, 16, 2, 2, 1, 16)
    edit(&c)
    var rng = RNG(seed: 3)
    let model = try NanoTransformer(c, rng: &rng)
    for (name, p) in model.namedParameters() where !name.contains("norm") { Init.normal(p, std: 0.1, rng: &rng) }
    return model
}

func save(_ model: NanoTransformer, tokenizer: BPETokenizer? = nil) throws -> String {
    let path = temporaryFolder() + "/model.ckpt.h5"
    let state = TrainingState(
        step: 1, parameters: model.namedParameters(),
        tensors: Dictionary(
            uniqueKeysWithValues: model.namedBuffers().map { ("buffer/" + $0.name, $0.tensor) }),
        provenance: Provenance(gitCommit: "t", date: "t", swiftVersion: "t", threads: 1, command: "t"),
        model: try tokenizer.map { try model.modelRecord(tokenizer: $0) } ?? model.modelRecord)
    try Checkpoint.save(state, to: path)
    return path
}

/// A reward model as the later packages compose it: a trunk without the LM head, and a score head.
final class RewardModel: Module {
    let trunk: NanoTransformer
    let score: ScalarHead
    init(_ config: TransformerConfig, rng: inout RNG) throws {
        trunk = try NanoTransformer(config, languageModelHead: false, rng: &rng)
        score = ScalarHead(dModel: config.dModel, rng: &rng)
    }
    func namedParameters() -> [(name: String, tensor: Tensor)] {
        trunk.namedParameters() + prefixed("score_head", score)
    }
}

@Suite struct ModelRecordTests {
    @Test(arguments: ["dense", "untied", "learned", "mla", "mla-absorbed", "moe"])
    func roundTripGivesIdenticalLogits(variant: String) throws {
        var rng = RNG(seed: 4)
        var config = try tinyLM().config
        if variant == "untied" { config.tiedEmbeddings = false }
        if variant == "learned" { config.positionEncoding = .learned }
        var mla = MLAConfig()
        (mla.latentDim, mla.ropeDim, mla.inference) = (8, 4, variant == "mla" ? .naive : .absorbed)
        var moe = MoEConfig()
        (moe.experts, moe.topK, moe.expertHidden, moe.sharedExperts) = (4, 2, 8, 1)
        let model = try NanoTransformer(
            config, attention: variant.hasPrefix("mla") ? MultiHeadLatentAttention.factory(mla) : nil,
            mlp: variant == "moe" ? MixtureOfExperts.factory(moe) : nil, rng: &rng)
        if variant == "moe" { model.mixtureOfExpertsLayers[0].routingBias.data[1] = 0.25 }  // a buffer that matters
        let path = try save(model)
        let back = try NanoTransformer.load(checkpoint: path)
        #expect(back.config.headDim == 8 && back.config.mlpHidden == config.resolvedMLPHidden, "widths written out")
        #expect(back.attentionKind.configJSON == model.attentionKind.configJSON)
        #expect(back.mlpKind.configJSON == model.mlpKind.configJSON)
        let ids = (0..<12).map { ($0 * 7) % 40 }
        let a = withNoGrad { model.logits(ids, batch: 1, time: 12, rng: &rng) }
        let b = withNoGrad { back.logits(ids, batch: 1, time: 12, rng: &rng) }
        #expect(a.array == b.array)
        // The cached path (MLA's inference mode is part of the record) agrees too.
        let cache = KVCache(layers: 2)
        let prefill = withNoGrad { back.logits(Array(ids.prefix(6)), batch: 1, time: 6, cache: cache, rng: &rng) }
        #expect(prefill.isClose(to: a.slice(axis: 1, 0..<6), atol: 2e-5))
    }

    @Test func theTokenizerTravelsWithTheModelAndNewTokensKeepBothInStep() throws {
        let text = try String(contentsOfFile: repositoryRoot() + "/Data/sample/english-tempest.txt", encoding: .utf8)
        let tokenizer = try BPETrainer.train(
            [String(text.prefix(20_000))],
            options: .init(vocabSize: 300, pattern: .gpt4, specialTokens: ["<|endoftext|>"]))
        let model = try tinyLM { $0.vocabSize = tokenizer.vocabSize }
        expectLabError(.model) {
            _ = try model.modelRecord(tokenizer: try tokenizer.addingSpecialTokens(["x"]))
        }
        // R1's tags as single tokens: the tokenizer and the model grow together.
        let tags = ["<think>", "</think>", "<answer>", "</answer>"]
        let chat = try tokenizer.addingSpecialTokens(tags)
        let grown = try model.resizedVocabulary(to: chat.vocabSize)
        let path = try save(grown, tokenizer: chat)
        let back = try BPETokenizer.load(checkpoint: path)
        let old = tokenizer.vocabSize  // 300, <|endoftext|> included
        #expect(
            back.vocabSize == old + 4 && back.specialTokens["<think>"] == old
                && back.specialTokens["<answer>"] == old + 2)
        let sample = "<think>ALONSO. Good boatswain</think>"
        #expect(back.encode(sample, allowedSpecial: .all) == chat.encode(sample, allowedSpecial: .all))
        #expect(back.encode(sample, allowedSpecial: .all).first == old)
        #expect(back.encode(sample, allowedSpecial: .all).last == old + 1)
        #expect(tokenizer.encode("ALONSO") == back.encode("ALONSO"), "ordinary text keeps its ids")
        #expect(try NanoTransformer.load(checkpoint: path).config.vocabSize == old + 4)
        expectLabError(.tokenizer) { _ = try chat.addingSpecialTokens(["<think>"]) }
    }

    @Test func anLMCheckpointSeedsARewardModelAndAValueHeadThroughAMapping() throws {
        let lm = try tinyLM { $0.tiedEmbeddings = false }
        let path = try save(lm)
        let state = try Checkpoint.load(from: path)
        var rng = RNG(seed: 5)
        let reward = try RewardModel(lm.config, rng: &rng)
        // Strict: the LM head is unexpected and the score head missing, both named.
        let strict = expectLabError(.hdf5) {
            try Checkpoint.restore(reward.namedParameters(), from: state, path: path)
        }
        #expect(strict?.message.contains("unexpected 'lm_head.weight'") == true)
        #expect(strict?.message.contains("missing 'score_head.weight'") == true)
        let report = try Checkpoint.restore(
            reward.namedParameters(), from: state, path: path,
            mapping: ParameterMapping(allowMissing: ["score_head.*"], allowUnused: ["lm_head.*"]))
        #expect(report.missing == ["score_head.weight"] && report.unused == ["lm_head.weight"])
        #expect(report.loaded.count == lm.namedParameters().count - 1)
        // Where weights are shared, the outputs are identical: the trunk's hidden states and, through
        // the LM's own head, its logits.
        let ids = [1, 5, 9, 2, 7]
        let h = withNoGrad { reward.trunk.hiddenStates(ids, batch: 1, time: 5, rng: &rng) }
        let lmHidden = withNoGrad { lm.hiddenStates(ids, batch: 1, time: 5, rng: &rng) }
        #expect(h.array == lmHidden.array)
        #expect(
            withNoGrad { lm.languageModelHead(h) }.array
                == withNoGrad { lm.logits(ids, batch: 1, time: 5, rng: &rng) }.array)
        // A policy-and-critic model whose names carry a prefix: rename, then allow the new head.
        final class PolicyWithValue: Module {
            let policy: NanoTransformer
            let value: ValueHead
            init(_ c: TransformerConfig, rng: inout RNG) throws {
                policy = try NanoTransformer(c, rng: &rng)
                value = ValueHead(dModel: c.dModel, rng: &rng)
            }
            func namedParameters() -> [(name: String, tensor: Tensor)] {
                prefixed("policy", policy) + prefixed("value_head", value)
            }
        }
        let actorCritic = try PolicyWithValue(lm.config, rng: &rng)
        let seeded = try Checkpoint.restore(
            actorCritic.namedParameters(), from: state, path: path,
            mapping: ParameterMapping(rename: [("", "policy.")], allowMissing: ["value_head.*"]))
        #expect(seeded.missing == ["value_head.weight", "value_head.bias"] && seeded.unused.isEmpty)
        let a = withNoGrad { actorCritic.policy.logits(ids, batch: 1, time: 5, rng: &rng) }
        #expect(a.array == withNoGrad { lm.logits(ids, batch: 1, time: 5, rng: &rng) }.array)
        // A renamed tensor that fits nothing is named with both names.
        let wrong = expectLabError(.hdf5) {
            try Checkpoint.restore(
                actorCritic.namedParameters(), from: state, path: path,
                mapping: ParameterMapping(rename: [("", "actor.")], allowMissing: ["*"]))
        }
        #expect(wrong?.message.contains("unexpected 'norm.weight' (as 'actor.norm.weight')") == true)
    }

    @Test func badRecordsAreNamedErrors() throws {
        let model = try tinyLM()
        var record = model.modelRecord
        func attempt(_ edit: (inout ModelRecord) -> Void) -> String {
            var r = record
            edit(&r)
            do {
                _ = try NanoTransformer.rebuild(from: r, source: "f.h5")
                return "no error"
            } catch { return "\(error)" }
        }
        #expect(
            attempt { $0.fields["attention"] = "flash" }.contains(
                "f.h5: /model attention 'flash' is not a known kind (known: gqa, mla)"))
        #expect(
            attempt { $0.fields["mlp_config"] = "[]" }.contains("mlp_config does not decode") == false,
            "dense ignores its config")
        #expect(attempt { $0.fields["mlp"] = "moe" }.contains("/model mlp_config does not decode as a 'moe' config"))
        #expect(attempt { $0.fields["config"] = nil }.contains("f.h5: /model has no 'config' attribute"))
        let threeHeads = record.fields["config"]!.replacingOccurrences(of: "\"kvHeads\":1", with: "\"kvHeads\":3")
        #expect(attempt { $0.fields["config"] = threeHeads }.contains("f.h5: /model config: kvHeads"))
        #expect(
            attempt { $0.fields["config"] = "{\"heads\": 3}" }.contains(
                "f.h5: /model config is not a 'nano-transformer' config"))
        #expect(attempt { $0.architecture = "mlp" }.contains("is a 'mlp', not a 'nano-transformer'"))
        // A checkpoint without the group says so.
        let path = temporaryFolder() + "/old.ckpt.h5"
        try Checkpoint.save(
            TrainingState(
                step: 0, parameters: model.namedParameters(),
                provenance: Provenance(gitCommit: "t", date: "t", swiftVersion: "t", threads: 1, command: "t")),
            to: path)
        let error = expectLabError(.hdf5) { _ = try NanoTransformer.load(checkpoint: path) }
        #expect(error?.message.contains("no /model group") == true)
        expectLabError(.hdf5) { _ = try BPETokenizer.load(checkpoint: path) }
        record.fields["lm_head"] = "maybe"
        expectLabError(.hdf5) { _ = try NanoTransformer.rebuild(from: record, source: "f.h5") }
    }
}
