// The critic learns a known return: responses that start with token 9 are worth +1 and those that
// start with 10 are worth −1, on every token (γ = 1, the reward only at the end). A token's value is
// read from the state before it, so from the second response token on the return is decided and
// the value can be exact: after training its squared error there falls far below the returns'
// variance (1).
import LabSupport
import NanoTransformer
import PolicyGradient
import RLHF
import TensorCore
import Testing

@Suite struct CriticTests {
    @Test func theCriticLearnsAKnownReturn() throws {
        var c = TransformerConfig()
        (c.vocabSize, c.dModel, c.layers, c.heads, c.kvHeads, c.contextLength) = (16, 32, 2, 4, 2, 16)
        var rng = RNG(seed: 3)
        let critic = try Critic(copying: try NanoTransformer(c, rng: &rng), rng: &rng)
        var prompts: [[Int]] = []
        var responses: [[Int]] = []
        for i in 0..<16 {
            prompts.append([1 + i % 3, 4])
            let body = (0..<(1 + i % 4)).map { 5 + ($0 + i) % 3 }
            responses.append([i % 2 == 0 ? 9 : 10] + body + [11])
        }
        let batch = ResponseBatch(prompts: prompts, responses: responses)
        let returns = Tensor(
            responses.flatMap { r in
                (0..<batch.width).map { $0 < r.count ? (r[0] == 9 ? Float(1) : -1) : 0 }
            }, shape: [batch.batch, batch.width])
        let mask = batch.mask
        let adam = Adam.adamW(critic.namedParameters(), beta2: 0.999, eps: 1e-8, weightDecay: 0, noDecay: [])
        /// Mean squared error of the values from the second response token on.
        func decidedError() -> Float {
            let v = withNoGrad { critic.values(batch, training: false, rng: &rng) }
            var (sum, n) = (Float(0), Float(0))
            for (i, r) in responses.enumerated() {
                for t in 1..<r.count {
                    let e = v[i, t] - (r[0] == 9 ? 1 : -1)
                    (sum, n) = (sum + e * e, n + 1)
                }
            }
            return sum / n
        }
        let before = decidedError()
        for _ in 0..<150 {
            adam.zeroGrad()
            let values = critic.values(batch, training: true, rng: &rng)
            let errors = TokenValueLoss.squaredErrors(
                values: values, oldValues: values.detach(), returns: returns, mask: mask, clip: 0.2, clipped: false)
            (LossAggregation.tokenMean.reduce(errors, mask: mask) * 0.5).backward()
            adam.step(lr: 3e-3)
        }
        let after = decidedError()
        #expect(after < 0.05 && after < before / 10, "squared error once the return is decided: \(before) -> \(after)")
    }
}
