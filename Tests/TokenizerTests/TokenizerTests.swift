import Foundation
// Tokenizer tests. Fixture: Tests/TokenizerTests/Fixtures/tokenizer_reference.json, written by
// `python3 Scripts/reference/tokenizer_fixtures.py` (Python `regex` and HF `tokenizers`).
import LabSupport
import TestSupport
import Testing
import Tokenizer

struct SplitCase: Decodable {
    let text: String
    let gpt2: [[Int]]
    let gpt4: [[Int]]
}

struct HFCase: Decodable {
    struct Encoding: Decodable {
        let text: String
        let tokens: [[UInt8]]
    }
    let vocabSize: Int
    let minFrequency: Int
    let merges: [[[UInt8]]]
    let encodings: [Encoding]
    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size"
        case minFrequency = "min_frequency"
        case merges, encodings
    }
}

struct HFSpecialCases: Decodable {
    struct Case: Decodable {
        let text: String
        let matched: [Int]
        let unmatched: [Int]
    }
    let specials: [String]
    let cases: [Case]
}

struct TokenizerFixture: Decodable {
    let generator: String
    let pretokenize: [SplitCase]
    let unicode: [String: [[UInt32]]]
    let hfBPE: [HFCase]
    let hfSpecial: HFSpecialCases
    enum CodingKeys: String, CodingKey {
        case generator, pretokenize, unicode
        case hfBPE = "hf_bpe"
        case hfSpecial = "hf_special"
    }

    static let shared: TokenizerFixture = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/tokenizer_reference.json")
        return try! JSONDecoder().decode(TokenizerFixture.self, from: Data(contentsOf: url))
    }()
}

func sample(_ name: String) -> String {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "../../Data/sample/\(name)")
    return try! String(contentsOf: url.standardized, encoding: .utf8)
}

@Suite struct PretokenizerTests {
    @Test(arguments: SplitPattern.allCases)
    func splitsExactlyAsTheRegexModule(_ pattern: SplitPattern) {
        var failures: [String] = []
        for c in TokenizerFixture.shared.pretokenize {
            let expected = (pattern == .gpt2 ? c.gpt2 : c.gpt4).map { $0[0]..<$0[1] }
            let got = pretokenize(Array(c.text.utf8), pattern: pattern)
            if got != expected { failures.append("\(c.text.debugDescription): \(got) vs \(expected)") }
        }
        #expect(
            failures.isEmpty,
            "\(failures.count) of \(TokenizerFixture.shared.pretokenize.count) differ:\n\(failures.prefix(5).joined(separator: "\n"))"
        )
    }

    @Test func characterClassesAgreeWithTheRegexModuleOverAllOfUnicode() {
        func set(_ key: String) -> [ClosedRange<UInt32>] { TokenizerFixture.shared.unicode[key]!.map { $0[0]...$0[1] } }
        let letters = set("letters")
        let numbers = set("numbers")
        func inside(_ v: UInt32, _ ranges: [ClosedRange<UInt32>]) -> Bool {
            var lo = 0
            var hi = ranges.count - 1
            while lo <= hi {
                let mid = (lo + hi) / 2
                if ranges[mid].contains(v) { return true }
                if v < ranges[mid].lowerBound { hi = mid - 1 } else { lo = mid + 1 }
            }
            return false
        }
        var disagreements: [UInt32] = []
        for v in UInt32(0)...0x10FFFF {
            guard let scalar = Unicode.Scalar(v) else { continue }
            let c = patternClass(of: scalar)
            if c.letter != inside(v, letters) || c.number != inside(v, numbers) { disagreements.append(v) }
        }
        #expect(disagreements.isEmpty, "first: \(disagreements.prefix(10).map { String($0, radix: 16) })")
    }

    @Test func gpt2VersusGPT4OnExamples() {
        func chunks(_ s: String, _ p: SplitPattern) -> [String] {
            let bytes = Array(s.utf8)
            return pretokenize(bytes, pattern: p).map { String(decoding: bytes[$0], as: UTF8.self) }
        }
        #expect(chunks("Hello world  it's 12345", .gpt2) == ["Hello", " world", " ", " it", "'s", " 12345"])
        #expect(chunks("Hello world  it's 12345", .gpt4) == ["Hello", " world", " ", " it", "'s", " ", "123", "45"])
        #expect(chunks("IT'S\n\n  x", .gpt4) == ["IT", "'S", "\n\n", " ", " x"])
        #expect(chunks("IT'S", .gpt2) == ["IT", "'", "S"])
    }
}

