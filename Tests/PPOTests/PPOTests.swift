// PPO's parts and a short training run: orthogonal init with baselines' gains, the Gaussian and
// categorical log-probabilities and entropies, the running normalisers, the truncation bootstrap
// wired through a rollout, and CartPole learning well above random play in a few seconds.
import Foundation
import PPO
import TensorCore
import TestSupport
import Testing

/// W W^T (rows <= cols) or W^T W, which orthogonal init makes gain^2 I.
func gram(_ w: Tensor) -> (matrix: [Float], size: Int) {
    let (rows, cols) = (w.shape[0], w.shape[1])
    let size = min(rows, cols)
    var out = [Float](repeating: 0, count: size * size)
    for i in 0..<size {
        for j in 0..<size {
            var s: Float = 0
            if rows <= cols {
                for k in 0..<cols { s += w.data[i * cols + k] * w.data[j * cols + k] }
            } else {
                for k in 0..<rows { s += w.data[k * cols + i] * w.data[k * cols + j] }
            }
            out[i * size + j] = s
        }
    }
    return (out, size)
}

@Suite struct PPOTests {
    @Test(arguments: [false, true])
    func orthogonalInitHasBaselinesGains(shared: Bool) {
        var rng = RNG(seed: 1)
        let agent = ActorCritic(
            observationSize: 4, actionSpace: .discrete(2), hidden: [64, 64], shared: shared, orthogonalInit: true,
            rng: &rng)
        let gains: [String: Float] =
            shared
            ? ["trunk.layers.0": 2, "trunk.layers.1": 2, "policy_head": 1e-4, "value_head": 1]
            : [
                "actor.layers.0": 2, "actor.layers.1": 2, "actor.layers.2": 1e-4, "critic.layers.0": 2,
                "critic.layers.1": 2, "critic.layers.2": 1,
            ]
        for (layer, gainSquared) in gains {
            let (g, size) = gram(agent.parameter(named: "\(layer).weight")!)
            for i in 0..<size {
                for j in 0..<size {
                    let expected = i == j ? gainSquared : 0
                    #expect(abs(g[i * size + j] - expected) < 1e-5 * max(1, gainSquared * 10), "\(layer) [\(i), \(j)]")
                }
            }
            #expect(agent.parameter(named: "\(layer).bias")!.array.allSatisfy { $0 == 0 }, "\(layer)")
        }
    }

    @Test func distributionsOnHandValues() {
        // Gaussian, two independent dimensions: log N(a; mu, sigma) summed.
        let mean = Tensor([0, 1], shape: [1, 2])
        let logStd = Tensor([0, logf(2)], shape: [1, 2])
        let gaussian = PolicyDistribution.gaussian(mean: mean, logStd: logStd)
        let a: [[Float]] = [[0.5, -1]]
        let expected =
            (-0.125 - 0.5 * log(2 * Double.pi)) + (-0.5 * 1 - log(2.0) - 0.5 * log(2 * Double.pi))
        #expect(abs(Double(gaussian.logProbability(a).item) - expected) < 1e-6)
        let entropy = 2 * (0.5 + 0.5 * log(2 * Double.pi)) + log(2.0)
        #expect(abs(Double(gaussian.entropy().item) - entropy) < 1e-6)
        // Categorical over logits (0, ln 3): p = (1/4, 3/4).
        let categorical = PolicyDistribution.categorical(logits: Tensor([0, logf(3)], shape: [1, 2]))
        #expect(abs(Double(categorical.logProbability([[1]]).item) - log(0.75)) < 1e-6)
        #expect(abs(Double(categorical.entropy().item) - -(0.25 * log(0.25) + 0.75 * log(0.75))) < 1e-6)
    }

