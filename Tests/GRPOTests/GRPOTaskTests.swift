// GRPO's step on a tiny model: a short run raises the accuracy of a partly trained model, the
// first pass's ratios are 1, dynamic sampling never keeps a zero-variance group and stops with a
// named error at its limit, resume equals an uninterrupted run, and 1 and 2 threads agree.
import GRPO
import LabSupport
import MoE
import NanoTransformer
import PolicyTestSupport
import PostTraining
import TensorCore
import TestSupport
import Testing
import Tokenizer

@Suite struct GRPOTaskTests {
    /// 200 steps from a partly trained model: the accuracy of samples at the training temperature
    /// (mean@8 over all 100 questions: 800 samples, standard error about 0.017) rises well beyond noise.
    @Test func aShortRunRaisesAccuracyAndStartsAtRatioOne() throws {
        let (model, format, pairs) = try additionWorld(sftUpdates: 100)
        var s = smallGRPOSettings
        (s.optimizer.learningRate, s.optimizer.warmupSteps) = (3e-4, 10)
        let task = try additionTask(model, format, pairs, s)
        var eval = EvaluationSettings()
        (eval.samples, eval.passK, eval.maxNewTokens, eval.temperature, eval.promptsPerBatch) = (8, [1, 8], 8, 1, 100)
        let tasks = pairs.map { $0.verifiable(.english) }
        let before = try Evaluation.run(model, format: format, tasks: tasks, settings: eval).report
        let first = try task.update()
        #expect(abs(first.metrics["policy/ratio_mean"]! - 1) < 1e-4, "\(first.metrics)")
        for _ in 0..<199 { _ = try task.update() }
        let after = try Evaluation.run(model, format: format, tasks: tasks, settings: eval).report
        #expect(after.meanAtN > before.meanAtN + 0.08, "mean@8 \(before.meanAtN) -> \(after.meanAtN)")
    }

    @Test func dynamicSamplingKeepsOnlyInformativeGroupsAndStopsAtItsLimit() throws {
        let (model, format, pairs) = try additionWorld(sftUpdates: 25)
        var s = smallGRPOSettings
        s.dynamicSampling = true
        s.maxSamplingRounds = 6
        let task = try additionTask(model, format, pairs, s)
        for _ in 0..<3 {
            let report = try task.update()
            #expect(report.metrics["train/sampling_rounds"]! >= 1)
            #expect(report.metrics["train/zero_variance_groups_kept"] == 0, "\(report.metrics)")
        }
        // An untrained model earns 0 everywhere: no group ever differs, and the limit is named.
        let (untrained, _, _) = try additionWorld(sftUpdates: 0)
        s.maxSamplingRounds = 2
        let hopeless = try additionTask(untrained, format, pairs, s)
        let error = expectLabError(.config) { try hopeless.update() }
        #expect(error?.message.contains("grpo.maxSamplingRounds") == true, "\(String(describing: error))")
    }

    @Test func resumeEqualsAnUninterruptedRun() throws {
        var s = smallGRPOSettings
        (s.promptsPerStep, s.groupSize, s.innerUpdates, s.minibatches, s.loss.beta) = (4, 4, 2, 2, 0.04)
        func run(stopAt: Int?) throws -> [[Float]] {
            let (model, format, pairs) = try additionWorld(sftUpdates: 10)
            let reference = try ReferenceModel(frozenCopyOf: model)
            let task = try additionTask(model, format, pairs, s, reference: reference)
            guard let stopAt else {
                for _ in 0..<4 { _ = try task.update() }
                return model.parameters.map(\.array)
            }
            for _ in 0..<stopAt { _ = try task.update() }
            let (fresh, _, _) = try additionWorld(sftUpdates: 0)
            let resumed = try additionTask(fresh, format, pairs, s, reference: reference)
            for ((_, a), (_, b)) in zip(task.parameters, resumed.parameters) { b.assign(a) }
            try resumed.optimizer.importState(task.optimizer.exportState())
            try resumed.restore(task.exportState(), step: stopAt, path: "test")
            while resumed.updatesDone < 4 { _ = try resumed.update() }
            return fresh.parameters.map(\.array)
        }
        #expect(try run(stopAt: 2) == run(stopAt: nil))
    }

