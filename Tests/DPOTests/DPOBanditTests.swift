// Each loss on a bandit whose responses are single tokens, trained on its population loss: every
// ordered pair (i, j) weighted by the Bradley-Terry probability p_ij = σ(r_i − r_j) that an
// annotator prefers i. For one-token responses log π(i) − log π(j) = θ_i − θ_j, so each loss is
// convex in θ and plain gradient descent reaches its fixed point:
//   DPO    π*(y) ∝ π_ref(y) exp(r(y)/β)                           (Rafailov et al., Eq. 4)
//   IPO    h*_ij = (2 p_ij − 1) / (2τ) with h the log-ratio margin (two responses)
//   SimPO  d* solves p σ(γ − β d) = (1 − p) σ(β d + γ), d = log π(0) − log π(1) (two responses)
// and, at π = π_ref, the DPO loss of one pair is log 2 with gradient −β/2 (∇ log π(y_w) −
// ∇ log π(y_l)).
import DPO
import Foundation
import TensorCore
import Testing

@Suite struct DPOBanditTests {
    func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

    /// θ trained by gradient descent on the population loss of `loss` over every ordered pair of
    /// the responses with true rewards `r`, from θ = θ_ref.
    func train(_ loss: DPOLoss, reference: [Float], rewards r: [Double], steps: Int, lr: Float) -> [Float] {
        let n = reference.count
        let theta = Tensor(reference, shape: [n, 1])
        theta.requiresGrad = true
        let referenceLogProbs = Tensor(reference, shape: [n]).logSoftmax().array
        let sgd = SGD([(name: "theta", tensor: theta)])
        let pairs = (0..<n).flatMap { i in (0..<n).filter { $0 != i }.map { (i, $0) } }
        for _ in 0..<steps {
            sgd.zeroGrad()
            let logProbs = theta.reshaped([n]).logSoftmax().reshaped([n, 1])
            var total: Tensor?
            for (i, j) in pairs {
                let out = loss(
                    policyChosen: logProbs.indexSelect(rows: [i]).reshaped([1]),
                    policyRejected: logProbs.indexSelect(rows: [j]).reshaped([1]),
                    referenceChosen: [referenceLogProbs[i]], referenceRejected: [referenceLogProbs[j]],
                    chosenLengths: [1], rejectedLengths: [1])
                let weighted = out.loss * Float(sigmoid(r[i] - r[j]))
                total = total.map { $0 + weighted } ?? weighted
            }
            total!.backward()
            sgd.step(lr: lr)
        }
        return theta.reshaped([n]).softmax().array
    }

    @Test func dpoReachesTheClosedFormOptimum() {
        let reference: [Float] = [0.3, -0.2, 0.1, 0.5]
        let rewards = [0, 0.4, 0.9, -0.3]
        var loss = DPOLoss()
        loss.beta = 0.5
        let pi = train(loss, reference: reference, rewards: rewards, steps: 3000, lr: 2)
        let unnormalised = zip(reference, rewards).map { exp(Double($0) + $1 / 0.5) }
        let optimum = unnormalised.map { $0 / unnormalised.reduce(0, +) }
        for (a, b) in zip(pi, optimum) { #expect(abs(Double(a) - b) < 1e-3, "π \(pi) against π* \(optimum)") }
        // The optimum is not the reference: the test can fail.
        let start = Tensor(reference, shape: [4]).softmax().array
        #expect(zip(start, optimum).contains { abs(Double($0) - $1) > 0.05 })
    }

    @Test func ipoAndSimPOReachTheirOwnFixedPoints() {
        let reference: [Float] = [0.2, -0.1]
        let rewards = [0.9, 0.0]
        let p = sigmoid(0.9)
        var ipo = DPOLoss()
        (ipo.kind, ipo.beta, ipo.ipoLengthNormalised) = (.ipo, 0.5, false)
        let ipoPi = train(ipo, reference: reference, rewards: rewards, steps: 3000, lr: 0.2)
        let h = log(Double(ipoPi[0]) / Double(ipoPi[1])) - Double(reference[0] - reference[1])
        #expect(abs(h - (2 * p - 1) / (2 * 0.5)) < 1e-3, "IPO margin \(h)")

        var simpo = DPOLoss()
        (simpo.kind, simpo.beta, simpo.simpoGamma) = (.simpo, 2, 0.5)
        let simpoPi = train(simpo, reference: reference, rewards: rewards, steps: 3000, lr: 0.5)
        let d = log(Double(simpoPi[0]) / Double(simpoPi[1]))
        // d* by bisection on p σ(γ − β d) − (1 − p) σ(β d + γ), decreasing in d.
        var (low, high) = (-10.0, 10.0)
        for _ in 0..<100 {
            let mid = (low + high) / 2
            if p * sigmoid(0.5 - 2 * mid) - (1 - p) * sigmoid(2 * mid + 0.5) > 0 { low = mid } else { high = mid }
        }
        #expect(abs(d - low) < 1e-3, "SimPO log-ratio \(d) against \(low)")
        // SimPO's fixed point ignores the reference; DPO's would be d = θ_ref gap + 0.9 / β.
        #expect(abs(low - Double(reference[0] - reference[1])) > 0.1)
    }

    @Test func atTheReferenceTheLossIsLogTwoWithTheGradientOfTheMargin() {
        let reference: [Float] = [0.3, -0.2, 0.1]
        let theta = Tensor(reference, shape: [3, 1])
        theta.requiresGrad = true
        let logProbs = theta.reshaped([3]).logSoftmax().reshaped([3, 1])
        let referenceLogProbs = Tensor(reference, shape: [3]).logSoftmax().array
        var loss = DPOLoss()
        loss.beta = 0.3
        let out = loss(
            policyChosen: logProbs.indexSelect(rows: [0]).reshaped([1]),
            policyRejected: logProbs.indexSelect(rows: [2]).reshaped([1]),
            referenceChosen: [referenceLogProbs[0]], referenceRejected: [referenceLogProbs[2]], chosenLengths: [1],
            rejectedLengths: [1])
        #expect(abs(out.loss.item - Float(log(2.0))) < 1e-6)
        out.loss.backward()
        // ∇_θ log π(y) = e_y − π, so ∇ log π(y_w) − ∇ log π(y_l) = e_0 − e_2.
        let expected: [Float] = [-0.15, 0, 0.15]
        for (g, e) in zip(theta.grad!.array, expected) { #expect(abs(g - e) < 1e-6, "\(theta.grad!.array)") }
    }
}