    @Test func distributionGradientsMatchFiniteDifferences() {
        var rng = RNG(seed: 8)
        let mean = Tensor.randn([3, 2], rng: &rng).requiringGrad()
        let logStd = (Tensor.randn([1, 2], rng: &rng) * 0.3).requiringGrad()
        let actions: [[Float]] = (0..<3).map { _ in [rng.normal(), rng.normal()] }
        let gaussian = gradientCheck([mean, logStd], eps: 1e-3) {
            let d = PolicyDistribution.gaussian(mean: mean, logStd: logStd.expand(to: [3, 2]))
            return concat([d.logProbability(actions), d.entropy()], axis: 0)
        }
        #expect(gaussian.worstError < 1e-2, "\(gaussian)")
        let logits = Tensor.randn([3, 4], rng: &rng).requiringGrad()
        let categorical = gradientCheck([logits], eps: 1e-3) {
            let d = PolicyDistribution.categorical(logits: logits)
            return concat([d.logProbability([[0], [3], [1]]), d.entropy()], axis: 0)
        }
        #expect(categorical.worstError < 1e-2, "\(categorical)")
    }

    @Test func runningMeanStdTracksTheWholeStream() {
        var rng = RNG(seed: 4)
        var statistics = RunningMeanStd(width: 2)
        var all: [[Double]] = []
        for _ in 0..<50 {
            let batch = (0..<7).map { _ in [Double(rng.normal()) * 3 + 5, Double(rng.uniform())] }
            statistics.update(batch)
            all += batch
        }
        for j in 0..<2 {
            let mean = all.reduce(0) { $0 + $1[j] } / Double(all.count)
            let variance = all.reduce(0) { $0 + ($1[j] - mean) * ($1[j] - mean) } / Double(all.count)
            // The prior (count 1e-4, mean 0, variance 1) weighs 1e-4 / 350 of the result.
            #expect(abs(statistics.mean[j] - mean) < 1e-4 * max(1, abs(mean)))
            #expect(abs(statistics.variance[j] - variance) < 1e-3 * max(1, variance))
        }
        // Rewards of 1 forever: G = 1, 1.9, 2.71, ... and every reward divided by its std.
        var scaler = RewardScaler(envs: 1, gamma: 0.9, clip: nil)
        var returns: [Double] = []
        var g = 0.0
        var scaled: Float = 0
        for _ in 0..<20 {
            g = 0.9 * g + 1
            returns.append(g)
            scaled = scaler([1], terminated: [false])[0]
        }
        let mean = returns.reduce(0, +) / 20
        let variance = returns.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 20
        #expect(abs(Double(scaled) - 1 / variance.squareRoot()) < 1e-3)
    }

    @Test func aTruncatedStepBootstrapsFromItsFinalObservation() throws {
        var c = PPOConfig()
        c.env = .pendulum
        c.envs = 1
        c.steps = 256
        c.minibatches = 1
        c.totalTimesteps = 256
        for bootstrap in [true, false] {
            c.bootstrapTruncation = bootstrap
            let trainer = try PPOTrainer(c, seed: 9)
            let r = trainer.collectRollout()
            // Pendulum's episodes end only by the 200-step limit.
            #expect(r.ends.truncated.enumerated().filter(\.element).map(\.offset) == [199])
            #expect(!r.ends.terminated.contains(true))
            let v = r.ends.truncationValues[199]
            #expect(v != 0 && r.ends.truncationValues.enumerated().allSatisfy { $0.offset == 199 || $0.element == 0 })
            let next = bootstrap ? v : 0
            let delta = r.rewards[199] + Float(c.gamma) * next - r.values[199]
            #expect(abs(r.advantages[199] - delta) < 1e-5, "bootstrap \(bootstrap)")
        }
    }

    @Test func cartPoleLearnsWellAboveRandomInAFewSeconds() throws {
        var c = PPOConfig()
        c.totalTimesteps = 100 * 512
        let trainer = try PPOTrainer(c, seed: 1)
        var returns: [Double] = []
        try trainer.train { _, metrics in
            if let r = metrics["charts/episodic_return"] { returns.append(r) }
            return true
        }
        // Random play lasts about 22 steps; the last updates' episodes last far longer.
        #expect(returns.prefix(3).allSatisfy { $0 < 40 }, "\(returns.prefix(3))")
        let late = returns.suffix(5)
        #expect(late.reduce(0, +) / Double(late.count) > 100, "\(late)")
        // The same seed gives the same run.
        let again = try PPOTrainer(c, seed: 1)
        try again.train()
        #expect(again.episodes == trainer.episodes)
    }
}
