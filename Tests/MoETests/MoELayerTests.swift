import Foundation
// The MoE layer: gradients (router included) match finite differences, one expert equals the
// dense MLP, the balancing bias evens a skewed router, capacity drops exactly the overflow,
// routing replay reproduces a recorded choice, and the losses and statistics equal hand values.
import LabSupport
import MoE
import NanoTransformer
import TensorCore
import TestSupport
import Testing

func moeShape(
    experts: Int = 4, topK: Int = 2, shared: Int = 1, router: RouterKind = .sigmoid, balancing: LoadBalancing = .none
) -> MoEConfig {
    var c = MoEConfig()
    c.experts = experts
    c.topK = topK
    c.expertHidden = 6
    c.sharedExperts = shared
    c.router = router
    c.normalizeGates = router == .sigmoid
    c.balancing = balancing
    return c
}

/// A two-layer model of width 16 for whole-model checks.
func tinyTransformer(vocab: Int) -> TransformerConfig {
    var c = TransformerConfig()
    c.vocabSize = vocab
    c.dModel = 16
    c.layers = 2
    c.heads = 2
    c.kvHeads = 2
    return c
}

/// Router weights that send every token of a positive input to expert 0 first, then expert 1.
func skewRouter(_ layer: MixtureOfExperts) {
    let w = layer.parameter(named: "router.weight")!
    w.fill(0)
    let c = w.shape[1]
    for j in 0..<c {
        w.data[j] = 0.5
        w.data[c + j] = 0.25
    }
}

@Suite struct MoELayerTests {
    @Test(arguments: [
        ("sigmoid, normalised gates, aux loss, z-loss", RouterKind.sigmoid, LoadBalancing.auxLoss, 0.0),
        ("softmax, raw gates, capacity 1.0, z-loss", .softmax, .none, 1.0),
        ("sigmoid, bias balancing", .sigmoid, .auxLossFree, 0.0),
    ])
    func gradientsOfTheWholeLayerMatchFiniteDifferences(
        _ label: String, router: RouterKind, balancing: LoadBalancing, capacity: Double
    ) {
        var c = moeShape(router: router, balancing: balancing)
        c.routerZLoss = 1e-2
        c.capacityFactor = capacity
        var rng = RNG(seed: 5)
        let layer = MixtureOfExperts(c, dModel: 8, rng: &rng)
        layer.routingBias.assign(Tensor([0.05, -0.02, 0.01, 0]))
        let x = Tensor.randn([2, 3, 8], rng: &rng).requiringGrad()
        let result = gradientCheck([x] + layer.parameters, eps: 1e-3) {
            let y = layer(x, training: true)
            let aux = layer.auxiliaryLoss!.reshaped([1])
            return concat([y.reshaped([y.count]), aux * 100], axis: 0)
        }
        #expect(result.worstError < 2e-2, "\(label): \(result)")
    }

    @Test(arguments: [RouterKind.softmax, .sigmoid])
    func oneExpertTopOneWithoutSharedEqualsTheDenseModel(router: RouterKind) throws {
        var model = tinyTransformer(vocab: 37)
        model.mlpHidden = 24
        var moe = moeShape(experts: 1, topK: 1, shared: 0, router: router)
        moe.expertHidden = 24
        var rng = RNG(seed: 1)
        let dense = try NanoTransformer(model, rng: &rng)
        let mixture = try NanoTransformer(model, mlp: MixtureOfExperts.factory(moe), rng: &rng)
        for (name, tensor) in mixture.namedParameters() where !name.contains("router") {
            tensor.assign(dense.parameter(named: name.replacingOccurrences(of: "experts.0.", with: ""))!)
        }
        let ids = (0..<24).map { ($0 * 7) % 37 }
        let a = dense.logits(ids, batch: 2, time: 12, rng: &rng)
        let b = mixture.logits(ids, batch: 2, time: 12, rng: &rng)
        #expect(a.maxAbsDifference(b) < 1e-6)
    }

    @Test func theBiasUpdateMovesTheLoadTowardBalance() {
        var c = moeShape(shared: 0, balancing: .auxLossFree)
        c.biasUpdateRate = 0.01
        var rng = RNG(seed: 2)
        let layer = MixtureOfExperts(c, dModel: 8, rng: &rng)
        skewRouter(layer)
        let x = Tensor.uniform([4, 16, 8], rng: &rng)
        var imbalance: [Double] = []
        for _ in 0..<200 {
            _ = withNoGrad { layer(x, training: true) }
            imbalance.append(layer.finishStep().loadMaxOverMean)
        }
        // Top-2 of 4 with every token on experts 0 and 1: max/mean = 2 at the start.
        #expect(imbalance[0] == 2)
        #expect(imbalance.suffix(20).allSatisfy { $0 < 1.2 }, "\(imbalance.suffix(20))")
        // The overloaded experts were pushed down, the idle ones up.
        #expect(layer.routingBias.data[0] < 0 && layer.routingBias.data[3] > 0)

        // Without the bias the same router stays collapsed.
        let unbalanced = MixtureOfExperts(moeShape(shared: 0, balancing: .none), dModel: 8, rng: &rng)
        skewRouter(unbalanced)
        _ = withNoGrad { unbalanced(x, training: true) }
        #expect(unbalanced.finishStep().loadMaxOverMean == 2)
        #expect(unbalanced.routingBias.array == [0, 0, 0, 0])
    }

