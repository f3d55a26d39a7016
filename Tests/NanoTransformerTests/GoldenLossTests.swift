// Golden losses: five AdamW steps from fixed weights reproduce PyTorch's losses.
// Fixture: Tests/NanoTransformerTests/Fixtures/golden_losses.json, written by
// `python3 Scripts/reference/nano_transformer_golden.py` (PyTorch in float64; we run float32).
import Foundation
import NanoTransformer
import TensorCore
import Testing

struct GoldenCase: Decodable {
    struct Config: Decodable {
        let vocabSize, dModel, layers, heads, kvHeads: Int
        let qkNorm: Bool
        let zLoss: Double
    }
    struct Weight: Decodable {
        let shape: [Int]
        let data: [Float]
    }
    let name: String
    let config: Config
    let batch: Int
    let time: Int
    let ids: [Int]
    let targets: [Int]
    let weights: [String: Weight]
    let losses: [Double]
}

struct GoldenFile: Decodable {
    let cases: [GoldenCase]
    static let shared: GoldenFile = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Fixtures/golden_losses.json")
        return try! JSONDecoder().decode(GoldenFile.self, from: Data(contentsOf: url))
    }()
}

@Suite struct GoldenLossTests {
    @Test(arguments: [0, 1])
    func fiveAdamWStepsMatchPyTorch(_ index: Int) throws {
        let g = GoldenFile.shared.cases[index]
        var config = TransformerConfig()
        config.vocabSize = g.config.vocabSize
        config.dModel = g.config.dModel
        config.layers = g.config.layers
        config.heads = g.config.heads
        config.kvHeads = g.config.kvHeads
        config.qkNorm = g.config.qkNorm
        config.zLoss = g.config.zLoss
        var rng = RNG(seed: 0)
        let model = try NanoTransformer(config, rng: &rng)
        let params = model.namedParameters()
        #expect(Set(params.map(\.name)) == Set(g.weights.keys), "parameter names differ from the PyTorch twin")
        for (name, tensor) in params {
            let w = g.weights[name]!
            #expect(w.shape == tensor.shape, "\(name)")
            tensor.assign(Tensor(w.data, shape: w.shape))
        }
        let opt = Adam.adamW(params, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, noDecay: model.noDecayNames)
        var losses: [Float] = []
        for _ in 0..<5 {
            opt.zeroGrad()
            let loss = model.loss(g.ids, targets: g.targets, batch: g.batch, time: g.time, training: false, rng: &rng)
                .total
            loss.backward()
            clipGradNorm(model.parameters, maxNorm: 1)
            opt.step(lr: 3e-3)
            losses.append(loss.item)
        }
        for (ours, theirs) in zip(losses, g.losses) {
            #expect(abs(Double(ours) - theirs) < 2e-4, "\(g.name): \(losses) vs \(g.losses)")
        }
    }
}
