import Foundation
import HDF5Store
// The preference data set reward-bpr, PPO on text and dpo all read: for each prompt, K responses
// sampled from the SFT policy, their true rewards, and the simulated annotator's ranking.
//   /prompts/ids, /prompts/offsets          prompt i is ids[offsets[i]..<offsets[i+1]]   (Int64)
//   /responses/ids, /responses/offsets      response k of prompt i is entry i*K + k       (Int64)
//   /ranks (N, K)                           prompt i's responses best first (0..<K)       (Int64)
//   /true_rewards (N, K)                    VADER's compound of each response              (Float64)
//   attributes: format, k, temperature (the annotator's τ), end_token
// Every response ends with the end token (a response cut at the length limit is not a
// finished answer, and the reward model reads the end token's state). Loading checks every
// dataset and names the one at fault; writing is atomic (a temporary file renamed).
import LabSupport

public struct PreferenceData: Sendable, Equatable {
    public static let format = "llm-pipeline-lab/preferences/1"

    public var prompts: [[Int]]
    /// responses[i][k]: response k of prompt i.
    public var responses: [[[Int]]]
    public var ranks: [[Int]]
    public var trueRewards: [[Double]]
    public var temperature: Double
    public var endToken: Int

    public var count: Int { prompts.count }
    public var k: Int { responses.first?.count ?? 0 }

    public init(
        prompts: [[Int]], responses: [[[Int]]], ranks: [[Int]], trueRewards: [[Double]], temperature: Double,
        endToken: Int
    ) throws {
        (self.prompts, self.responses, self.ranks, self.trueRewards, self.temperature, self.endToken) = (
            prompts, responses, ranks, trueRewards, temperature, endToken
        )
        try check(source: "PreferenceData")
    }

    func check(source: String) throws {
        let n = prompts.count
        guard n > 0 else { throw LabError(.hdf5, "\(source): no prompts") }
        guard responses.count == n, ranks.count == n, trueRewards.count == n else {
            throw LabError(
                .hdf5,
                "\(source): \(n) prompts but \(responses.count) response lists, \(ranks.count) rankings, \(trueRewards.count) reward lists"
            )
        }
        let k = responses[0].count
        guard k >= 2 else { throw LabError(.hdf5, "\(source): K = \(k); a ranking needs at least 2 responses") }
        for i in 0..<n {
            guard !prompts[i].isEmpty else { throw LabError(.hdf5, "\(source): prompt \(i) is empty") }
            guard responses[i].count == k, trueRewards[i].count == k else {
                throw LabError(.hdf5, "\(source): prompt \(i) has \(responses[i].count) responses, not K = \(k)")
            }
            guard ranks[i].sorted() == Array(0..<k) else {
                throw LabError(.hdf5, "\(source): /ranks row \(i) \(ranks[i]) is not an order of 0..<\(k)")
            }
            for (j, r) in responses[i].enumerated() where r.last != endToken {
                throw LabError(
                    .hdf5,
                    "\(source): response \(j) of prompt \(i) does not end with the end token \(endToken) (cut at the length limit?)"
                )
            }
            if let bad = trueRewards[i].first(where: { !$0.isFinite }) {
                throw LabError(.hdf5, "\(source): /true_rewards row \(i) holds \(bad)")
            }
        }
    }

    /// The C(K,2) pairs of every prompt, as indices into the flattened responses (i*K + k).
    public func pairs(marginScale: Double = 0) -> [PreferencePair] {
        (0..<count).flatMap { i in
            PreferencePair.allPairs(
                ranking: ranks[i].map { i * k + $0 }, prompt: i,
                trueRewards: marginScale > 0 ? trueRewards.flatMap { $0 } : nil, marginScale: marginScale)
        }
    }

