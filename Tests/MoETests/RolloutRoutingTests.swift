// Routing across a rollout: generation records, per sequence and MoE layer, the experts chosen for
// every token it fed (prompt at prefill, one token per decode step), and a later forward over any
// minibatch of the rollout's sequences replays them, so an updated policy's ratio compares the
// same routing; a training forward through the RL log-prob path carries MoE's auxiliary loss.
import MoE
import NanoTransformer
import TensorCore
import Testing

@Suite struct RolloutRoutingTests {
    func model() throws -> NanoTransformer {
        var rng = RNG(seed: 31)
        let m = try NanoTransformer(
            tinyTransformer(vocab: 29), mlp: MixtureOfExperts.factory(moeShape(experts: 8, topK: 2)), rng: &rng)
        for (name, p) in m.namedParameters() where !name.contains("norm") { Init.normal(p, std: 0.2, rng: &rng) }
        return m
    }

    @Test func generationRecordsEveryFedTokenAndReplayReproducesIt() throws {
        let policy = try model()
        var rng = RNG(seed: 32)
        let rollout = try policy.generate(
            prompts: [[1, 2, 3], [4, 5]], samplesPerPrompt: 2, maxNewTokens: 7, sampling: Sampling(temperature: 1),
            stopTokens: [9], recordRouting: true, rng: &rng)
        let record = try #require(rollout.routing)
        for s in 0..<rollout.count {
            let fed = rollout.prompts[s].count + rollout.responses[s].count - 1
            #expect(
                record.choices[s].count == 2 && record.choices[s].allSatisfy { $0.count == fed * 2 }, "sequence \(s)")
        }
        // The samples of one prompt share its prefill, so their prompt routing is the same.
        #expect(record.choices[0][1].prefix(6) == record.choices[1][1].prefix(6))

        // A training forward over a minibatch, in another order: with replay, every layer routes
        // each recorded token as generation did, and the log-probs are the behaviour ones.
        let minibatch = rollout.subset([3, 0, 2])
        let batch = minibatch.batch()
        policy.replayRouting(minibatch.routing!, batch: batch)
        let replayed = policy.responseLogProbs(batch, training: true, rng: &rng)
        for (l, layer) in policy.mixtureOfExpertsLayers.enumerated() {
            for i in 0..<3 {
                let recorded = minibatch.routing!.choices[i][l]
                let start = i * batch.time * 2
                #expect(Array(layer.lastChoice[start..<(start + recorded.count)]) == recorded, "layer \(l) row \(i)")
            }
        }
        #expect((replayed.logProbs - minibatch.behaviourLogProbs()).abs().array.max()! <= 1e-5)
        #expect(replayed.auxiliaryLoss == nil, "no balance loss in this config; the z-loss config adds one below")

        // After an update of the routers the free routing moves; replay keeps the recorded one.
        for layer in policy.mixtureOfExpertsLayers {
            Init.normal(layer.parameter(named: "router.weight")!, std: 1, rng: &rng)
        }
        policy.stopRoutingReplay()
        _ = policy.responseLogProbs(batch, rng: &rng)
        let free = policy.mixtureOfExpertsLayers[0].lastChoice
        policy.replayRouting(minibatch.routing!, batch: batch)
        _ = policy.responseLogProbs(batch, rng: &rng)
        let forced = policy.mixtureOfExpertsLayers[0].lastChoice
        let recorded0 = minibatch.routing!.choices[0][0]
        #expect(Array(forced.prefix(recorded0.count)) == recorded0)
        #expect(Array(free.prefix(recorded0.count)) != recorded0, "the update changed the free choice")
        policy.stopRoutingReplay()
        #expect(policy.mixtureOfExpertsLayers.allSatisfy { $0.replay == nil })
    }

    @Test func aTrainingForwardAddsTheMoELosses() throws {
        var rng = RNG(seed: 33)
        var shape = moeShape(experts: 4, topK: 2, balancing: .auxLoss)
        shape.routerZLoss = 1e-3
        let policy = try NanoTransformer(tinyTransformer(vocab: 29), mlp: MixtureOfExperts.factory(shape), rng: &rng)
        let batch = ResponseBatch(prompts: [[1, 2]], responses: [[3, 4, 5]])
        let training = policy.responseLogProbs(batch, training: true, rng: &rng)
        let aux = try #require(training.auxiliaryLoss)
        #expect(aux.item > 0 && aux.requiresGrad)
        #expect(policy.responseLogProbs(batch, training: false, rng: &rng).auxiliaryLoss == nil)
        #expect(policy.mixtureOfExpertsLayers[0].statistics.tokens == batch.batch * batch.time, "statistics counted")
    }
}