    @Test func oneAndTwoThreadsGiveTheSameRun() async throws {
        func run(_ threads: Int) async throws -> [[Float]] {
            try await withThreadCount(threads) {
                let (model, format, pairs) = try additionWorld(sftUpdates: 10)
                let task = try additionTask(model, format, pairs, smallGRPOSettings)
                for _ in 0..<2 { _ = try task.update() }
                return model.parameters.map(\.array)
            }
        }
        let one = try await run(1)
        let two = try await run(2)
        #expect(one == two)
    }

    /// A loss that is not finite (here from a broken reference's KL term; the rewards are fine)
    /// is an alarm: the update stops before its optimiser step, so the weights stay as they were,
    /// and the step report asks the loop to stop.
    @Test func aNonFiniteLossIsAnAlarmThatStopsBeforeTheStep() throws {
        var s = smallGRPOSettings
        (s.promptsPerStep, s.groupSize, s.loss.beta) = (4, 4, 0.04)
        let (model, format, pairs) = try additionWorld(sftUpdates: 10)
        let (broken, _, _) = try additionWorld(sftUpdates: 0)
        for p in broken.parameters { p.fill(.nan) }
        let task = try additionTask(model, format, pairs, s, reference: try ReferenceModel(frozenCopyOf: broken))
        let before = model.parameters.map(\.array)
        let report = try task.update()
        #expect(report.stop && report.metrics["alarm/nonfinite_loss"] == 1 && report.metrics["train/reward"]!.isFinite)
        #expect(model.parameters.map(\.array) == before)
        // A sound reference: no alarm, and the loss is reported.
        let sound = try additionTask(model, format, pairs, s, reference: try ReferenceModel(frozenCopyOf: model))
        let fine = try sound.update()
        #expect(!fine.stop && fine.metrics["alarm/nonfinite_loss"] == 0 && fine.metrics["policy/loss"]!.isFinite)
    }

    /// The rollout's hook sees every parsed response (with its text) and its metrics join the step's.
    @Test func theRolloutHookAddsItsMetrics() throws {
        var s = smallGRPOSettings
        (s.promptsPerStep, s.groupSize) = (4, 4)
        let (model, format, pairs) = try additionWorld(sftUpdates: 10)
        let task = try additionTask(model, format, pairs, s)
        task.onRollout = { responses in
            [
                "train/responses": Double(responses.count),
                "train/round_trip": Double(responses.count { ParsedResponse($0.text) == $0 }),
            ]
        }
        task.evaluationMetrics = { greedy, _ in ["eval/answers": Double(greedy.count)] }
        let report = try task.update()
        #expect(report.metrics["train/responses"] == 16 && report.metrics["train/round_trip"] == 16)
        #expect(try task.evaluate().metrics["eval/answers"] == 100)
    }

