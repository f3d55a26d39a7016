// The model study: what cleaning does to a model. The base config of the nano transformer is
// pretrained on a mix of the raw input or of the pipeline's output, at the same token budget
// (steps x batchSize x contextLength tokens), and validated on the same clean held-out set.
//   held-out set   the fault-free documents whose id hashes below `heldOut` (`unit`: the same
//                  documents in every arm and seed), as text (HTML extracted); they are
//                  left out of every training mix
//   tokenizer      BPE (GPT-4 pattern, `tokenizerVocab`) trained on the other fault-free documents'
//                  text: one tokenizer for both arms, so their losses are in the same units
//   mix            each source's documents (raw: as they are, markup and faults included;
//                  cleaned: as the pipeline wrote them) as one token stream with <|endoftext|>
//                  after each document, cut into chunks and drawn by source weight (Mixing.swift)
//                  until the token budget is met
// Summaries: model/val_loss/<source> (16 batches of 16 windows of each source's held-out tokens,
// the same windows for every run), mix/<source>/{tokens,epochs}; Pretraining's metrics (loss/val
// over the whole held-out set) and samples from a prompt of each source.
import DataPipeline
import ExperimentKit
import Foundation
import LabSupport
import NanoTransformer
import Pretraining
import TensorCore
import Tokenizer

struct ModelStudyConfig: Codable, Sendable, Equatable {
    enum Arm: String, Codable, Sendable { case none, raw, cleaned }
    /// none: the pipeline only; raw: pretrain on the input as it is; cleaned: on the pipeline's output.
    var train = Arm.none
    /// The share of the fault-free documents held out as the clean validation set.
    var heldOut = 0.1
    /// Chunk size and source weights of the mix (chunks and seed are set by the run).
    var mixing: MixingSettings = {
        var m = MixingSettings()
        m.weights = ["web": 1, "books": 1, "quotes": 1]
        m.chunkTokens = 1024
        m.replacement = false
        return m
    }()
    var pretraining: PretrainConfig = {
        var p = PretrainConfig()
        p.contextEvaluation = false
        p.inferenceBenchmark = false
        return p
    }()

    func validate() throws {
        try Check.range("modelStudy.heldOut", heldOut, 0.01...0.5)
        do { try mixing.check() } catch let e as LabError { throw LabError(.config, "modelStudy.\(e.message)") }
        try LabError.checking(prefix: "modelStudy.pretraining") { try pretraining.validate() }
    }
}

enum ModelStudy {
    /// A number in [0, 1) fixed by the document's id, for splits every run agrees on: FNV-1a,
    /// then MurmurHash3's finaliser (FNV's high bits barely move between ids like "web-12" and
    /// "web-13").
    static func unit(_ id: String) -> Double {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in id.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        h = (h ^ (h >> 33)) &* 0xff51_afd7_ed55_8ccd
        h = (h ^ (h >> 33)) &* 0xc4ce_b9fe_1a85_ec53
        h ^= h >> 33
        return Double(h >> 11) / Double(1 << 53)
    }

    /// Pretrains on the arm's mix and records the study's metrics.
    static func run(
        _ run: Run<DataPipelineExperimentConfig>, input: [Document], cleaned: [Document], isClean: (Document) -> Bool,
        root: String
    ) throws -> RunOutcome {
        let s = run.config.modelStudy
        let heldOut = input.filter { isClean($0) && unit($0.id) < s.heldOut }
        let heldOutIDs = Set(heldOut.map(\.id))
        let tokenizerTexts = input.filter { isClean($0) && !heldOutIDs.contains($0.id) }.map(HTMLText.plainText(of:))
        let tokenizer = try BPETrainer.train(
            tokenizerTexts,
            options: .init(
                vocabSize: s.pretraining.tokenizerVocab, pattern: .gpt4, specialTokens: ["<|endoftext|>"]))
        let eot = tokenizer.specialTokens["<|endoftext|>"]!
        func streams(_ documents: [Document]) -> [String: (documents: Int, tokens: [Int])] {
            var out: [String: (documents: Int, tokens: [Int])] = [:]
            let ids = tokenizer.encodeBatch(documents.map(\.text))
            for (d, tokens) in zip(documents, ids) {
                out[d.source, default: (0, [])].documents += 1
                out[d.source, default: (0, [])].tokens += tokens + [eot]
            }
            return out
        }
        let training = (s.train == .raw ? input : cleaned).filter { !heldOutIDs.contains($0.id) }
        let p = s.pretraining
        let budget = p.steps * p.batchSize * p.gradAccumulation * p.model.contextLength
        var mixing = s.mixing
        mixing.chunks = (budget + mixing.chunkTokens - 1) / mixing.chunkTokens
        mixing.seed = UInt64(run.seed)
        let (mix, report) = try Mixing.draw(streams(training), settings: mixing)
        for (source, r) in report.sorted(by: { $0.key < $1.key }) {
            run.results.summary("mix/\(source)/tokens", Double(r.tokens))
            run.results.summary("mix/\(source)/epochs", r.epochs)
        }
        let validation = streams(
            heldOut.map { Document(id: $0.id, text: HTMLText.plainText(of: $0), source: $0.source) })
        let sources = validation.keys.sorted()
        let window = p.model.contextLength + 1
        guard validation.values.contains(where: { $0.tokens.count > window }) else {
            throw LabError.invalid(
                key: "modelStudy.heldOut",
                "\(s.heldOut) holds out \(heldOut.count) fault-free documents, no source with more than \(window) tokens to validate on"
            )
        }
        let windows = TokenWindows(
            trainSegments: [mix.map { Int32($0) }],
            validationSegments: sources.map { validation[$0]!.tokens.map { Int32($0) } })
        print(
            "model study (\(s.train.rawValue)): \(mix.count) training tokens drawn from \(training.count) documents; held out \(heldOut.count) clean documents ("
                + sources.map { "\($0) \(validation[$0]!.tokens.count) tokens" }.joined(separator: ", ") + ")")
        let prompts = ["books": "ROMEO:", "web": "The apt-get command", "quotes": "A man"]
        return try Pretraining.run(
            run, p, repositoryRoot: root, corpus: (tokenizer, windows),
            trainedModel: { model in
                let t = model.config.contextLength
                for source in sources {
                    let one = TokenWindows(
                        trainSegments: [], validationSegments: [validation[source]!.tokens.map { Int32($0) }])
                    guard one.fits(time: t, validation: true) else { continue }
                    var rng = RNG(seed: 99)
                    run.results.summary(
                        "model/val_loss/\(source)",
                        model.validationLoss(one, batches: 16, batchSize: 16, time: t, rng: &rng))
                }
                for (source, text) in prompts.sorted(by: { $0.key < $1.key }) {
                    let prompt = tokenizer.encode(text)
                    guard prompt.count < t else { continue }
                    let out = try model.generate(
                        prompts: [prompt], maxNewTokens: min(64, t - prompt.count),
                        sampling: Sampling(temperature: 0.8, topK: 50), streams: [RNG(seed: UInt64(run.seed) + 7)])
                    run.results.sample(
                        "generation/\(source)", step: p.steps,
                        (try? tokenizer.decode(prompt + out.responses[0], lossy: true)) ?? "")
                }
            })
    }
}
