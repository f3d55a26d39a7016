// A Llama made elsewhere (transformers, a tokenizer trained by HF tokenizers with its own id
// order) imported into our model: same logits, same tokens; and every way a folder can be wrong.
import Foundation
import HDF5Store
import Interop
import LabSupport
import MLA
import MoE
import ModelStore
import NanoTransformer
import TensorCore
import TestSupport
import Testing
import Tokenizer

@Suite struct ImportTests {
    let fixture: InteropFixture

    init() throws { fixture = try InteropFixture() }

    @Test func randomTransformersLlamaGivesItsLogits() throws {
        let (model, tokenizer, theirID) = try HuggingFaceFolder.load(fixture.randomLlama)
        let imported = fixture.imported
        #expect(model.config.vocabSize == imported["vocab_size"] as? Int)
        #expect(model.config.tiedEmbeddings && model.config.kvHeads == 2)
        var ourID = [Int](repeating: -1, count: theirID.count)
        for (ours, theirs) in theirID.enumerated() { ourID[theirs] = ours }
        // Our tokenizer, rebuilt from its merges, splits the probe exactly as HF tokenizers did.
        let probeIDs = tokenizer.encode(fixture.probe, allowedSpecial: .huggingFace)
        #expect(probeIDs.map { theirID[$0] } == imported["probe_ids"] as! [Int])
        // Logits: our column `ours` is their column theirID[ours].
        let ids = (imported["ids"] as! [Int]).map { ourID[$0] }
        let ourLogits = logits(model, ids)
        let v = model.config.vocabSize
        var reordered = [Float](repeating: 0, count: ourLogits.count)
        for t in 0..<ids.count {
            for ours in 0..<v { reordered[t * v + theirID[ours]] = ourLogits[t * v + ours] }
        }
        let difference = maxAbsDifference(reordered, InteropFixture.floats(imported["transformers_logits"]))
        #expect(difference <= 1e-4, "max |ours - transformers| = \(difference)")
    }

    @Test func importWritesACheckpointOurPackagesLoad() throws {
        let folder = temporaryFolder("checkpoint")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = "\(folder)/imported.h5"
        let model = try HuggingFaceFolder.importCheckpoint(from: fixture.randomLlama, to: path, overwrite: false)
        let loaded = try NanoTransformer.load(checkpoint: path)
        let ids = [1, 5, 9, 300]
        #expect(logits(loaded, ids) == logits(model, ids))
        #expect(try BPETokenizer.load(checkpoint: path).vocabSize == model.config.vocabSize)
        let again = expectLabError(.config) {
            try HuggingFaceFolder.importCheckpoint(from: fixture.randomLlama, to: path, overwrite: false)
        }
        #expect(again?.message.contains("exists") == true)
    }

    /// A copy of the random Llama's folder with one file changed.
    func brokenCopy(_ name: String, edit: (String) throws -> Void) throws -> String {
        let folder = temporaryFolder(name)
        for file in ["config.json", "model.safetensors", "tokenizer.json"] {
            try FileManager.default.copyItem(atPath: "\(fixture.randomLlama)/\(file)", toPath: "\(folder)/\(file)")
        }
        try edit(folder)
        return folder
    }