@Suite struct BPETests {
    @Test func minbpeWorkedExample() throws {
        // REFERENCE.md: "aaabdaaabac", 3 merges (minbpe).
        let tok = try BPETrainer.train(["aaabdaaabac"], options: .init(vocabSize: 259, tieRule: .firstOccurrence))
        #expect(tok.merges.map { [$0.left, $0.right] } == [[97, 97], [256, 97], [257, 98]])
        #expect(tok.encode("aaabdaaabac") == [258, 100, 258, 97, 99])
        #expect(try tok.decode([258, 100, 258, 97, 99]) == "aaabdaaabac")
        // HF's rule on the same text merges a+a, a+b, aa+ab.
        let hf = try BPETrainer.train(["aaabdaaabac"], options: .init(vocabSize: 259, tieRule: .huggingFace))
        #expect(hf.merges.map { [$0.left, $0.right] } == [[97, 97], [97, 98], [256, 257]])
    }

    /// The fast trainer (incremental counts, a heap) learns exactly the merges of minbpe's naive
    /// loop, under both tie rules and with a minimum frequency, on English and Chinese text.
    @Test(arguments: [TieRule.firstOccurrence, .huggingFace])
    func fastTrainerEqualsTheNaiveLoop(_ rule: TieRule) throws {
        let corpus = [
            String(sample("english-tempest.txt").unicodeScalars.prefix(12_000)),
            String(sample("chinese-tang300.txt").unicodeScalars.prefix(3_000)), "aaabdaaabac",
        ]
        for (vocab, minFrequency, pattern) in [(256 + 200, 1, SplitPattern.gpt4), (256 + 400, 3, .gpt2)] {
            let options = BPETrainingOptions(
                vocabSize: vocab, pattern: pattern, minFrequency: minFrequency, tieRule: rule, specialTokens: ["<s>"])
            let fast = try BPETrainer.train(corpus, options: options)
            let naive = try BPETrainer.trainNaive(corpus, options: options)
            #expect(fast.merges.count > 100)
            #expect(fast.merges.map { [$0.left, $0.right] } == naive.merges.map { [$0.left, $0.right] })
        }
        let worked = try BPETrainer.trainNaive(["aaabdaaabac"], options: .init(vocabSize: 259, tieRule: rule))
        #expect(
            worked.merges.map { [$0.left, $0.right] }
                == (rule == .firstOccurrence
                    ? [[97, 97], [256, 97], [257, 98]] : [[97, 97], [97, 98], [256, 257]]))
    }

    @Test(arguments: [0, 1])
    func huggingFaceModeReproducesBpeTrainerMerges(_ index: Int) throws {
        let c = TokenizerFixture.shared.hfBPE[index]
        let corpus = [
            String(sample("english-tempest.txt").unicodeScalars.prefix(60_000)),
            String(sample("chinese-tang300.txt").unicodeScalars.prefix(20_000)),
        ]
        let tok = try BPETrainer.train(
            corpus,
            options: .init(
                vocabSize: c.vocabSize, pattern: .gpt2, minFrequency: c.minFrequency, tieRule: .huggingFace))
        let merges = tok.merges.map { [tok.bytes(of: $0.left), tok.bytes(of: $0.right)] }
        #expect(merges.count == c.merges.count)
        let firstDifference = zip(merges, c.merges).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(firstDifference == nil, "first different merge at \(firstDifference ?? -1)")
        for e in c.encodings {
            #expect(tok.encode(e.text).map { tok.bytes(of: $0) } == e.tokens, "\(e.text)")
        }
    }

    @Test func anyBytesRoundTripIncludingInvalidUTF8() throws {
        let tok = try BPETrainer.train(
            [sample("english-tempest.txt"), sample("chinese-tang300.txt")], options: .init(vocabSize: 600))
        var state: UInt64 = 42
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        for round in 0..<300 {
            let length = Int(next() % 200)
            let bytes: [UInt8] = (0..<length).map { _ in
                round % 2 == 0
                    ? UInt8(next() % 256)
                    : [0x20, 0x61, 0x27, 0xC3, 0xA9, 0xE4, 0xB8, 0xAD, 0x0A, 0xF0, 0x9F][Int(next() % 11)]
            }
            let ids = tok.encode(bytes: bytes)
            #expect(try tok.decodeBytes(ids) == bytes)
            #expect(ids.allSatisfy { $0 < 600 })
        }
        let scalars = (0..<2000).compactMap { _ in Unicode.Scalar(UInt32(next() % 0x3_0000)) }
        let text = String(String.UnicodeScalarView(scalars))
        #expect(try tok.decode(tok.encode(text)) == text)
        // Strict decoding refuses invalid UTF-8; lossy decoding replaces it.
        expectLabError(.tokenizer) { try tok.decode([0xC3]) }
        #expect(try tok.decode([0xC3], lossy: true) == "\u{FFFD}")
        expectLabError(.tokenizer) { try tok.decodeBytes([tok.vocabSize]) }
    }

    @Test func specialTokensNeverComeFromPlainText() throws {
        let specials = ["<|endoftext|>", "<think>", "</think>", "<answer>", "</answer>"]
        let tok = try BPETrainer.train(
            [sample("english-tempest.txt")], options: .init(vocabSize: 400, specialTokens: specials))
        #expect(tok.vocabSize == 400 && tok.specialTokens["<|endoftext|>"] == 395)
        let text = "<think>why</think><answer>42</answer><|endoftext|>"
        let plain = tok.encode(text)
        #expect(plain.allSatisfy { $0 < 395 })
        #expect(try tok.decode(plain) == text)
        let allowed = tok.encode(text, allowedSpecial: .all)
        #expect(allowed.filter { $0 >= 395 } == [396, 397, 398, 399, 395])
        #expect(try tok.decode(allowed) == text)
        let some = tok.encode(text, allowedSpecial: .some(["<|endoftext|>"]))
        #expect(some.filter { $0 >= 395 } == [395])
    }

    /// HF matches every added token in any text (leftmost, then longest, on the raw bytes: no
    /// canonical equivalence); `.huggingFace` (= `.all`) does the same, and `.none` is HF with
    /// `encode_special_tokens = True`. Fixture: HF `tokenizers` on a byte-level tokenizer.
    @Test func specialTokensInTextMatchHuggingFaceInBothModes() throws {
        let fixture = TokenizerFixture.shared.hfSpecial
        let tok = try BPETokenizer(pattern: .gpt4, merges: [], specialTokens: fixture.specials)
        for c in fixture.cases {
            #expect(tok.encode(c.text, allowedSpecial: .huggingFace) == c.matched, "\(c.text.debugDescription)")
            #expect(tok.encode(c.text, allowedSpecial: .none) == c.unmatched, "\(c.text.debugDescription)")
        }
    }

    @Test func pathologicalInputEncodesAndRoundTrips() throws {
        let tok = try BPETrainer.train(
            [String(repeating: "a", count: 5000) + " banana"], options: .init(vocabSize: 280))
        let huge = String(repeating: "a", count: 1_000_000)
        let ids = tok.encode(huge)
        #expect(ids.count < 1_000_000 / 100)
        #expect(try tok.decode(ids) == huge)
    }

    @Test func batchEncodingEqualsOneByOne() throws {
        let tok = try BPETrainer.train([sample("english-tempest.txt")], options: .init(vocabSize: 500))
        let lines = sample("english-romeo-and-juliet.txt").split(separator: "\n").map(String.init)
        #expect(tok.encodeBatch(lines, threads: 2) == lines.map { tok.encode($0) })
    }

    @Test func saveLoadAndTokenFilesRoundTrip() throws {
        let folder = NSTemporaryDirectory() + "tok-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let tok = try BPETrainer.train(
            [sample("english-tempest.txt")],
            options: .init(vocabSize: 520, pattern: .gpt2, specialTokens: ["<|endoftext|>"]))
        try tok.save(to: folder + "/tok.json")
        let back = try BPETokenizer.load(from: folder + "/tok.json")
        let text = sample("english-romeo-and-juliet.txt")
        let ids = tok.encode(text)
        #expect(back.encode(text) == ids && back.pattern == .gpt2 && back.vocabSize == 520)
        try TokenFile.write(ids, vocabSize: tok.vocabSize, to: folder + "/tokens.bin")
        let array = try TokenArray(path: folder + "/tokens.bin")
        #expect(array.count == ids.count && Array(array) == ids && array.vocabSize == 520)
        try TokenFile.write([70_000, 3], vocabSize: 100_000, to: folder + "/wide.bin")
        #expect(Array(try TokenArray(path: folder + "/wide.bin")) == [70_000, 3])
        try "junk".write(toFile: folder + "/bad.bin", atomically: true, encoding: .utf8)
        expectLabError(.tokenizer) { try TokenArray(path: folder + "/bad.bin") }
        expectLabError(.tokenizer) { try BPETokenizer.load(from: folder + "/bad.bin") }
    }

    /// Needs python3 with `tokenizers` (Scripts/bootstrap installs it; CI has it).
    @Test(arguments: SplitPattern.allCases)
    func exportedTokenizerJSONLoadsInHuggingFaceAndGivesTheSameIds(_ pattern: SplitPattern) throws {
        let folder = NSTemporaryDirectory() + "tok-hf-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let tok = try BPETrainer.train(
            [sample("english-tempest.txt"), sample("chinese-tang300.txt")],
            options: .init(vocabSize: 800, pattern: pattern, specialTokens: ["<|endoftext|>", "<think>"]))
        try tok.exportHuggingFace(to: folder + "/tokenizer.json")
        let texts = [
            "Full fathom five thy father lies;\nOf his bones are coral made.", "床前明月光，疑是地上霜。",
            "  mixed 中文 and English 12345 it's DON'T\t\ttabs\r\n",
            String(sample("english-romeo-and-juliet.txt").prefix(5000)),
            "<think>plain text special</think>",
        ]
        let textsPath = folder + "/texts.json"
        try JSONEncoder().encode(texts).write(to: URL(fileURLWithPath: textsPath))
        let script = """
            import json, sys
            from tokenizers import Tokenizer
            tok = Tokenizer.from_file(sys.argv[1])
            texts = json.load(open(sys.argv[2]))
            print(json.dumps([tok.encode(t, add_special_tokens=False).ids for t in texts]))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, folder + "/tokenizer.json", textsPath]
        let pipe = Pipe()
        let errors = Pipe()
        process.standardOutput = pipe
        process.standardError = errors
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "python tokenizers failed (run Scripts/bootstrap): \(stderr)")
        let hfIds = try JSONDecoder().decode([[Int]].self, from: output)
        // HF matches added tokens in any text; ours only when allowed, so compare that way.
        let ours = texts.map { tok.encode($0, allowedSpecial: .all) }
        for (i, (a, b)) in zip(ours, hfIds).enumerated() { #expect(a == b, "text \(i) differs") }
    }
}

@Suite struct TokenizerExperimentTests {
    /// Every ablation of Experiments/tokenizer runs on the committed sample and writes results.
    @Test func everyAblationRunsOnTheSample() throws {
        let out = temporaryFolder()
        let result = try runProduct(
            "tokenizer",
            [
                "--all-ablations", "--out", out, "--set", "data=sample", "--set", "vocabSizes=[300,400]",
                "--set", "evalBytes=20000",
            ])
        #expect(result.status == 0, "\(result.stderr)")
        for ablation in ["base", "gpt2-pattern", "english-only", "hf-ties"] {
            #expect(FileManager.default.fileExists(atPath: "\(out)/tokenizer/\(ablation)/seed-0.h5"), "\(ablation)")
        }
    }
}
