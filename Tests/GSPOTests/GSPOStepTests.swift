// GSPO's step through GRPO's task on small addition policies: the routing-change metric on a hand
// example; Routing Replay gives the update exactly π_old's experts while the routers' own choice
// drifts; a short GSPO run learns; stop + resume equals an uninterrupted run on an MoE policy.
import GRPO
import GSPO
import PolicyTestSupport
import PostTraining
import TensorCore
import Testing

@Suite struct GSPOStepTests {
    /// K = 2, a batch of time 3: sequence 0 fed 2 tokens, sequence 1 fed 3. Sets, not orders, count.
    @Test func routingChangeOnAHandExample() {
        let recorded = [[0, 1, 2, 3], [1, 0, 2, 3, 0, 2]]
        let current = [
            1, 0, 3, 1, 7, 7,  // row 0: same set {0, 1}; {2, 3} became {1, 3}; padding ignored
            0, 1, 3, 2, 1, 2,  // row 1: same, same, {0, 2} became {1, 2}
        ]
        #expect(GRPOTask.routingChange(recorded: recorded, current: current, topK: 2, time: 3) == 2.0 / 5.0)
        #expect(GRPOTask.routingChange(recorded: recorded, current: current.map { _ in 0 }, topK: 2, time: 3) == 1)
    }

    @Test func replayGivesTheUpdatePiOldsExpertsExactly() throws {
        let (model, format, pairs) = try additionWorldMoE(sftUpdates: 0)
        var s = GSPO.settings(smallGRPOSettings)
        (s.innerUpdates, s.optimizer.learningRate, s.routingReplay) = (3, 1e-2, true)
        let task = try additionTask(model, format, pairs, s)
        for _ in 0..<2 {
            let m = try task.update().metrics
            #expect(m["moe/update_routing_change"] == 0, "\(m)")
            #expect(m["moe/routing_change"]! > 0, "the routers would choose otherwise after 3 updates: \(m)")
        }
    }

    /// 200 steps with μ = 2 from a partly trained model (as GRPO's own test): mean@8 over all 100
    /// questions (800 samples, standard error about 0.017) rises well beyond noise, although GSPO
    /// clips every token of a sequence whose ratio leaves [1 − 3e-4, 1 + 4e-4] in the second pass.
    @Test func aShortRunLearns() throws {
        let (model, format, pairs) = try additionWorld(sftUpdates: 100)
        var s = GSPO.settings(smallGRPOSettings)
        (s.innerUpdates, s.optimizer.learningRate, s.optimizer.warmupSteps) = (2, 3e-4, 10)
        let task = try additionTask(model, format, pairs, s)
        var eval = EvaluationSettings()
        (eval.samples, eval.passK, eval.maxNewTokens, eval.temperature, eval.promptsPerBatch) = (8, [1, 8], 8, 1, 100)
        let tasks = pairs.map { $0.verifiable(.english) }
        let before = try Evaluation.run(model, format: format, tasks: tasks, settings: eval).report
        var clipped = 0.0
        for _ in 0..<200 { clipped += try task.update().metrics["policy/clip_fraction"]! }
        let after = try Evaluation.run(model, format: format, tasks: tasks, settings: eval).report
        #expect(after.meanAtN > before.meanAtN + 0.08, "mean@8 \(before.meanAtN) -> \(after.meanAtN)")
        #expect(clipped / 200 > 0.01, "GSPO's range clips: \(clipped / 200)")
    }

    @Test func stopAndResumeEqualsAnUninterruptedRunOnAnMoEPolicy() throws {
        var s = GSPO.settings(smallGRPOSettings)
        (s.promptsPerStep, s.groupSize, s.innerUpdates, s.minibatches, s.routingReplay) = (4, 4, 2, 2, true)
        func run(stopAt: Int?) throws -> [[Float]] {
            let (model, format, pairs) = try additionWorldMoE(sftUpdates: 10)
            let task = try additionTask(model, format, pairs, s)
            guard let stopAt else {
                for _ in 0..<4 { _ = try task.update() }
                return model.parameters.map(\.array) + model.namedBuffers().map(\.tensor.array)
            }
            for _ in 0..<stopAt { _ = try task.update() }
            let (fresh, _, _) = try additionWorldMoE(sftUpdates: 0)
            let resumed = try additionTask(fresh, format, pairs, s)
            for ((_, a), (_, b)) in zip(task.parameters, resumed.parameters) { b.assign(a) }
            try resumed.optimizer.importState(task.optimizer.exportState())
            try resumed.restore(task.exportState(), step: stopAt, path: "test")
            while resumed.updatesDone < 4 { _ = try resumed.update() }
            return fresh.parameters.map(\.array) + fresh.namedBuffers().map(\.tensor.array)
        }
        #expect(try run(stopAt: 2) == run(stopAt: nil))
    }
}
