// The unigram yardstick against hand values: two identical blocks, so whichever is held out the
// training counts are {0: 3, 1: 1} and the validation tokens 0, 0, 0, 1.
import Foundation
import NanoTransformer
import Pretraining
import Testing

@Suite struct UnigramBaselineTests {
    @Test func entropyAndValidationLossEqualHandValues() throws {
        let data = try TokenWindows(tokens: [0, 0, 0, 1, 0, 0, 0, 1], blockSize: 4, validationFraction: 0.5, seed: 3)
        let baseline = UnigramBaseline(data, vocabSize: 3)
        let entropy = -(0.75 * log(0.75) + 0.25 * log(0.25))
        #expect(abs(baseline.trainEntropy - entropy) < 1e-12)
        // Add-one over 3 tokens: p(0) = 4/7, p(1) = 2/7 (token 2, never seen, keeps 1/7).
        let loss = -(3 * log(4.0 / 7) + log(2.0 / 7)) / 4
        #expect(abs(baseline.validationLoss - loss) < 1e-12)
    }
}