    @Test func capacityDropsExactlyTheOverflowInTokenOrder() {
        var c = moeShape(topK: 1, shared: 0)
        c.capacityFactor = 1.0
        var rng = RNG(seed: 3)
        let layer = MixtureOfExperts(c, dModel: 8, rng: &rng)
        skewRouter(layer)
        let x = Tensor.uniform([1, 16, 8], rng: &rng)
        // 16 tokens, top-1 of 4, factor 1: capacity 4; all 16 want expert 0, so 12 are dropped.
        let y = layer(x, training: true)
        let statistics = layer.finishStep()
        #expect(statistics.dropped == 12 && statistics.droppedFraction == 0.75)
        for token in 0..<16 {
            let row = (0..<8).map { y.data[token * 8 + $0] }
            if token < 4 {
                #expect(row.contains { $0 != 0 }, "token \(token) was kept")
            } else {
                #expect(row.allSatisfy { $0 == 0 }, "token \(token) was dropped: only the residual is left")
            }
        }
        // Evaluation routes every token.
        let evaluated = layer(x, training: false)
        #expect((4..<16).allSatisfy { t in (0..<8).contains { evaluated.data[t * 8 + $0] != 0 } })

        let dispatch = ExpertDispatch(experts: [0, 0, 1, 0, 2, 0], topK: 1, expertCount: 3, capacity: 2)
        #expect(dispatch.rows == [[0, 1], [2], [4]] && dispatch.dropped == 2)
        let topTwo = ExpertDispatch(experts: [0, 1, 1, 0, 0, 2], topK: 2, expertCount: 3, capacity: 2)
        #expect(
            topTwo.rows == [[0, 1], [0, 1], [2]] && topTwo.slots == [[0, 3], [1, 2], [5]] && topTwo.dropped == 1)
        #expect(ExpertDispatch.capacity(factor: 1.25, assignments: 32, expertCount: 8) == 5)
        #expect(ExpertDispatch.capacity(factor: 1.0, assignments: 30, expertCount: 8) == 4)
        #expect(ExpertDispatch.capacity(factor: 0, assignments: 30, expertCount: 8) == nil)
    }

    @Test func routingReplayReproducesTheRecordedChoice() {
        var rng = RNG(seed: 4)
        let layer = MixtureOfExperts(moeShape(experts: 8, topK: 2), dModel: 8, rng: &rng)
        let x = Tensor.randn([2, 5, 8], rng: &rng)
        let recordedOutput = layer(x, training: false)
        let recorded = layer.lastChoice
        // Another router: the free choice changes...
        Init.normal(layer.parameter(named: "router.weight")!, std: 1, rng: &rng)
        _ = layer(x, training: false)
        #expect(layer.lastChoice != recorded)
        // ...and replay forces the recorded one (the gates are the new router's).
        layer.replay = recorded
        let replayed = layer(x, training: false)
        #expect(layer.lastChoice == recorded)
        #expect(replayed.maxAbsDifference(recordedOutput) > 0)
        layer.replay = nil
        _ = layer(x, training: false)
        #expect(layer.lastChoice != recorded)
    }

    @Test func modelLevelReplayKeepsEveryLayersChoiceAcrossAnUpdate() throws {
        var rng = RNG(seed: 12)
        let model = try NanoTransformer(
            tinyTransformer(vocab: 31), mlp: MixtureOfExperts.factory(moeShape(experts: 8)), rng: &rng)
        let ids = (0..<24).map { ($0 * 5) % 31 }
        let targets = ids.map { ($0 + 1) % 31 }
        _ = model.loss(ids, targets: targets, batch: 2, time: 12, rng: &rng).total
        let recorded = RoutingReplay.record(model)
        #expect(recorded.count == 2 && recorded.allSatisfy { $0.count == 24 * 2 })
        // A large update moves the routers...
        let opt = Adam(model.namedParameters())
        opt.zeroGrad()
        model.loss(ids, targets: targets, batch: 2, time: 12, rng: &rng).total.backward()
        opt.step(lr: 0.5)
        _ = model.logits(ids, batch: 2, time: 12, rng: &rng)
        #expect(RoutingReplay.record(model) != recorded)
        // ...and replay gives the old choices back, in every layer, until released.
        RoutingReplay.replay(model, recorded)
        _ = model.logits(ids, batch: 2, time: 12, rng: &rng)
        #expect(RoutingReplay.record(model) == recorded)
        RoutingReplay.replay(model, nil)
        _ = model.logits(ids, batch: 2, time: 12, rng: &rng)
        #expect(RoutingReplay.record(model) != recorded)
    }

    @Test func balanceLossAndZLossEqualHandComputedValues() {
        // Router = identity on 2 features; tokens (ln 3, 0), (0, ln 3), (ln 3, 0):
        // softmax (3/4, 1/4), (1/4, 3/4), (3/4, 1/4); top-1: experts 0, 1, 0.
        let ln3 = Float(log(3.0))
        let x = Tensor([ln3, 0, 0, ln3, ln3, 0], shape: [3, 2])
        let routing = Router.route(
            x, weight: Tensor([1, 0, 0, 1], shape: [2, 2]), kind: .softmax, topK: 1, normalizeGates: false)
        #expect(routing.experts == [0, 1, 0])
        #expect(routing.gates.maxAbsDifference(Tensor([0.75, 0.75, 0.75], shape: [3, 1])) < 1e-6)
        // f = (2/3, 1/3); P = (1.75/3, 1.25/3); alpha N sum f P = 0.01 * 2 * 4.75 / 9.
        let balance = Router.balanceLoss(routing, load: Router.load(routing.experts, expertCount: 2), weight: 0.01)
        #expect(abs(Double(balance.item) - 0.01 * 2 * 4.75 / 9) < 1e-7)
        // logsumexp(ln 3, 0) = ln 4 for every token.
        let z = Router.zLoss(routing, coefficient: 1e-3)
        #expect(abs(Double(z.item) - 1e-3 * pow(log(4.0), 2)) < 1e-7)
        // Entropy of (3/4, 1/4), three times.
        let h = -(0.75 * log(0.75) + 0.25 * log(0.25))
        #expect(abs(Router.entropySum(routing) - 3 * h) < 1e-5)

        // Sigmoid affinities, top-2 of 3, normalised gates: g = s_i / (s_a + s_b).
        let s = Tensor([0.5, -1, 2], shape: [1, 3])
        let sigmoid = Router.route(
            s, weight: Tensor([1, 0, 0, 0, 1, 0, 0, 0, 1], shape: [3, 3]), kind: .sigmoid, topK: 2,
            normalizeGates: true, bias: Tensor([0, 0, -0.9]))
        // With the bias, expert 2 (0.881 - 0.9) falls below expert 0 (0.622) and 1 (0.269): {0, 1}.
        #expect(sigmoid.experts == [0, 1])
        let (a, b) = (1 / (1 + exp(-0.5)), 1 / (1 + exp(1.0)))
        #expect(
            sigmoid.gates.maxAbsDifference(Tensor([Float(a / (a + b)), Float(b / (a + b))], shape: [1, 2])) < 1e-6)
    }

    @Test func statisticsAndRoutingChangeEqualHandValues() {
        var s = RoutingStatistics(experts: 4)
        #expect(s.loadMaxOverMean == 0 && s.loadCV == 0)
        s.load = [3, 1, 0, 0]
        s.dropped = 1
        // mean 1, population std sqrt((4 + 0 + 1 + 1) / 4).
        #expect(s.loadMaxOverMean == 3)
        #expect(abs(s.loadCV - (6.0 / 4).squareRoot()) < 1e-12)
        #expect(s.droppedFraction == 0.25)
        // Sets, not orders: token 0 kept {0, 1}; token 1 moved from {2, 3} to {2, 0}.
        #expect(MoEStep.changedShare([0, 1, 2, 3], [1, 0, 2, 0], topK: 2) == 0.5)
    }

    @Test func trainingLossAddsTheAuxiliaryLossesAndEvaluationDoesNot() throws {
        let model = tinyTransformer(vocab: 29)
        var moe = moeShape(balancing: .auxLoss)
        moe.routerZLoss = 1e-3
        var rng = RNG(seed: 6)
        let m = try NanoTransformer(model, mlp: MixtureOfExperts.factory(moe), rng: &rng)
        let ids = (0..<16).map { $0 % 29 }
        let targets = ids.map { ($0 + 1) % 29 }
        let (total, ce) = m.loss(ids, targets: targets, batch: 2, time: 8, rng: &rng)
        let aux = m.mixtureOfExpertsLayers.map { $0.auxiliaryLoss!.item }.reduce(0, +)
        #expect(aux > 0)
        #expect(abs(total.item - ce.item - aux) < 1e-5)
        let (evalTotal, evalCE) = m.loss(ids, targets: targets, batch: 2, time: 8, training: false, rng: &rng)
        #expect(evalTotal.item == evalCE.item)
        #expect(m.namedBuffers().map(\.name) == ["blocks.0.mlp.routing_bias", "blocks.1.mlp.routing_bias"])
    }

    @Test func badShapesNameTheField() {
        var c = TransformerConfig()
        #expect(throws: LabError(.model, key: "topK", "5 must be in 1...4 (experts)", related: ["experts"])) {
            try moeShape(topK: 5).check(c)
        }
        c.mlp = .gelu
        #expect(throws: LabError(.model, key: "model.mlp", "must be swiglu: the experts are SwiGLU MLPs")) {
            try moeShape().check(c)
        }
    }
}
