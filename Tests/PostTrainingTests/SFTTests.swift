// SFT: the targets and the gradient of the response-only loss, packing equal to running each
// sequence alone, micro-batches that do not change an update, resume equal to an uninterrupted
// run, and a short run that teaches an untrained model one-digit addition.
import ExperimentKit
import LabSupport
import NanoTransformer
import PolicyTestSupport
import PostTraining
import TensorCore
import TestSupport
import Testing
import Tokenizer

@Suite struct SFTTests {
    static func model(vocab: Int = 50, seed: UInt64 = 1, dModel: Int = 32) throws -> NanoTransformer {
        var c = TransformerConfig()
        (c.vocabSize, c.dModel, c.layers, c.heads, c.kvHeads, c.contextLength) = (vocab, dModel, 2, 4, 2, 32)
        var rng = RNG(seed: seed)
        return try NanoTransformer(c, rng: &rng)
    }

    static func examples(_ n: Int, seed: UInt64 = 7) -> [SFTExample] {
        var rng = RNG(seed: seed)
        return (0..<n).map { _ in
            let p = 1 + rng.int(below: 5)
            let r = 1 + rng.int(below: 6)
            return SFTExample(ids: (0..<(p + r)).map { _ in 1 + rng.int(below: 49) }, responseStart: p)
        }
    }

    @Test func targetsFollowTheLossSwitch() throws {
        let e = SFTExample(ids: [10, 11, 12, 13, 14], responseStart: 2)  // prompt 10 11, response 12 13 14
        let response = try SFTBatch([e], layout: .padded, lossTokens: .response, window: 8)
        #expect(response.targets == [-1, 12, 13, 14, -1])
        let all = try SFTBatch([e], layout: .padded, lossTokens: .all, window: 8)
        #expect(all.targets == [11, 12, 13, 14, -1])
        // Packed: no target crosses into the next sequence; padding predicts nothing.
        let f = SFTExample(ids: [20, 21, 22], responseStart: 1)
        let packed = try SFTBatch([e, f], layout: .packed, lossTokens: .all, window: 10)
        #expect(packed.rows == 1 && packed.time == 10)
        #expect(packed.targets == [11, 12, 13, 14, -1, 21, 22, -1, -1, -1])
        #expect(packed.positions.prefix(8) == [0, 1, 2, 3, 4, 0, 1, 2])
        #expect(packed.padding == 2)
        // A sequence longer than the window is a named error.
        let error = expectLabError(.config) { try SFTBatch([e, f], layout: .packed, lossTokens: .all, window: 4) }
        #expect(error?.message.contains("SFT example 0 has 5 tokens") == true)
    }

    @Test func promptTokensGetZeroGradientUnderTheResponseLoss() throws {
        let examples = Self.examples(3)
        for tokens in SFTLossTokens.allCases {
            let batch = try SFTBatch(examples, layout: .padded, lossTokens: tokens, window: 16)
            var rng = RNG(seed: 2)
            let logits = Tensor((0..<(batch.ids.count * 50)).map { _ in rng.normal() }, shape: [batch.ids.count, 50])
            logits.requiresGrad = true
            batch.loss(logits).backward()
            let grad = logits.grad!.array
            for (row, e) in examples.enumerated() {
                for j in 0..<(e.ids.count - 1) {
                    let g = grad[((row * batch.time + j) * 50)..<((row * batch.time + j + 1) * 50)]
                    let predictsPrompt = j + 1 < e.responseStart
                    if tokens == .response && predictsPrompt {
                        #expect(g.allSatisfy { $0 == 0 }, "row \(row) position \(j) predicts a prompt token")
                    } else {
                        #expect(g.contains { $0 != 0 }, "row \(row) position \(j) (\(tokens))")
                    }
                }
            }
        }
    }

