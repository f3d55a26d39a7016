import ExperimentKit
import Foundation
// mla: multi-head latent attention against MHA, GQA and MQA in the nano transformer, trained on
// the same corpus with the same loop (Packages/Pretraining), at matched parameter count; then the
// KV cache per token, prefill speed, and decode speed at long contexts for naive vs absorbed MLA.
import LabSupport
import MLA
import NanoTransformer
import Pretraining
import TensorCore

struct MLAExperimentConfig: ExperimentConfig {
    /// The pretraining run (model shape, data, optimiser, schedule); attention is set below.
    var training = PretrainConfig()
    /// mha (kvHeads = heads), gqa (1 < kvHeads < heads), mqa (kvHeads = 1) or mla.
    var attention = AttentionKind.mha
    /// MLA's shape (used when attention is mla).
    var mla = MLAConfig()
    /// Resize the MLP hidden width so every variant has the MHA model's parameter count.
    var matchParameters = true
    /// Cache lengths at which prefill and decode speed are measured after training.
    var speedLengths = [256, 1024, 2048]
    /// Tokens decoded per speed measurement.
    var decodeTokens = 32

    init() {
        training.steps = 600
        training.evalEvery = 100
        training.inferenceBenchmark = false
        training.contextEvaluation = false
    }

    static var derivedKeys: [String: String] {
        Dictionary(uniqueKeysWithValues: PretrainConfig.derivedKeys.map { ("training.\($0.key)", $0.value) })
    }

    func validate() throws {
        try Check.nested("training") { try training.validate() }
        let m = training.model
        switch attention {
        case .mha where m.kvHeads != m.heads, .mqa where m.kvHeads != 1,
            .gqa where !(m.kvHeads > 1 && m.kvHeads < m.heads):
            throw LabError.invalid(
                key: "attention", "\(attention.rawValue) does not fit kvHeads \(m.kvHeads)",
                related: ["training.model.kvHeads", "training.model.heads"])
        case .mla:
            try LabError.checking(prefix: "mla", modelPrefix: "training") { try mla.check(m) }
        default: break
        }
        try Check.that(
            !speedLengths.isEmpty && speedLengths.allSatisfy { (1...(1 << 20)).contains($0) }, "speedLengths",
            "one or more lengths, each in 1...\(1 << 20)")
        try Check.range("decodeTokens", decodeTokens, 1...(1 << 20))
    }
}

enum MLAExperiment: Experiment {
    typealias Config = MLAExperimentConfig
    static let name = "mla"
    static let dataParallel = true  // under mpirun -np N (Notebooks-md/scale-out.md)
    static let summary = "MLA vs MHA/GQA/MQA: loss, KV-cache bytes per token, prefill and decode speed."
    static let source = SourceLocation(#filePath)
    static let resources = TaskResources(threads: 1, memory: "768M")  // Scripts/measure-resources mla

    static func attentionFactory(_ c: Config, inference: MLAInference? = nil) -> AttentionFactory? {
        guard c.attention == .mla else { return nil }
        var mla = c.mla
        if let inference { mla.inference = inference }
        return MultiHeadLatentAttention.factory(mla)
    }

    /// The MLP hidden width that brings this variant's parameter count closest to MHA's
    /// (attention parameters differ per variant; each hidden unit adds 3 C per layer in SwiGLU).
    static func matchedHidden(_ c: Config) throws -> (hidden: Int, difference: Int) {
        var rng = RNG(seed: 0)
        var mha = c.training.model
        mha.kvHeads = mha.heads
        let target = try NanoTransformer(mha, rng: &rng).parameterCount
        let own = try NanoTransformer(c.training.model, attention: attentionFactory(c), rng: &rng).parameterCount
        let perUnit = (c.training.model.mlp == .swiglu ? 3 : 2) * c.training.model.dModel * c.training.model.layers
        let hidden = c.training.model.resolvedMLPHidden + Int((Double(target - own) / Double(perUnit)).rounded())
        if hidden < 1 {
            throw LabError.invalid(
                key: "matchParameters",
                "\(c.attention.rawValue) attention has \(own - target) more parameters than MHA, more than the whole MLP"
            )
        }
        var matched = c.training.model
        matched.mlpHidden = hidden
        let parameters = try NanoTransformer(matched, attention: attentionFactory(c), rng: &rng).parameterCount
        return (hidden, parameters - target)
    }

    static func run(_ run: Run<Config>) throws -> RunOutcome {
        var c = run.config
        if c.matchParameters {
            let (hidden, difference) = try matchedHidden(c)
            c.training.model.mlpHidden = hidden
            print("matched parameters: MLP hidden \(hidden), \(difference) parameters more than MHA")
            run.results.summary("model/mlp_hidden", Double(hidden))
            run.results.summary("model/parameters_minus_mha", Double(difference))
        }
        return try Pretraining.run(
            run, c.training, repositoryRoot: source.repositoryRoot, attention: attentionFactory(c),
            trainedModel: { try measureInference($0, c, run: run) })
    }

    /// KV-cache bytes per token (formula and measured) and prefill / decode speed at each length,
    /// for MLA on both inference paths.
    static func measureInference(_ model: NanoTransformer, _ c: Config, run: Run<Config>) throws {
        run.results.summary(
            "inference/kv_cache_bytes_per_token_formula",
            Double(CacheSize.bytesPerToken(c.attention, model: model.config, mla: c.mla)))
        let paths: [(String, MLAInference?)] =
            c.attention == .mla ? [("naive", .naive), ("absorbed", .absorbed)] : [("", nil)]
        for (label, inference) in paths {
            let variant = try model.copy(with: model.config, attention: attentionFactory(c, inference: inference))
            let suffix = label.isEmpty ? "" : "_" + label
            for length in c.speedLengths {
                let speed = InferenceSpeed.measure(variant, prompt: length, decode: c.decodeTokens)
                run.results.log("speed/prefill_tokens_per_s\(suffix)", step: length, speed.prefillTokensPerSecond)
                run.results.log("speed/decode_tokens_per_s\(suffix)", step: length, speed.decodeTokensPerSecond)
                run.results.summary("inference/kv_cache_bytes_per_token", Double(speed.cacheBytesPerToken))
            }
        }
    }
}

ExperimentCommand<MLAExperiment>.main()