    public func save(to path: String) throws {
        func flat(_ lists: [[Int]]) -> (ids: [Int64], offsets: [Int64]) {
            var offsets: [Int64] = [0]
            for l in lists { offsets.append(offsets.last! + Int64(l.count)) }
            return (lists.flatMap { $0.map(Int64.init) }, offsets)
        }
        let p = flat(prompts)
        let r = flat(responses.flatMap { $0 })
        let (n, k) = (count, self.k)
        try writeHDF5Atomically(to: path) { file in
            try file.write(p.ids, shape: [p.ids.count], to: "prompts/ids")
            try file.write(p.offsets, shape: [p.offsets.count], to: "prompts/offsets")
            try file.write(r.ids, shape: [r.ids.count], to: "responses/ids")
            try file.write(r.offsets, shape: [r.offsets.count], to: "responses/offsets")
            try file.write(ranks.flatMap { $0.map(Int64.init) }, shape: [n, k], to: "ranks")
            try file.write(trueRewards.flatMap { $0 }, shape: [n, k], to: "true_rewards")
            try file.setAttribute("format", Self.format)
            try file.setAttribute("k", Int64(k))
            try file.setAttribute("temperature", temperature)
            try file.setAttribute("end_token", Int64(endToken))
        }
    }

    public static func load(from path: String) throws -> PreferenceData {
        let file = try HDF5File(path: path, mode: .readOnly)
        defer { file.close() }
        guard file.hasAttribute("format"), try file.stringAttribute("format") == format else {
            throw LabError(.hdf5, "\(path): not a preference data file (no format attribute '\(format)')")
        }
        func dataset<T: HDF5Scalar>(_ name: String, _ type: T.Type) throws -> (values: [T], shape: [Int]) {
            guard try file.exists(name) else { throw LabError(.hdf5, "\(path): no dataset /\(name)") }
            return try file.read(type, from: name)
        }
        func scalar<T: HDF5Scalar>(_ name: String, _ type: T.Type) throws -> T {
            guard file.hasAttribute(name), let v = try file.attribute(name, as: type).first else {
                throw LabError(.hdf5, "\(path): no attribute '\(name)'")
            }
            return v
        }
        let k = Int(try scalar("k", Int64.self))
        func lists(_ group: String) throws -> [[Int]] {
            let ids = try dataset("\(group)/ids", Int64.self).values
            let offsets = try dataset("\(group)/offsets", Int64.self).values
            guard offsets.first == 0, offsets.last == Int64(ids.count),
                zip(offsets, offsets.dropFirst()).allSatisfy({ $0 <= $1 })
            else { throw LabError(.hdf5, "\(path): /\(group)/offsets do not cut /\(group)/ids (\(ids.count) ids)") }
            return zip(offsets, offsets.dropFirst()).map { a, b in ids[Int(a)..<Int(b)].map { Int($0) } }
        }
        let prompts = try lists("prompts")
        let flatResponses = try lists("responses")
        let n = prompts.count
        guard k >= 2, flatResponses.count == n * k else {
            throw LabError(
                .hdf5, "\(path): /responses holds \(flatResponses.count) responses, not \(n) prompts x K = \(k)")
        }
        let ranks = try dataset("ranks", Int64.self)
        let rewards = try dataset("true_rewards", Double.self)
        for (name, shape) in [("ranks", ranks.shape), ("true_rewards", rewards.shape)] where shape != [n, k] {
            throw LabError(.hdf5, "\(path): /\(name) is \(shape), not [\(n), \(k)]")
        }
        do {
            return try PreferenceData(
                prompts: prompts, responses: (0..<n).map { Array(flatResponses[($0 * k)..<(($0 + 1) * k)]) },
                ranks: (0..<n).map { i in ranks.values[(i * k)..<((i + 1) * k)].map { Int($0) } },
                trueRewards: (0..<n).map { Array(rewards.values[($0 * k)..<(($0 + 1) * k)]) },
                temperature: try scalar("temperature", Double.self), endToken: Int(try scalar("end_token", Int64.self)))
        } catch let e as LabError {
            throw LabError(.hdf5, e.message.replacingOccurrences(of: "PreferenceData:", with: "\(path):"))
        }
    }
}
