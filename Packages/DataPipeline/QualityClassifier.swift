// A quality classifier of the fastText kind (the DCLM and FineWeb-Edu filters are of this kind):
// a document is a bag of hashed word n-grams, and a linear model on it gives the probability that
// it reads like the reference text rather than like web-like negatives.
//   features   the text lowercased and split into words (letters and digits; other characters
//              end a word); every word and every pair of neighbouring words, hashed (FNV-1a) into
//              2^20 buckets; a document's vector is its bucket counts divided by their sum
//   model      p(reference | x) = σ(w · x + b)
//   training   logistic loss, plain SGD over the examples in an order drawn from the seed for
//              `epochs` passes, learning rate `learningRate`, L2 `l2` on w; classes weighed so that
//              each counts as much as the other
// What is written by hand: all of it (about fifty lines); a Swift fastText does not exist, and
// the linear part of fastText is this.
import Foundation
import LabSupport
import TensorCore

public struct QualityClassifier: Sendable {
    public static let buckets = 1 << 20
    let weights: [Float]
    let bias: Float

    public struct Settings: Codable, Sendable, Equatable {
        public var epochs = 5
        public var learningRate = 0.5
        public var l2 = 1e-6
        public var seed: UInt64 = 0
        public init() {}

        /// Every setting's range, each error naming its key.
        public func check() throws {
            if !(1...10_000).contains(epochs) { throw LabError(.config, "epochs: \(epochs) must be in 1...10000") }
            if !(learningRate > 0 && learningRate.isFinite) {
                throw LabError(.config, "learningRate: \(learningRate) must be finite and > 0")
            }
            if !(l2 >= 0 && l2.isFinite) { throw LabError(.config, "l2: \(l2) must be finite and >= 0") }
        }
    }

    /// Trains on reference (positive) and negative texts.
    public init(reference: [String], negatives: [String], settings: Settings = Settings()) throws {
        do { try settings.check() } catch let e as LabError {
            throw LabError(.config, "qualityClassifier.\(e.message)")
        }
        guard !reference.isEmpty && !negatives.isEmpty else {
            throw LabError(
                .config,
                "qualityClassifier: needs reference and negative texts (\(reference.count), \(negatives.count))")
        }
        let examples = reference.map { (Self.features($0), Float(1)) } + negatives.map { (Self.features($0), Float(0)) }
        let classWeight: [Float] = [
            Float(examples.count) / Float(2 * negatives.count), Float(examples.count) / Float(2 * reference.count),
        ]
        var w = [Float](repeating: 0, count: Self.buckets)
        var b: Float = 0
        var rng = RNG(seed: settings.seed)
        var order = Array(examples.indices)
        let lr = Float(settings.learningRate)
        let decay = 1 - lr * Float(settings.l2)
        for _ in 0..<settings.epochs {
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.int(below: i + 1)) }
            for i in order {
                let (x, y) = examples[i]
                let z = x.reduce(b) { $0 + w[$1.bucket] * $1.value }
                let g = (1 / (1 + exp(-z)) - y) * classWeight[Int(y)]
                for (bucket, value) in x { w[bucket] = w[bucket] * decay - lr * g * value }
                b -= lr * g
            }
        }
        // Too large a step overflows the logistic loss: a model of NaNs is refused, not returned.
        guard b.isFinite && w.allSatisfy(\.isFinite) else {
            throw LabError(
                .model,
                "qualityClassifier: training diverged (weights not finite) at learningRate \(settings.learningRate); lower it"
            )
        }
        (weights, bias) = (w, b)
    }

    /// The probability that `text` reads like the reference text.
    public func score(_ text: String) -> Double {
        let z = Self.features(text).reduce(bias) { $0 + weights[$1.bucket] * $1.value }
        return 1 / (1 + exp(-Double(z)))
    }

    /// The normalised bag of hashed words and word pairs (buckets sorted, each once).
    static func features(_ text: String) -> [(bucket: Int, value: Float)] {
        let words = text.lowercased().split { !($0.isLetter || $0.isNumber) }
        var counts: [Int: Float] = [:]
        func add(_ parts: [Substring]) {
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for (k, part) in parts.enumerated() {
                if k > 0 { h = (h ^ 0x20) &* 0x0000_0100_0000_01b3 }
                for byte in part.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
            }
            counts[Int(truncatingIfNeeded: (h ^ (h >> 31)) & UInt64(buckets - 1)), default: 0] += 1
        }
        for i in words.indices {
            add([words[i]])
            if i + 1 < words.count { add([words[i], words[i + 1]]) }
        }
        let total = counts.values.reduce(0, +)
        return counts.keys.sorted().map { ($0, counts[$0]! / Swift.max(total, 1)) }
    }
}
