// A linear probe: logistic regression on feature vectors (a layer's hidden states), the way one
// asks whether a model's representation separates two kinds of input. Features are standardised
// with the training set's mean and deviation; weights fit by full-batch gradient descent on the
// mean cross-entropy plus λ/2 |w|² (no penalty on the bias), in Double, a fixed number of steps:
// deterministic, no library needed for a few hundred examples of a few hundred features.
//   p_i = σ(w · x_i + b),  L = −(1/n) Σ_i [y_i log p_i + (1 − y_i) log(1 − p_i)] + (λ/2) |w|²
//   ∂L/∂w = (1/n) Σ_i (p_i − y_i) x_i + λ w,  ∂L/∂b = (1/n) Σ_i (p_i − y_i)
import Foundation
import LabSupport

public struct LinearProbe: Sendable {
    public private(set) var weights: [Double]
    public private(set) var bias: Double
    let mean: [Double]
    let scale: [Double]

    /// Fits on `features` (n rows of d) with labels.
    public init(features: [[Float]], labels: [Bool], l2: Double = 1e-3, steps: Int = 500, learningRate: Double = 0.5)
        throws
    {
        guard !features.isEmpty, features.count == labels.count else {
            throw LabError(.model, "LinearProbe: \(features.count) feature rows for \(labels.count) labels")
        }
        let d = features[0].count
        if let bad = features.firstIndex(where: { $0.count != d }) {
            throw LabError(.model, "LinearProbe: row \(bad) has \(features[bad].count) features, row 0 \(d)")
        }
        guard steps >= 0, l2 >= 0, learningRate > 0 else {
            throw LabError(.model, "LinearProbe: steps, l2 must be >= 0 and the learning rate > 0")
        }
        let n = Double(features.count)
        let mean = (0..<d).map { j in features.reduce(0) { $0 + Double($1[j]) } / n }
        let scale = (0..<d).map { j in
            let v = features.reduce(0) { $0 + (Double($1[j]) - mean[j]) * (Double($1[j]) - mean[j]) } / n
            return v > 1e-12 ? 1 / v.squareRoot() : 0
        }
        let x = features.map { row in (0..<d).map { j in (Double(row[j]) - mean[j]) * scale[j] } }
        let y = labels.map { $0 ? 1.0 : 0.0 }
        var (w, b) = ([Double](repeating: 0, count: d), 0.0)
        for _ in 0..<steps {
            var gradient = w.map { $0 * l2 }
            var gradientBias = 0.0
            for (row, target) in zip(x, y) {
                let error = Self.sigmoid(zip(w, row).reduce(b) { $0 + $1.0 * $1.1 }) - target
                for j in 0..<d { gradient[j] += error * row[j] / n }
                gradientBias += error / n
            }
            for j in 0..<d { w[j] -= learningRate * gradient[j] }
            b -= learningRate * gradientBias
        }
        (self.mean, self.scale, weights, bias) = (mean, scale, w, b)
    }

    static func sigmoid(_ z: Double) -> Double { z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z)) }

    /// P(label true | features).
    public func probability(_ features: [Float]) throws -> Double {
        guard features.count == weights.count else {
            throw LabError(.model, "LinearProbe: \(features.count) features, fitted on \(weights.count)")
        }
        return Self.sigmoid(
            (0..<weights.count).reduce(bias) { $0 + weights[$1] * (Double(features[$1]) - mean[$1]) * scale[$1] })
    }

    /// The share of rows classified right (probability above one half for true).
    public func accuracy(features: [[Float]], labels: [Bool]) throws -> Double {
        guard features.count == labels.count, !labels.isEmpty else {
            throw LabError(.model, "LinearProbe.accuracy: \(features.count) feature rows for \(labels.count) labels")
        }
        let right = try zip(features, labels).count { (try probability($0) > 0.5) == $1 }
        return Double(right) / Double(labels.count)
    }
}
