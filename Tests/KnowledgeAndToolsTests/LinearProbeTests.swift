// The linear probe on synthetic cases: two classes apart along one direction hidden among noise
// dimensions are separated on held-out rows; labels unrelated to the features are not (held-out
// accuracy near chance); bad shapes are named errors.
import KnowledgeAndTools
import LabSupport
import TensorCore
import TestSupport
import Testing

@Suite struct LinearProbeTests {
    /// n rows of d features: noise, plus ±shift on feature 3 by label.
    func data(_ n: Int, d: Int = 16, shift: Float, seed: UInt64) -> ([[Float]], [Bool]) {
        var rng = RNG(seed: seed)
        let labels = (0..<n).map { _ in rng.int(below: 2) == 1 }
        let rows = labels.map { label in
            (0..<d).map { j in rng.normal() + (j == 3 ? (label ? shift : -shift) : 0) }
        }
        return (rows, labels)
    }

    @Test func separatesASeparableCaseOnHeldOutRows() throws {
        let (train, trainLabels) = data(300, shift: 2, seed: 1)
        let (test, testLabels) = data(300, shift: 2, seed: 2)
        let probe = try LinearProbe(features: train, labels: trainLabels)
        // Bayes accuracy with a margin of 2 standard deviations either way: Φ(2) = 0.977.
        #expect(try probe.accuracy(features: test, labels: testLabels) > 0.95)
        let largest = probe.weights.indices.max { abs(probe.weights[$0]) < abs(probe.weights[$1]) }
        #expect(largest == 3, "the probe's weight sits on the informative feature")
    }

    @Test func doesNotSeparateLabelsUnrelatedToTheFeatures() throws {
        let (train, trainLabels) = data(300, shift: 0, seed: 3)
        let (test, testLabels) = data(1000, shift: 0, seed: 4)
        let probe = try LinearProbe(features: train, labels: trainLabels)
        let accuracy = try probe.accuracy(features: test, labels: testLabels)
        // Chance is 0.5; 1000 rows give a standard error of 0.016.
        #expect(abs(accuracy - 0.5) < 0.06, "\(accuracy)")
    }

    @Test func badShapesAreNamedErrors() throws {
        #expect(expectLabError(.model) { try LinearProbe(features: [], labels: []) } != nil)
        #expect(expectLabError(.model) { try LinearProbe(features: [[1, 2], [3]], labels: [true, false]) } != nil)
        let probe = try LinearProbe(features: [[1, 2], [3, 4]], labels: [true, false])
        #expect(expectLabError(.model) { try probe.probability([1]) } != nil)
        #expect(expectLabError(.model) { try probe.accuracy(features: [[1, 2]], labels: []) } != nil)
    }
}
