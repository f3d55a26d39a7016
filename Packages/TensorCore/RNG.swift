// RNG: xoshiro256** (Blackman & Vigna 2018) seeded through SplitMix64.
// Fast, splittable into independent streams, and its whole state can be saved and restored.
import LabSupport

public struct RNG: Sendable, Equatable {
    /// The four words of xoshiro256** state; saving and restoring them replays the stream exactly.
    public private(set) var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var sm = seed
        state = (Self.splitMix(&sm), Self.splitMix(&sm), Self.splitMix(&sm), Self.splitMix(&sm))
    }

    /// Restores a generator from `stateWords` (four words, as `stateWords` returned them).
    public init(stateWords: [UInt64]) {
        precondition(stateWords.count == 4, "RNG state needs 4 words, got \(stateWords.count)")
        state = (stateWords[0], stateWords[1], stateWords[2], stateWords[3])
        precondition(stateWords.contains { $0 != 0 }, "RNG state of all zeros is invalid")
    }

    /// Restores a generator from saved words, checking them (a checkpoint's are data): four
    /// words, not all zero (xoshiro's one invalid state).
    public init(checkedStateWords words: [UInt64], name: String) throws {
        guard words.count == 4, words.contains(where: { $0 != 0 }) else {
            throw LabError(.tensorCore, "RNG state '\(name)': needs 4 words, not all zero; got \(words)")
        }
        self.init(stateWords: words)
    }

    public var stateWords: [UInt64] { [state.0, state.1, state.2, state.3] }

    public static func == (a: RNG, b: RNG) -> Bool { a.stateWords == b.stateWords }

    static func splitMix(_ x: inout UInt64) -> UInt64 {
        x &+= 0x9E37_79B9_7F4A_7C15
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((state.1 &* 5) << 7 | (state.1 &* 5) >> 57) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = state.3 << 45 | state.3 >> 19
        return result
    }

    /// A new generator whose stream is independent of this one (seeded from two of its outputs).
    public mutating func split() -> RNG {
        var seed = next() ^ (next() &* 0x9E37_79B9_7F4A_7C15)
        var child = RNG(seed: 0)
        child.state = (Self.splitMix(&seed), Self.splitMix(&seed), Self.splitMix(&seed), Self.splitMix(&seed))
        return child
    }

    /// Uniform in [0, 1) with 24 random bits.
    @inline(__always)
    public mutating func uniform() -> Float { Float(next() >> 40) * 0x1.0p-24 }

    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always)
    public mutating func uniformDouble() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform integer in 0..<n without modulo bias (Lemire 2019).
    public mutating func int(below n: Int) -> Int {
        precondition(n > 0, "int(below:) needs n > 0")
        let bound = UInt64(n)
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = next().multipliedFullWidth(by: bound) }
        }
        return Int(m.high)
    }

    /// Standard normal sample (Box-Muller in double precision; one sample per call, no cache,
    /// so the state alone determines the stream).
    public mutating func normal() -> Float {
        let u1 = 1 - uniformDouble()  // (0, 1]: log is finite
        let u2 = uniformDouble()
        return Float((-2 * logDouble(u1)).squareRoot() * cosDouble(2 * Double.pi * u2))
    }

    /// Index drawn with probability proportional to `weights` (non-negative, positive sum).
    public mutating func categorical(_ weights: UnsafeBufferPointer<Float>) -> Int {
        var total: Double = 0
        for w in weights { total += Double(w) }
        precondition(total > 0 && total.isFinite, "categorical: weights must have a positive finite sum")
        let target = uniformDouble() * total
        var cumulative: Double = 0
        for (i, w) in weights.enumerated() {
            cumulative += Double(w)
            if target < cumulative { return i }
        }
        // Rounding can leave target == total: return the last index with positive weight.
        return weights.lastIndex { $0 > 0 } ?? (weights.count - 1)
    }

    public mutating func categorical(_ weights: [Float]) -> Int {
        weights.withUnsafeBufferPointer { categorical($0) }
    }

    /// Fisher-Yates shuffle in place.
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            array.swapAt(i, int(below: i + 1))
        }
    }

    /// A random permutation of 0..<n.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        shuffle(&p)
        return p
    }
}
