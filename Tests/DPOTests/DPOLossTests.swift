import DPO
// Every DPO variant against TRL's formulas (Scripts/reference/dpo_objectives.py): the loss, its
// gradient with respect to the policy's log-probs, and the implicit-reward diagnostics.
import Foundation
import LabSupport
import TensorCore
import TestSupport
import Testing

struct DPOFixture: Decodable {
    struct Case: Decodable {
        let name: String
        let kind: String
        let beta: Double
        let labelSmoothing: Double?
        let simpoGamma: Double?
        let chosenLogps, rejectedLogps, refChosenLogps, refRejectedLogps: [Float]
        let chosenLengths, rejectedLengths: [Int]
        let loss: Float
        let gradChosen, gradRejected: [Float]
        let rewardsChosen, rewardsRejected, rewardsMargins, rewardsAccuracies: Double
    }
    let cases: [Case]
}

@Suite struct DPOLossTests {
    static let fixture: DPOFixture = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Fixtures/dpo_objectives.json")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try! decoder.decode(DPOFixture.self, from: Data(contentsOf: url))
    }()

    @Test func everyVariantMatchesTRL() throws {
        #expect(Self.fixture.cases.count == 6)
        for c in Self.fixture.cases {
            var loss = DPOLoss()
            loss.kind = DPOLossKind(rawValue: c.kind)!
            loss.beta = c.beta
            loss.labelSmoothing = c.labelSmoothing ?? 0
            loss.simpoGamma = c.simpoGamma ?? 0
            try loss.check()
            let chosen = Tensor(c.chosenLogps, shape: [c.chosenLogps.count])
            let rejected = Tensor(c.rejectedLogps, shape: [c.rejectedLogps.count])
            chosen.requiresGrad = true
            rejected.requiresGrad = true
            let out = loss(
                policyChosen: chosen, policyRejected: rejected,
                referenceChosen: loss.kind.needsReference ? c.refChosenLogps : nil,
                referenceRejected: loss.kind.needsReference ? c.refRejectedLogps : nil,
                chosenLengths: c.chosenLengths, rejectedLengths: c.rejectedLengths)
            out.loss.backward()
            let close = { (a: Float, b: Float) in abs(a - b) <= 1e-5 + 1e-5 * abs(b) }
            #expect(close(out.loss.item, c.loss), "\(c.name): loss \(out.loss.item) vs \(c.loss)")
            #expect(zip(chosen.grad!.array, c.gradChosen).allSatisfy(close), "\(c.name): d/d chosen")
            #expect(zip(rejected.grad!.array, c.gradRejected).allSatisfy(close), "\(c.name): d/d rejected")
            for (mine, theirs, what) in [
                (out.chosenReward, c.rewardsChosen, "rewards/chosen"),
                (out.rejectedReward, c.rewardsRejected, "rewards/rejected"),
                (out.rewardMargin, c.rewardsMargins, "rewards/margins"),
                (out.rewardAccuracy, c.rewardsAccuracies, "rewards/accuracies"),
            ] {
                #expect(abs(mine - theirs) <= 1e-5 + 1e-5 * abs(theirs), "\(c.name): \(what) \(mine) vs \(theirs)")
            }
        }
    }

    @Test func theConservativeLossIsDPOAtZeroSmoothingAndIPOCanDropTheLengths() {
        let c = Self.fixture.cases[0]
        func value(_ edit: (inout DPOLoss) -> Void, lengths: Bool = true) -> Float {
            var loss = DPOLoss()
            edit(&loss)
            return loss(
                policyChosen: Tensor(c.chosenLogps, shape: [6]), policyRejected: Tensor(c.rejectedLogps, shape: [6]),
                referenceChosen: c.refChosenLogps, referenceRejected: c.refRejectedLogps,
                chosenLengths: c.chosenLengths, rejectedLengths: c.rejectedLengths
            ).loss.item
        }
        #expect(value { $0.kind = .conservative } == value { $0.kind = .sigmoid })
        // The paper's IPO on the plain margin: (h − 1/(2τ))² by hand.
        let plain = value {
            $0.kind = .ipo
            $0.ipoLengthNormalised = false
        }
        let hand =
            (0..<6).map { i -> Float in
                let h = (c.chosenLogps[i] - c.refChosenLogps[i]) - (c.rejectedLogps[i] - c.refRejectedLogps[i])
                return (h - 1 / (2 * 0.1)) * (h - 1 / (2 * 0.1))
            }.reduce(0, +) / 6
        #expect(abs(plain - hand) <= 1e-4 * hand)
    }

    @Test func badSettingsAreNamed() {
        for (edit, key) in [
            ({ (l: inout DPOLoss) in l.beta = 0 }, "dpo.beta"),
            ({ (l: inout DPOLoss) in l.labelSmoothing = 0.5 }, "dpo.labelSmoothing"),
            ({ (l: inout DPOLoss) in l.simpoGamma = .nan }, "dpo.simpoGamma"),
        ] as [((inout DPOLoss) -> Void, String)] {
            var loss = DPOLoss()
            edit(&loss)
            let error = expectLabError(.config) { try loss.check() }
            #expect(error?.message.hasPrefix(key) == true)
        }
    }
}
