// Our exports, read by the tools users take them to (transformers, the gguf package, llama.cpp):
// the bytes exported now are the bytes those tools read when the fixture was made, and their
// logits and token ids are ours.
import Foundation
import Interop
import LabSupport
import ModelStore
import NanoTransformer
import TensorCore
import TestSupport
import Testing
import Tokenizer

@Suite struct ExportTests {
    let fixture: InteropFixture
    let model: NanoTransformer
    let tokenizer: BPETokenizer

    init() throws {
        fixture = try InteropFixture()
        model = try NanoTransformer.load(checkpoint: fixture.tinyCheckpoint)
        tokenizer = try BPETokenizer.load(checkpoint: fixture.tinyCheckpoint)
    }

    @Test func huggingFaceFolderGivesTransformersOurLogits() throws {
        let files = try HuggingFaceFolder.files(model: model, tokenizer: tokenizer)
        #expect(Set(files.keys) == ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"])
        // The weights and tokenizer transformers read are the ones we export now.
        #expect(sha256(files["model.safetensors"]!) == fixture.export["safetensors_sha256"] as? String)
        #expect(sha256(files["tokenizer.json"]!) == fixture.export["tokenizer_json_sha256"] as? String)
        let ids = fixture.export["ids"] as! [Int]
        let theirs = InteropFixture.floats(fixture.export["transformers_logits"])
        let difference = maxAbsDifference(logits(model, ids), theirs)
        #expect(difference <= 1e-4, "max |ours - transformers| = \(difference)")
        #expect(tokenizer.encode(fixture.probe, allowedSpecial: .huggingFace) == fixture.export["probe_ids"] as! [Int])
    }

    @Test func llamaCppComputesOurLogitsFromTheGGUF() throws {
        let theirs = InteropFixture.floats(fixture.export["llama_cpp_logits"])
        // The fixture script records them when llama-cpp-python imports (the note says how to
        // run the check by hand otherwise); this fixture was made with it.
        try #require(!theirs.isEmpty, "the fixture has no llama.cpp logits")
        let difference = maxAbsDifference(logits(model, fixture.export["ids"] as! [Int]), theirs)
        #expect(difference <= 1e-4, "max |ours - llama.cpp| = \(difference)")
    }

    @Test(arguments: [("tiny.gguf", false), ("tiny-f16.gguf", true)])
    func ggufPackageReadsOurMetadataAndTensors(file: String, f16: Bool) throws {
        let read = fixture.export[file] as! [String: Any]
        let bytes = try GGUFFile.encode(model, tokenizer: tokenizer, name: "tiny.ckpt", f16: f16)
        #expect(sha256(bytes) == read["sha256"] as? String)
        // Every key, with its type and value, as the gguf package decoded it.
        let theirs = read["metadata"] as! [String: [String: Any]]
        let ours = try GGUFFile.metadata(model, tokenizer: tokenizer, name: "tiny.ckpt", f16: f16)
        #expect(Set(ours.map(\.0)) == Set(theirs.keys))
        for (key, value) in ours {
            let t = theirs[key]?["value"]
            switch value {
            case .uint32(let v): #expect(t as? Int == Int(v), "\(key)")
            case .int32(let v): #expect(t as? Int == Int(v), "\(key)")
            case .float32(let v): #expect((t as? Double).map(Float.init) == v, "\(key)")
            case .bool(let v): #expect(t as? Bool == v, "\(key)")
            case .string(let v): #expect(t as? String == v, "\(key)")
            case .strings(let v): #expect(t as? [String] == v, "\(key)")
            case .int32s(let v): #expect(t as? [Int] == v.map(Int.init), "\(key)")
            }
        }
        // Every tensor: name, row-major shape, type and values (q and k rows interleaved; the
        // script checked each against the Hugging Face export's with llama.cpp's permutation).
        let tensors = read["tensors"] as! [[String: Any]]
        let expected = try GGUFFile.tensors(model, f16: f16)
        #expect(tensors.map { $0["name"] as! String } == expected.map(\.name))
        for (t, e) in zip(tensors, expected) {
            #expect(t["shape"] as? [Int] == e.shape, "\(e.name)")
            #expect(t["type"] as? String == (e.f16 ? "F16" : "F32"), "\(e.name)")
            let values = e.f16 ? e.values.map { Float(Float16($0)) } : e.values
            #expect(t["sha256"] as? String == sha256(floats: values), "\(e.name)")
        }
    }

    @Test func ropeRowsInterleavePerHead() {
        // One head of 4 rows (D = 4) with 1 column: rotate-half pairs (0, 2), (1, 3) become (0, 1), (2, 3).
        #expect(GGUFFile.interleavedRoPERows([10, 11, 12, 13], rows: 4, cols: 1, headDim: 4) == [10, 12, 11, 13])
        // Two heads, 2 columns: each head on its own.
        let w: [Float] = (0..<16).map(Float.init)
        #expect(
            GGUFFile.interleavedRoPERows(w, rows: 8, cols: 2, headDim: 4)
                == [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15])
    }

    @Test func roundTripIsBitIdentical() throws {
        let folder = temporaryFolder("round-trip")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try HuggingFaceFolder.export(model: model, tokenizer: tokenizer, to: "\(folder)/hf", overwrite: false)
        let back = try HuggingFaceFolder.load("\(folder)/hf")
        #expect(back.model.config == model.config)
        #expect(back.theirID == Array(0..<tokenizer.vocabSize))
        #expect(back.tokenizer.json() == tokenizer.json())
        let theirs = Dictionary(uniqueKeysWithValues: back.model.namedParameters().map { ($0.name, $0.tensor) })
        for (name, tensor) in model.namedParameters() {
            let other = try #require(theirs[name], "\(name)")
            #expect(
                Array(UnsafeBufferPointer(start: tensor.data, count: tensor.count))
                    == Array(UnsafeBufferPointer(start: other.data, count: other.count)), "\(name)")
        }
    }

    @Test func tiedModelWithNewSpecialTokensRoundTrips() throws {
        var config = TransformerConfig()
        (config.dModel, config.layers, config.heads, config.kvHeads, config.contextLength) = (16, 1, 2, 1, 16)
        let base = try BPETokenizer(pattern: .gpt4, merges: [(104, 101), (256, 108)])
        let chat = try base.addingSpecialTokens(["<|user|>", "<|assistant|>", "<|end|>"])
        config.vocabSize = base.vocabSize
        var rng = RNG(seed: 3)
        let small = try NanoTransformer(config, rng: &rng).resizedVocabulary(to: chat.vocabSize)
        let folder = temporaryFolder("tied")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try HuggingFaceFolder.export(model: small, tokenizer: chat, to: folder, overwrite: true)
        let back = try HuggingFaceFolder.load(folder)
        #expect(back.tokenizer.specialTokens == chat.specialTokens)
        #expect(back.tokenizer.pattern == .gpt4)
        let ids = chat.encode("<|user|>hello<|end|>", allowedSpecial: .all)
        #expect(logits(back.model, ids) == logits(small, ids))
        let config2 = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: "\(folder)/config.json")))
        #expect((config2 as? [String: Any])?["eos_token_id"] as? Int == chat.specialTokens["<|end|>"])
    }
}
