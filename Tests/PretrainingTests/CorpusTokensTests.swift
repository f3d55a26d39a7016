// The pretraining corpus: tokenized once, then read back identically; a missing corpus is a
// one-line error naming the folder.
import Foundation
import Pretraining
import TestSupport
import Testing

@Suite struct CorpusTokensTests {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..")
        .standardized.path

    @Test func tokensAreMadeOnceAndReadBackIdentically() throws {
        var c = PretrainConfig()
        c.data = "sample"
        c.tokenizerVocab = 300
        let folder = temporaryFolder()
        let (tokenizer, first) = try CorpusTokens.load(c, cacheFolder: folder, repositoryRoot: root)
        #expect(tokenizer.vocabSize == 300)  // <|endoftext|> included
        func stamp() throws -> Date? {
            try FileManager.default.attributesOfItem(atPath: folder + "/sample-bpe300.bin")[.modificationDate] as? Date
        }
        let written = try stamp()
        let (_, second) = try CorpusTokens.load(c, cacheFolder: folder, repositoryRoot: root)
        #expect(Array(first) == Array(second) && first.count > 50_000)
        #expect(try stamp() == written)  // read, not rewritten
        // Two texts of the sample are English: two end-of-text markers.
        let endOfText = tokenizer.specialTokens["<|endoftext|>"]
        #expect(Array(first).filter { $0 == endOfText }.count == 2)
    }

    @Test func missingCorpusNamesTheFolder() throws {
        var c = PretrainConfig()
        c.tokenizerVocab = 300
        #expect {
            _ = try CorpusTokens.load(c, cacheFolder: temporaryFolder(), repositoryRoot: "/nonexistent")
        } throws: { "\($0)".contains("/nonexistent/Data/corpora/english/shakespeare: missing") }
    }
}