    @Test func packingEqualsRunningEachSequenceAlone() throws {
        let model = try Self.model()
        let examples = Self.examples(5)
        let packed = try SFTBatch(examples, layout: .packed, lossTokens: .response, window: 24)
        #expect(packed.rows < examples.count)
        var rng = RNG(seed: 0)
        let logits = withNoGrad {
            model.logits(
                packed.ids, batch: packed.rows, time: packed.time, positions: packed.positions, mask: packed.mask,
                rng: &rng)
        }.array
        // Find each example in the packed rows (next fit, in order) and compare with its own forward.
        var (row, offset) = (0, 0)
        for e in examples {
            if offset + e.ids.count > 24 { (row, offset) = (row + 1, 0) }
            let alone = withNoGrad { model.logits(e.ids, batch: 1, time: e.ids.count, rng: &rng) }.array
            let start = (row * 24 + offset) * 50
            let inPack = Array(logits[start..<(start + e.ids.count * 50)])
            #expect(zip(alone, inPack).allSatisfy { abs($0 - $1) <= 1e-5 }, "example at row \(row) offset \(offset)")
            offset += e.ids.count
        }
        // And the packed loss and its gradients equal the padded ones.
        func lossAndGradients(_ layout: SFTLayout) throws -> (Float, [[Float]]) {
            let batch = try SFTBatch(examples, layout: layout, lossTokens: .response, window: 24)
            for p in model.parameters { p.grad = nil }
            var r = RNG(seed: 0)
            let loss = batch.loss(
                model.logits(
                    batch.ids, batch: batch.rows, time: batch.time, positions: batch.positions, mask: batch.mask,
                    rng: &r
                ).reshaped([batch.rows * batch.time, 50]))
            loss.backward()
            return (loss.item, model.parameters.map { $0.grad!.array })
        }
        let (a, ga) = try lossAndGradients(.packed)
        let (b, gb) = try lossAndGradients(.padded)
        #expect(abs(a - b) <= 1e-5)
        for (x, y) in zip(ga, gb) { #expect(zip(x, y).allSatisfy { abs($0 - $1) <= 1e-5 }) }
    }

    static func run(
        _ settings: SFTSettings, updates: Int, resumeAt: Int? = nil, examples: [SFTExample] = examples(20)
    ) throws -> [[Float]] {
        let model = try Self.model()
        let task = try SFTTask(
            model: model, record: nil, train: examples, heldOut: Self.examples(4, seed: 9), settings: settings, seed: 5)
        guard let resumeAt else {
            for _ in 0..<updates { _ = try task.update() }
            return model.parameters.map(\.array)
        }
        for _ in 0..<resumeAt { _ = try task.update() }
        // A new process: another initialisation, then the checkpoint's parameters, optimiser and state.
        let (parameters, optimizer, state) = (
            task.parameters.map { ($0.name, $0.tensor.copy()) }, task.optimizer.exportState(), task.exportState()
        )
        let fresh = try Self.model(seed: 77)
        let resumed = try SFTTask(
            model: fresh, record: nil, train: examples, heldOut: Self.examples(4, seed: 9), settings: settings, seed: 5)
        for ((_, saved), (_, p)) in zip(parameters, resumed.parameters) { p.assign(saved) }
        try resumed.optimizer.importState(optimizer)
        try resumed.restore(state, step: resumeAt, path: "test")
        while resumed.updatesDone < updates { _ = try resumed.update() }
        return fresh.parameters.map(\.array)
    }

    @Test func resumeEqualsAnUninterruptedRun() throws {
        var s = SFTSettings()
        (s.batchSize, s.epochs, s.optimizer.warmupSteps) = (6, 2, 2)
        // 20 examples, 6 per update: 4 updates per epoch; stop inside the second epoch and at its start.
        let straight = try Self.run(s, updates: 8)
        #expect(try Self.run(s, updates: 8, resumeAt: 5) == straight)
        #expect(try Self.run(s, updates: 8, resumeAt: 4) == straight)
    }

    @Test func microBatchesDoNotChangeTheUpdate() throws {
        var s = SFTSettings()
        (s.batchSize, s.optimizer.warmupSteps) = (8, 0)
        let whole = try Self.run(s, updates: 3)
        for pieces in [2, 3] {
            s.microBatches = pieces
            let split = try Self.run(s, updates: 3)
            for (a, b) in zip(whole, split) {
                #expect(zip(a, b).allSatisfy { abs($0 - $1) <= 2e-6 }, "\(pieces) pieces")
            }
        }
    }

    @Test func aDamagedStateIsANamedError() throws {
        let task = try SFTTask(
            model: Self.model(), record: nil, train: Self.examples(10), heldOut: [], settings: .init(), seed: 1)
        _ = try task.update()
        var state = task.exportState()
        state.values["data.order"] = [0, 1, 2]
        let error = expectLabError(.config) { try task.restore(state, step: 1, path: "ck.h5") }
        #expect(error?.message.contains("ck.h5: values 'data.order'") == true)
        state.values["data.order"] = [.nan]
        expectLabError(.config) { try task.restore(state, step: 1, path: "ck.h5") }
        var s = SFTSettings()
        s.microBatches = 32
        expectLabError(.config) {
            try SFTTask(model: Self.model(), record: nil, train: Self.examples(3), heldOut: [], settings: s, seed: 1)
        }
        s = SFTSettings()
        s.optimizer.gradClip = 0
        let error2 = expectLabError(.config) { try s.check() }
        #expect(error2?.message.hasPrefix("sft.optimizer.gradClip") == true)
    }

    /// One-digit addition, answer only: an untrained model gets almost none right; a short SFT run
    /// gets most of them.
    @Test func aShortRunTeachesOneDigitAddition() throws {
        let (model, format, pairs) = try additionWorld(sftUpdates: 0)  // untrained
        var solutionRNG = RNG(seed: 0)
        let examples = pairs.map {
            $0.sftExample(format, language: .english, response: .answerOnly, rng: &solutionRNG)
        }
        let tasks = pairs.map { $0.verifiable(.english) }
        var eval = EvaluationSettings()
        (eval.samples, eval.passK, eval.maxNewTokens, eval.promptsPerBatch) = (0, [], 8, 100)
        let before = try Evaluation.run(model, format: format, tasks: tasks, settings: eval).report.greedyAccuracy
        var s = SFTSettings()
        (s.batchSize, s.epochs, s.optimizer.learningRate, s.optimizer.warmupSteps) = (20, 60, 3e-3, 20)
        let task = try SFTTask(model: model, record: nil, train: examples, heldOut: [], settings: s, seed: 3)
        for _ in 0..<task.totalUpdates { _ = try task.update() }
        let after = try Evaluation.run(model, format: format, tasks: tasks, settings: eval).report
        #expect(before < 0.05, "untrained accuracy \(before)")
        #expect(after.greedyAccuracy > 0.8, "after SFT: \(after)")
        #expect(after.stopRate == 1, "every answer ends with <|end|>: \(after)")
    }
}
