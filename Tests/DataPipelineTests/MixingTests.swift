// Mixing: streams per source with an end-of-text token after each document, the sources' shares
// of the drawn chunks converging to the weights, the draw repeatable for a seed, each chunk used
// once per epoch without replacement, the token file the pretraining loop reads, and bad weights
// named.
import DataPipeline
import Foundation
import LabSupport
import TestSupport
import Testing
import Tokenizer

@Suite struct MixingTests {
    /// Source s's tokens are s * 1000 + position, so every drawn chunk says where it came from.
    static func streams(_ sizes: [String: Int]) -> [String: (documents: Int, tokens: [Int])] {
        Dictionary(
            uniqueKeysWithValues: sizes.keys.sorted().enumerated().map { k, source in
                (source, (documents: 1, tokens: (0..<sizes[source]!).map { (k + 1) * 1000 + $0 }))
            })
    }

    @Test func streamsEndEachDocumentWithEndOfText() {
        let docs = [
            Document(id: "1", text: "ab", source: "web"), Document(id: "2", text: "c", source: "books"),
            Document(id: "3", text: "de", source: "web"),
        ]
        let s = Mixing.streams(docs, endOfText: 0) { text in text.unicodeScalars.map { Int($0.value) } }
        #expect(s["web"]!.tokens == [97, 98, 0, 100, 101, 0] && s["web"]!.documents == 2)
        #expect(s["books"]!.tokens == [99, 0])
    }

    /// 20,000 chunks at weights 0.7 / 0.2 / 0.1: each share within 0.02 of its weight (binomial
    /// standard errors 0.003 or less), the same ids for the same seed and others for another.
    @Test func sharesConvergeToTheWeightsAndTheDrawIsRepeatable() throws {
        let streams = Self.streams(["a": 400, "b": 200, "c": 1000, "unused": 50])
        var s = MixingSettings()
        (s.weights, s.chunkTokens, s.chunks, s.seed) = (["a": 7, "b": 2, "c": 1], 10, 20_000, 3)
        let (ids, report) = try Mixing.draw(streams, settings: s)
        #expect(ids.count == 200_000)
        let shares = ["a": 0.7, "b": 0.2, "c": 0.1]
        for (source, weight) in shares {
            #expect(abs(Double(report[source]!.chunksDrawn) / 20_000 - weight) < 0.02, "\(source)")
        }
        #expect(report["unused"]!.chunksDrawn == 0 && report["a"]!.chunksAvailable == 40)
        #expect(abs(report["b"]!.epochs - Double(report["b"]!.chunksDrawn) / 20) < 1e-12)
        // Every chunk is a whole aligned piece of one source.
        for start in stride(from: 0, to: 2_000, by: 10) {
            let chunk = Array(ids[start..<(start + 10)])
            #expect(chunk[0] % 10 == 0 && chunk == Array(chunk[0]..<(chunk[0] + 10)))
        }
        #expect(try Mixing.draw(streams, settings: s).ids == ids)
        s.seed = 4
        #expect(try Mixing.draw(streams, settings: s).ids != ids)
    }

    /// Without replacement a source's chunks are used once each per epoch.
    @Test func withoutReplacementEachChunkOncePerEpoch() throws {
        var s = MixingSettings()
        (s.weights, s.chunkTokens, s.chunks, s.replacement) = (["a": 1], 5, 24, false)
        let (ids, report) = try Mixing.draw(Self.streams(["a": 63]), settings: s)
        let chunks = stride(from: 0, to: ids.count, by: 5).map { (ids[$0] - 1000) / 5 }
        #expect(Set(chunks[0..<12]) == Set(0..<12) && Set(chunks[12..<24]) == Set(0..<12))
        #expect(chunks[0..<12] != chunks[12..<24], "each epoch reshuffled")
        #expect(report["a"]!.epochs == 2 && report["a"]!.tailTokens == 3)
    }

    @Test func theTokenFileHoldsTheChunks() throws {
        let path = temporaryFolder() + "/mix.bin"
        var s = MixingSettings()
        (s.weights, s.chunkTokens, s.chunks) = (["a": 1, "b": 1], 4, 50)
        let streams = Self.streams(["a": 40, "b": 40])
        _ = try Mixing.write(streams, settings: s, vocabSize: 4096, to: path)
        #expect(Array(try TokenArray(path: path)) == (try Mixing.draw(streams, settings: s)).ids)
    }

    @Test func badWeightsAreNamed() {
        let streams = Self.streams(["a": 400, "tiny": 3])
        let cases: [([String: Double], String)] = [
            ([:], "mixing.weights: no source has a weight"),
            (["a": -1], "mixing.weights.a: -1.0 must be finite and >= 0"),
            (["a": 0], "mixing.weights: they sum to 0"),
            (["a": 1, "web": 1], "mixing.weights.web: the data has no source 'web'"),
            (["tiny": 1], "mixing.weights.tiny: the source has 3 tokens, less than one chunk of 129"),
        ]
        for (weights, message) in cases {
            var s = MixingSettings()
            s.weights = weights
            #expect(expectLabError(.config) { try Mixing.draw(streams, settings: s) }?.message == message)
        }
    }
}