    /// A step in shards (the rollout generated in 2 batches, the gradient accumulated over 2
    /// parts each divided by the whole batch's counts, the reference's log-probs per part) is the
    /// same step within float rounding, for each aggregation: the same rollout, loss, KL, entropy
    /// and gradient (a forward's last bits depend on its batch). Compared over one update: Adam's
    /// first steps are about lr · sign(g), so a gradient component near 0 turns rounding into lr.
    @Test(arguments: GRPOAggregation.allCases)
    func shardsSplitAStepWithoutChangingIt(aggregation: GRPOAggregation) throws {
        var s = smallGRPOSettings
        (s.promptsPerStep, s.groupSize, s.loss.beta, s.loss.aggregation) = (4, 4, 0.04, aggregation)
        // Every answer of this policy is wrong: a bonus on half the responses gives groups advantages.
        (s.rewardOutliers.share, s.rewardOutliers.bonus) = (0.5, 1)
        func update(shards: Int) throws -> (metrics: [String: Double], gradients: [[Float]]) {
            s.shards = shards
            let (model, format, pairs) = try additionWorld(sftUpdates: 10)
            let task = try additionTask(model, format, pairs, s, reference: try ReferenceModel(frozenCopyOf: model))
            let metrics = try task.update().metrics
            return (metrics, model.parameters.map { $0.grad?.array ?? [] })
        }
        let (one, two) = (try update(shards: 1), try update(shards: 2))
        #expect(abs(two.metrics["policy/ratio_mean"]! - 1) < 1e-4)
        for key in ["train/reward", "train/length", "train/stop_rate"] { #expect(one.metrics[key] == two.metrics[key]) }
        for key in ["policy/loss", "policy/kl", "policy/entropy", "optim/grad_norm", "policy/token_ratio_var"] {
            let (a, b) = (one.metrics[key]!, two.metrics[key]!)
            #expect(abs(a - b) <= 1e-5 * max(1, abs(a)), "\(key): \(a) vs \(b)")
        }
        let largest = one.gradients.flatMap { $0.map(abs) }.max()!
        let worst = zip(one.gradients, two.gradients).flatMap { zip($0, $1).map { abs($0 - $1) } }.max()!
        #expect(largest > 0 && worst <= 1e-4 * largest, "\(worst) of \(largest)")
    }

    /// Tokens the environment puts into a response (a tool's result) are fed to the policy but
    /// weigh nothing in the loss: the first update's ratios are 1 although the sampler gave them
    /// log-prob 0 and the policy would not (counted in, their ratios would drag the mean far
    /// below 1).
    @Test func insertedTokensWeighNothingInTheLoss() throws {
        var s = smallGRPOSettings
        (s.promptsPerStep, s.groupSize) = (4, 4)
        (s.rewardOutliers.share, s.rewardOutliers.bonus) = (0.5, 1)
        let (model, format, pairs) = try additionWorld(sftUpdates: 10)
        let task = try additionTask(model, format, pairs, s)
        let put = format.tokenizer.encode("<result>7</result>")
        task.interjection = { _, response in response.count == 1 ? put : [] }
        let report = try task.update()
        let inserted = try #require(report.metrics["train/inserted_tokens"])
        #expect(inserted > 0 && inserted <= Double(put.count), "\(inserted)")
        #expect(abs(report.metrics["policy/ratio_mean"]! - 1) < 1e-4, "\(report.metrics)")
        #expect(abs(report.metrics["policy/ratio_max"]! - 1) < 1e-4)
    }

    @Test func settingsAreChecked() throws {
        let (model, format, pairs) = try additionWorld(sftUpdates: 0)
        var s = smallGRPOSettings
        s.loss.beta = 0.04
        let error = expectLabError(.config) { try additionTask(model, format, pairs, s) }
        #expect(error?.message.contains("needs a reference model") == true)
        s = smallGRPOSettings
        s.groupSize = 1
        expectLabError(.config) { try s.check() }
        for (shards, promptsPerStep, minibatches, message) in [
            (0, 8, 1, "grpo.shards: 0 must be at least 1"), (9, 8, 1, "more than the 8 prompts of a step"),
            (4, 4, 9, "4 parts of each of 9 minibatches is more than the 32 sequences"),
        ] {
            s = smallGRPOSettings
            (s.shards, s.promptsPerStep, s.minibatches, s.groupSize) = (shards, promptsPerStep, minibatches, 8)
            let error = expectLabError(.config) { try s.check() }
            #expect(error?.message.contains(message) == true, "\(String(describing: error))")
        }
    }
}

/// GRPO on an MoE policy: the updated routers choose other experts for some sampled tokens, with
/// replay or without; without replay the update's own forwards use those other experts, with it
/// exactly the sampler's. The expert load is reported from the sampler's choices.
@Suite struct RoutingReplayTests {
    @Test func replayKeepsTheSamplersExpertsAndItsAbsenceShowsTheDrift() throws {
        for replay in [false, true] {
            let (model, format, pairs) = try additionWorldMoE(sftUpdates: 0)
            var s = smallGRPOSettings
            (s.innerUpdates, s.optimizer.learningRate, s.routingReplay) = (4, 1e-2, replay)
            let task = try additionTask(model, format, pairs, s)
            let m = try task.update().metrics
            let passes = (1...4).map { m["moe/routing_change/pass_\($0)"]! }
            #expect(m["moe/routing_change"] == passes[3] && passes[3] > 0.01, "after 4 updates: \(m)")
            let layers = [m["moe/routing_change/layer_0"]!, m["moe/routing_change/layer_1"]!]
            #expect(abs((layers[0] + layers[1]) / 2 - passes[3]) < 1e-12, "\(m)")
            if replay {
                #expect(m["moe/update_routing_change"] == 0, "\(m)")
            } else {
                #expect(m["moe/update_routing_change"]! > 0, "passes 2-4 route some tokens elsewhere: \(m)")
            }
            // 4 experts, top-2: the load's max over mean is in [1, 2].
            #expect((1...2).contains(m["moe/load_max_over_mean"]!) && m["moe/load_cv"]! >= 0, "\(m)")
        }
        var s = smallGRPOSettings
        (s.routingReplay, s.dynamicSampling) = (true, true)
        let error = expectLabError(.config) { try s.check() }
        #expect(error?.message.hasPrefix("grpo.routingReplay") == true)
    }
}
