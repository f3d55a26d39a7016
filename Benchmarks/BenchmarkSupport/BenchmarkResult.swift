// What every benchmark executable records, and the timing rule they share (the Python twins
// follow the same rule): median of 7 trials, each repeated until it lasts 50 ms, after a warm-up.
import Foundation

public struct BenchmarkResult: Codable, Sendable {
    public let name: String
    public let shape: String
    public let seconds: Double
    public let gflops: Double?

    public init(name: String, shape: String, seconds: Double, gflops: Double? = nil) {
        self.name = name
        self.shape = shape
        self.seconds = seconds
        self.gflops = gflops
    }
}

/// Median wall time of `body` over `trials` trials of enough repetitions to last ~`minTime`.
public func medianTime(trials: Int = 7, minTime: Double = 0.05, _ body: () -> Void) -> Double {
    body()
    var reps = 1
    while true {
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<reps { body() }
        if Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 >= minTime { break }
        reps *= 2
    }
    var samples: [Double] = []
    for _ in 0..<trials {
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<reps { body() }
        samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(reps))
    }
    return samples.sorted()[trials / 2]
}

/// Writes measurements as JSON (read by Benchmarks/compare.py).
public func writeResults(_ measurements: [BenchmarkResult], to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(measurements).write(to: URL(fileURLWithPath: path))
}
