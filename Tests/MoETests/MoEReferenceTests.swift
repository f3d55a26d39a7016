// The DeepSeek-V3 gate and MoE layer against an independent implementation written from the V3
// paper (Scripts/reference/deepseek_fixtures.py, PyTorch in float64): experts chosen over s + b,
// gates from the unbiased sigmoid affinities normalised over the chosen ones, the layer's output
// and every gradient. The fixture's bias changes some choices, so a gate taken from s + b, or a
// choice made without b, fails here.
import MoE
import TensorCore
import TestSupport
import Testing

@Suite struct MoEReferenceTests {
    let fixture: ReferenceFixture
    let name = "v3-gate"

    init() throws { fixture = try ReferenceFixture("v3_gate_reference.json") }

    func int(_ key: String) -> Int { fixture.parameter(name, key) as! Int }

    func layer() -> MixtureOfExperts {
        var c = MoEConfig()
        c.experts = int("experts")
        c.topK = int("topK")
        c.expertHidden = int("expertHidden")
        c.sharedExperts = int("sharedExperts")
        c.router = .sigmoid
        c.normalizeGates = true
        c.balancing = .auxLossFree
        var rng = RNG(seed: 0)
        let layer = MixtureOfExperts(c, dModel: int("dModel"), rng: &rng)
        for (parameter, tensor) in layer.namedParameters() { tensor.assign(fixture.tensor(name, parameter)) }
        layer.routingBias.assign(fixture.tensor(name, "bias"))
        return layer
    }

    @Test func choiceAndGatesEqualThePaper() {
        let routing = Router.route(
            fixture.tensor(name, "h"), weight: fixture.tensor(name, "router.weight"), kind: .sigmoid,
            topK: int("topK"), normalizeGates: true, bias: fixture.tensor(name, "bias"))
        #expect(routing.experts == fixture.tensor(name, "chosen").array.map { Int($0) })
        let gates = fixture.tensor(name, "gates")
        #expect(routing.gates.isClose(to: gates, atol: 1e-6), "\(routing.gates.maxAbsDifference(gates))")
    }

    @Test func layerOutputAndGradientsEqualThePaper() {
        let layer = layer()
        let h = fixture.tensor(name, "h").requiringGrad()
        let out = layer(h, training: false)
        fixture.expectForwardAndGradients(name, out: out, input: h, parameters: layer.namedParameters())
    }
}
