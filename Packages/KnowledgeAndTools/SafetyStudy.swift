// The safety probe: does a model's representation separate harmful from harmless requests, and
// does a safety system prompt make it refuse more, also where it should not? Requests are minimal
// pairs (SafetyPrompts.swift) split by object: the objects of the held-out pairs are never trained
// on, so what the probe and the refusals show on them is generalisation, not recall.
//   model:  a pretrained checkpoint (`policy`, default reasoning-base: Shakespeare and worked
//           solutions) or, with policy "", a tiny model from scratch (ScratchModel)
//   probe:  LinearProbe on the residual stream at the request's last token (the assistant marker
//           that the answer is read from), layer by layer (0: the embeddings), fitted on the
//           training objects' requests and scored on the held-out ones, before and after SFT:
//           probe/before/layer_<l>, probe/after/layer_<l>                              (summaries)
//   SFT:    the training objects' requests, harmful ones answered SafetyPrompt.refusal and
//           harmless ones `helpful`; no safety system prompt in training. With `descriptions`,
//           the objects' descriptions (SafetyPrompts.descriptions, every object, held-out ones
//           included) are mixed in as documents with the loss on every token: the toy's
//           pretraining knowledge of what each object is
//   eval:   the share of greedy answers that refuse (SafetyPrompt.isRefusal), by half:
//           eval/refusal/plain/harmful, eval/refusal/plain/harmless (over-refusal)
//                                     the held-out objects' requests
//           eval/refusal/safety/harmful, eval/refusal/safety/harmless
//                                     the same after the safety system prompt (SafetyPrompt.systemPrompt)
//           eval/refusal/seen/harmful, eval/refusal/seen/harmless
//                                     the training objects' requests
import ExperimentKit
import Foundation
import LabSupport
import ModelStore
import NanoTransformer
import PostTraining
import TensorCore
import Tokenizer

public struct SafetyConfig: Codable, Sendable, Equatable {
    /// A checkpoint (.h5), a run under --out (its seed-0 checkpoint), or "" for a tiny model from scratch.
    public var policy = "base-models/base"
    /// Object pairs held out of the probe's fit and of SFT (of SafetyPrompts' 20).
    public var heldOutObjects = 5
    public var helpful = "Sure. Here is what you need to know."
    /// Mix the objects' descriptions into SFT as documents.
    public var descriptions = true
    /// From scratch only: the tokenizer (learned on the requests and answers) and the model.
    public var tokenizerVocab = 512
    public var model = ScratchModel.tinyModel(contextLength: 64)
    public var sft = ScratchModel.sft(epochs: 20, learningRate: 3e-4)
    public var probeSteps = 500
    public var probeL2 = 1e-2
    public var evalEvery = 50
    public var checkpointEvery = 500

    public init() {}

    public func validate() throws {
        try Check.range("safety.heldOutObjects", heldOutObjects, 1...(SafetyPrompts.harmfulObjects.count - 1))
        if SafetyPrompt.isRefusal(helpful) {
            throw LabError.invalid(key: "safety.helpful", "\"\(helpful)\" reads as a refusal")
        }
        try Check.range("safety.probeSteps", probeSteps, 1...100_000)
        guard probeL2 >= 0, probeL2.isFinite else {
            throw LabError.invalid(key: "safety.probeL2", "\(probeL2) must be >= 0")
        }
        try ScratchModel.check(
            "safety", tokenizerVocab: policy.isEmpty ? tokenizerVocab : nil, model: model, sft: sft,
            evalEvery: evalEvery, checkpointEvery: checkpointEvery)
    }
}

public enum SafetyStudy {
    /// Each request's residual stream at its last prompt token, by layer: [layer][request][C].
    public static func features(_ model: NanoTransformer, format: ConversationFormat, prompts: [String]) throws
        -> [[[Float]]]
    {
        let perPrompt = try prompts.map { prompt in
            let ids = format.promptIds(prompt)
            return try model.residualStream(ids).map { layer in
                let row = layer.array
                return Array(row[((ids.count - 1) * model.config.dModel)...])
            }
        }
        return (0...model.config.layers).map { l in perPrompt.map { $0[l] } }
    }

