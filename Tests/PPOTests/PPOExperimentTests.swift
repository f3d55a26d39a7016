// The ppo-37-tricks experiment end to end at toy length: every config runs a few updates and
// records its metrics; the thread count does not change a run; a bad config names its key.
import Foundation
import HDF5Store
import PPO
import TensorCore
import TestSupport
import Testing

/// Short rollouts so that every ablation (Pendulum's 2048-step ones too) finishes in a second.
let toySettings = ["--steps", "3", "--set", "ppo.steps=32", "--threads", "1"]

@Suite(.serialized) struct PPOExperimentTests {
    @Test func everyConfigRunsAFewUpdates() throws {
        let out = temporaryFolder()
        let result = try runProduct("ppo-37-tricks", ["--all-ablations", "--out", out] + toySettings)
        #expect(result.status == 0, "\(result.stderr)")
        let ablations = try experimentAblations("ppo-37-tricks")
        #expect(ablations.count == 25)
        for ablation in ablations {
            let r = try RunResults.load(from: "\(out)/ppo-37-tricks/\(ablation)/seed-0.h5")
            #expect(r.status == "finished", "\(ablation)")
            #expect(r.metrics["losses/clipfrac"]?.values.count == 3, "\(ablation)")
            for key in ["losses/policy_loss", "losses/value_loss", "losses/approx_kl", "losses/clipfrac"] {
                #expect(r.metrics[key]!.values.allSatisfy { $0.isFinite }, "\(ablation) \(key)")
            }
            // 1 - Var(R - V) / Var(R): finite when the returns vary (they do in every rollout here);
            // at most 1, and NaN only where Var(R) = 0 (ExplainedVariance.of).
            let explained = r.metrics["losses/explained_variance"]!.values
            #expect(explained.allSatisfy { $0.isFinite && $0 <= 1 }, "\(ablation): \(explained)")
            // The Pendulum family extends `pendulum`; the rest stay on CartPole.
            let env = ablation.hasPrefix("pendulum") ? "Pendulum-v1" : "CartPole-v1"
            #expect(r.configJSON.contains(#""env":"\#(env)""#), "\(ablation)")
        }
        // Each checkpoint rebuilds its agent from the file alone: the same outputs as the agent
        // the run's own config builds, with the checkpoint's weights restored into it.
        for ablation in ablations {
            let path = "\(out)/ppo-37-tricks/\(ablation)/seed-0.ckpt.h5"
            let loaded = try ActorCritic.load(checkpoint: path)
            let state = try Checkpoint.load(from: path)
            let json = try JSONSerialization.jsonObject(with: Data(state.configJSON.utf8)) as! [String: Any]
            let config = try JSONDecoder().decode(
                PPOConfig.self, from: JSONSerialization.data(withJSONObject: json["ppo"]!))
            let reference = try PPOTrainer(config, seed: 0).agent
            try Checkpoint.restore(reference.namedParameters(), from: state, path: path)
            var rng = RNG(seed: 1)
            let observations = Tensor.randn([5, loaded.observationSize], rng: &rng)
            let (a, b) = (withNoGrad { loaded(observations) }, withNoGrad { reference(observations) })
            #expect(a.values.array == b.values.array, "\(ablation)")
            #expect(a.policy.entropy().array == b.policy.entropy().array, "\(ablation)")
            #expect(loaded.modelRecord == reference.modelRecord, "\(ablation)")
        }
        let pendulum = try RunResults.load(from: "\(out)/ppo-37-tricks/pendulum-no-reward-clip/seed-0.h5")
        #expect(
            pendulum.configJSON.contains(#""normalizeRewards":true"#)
                && pendulum.configJSON.contains(#""rewardClip":0"#))
    }

    @Test func theThreadCountDoesNotChangeARun() throws {
        var runs: [(results: RunResults, checkpoint: TrainingState)] = []
        for threads in ["1", "2"] {
            let out = temporaryFolder() + "/t\(threads)"
            let r = try runProduct(
                "ppo-37-tricks",
                ["--out", out, "--steps", "4", "--seed", "5", "--set", "ppo.env=Acrobot-v1", "--threads", threads])
            #expect(r.status == 0, "\(r.stderr)")
            runs.append(
                (
                    try RunResults.load(from: "\(out)/ppo-37-tricks/base/seed-5.h5"),
                    try Checkpoint.load(from: "\(out)/ppo-37-tricks/base/seed-5.ckpt.h5")
                ))
        }
        for key in ["losses/policy_loss", "losses/value_loss", "losses/entropy", "losses/approx_kl"] {
            #expect(runs[0].results.metrics[key]!.values == runs[1].results.metrics[key]!.values, "\(key)")
        }
        #expect(runs[0].results.provenanceJSON.contains(#""threads":1"#))
        #expect(runs[1].results.provenanceJSON.contains(#""threads":2"#))
        for (name, tensor) in runs[0].checkpoint.parameters {
            #expect(runs[1].checkpoint.parameter(name)!.isBitIdentical(to: tensor), "final weight \(name)")
        }
        for (key, tensor) in runs[0].checkpoint.optimizer!.tensors {
            #expect(runs[1].checkpoint.optimizer!.tensors[key]!.isBitIdentical(to: tensor), "Adam's \(key)")
        }
    }

    /// PPO checkpoints edited through HDF5 and re-sealed (valid digest, bad values): each is a
    /// named error at resume, never a trap.
    @Test func editedTrainerStateIsANamedError() throws {
        let out = temporaryFolder()
        let common = [
            "--ablation", "pendulum", "--steps", "6", "--set", "ppo.steps=64", "--threads", "1", "--out", out,
        ]
        #expect(try runProduct("ppo-37-tricks", common + ["--stop-at", "3"]).status == 0)
        let path = "\(out)/ppo-37-tricks/pendulum/seed-0.ckpt.h5"
        let original = try Checkpoint.load(from: path)
        let cases: [(String, (inout TrainingState) -> Void)] = [
            ("'env.elapsed' is not finite", { $0.values["env.elapsed"]![0] = .nan }),
            ("'env.elapsed' holds values that are not whole numbers", { $0.values["env.elapsed"]![0] = 2.5 }),
            ("RNG state 'env.1': needs 4 words, not all zero", { $0.rngStreams["env.1"] = [0, 0, 0, 0] }),
            ("is not updates_done 3 x the batch 256", { $0.counters["global_step"] = 999 }),
            ("counter 'obs_norm.count' is -1", { $0.counters["obs_norm.count"] = -1 }),
            ("a running variance is negative", { $0.values["obs_norm.variance"]![0] = -1 }),
            ("'episodes.return' missing or of the wrong length", { $0.values["episodes.return"]!.append(1) }),
        ]
        for (text, edit) in cases {
            var state = original
            edit(&state)
            try Checkpoint.save(state, to: path)
            let r = try runProduct("ppo-37-tricks", common + ["--resume", path])
            #expect(r.status == 1 && r.stderr.contains(text), "\(text): \(r.status) \(r.stderr)")
        }
    }

    @Test(arguments: ["base", "pendulum"])
    func resumeEqualsAnUninterruptedRun(_ ablation: String) throws {
        let whole = temporaryFolder("resume-\(ablation)") + "/whole"
        let split = temporaryFolder("resume-\(ablation)") + "/split"
        let common = ["--ablation", ablation, "--steps", "6", "--set", "ppo.steps=64", "--seed", "4", "--threads", "1"]
        #expect(try runProduct("ppo-37-tricks", common + ["--out", whole]).status == 0)
        let stopped = try runProduct("ppo-37-tricks", common + ["--out", split, "--stop-at", "3"])
        #expect(stopped.status == 0, "\(stopped.stderr)")  // --stop-at is a stop the user asked for
        let checkpoint = "\(split)/ppo-37-tricks/\(ablation)/seed-4.ckpt.h5"
        #expect(try Checkpoint.load(from: checkpoint).step == 3 * 256)  // environment steps: 3 updates x 4 envs x 64
        let resumed = try runProduct("ppo-37-tricks", common + ["--out", split, "--resume", checkpoint])
        #expect(resumed.status == 0, "\(resumed.stderr)")

        let a = try Checkpoint.load(from: "\(whole)/ppo-37-tricks/\(ablation)/seed-4.ckpt.h5")
        let b = try Checkpoint.load(from: checkpoint)
        #expect(a.step == 6 * 256 && b.step == 6 * 256)
        for (name, tensor) in a.parameters { #expect(b.parameter(name)!.isBitIdentical(to: tensor), "\(name)") }
        #expect(a.rngStreams == b.rngStreams && a.counters == b.counters && a.values == b.values)
        #expect(a.values["env.state"] != nil && (ablation == "base") == (a.values["obs_norm.mean"] == nil))
        let ra = try RunResults.load(from: "\(whole)/ppo-37-tricks/\(ablation)/seed-4.h5")
        let rb = try RunResults.load(from: "\(split)/ppo-37-tricks/\(ablation)/seed-4.h5")
        for (key, series) in ra.metrics where key != "perf/steps_per_s" {
            #expect(rb.metrics[key]?.values == series.values && rb.metrics[key]?.steps == series.steps, "\(key)")
        }
        #expect(ra.summary == rb.summary)
    }

    @Test func badConfigNamesTheKey() throws {
        let result = try runProduct(
            "ppo-37-tricks", ["--out", temporaryFolder(), "--set", "ppo.minibatches=3"] + toySettings)
        #expect(result.status != 0)
        #expect(result.stderr.contains("minibatches"), "\(result.stderr)")
    }
}