    func editConfig(_ folder: String, _ change: (inout [String: Any]) -> Void) throws {
        let url = URL(fileURLWithPath: "\(folder)/config.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        change(&json)
        try JSONSerialization.data(withJSONObject: json).write(to: url)
    }

    @Test func badFoldersAreNamedErrors() throws {
        let missing = expectLabError(.config) { try HuggingFaceFolder.load("/nonexistent/model") }
        #expect(missing?.message.contains("no such folder") == true)
        let cases: [(name: String, domain: LabError.Domain, expected: String, edit: (String) throws -> Void)] = [
            (
                "no-config", .config, "config.json: missing",
                { try FileManager.default.removeItem(atPath: "\($0)/config.json") }
            ),
            ("gpt2", .config, "model_type: 'gpt2'", { try editConfig($0) { $0["model_type"] = "gpt2" } }),
            (
                "mistral", .config, "architectures: 'MistralForCausalLM'",
                { try editConfig($0) { $0["architectures"] = ["MistralForCausalLM"] } }
            ),
            ("gelu", .config, "hidden_act: 'gelu'", { try editConfig($0) { $0["hidden_act"] = "gelu" } }),
            (
                "yarn", .config, "'yarn' RoPE",
                {
                    try editConfig($0) {
                        $0["rope_parameters"] = ["rope_type": "yarn", "factor": 4.0, "rope_theta": 1e4]
                    }
                }
            ),
            ("bias", .config, "attention_bias: biases", { try editConfig($0) { $0["attention_bias"] = true } }),
            (
                "no-layers", .config, "num_hidden_layers: missing",
                { try editConfig($0) { $0["num_hidden_layers"] = nil } }
            ),
            (
                "shape", .model,
                "'model.layers.0.mlp.gate_proj.weight' has shape [64, 32], config.json makes it [96, 32]",
                {
                    try editConfig($0) { $0["intermediate_size"] = 96 }
                }
            ),
            ("vocab", .tokenizer, "for vocab_size 400", { try editConfig($0) { $0["vocab_size"] = 400 } }),
            (
                "layers", .model, "'model.layers.1.input_layernorm.weight' has no place",
                {
                    try editConfig($0) { $0["num_hidden_layers"] = 1 }
                }
            ),
            (
                "no-tokenizer", .tokenizer, "tokenizer.json: missing",
                {
                    try FileManager.default.removeItem(atPath: "\($0)/tokenizer.json")
                }
            ),
            (
                "truncated", .model, "model.safetensors: tensor",
                {
                    let url = URL(fileURLWithPath: "\($0)/model.safetensors")
                    let data = try Data(contentsOf: url)
                    try data.prefix(data.count - 100).write(to: url)
                }
            ),
            (
                "missing-tensor", .model, "tensor 'model.norm.weight' is missing",
                {
                    let path = "\($0)/model.safetensors"
                    var tensors = try SafeTensors.read(path)
                    tensors["model.norm.weight"] = nil
                    try Data(SafeTensors.encode(tensors)).write(to: URL(fileURLWithPath: path))
                }
            ),
            (
                "no-weights", .model, "neither model.safetensors nor",
                {
                    try FileManager.default.removeItem(atPath: "\($0)/model.safetensors")
                }
            ),
        ]
        for c in cases {
            let folder = try brokenCopy(c.name, edit: c.edit)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let error = expectLabError(c.domain) { try HuggingFaceFolder.load(folder) }
            #expect(error?.message.contains(c.expected) == true, "\(c.name): \(String(describing: error))")
        }
    }

    @Test func tokenizersThatAreNotByteLevelBPEAreRefused() throws {
        let json = try Data(contentsOf: URL(fileURLWithPath: "\(fixture.randomLlama)/tokenizer.json"))
        let root = try JSONSerialization.jsonObject(with: json) as! [String: Any]
        func variant(_ change: (inout [String: Any]) -> Void) throws -> Data {
            var copy = root
            change(&copy)
            return try JSONSerialization.data(withJSONObject: copy)
        }
        let cases: [(String, Data)] = [
            ("normalizer", try variant { $0["normalizer"] = ["type": "NFC"] }),
            (
                "model.type is 'WordPiece'",
                try variant { $0["model"] = ["type": "WordPiece", "vocab": [:] as [String: Int]] }
            ),
            ("pre_tokenizer", try variant { $0["pre_tokenizer"] = ["type": "Whitespace"] }),
            (
                "neither a byte nor a merge's result",
                try variant {
                    var model = $0["model"] as! [String: Any]
                    var vocab = model["vocab"] as! [String: Int]
                    vocab["stray"] = 999
                    model["vocab"] = vocab
                    $0["model"] = model
                }
            ),
        ]
        for (expected, data) in cases {
            let error = expectLabError(.tokenizer) {
                try ByteLevelVocabulary.importTokenizer(json: data, source: "tokenizer.json")
            }
            #expect(error?.message.contains(expected) == true, "\(String(describing: error))")
        }
    }

    @Test func modelsWithoutALlamaLayoutDoNotExport() throws {
        var small = TransformerConfig()
        (small.vocabSize, small.dModel, small.layers, small.heads, small.kvHeads) = (260, 16, 1, 2, 2)
        func variant(_ change: (inout TransformerConfig) -> Void) -> TransformerConfig {
            var c = small
            change(&c)
            return c
        }
        let cases: [(String, TransformerConfig, AttentionFactory?, MLPFactory?)] = [
            ("pos_embeddings: learned absolute positions", variant { $0.positionEncoding = .learned }, nil, nil),
            ("no position encoding", variant { $0.positionEncoding = .none }, nil, nil),
            ("blocks.0.attn.q_norm", variant { $0.qkNorm = true }, nil, nil),
            ("a GELU MLP", variant { $0.mlp = .gelu }, nil, nil),
            ("LayerNorm", variant { $0.norm = .layer }, nil, nil),
            ("post-norm", variant { $0.normPlacement = .post }, nil, nil),
            ("blocks.0.attn: 'mla' attention", small, MultiHeadLatentAttention.factory(MLAConfig()), nil),
            ("blocks.0.mlp: 'moe' MLP", small, nil, MixtureOfExperts.factory(MoEConfig())),
        ]
        let tokenizer = try BPETokenizer(pattern: .gpt2, merges: [(104, 101), (256, 108), (257, 108), (258, 111)])
        for (expected, config, attention, mlp) in cases {
            var rng = RNG(seed: 1)
            let model = try NanoTransformer(config, attention: attention, mlp: mlp, rng: &rng)
            let error = expectLabError(.model) { try HuggingFaceFolder.files(model: model, tokenizer: tokenizer) }
            #expect(error?.message.contains(expected) == true, "\(String(describing: error))")
            #expect(error?.message.contains("does not export") == true)
            expectLabError(.model) { try GGUFFile.encode(model, tokenizer: tokenizer, name: "x", f16: false) }
        }
    }
}
