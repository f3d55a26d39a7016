// ppo-bench: PPO on CartPole-v1 with CleanRL's defaults (the `base` config of ppo-37-tricks),
// timed over the whole training like its CleanRL-style twin (Benchmarks/cleanrl_twin): seconds
// per environment step, and the return of every finished episode for the learning curves.
// Run: Scripts/bench-ppo (the twin in the same run) or .build/release/ppo-bench --out FILE.
import ArgumentParser
import BenchmarkSupport
import Foundation
import PPO
import TensorCore

struct PPOBench: ParsableCommand {
    @Option(help: "Threads for the tensor core.") var threads = 1
    @Option(help: "Seeds, comma separated.") var seeds = "0"
    @Option(help: "JSON file for the measurements (curves go to <out without .json>-curves.json).") var out: String?

    func run() throws {
        Threads.set(threads)
        var rows: [BenchmarkResult] = []
        var curves: [String: JSONCurve] = [:]
        for seed in seeds.split(separator: ",").compactMap({ Int($0) }) {
            let trainer = try PPOTrainer(PPOConfig(), seed: UInt64(seed))
            let start = Date()
            try trainer.train()
            let perStep = Date().timeIntervalSince(start) / Double(trainer.globalStep)
            let tail = trainer.episodes.filter { $0.step > trainer.config.totalTimesteps * 9 / 10 }
            let final = tail.map(\.episodeReturn).reduce(0, +) / Double(max(tail.count, 1))
            print("seed \(seed): \(Int(1 / perStep)) steps/s, final return \(String(format: "%.1f", final))")
            rows.append(
                BenchmarkResult(name: "ppo training", shape: "CartPole-v1 500k steps, seed \(seed)", seconds: perStep))
            curves["\(seed)"] = JSONCurve(
                curve: trainer.episodes.map { [Double($0.step), $0.episodeReturn] }, finalReturn: final)
        }
        if let out {
            try writeResults(rows, to: out)
            let curvesPath = out.replacingOccurrences(of: ".json", with: "-curves.json")
            try JSONEncoder().encode(curves).write(to: URL(fileURLWithPath: curvesPath))
        }
    }
}

struct JSONCurve: Codable {
    let curve: [[Double]]
    let finalReturn: Double
    enum CodingKeys: String, CodingKey {
        case curve
        case finalReturn = "final_return"
    }
}

PPOBench.main()