    /// Held-out accuracy of a linear probe fitted layer by layer.
    public static func probeAccuracy(
        _ model: NanoTransformer, format: ConversationFormat, train: [SafetyPrompt], test: [SafetyPrompt],
        steps: Int, l2: Double
    ) throws -> [Double] {
        let (fit, score) = (
            try features(model, format: format, prompts: train.map(\.text)),
            try features(model, format: format, prompts: test.map(\.text))
        )
        return try zip(fit, score).map { fitRows, scoreRows in
            try LinearProbe(features: fitRows, labels: train.map(\.harmful), l2: l2, steps: steps)
                .accuracy(features: scoreRows, labels: test.map(\.harmful))
        }
    }

    /// Refusal rates of greedy answers, by half, with and without the safety system prompt.
    public static func refusals(
        _ model: NanoTransformer, format: ConversationFormat, test: [SafetyPrompt], seen: [SafetyPrompt]
    ) throws -> [String: Double] {
        var m: [String: Double] = [:]
        for (name, prompts, safety) in [("plain", test, false), ("safety", test, true), ("seen", seen, false)] {
            let answers = try ScratchModel.greedyAnswers(
                model, format: format, prompts: prompts.map { $0.prompt(safety: safety) }, maxNewTokens: 16)
            for harmful in [true, false] {
                let rows = prompts.indices.filter { prompts[$0].harmful == harmful }
                m["eval/refusal/\(name)/\(harmful ? "harmful" : "harmless")"] =
                    Double(rows.count { SafetyPrompt.isRefusal(answers[$0].text) }) / Double(rows.count)
            }
        }
        return m
    }

    public static func run<C: ExperimentConfig>(_ run: Run<C>, _ c: SafetyConfig) throws -> RunOutcome {
        var root = RNG(seed: UInt64(run.seed))
        var splitRNG = root.split()
        let (train, test) = try SafetyPrompts.split(heldOutObjects: c.heldOutObjects, rng: &splitRNG)
        let answer = { (p: SafetyPrompt) in p.harmful ? SafetyPrompt.refusal : c.helpful }
        let model: NanoTransformer
        let tokenizer: BPETokenizer
        if c.policy.isEmpty {
            tokenizer = try ScratchModel.tokenizer(
                SafetyPrompts.all().map { $0.prompt(safety: true) + " " + answer($0) } + SafetyPrompts.descriptions(),
                vocab: c.tokenizerVocab)
            model = try ScratchModel.fresh(c.model, tokenizer: tokenizer, root: &root)
        } else {
            let path = c.policy.hasSuffix(".h5") ? c.policy : "\(run.inputs)/\(c.policy)/seed-0.ckpt.h5"
            guard FileManager.default.fileExists(atPath: path) else {
                throw LabError.invalid(
                    key: "safety.policy", "\(path) does not exist (Scripts/base-models makes it; or give a path)")
            }
            (model, tokenizer) = (try NanoTransformer.load(checkpoint: path), try BPETokenizer.load(checkpoint: path))
        }
        let format = try ConversationFormat(tokenizer: tokenizer)
        var examples = try ScratchModel.examples(
            train.map { ($0.text, answer($0)) }, format: format, contextLength: model.config.contextLength,
            key: "safety.model.contextLength")
        if c.descriptions {
            examples += SafetyPrompts.descriptions().map { SFTExample(ids: tokenizer.encode($0), responseStart: 1) }
        }
        let heldOut = try ScratchModel.examples(
            test.map { ($0.text, answer($0)) }, format: format, contextLength: model.config.contextLength,
            key: "safety.model.contextLength")
        // The safety prompt must fit too (the eval puts it before every held-out request).
        if let long = test.map({ format.promptIds($0.prompt(safety: true)).count + 16 }).max(),
            long > model.config.contextLength
        {
            throw LabError.invalid(
                key: "safety.model.contextLength",
                "a request with the safety prompt and its answer is \(long) tokens, longer than the context (\(model.config.contextLength))"
            )
        }
        let probe = { (stage: String) throws in
            let accuracy = try probeAccuracy(
                model, format: format, train: train, test: test, steps: c.probeSteps, l2: c.probeL2)
            for (l, a) in accuracy.enumerated() { run.results.summary("probe/\(stage)/layer_\(l)", a) }
        }
        if run.resumeState == nil {
            try probe("before")
            run.results.log(try refusals(model, format: format, test: test, seen: train), step: 0)
        }
        let outcome = try ScratchModel.fit(
            run, model: model, tokenizer: tokenizer, train: examples, heldOut: heldOut, settings: c.sft,
            seed: root.next(), evalEvery: c.evalEvery, checkpointEvery: c.checkpointEvery,
            evaluate: { try refusals($0, format: format, test: test, seen: train) })
        if case .finished = outcome { try probe("after") }
        return outcome
    }
}
