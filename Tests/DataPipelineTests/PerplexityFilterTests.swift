// CCNet's perplexity filter: a document's perplexity is exp of the model's own mean next-token
// loss (one window, and several windows weighted by their tokens), a model trained on a text finds
// it far less perplexing than the same words shuffled, the percentile cutoffs and buckets by hand,
// and the stage keeping the buckets asked for.
import DataPipeline
import Foundation
import LabSupport
import NanoTransformer
import TensorCore
import TestSupport
import Testing
import Tokenizer

@Suite struct PerplexityFilterTests {
    static let text = QualityRulesTests.clean

    /// A one-layer model of width 32 (context 16) and a 300-token BPE of the clean page,
    /// trained `steps` Adam steps on that page.
    static func model(steps: Int) throws -> (NanoTransformer, BPETokenizer) {
        let tokenizer = try BPETrainer.train([text], options: .init(vocabSize: 300))
        var c = TransformerConfig()
        (c.vocabSize, c.dModel, c.layers, c.heads, c.kvHeads, c.contextLength) = (tokenizer.vocabSize, 32, 1, 2, 2, 16)
        var rng = RNG(seed: 1)
        let model = try NanoTransformer(c, rng: &rng)
        let ids = tokenizer.encode(text)
        let adam = Adam(model.namedParameters())
        for step in 0..<steps {
            let starts = (0..<8).map { (step * 8 + $0) * 7 % (ids.count - 17) }
            let inputs = starts.flatMap { ids[$0..<($0 + 16)] }
            let targets = starts.flatMap { ids[($0 + 1)..<($0 + 17)] }
            adam.zeroGrad()
            model.loss(inputs, targets: targets, batch: 8, time: 16, rng: &rng).total.backward()
            adam.step(lr: 3e-3)
        }
        return (model, tokenizer)
    }

    @Test func perplexityIsTheExponentOfTheMeanTokenLoss() throws {
        let (model, tokenizer) = try Self.model(steps: 0)
        let scorer = try PerplexityScorer(model: model, tokenizer: tokenizer, maxTokens: 40)
        let ids = Array(tokenizer.encode(Self.text).prefix(40))
        var rng = RNG(seed: 0)
        // Windows of 17 tokens overlapping by one: targets 1...16, 17...32, 33...39.
        func loss(_ w: ArraySlice<Int>) -> Double {
            Double(
                withNoGrad {
                    model.loss(
                        Array(w.dropLast()), targets: Array(w.dropFirst()), batch: 1, time: w.count - 1,
                        training: false, rng: &rng
                    )
                    .crossEntropy.item
                })
        }
        let expected = exp((16 * loss(ids[0...16]) + 16 * loss(ids[16...32]) + 7 * loss(ids[32...39])) / 39)
        let got = try #require(scorer.perplexity(Self.text))
        #expect(abs(got - expected) / expected < 1e-4, "\(got) vs \(expected)")
        #expect(scorer.perplexity("") == nil)
    }

    /// After 150 steps on the page, the page's perplexity is well below that of its words
    /// shuffled (a text the model has not seen in that order).
    @Test func aTrainedModelPrefersItsText() throws {
        let (model, tokenizer) = try Self.model(steps: 150)
        let scorer = try PerplexityScorer(model: model, tokenizer: tokenizer)
        var rng = RNG(seed: 2)
        var words = Self.text.split(separator: " ").map(String.init)
        for i in stride(from: words.count - 1, to: 0, by: -1) { words.swapAt(i, rng.int(below: i + 1)) }
        let own = try #require(scorer.perplexity(Self.text))
        let shuffled = try #require(scorer.perplexity(words.joined(separator: " ")))
        #expect(own * 3 < shuffled, "page \(own), shuffled \(shuffled)")
    }

    @Test func bucketsByPercentiles() {
        let b = PerplexityBuckets(sample: ["web": (1...10).map(Double.init), "empty": []])
        #expect(b.cutoffs.keys.sorted() == ["web"])
        #expect(abs(b.cutoffs["web"]![0] - 3.97) < 1e-12 && abs(b.cutoffs["web"]![1] - 6.94) < 1e-12)
        #expect(b.bucket(3, source: "web") == .head && b.bucket(5, source: "web") == .middle)
        #expect(b.bucket(9, source: "web") == .tail && b.bucket(1, source: "books") == nil)
    }

    @Test func theStageKeepsTheBucketsAskedFor() throws {
        let (model, tokenizer) = try Self.model(steps: 0)
        let scorer = try PerplexityScorer(model: model, tokenizer: tokenizer)
        let texts = ["the river rose", "a foot of brown water", "zq xv kj"]
        let perplexities = texts.map { scorer.perplexity($0)! }
        var config = PipelineConfig()
        config.stages = [.perplexity]
        config.perplexity.keep = [.head]
        config.perplexity.buckets = PerplexityBuckets(sample: ["web": perplexities])
        let run = try PipelineRun(config, scorer: scorer)
        let docs = texts.enumerated().map { Document(id: "\($0.offset)", text: $0.element, source: "web") }
        let out = run.process(docs + [Document(id: "other", text: "the river", source: "books")])
        let lowest = perplexities.indices.min { perplexities[$0] < perplexities[$1] }!
        #expect(out.map(\.id) == ["\(lowest)"] && out[0].metadata["perplexity_bucket"] == "\"head\"")
        #expect(run.report.stages[0].reasons["perplexity.noCutoffs"] == 1)
        #expect(run.report.stages[0].removed == 3)
        #expect(
            expectLabError(.config) { try PipelineRun(config) }?.message
                == "stages: perplexity needs a language model to score with")
    }
}
