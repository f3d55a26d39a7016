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
        let label_smoothing: Double?
        let simpo_gamma: Double?
        let chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps: [Float]
        let chosen_lengths, rejected_lengths: [Int]
        let loss: Float
        let grad_chosen, grad_rejected: [Float]
        let rewards_chosen, rewards_rejected, rewards_margins, rewards_accuracies: Double
    }
    let cases: [Case]
}

@Suite struct DPOLossTests {
    static let fixture: DPOFixture = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Fixtures/dpo_objectives.json")
        return try! JSONDecoder().decode(DPOFixture.self, from: Data(contentsOf: url))
    }()

    @Test func everyVariantMatchesTRL() throws {
        #expect(Self.fixture.cases.count == 6)
        for c in Self.fixture.cases {
            var loss = DPOLoss()
            loss.kind = DPOLossKind(rawValue: c.kind)!
            loss.beta = c.beta
            loss.labelSmoothing = c.label_smoothing ?? 0
            loss.simpoGamma = c.simpo_gamma ?? 0
            try loss.check()
            let chosen = Tensor(c.chosen_logps, shape: [c.chosen_logps.count])
            let rejected = Tensor(c.rejected_logps, shape: [c.rejected_logps.count])
            chosen.requiresGrad = true
            rejected.requiresGrad = true
            let out = loss(
                policyChosen: chosen, policyRejected: rejected,
                referenceChosen: loss.kind.needsReference ? c.ref_chosen_logps : nil,
                referenceRejected: loss.kind.needsReference ? c.ref_rejected_logps : nil,
                chosenLengths: c.chosen_lengths, rejectedLengths: c.rejected_lengths)
            out.loss.backward()
            let close = { (a: Float, b: Float) in abs(a - b) <= 1e-5 + 1e-5 * abs(b) }
            #expect(close(out.loss.item, c.loss), "\(c.name): loss \(out.loss.item) vs \(c.loss)")
            #expect(zip(chosen.grad!.array, c.grad_chosen).allSatisfy(close), "\(c.name): d/d chosen")
            #expect(zip(rejected.grad!.array, c.grad_rejected).allSatisfy(close), "\(c.name): d/d rejected")
            for (mine, theirs, what) in [
                (out.chosenReward, c.rewards_chosen, "rewards/chosen"),
                (out.rejectedReward, c.rewards_rejected, "rewards/rejected"),
                (out.rewardMargin, c.rewards_margins, "rewards/margins"),
                (out.rewardAccuracy, c.rewards_accuracies, "rewards/accuracies"),
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
                policyChosen: Tensor(c.chosen_logps, shape: [6]), policyRejected: Tensor(c.rejected_logps, shape: [6]),
                referenceChosen: c.ref_chosen_logps, referenceRejected: c.ref_rejected_logps,
                chosenLengths: c.chosen_lengths, rejectedLengths: c.rejected_lengths
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
                let h = (c.chosen_logps[i] - c.ref_chosen_logps[i]) - (c.rejected_logps[i] - c.ref_rejected_logps[i])
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
