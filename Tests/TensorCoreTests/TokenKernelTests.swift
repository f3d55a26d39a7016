// The inference and RL kernels against their plain definitions: attention over a ragged KV
// cache equals ordinary attention on each sequence's own keys, and the fused per-token
// log-prob/entropy kernel equals an explicit tempered log-softmax.
import Foundation
import TensorCore
import Testing

@Suite struct TokenKernelTests {
    /// Slot s of a slab holds sequence s's keys; ordinary attention on each sequence alone is the
    /// reference, with Tq new queries at the end (prefill: Tq = length; decode: Tq = 1).
    @Test(arguments: [1, 3])
    func cachedAttentionEqualsAttentionPerSequence(queries tq: Int) {
        var rng = RNG(seed: 1)
        let (heads, kvHeads, d, dv, capacity) = (4, 2, 5, 3, 9)
        let lengths = [4, 9, 3]  // slots hold different numbers of keys
        let keySlab = Tensor.randn([3, capacity, kvHeads * d], rng: &rng)
        // Values share a wider slab, as MLA's [c_KV ; k_R]: columns 2 ..< 2 + KVH * Dv of 10.
        let valueSlab = Tensor.randn([3, capacity, 10], rng: &rng)
        let slots = [2, 0, 1]  // batch row b reads slot slots[b]
        let q = Tensor.randn([3, tq, heads, d], rng: &rng)
        let out = cachedAttention(
            q: q, keys: SlabView(keySlab, heads: kvHeads, dim: d),
            values: SlabView(valueSlab, heads: kvHeads, dim: dv, offset: 2),
            slots: slots, lengths: slots.map { lengths[$0] })
        #expect(out.shape == [3, tq, heads, dv])
        for (row, slot) in slots.enumerated() {
            let n = lengths[slot]
            let k = keySlab.slice(axis: 0, slot..<(slot + 1)).slice(axis: 1, 0..<n).reshaped([1, n, kvHeads, d])
            let v = valueSlab.slice(axis: 0, slot..<(slot + 1)).slice(axis: 1, 0..<n).slice(
                axis: 2, 2..<(2 + kvHeads * dv)
            )
            .reshaped([1, n, kvHeads, dv])
            let expected = attention(q: q.slice(axis: 0, row..<(row + 1)), k: k, v: v, causal: true)
            let got = out.slice(axis: 0, row..<(row + 1))
            #expect(got.array == expected.array, "row \(row): the same per-head kernel, so the same bits")
        }
    }

    @Test(arguments: [Float(1), 0.7, 2.5])
    func tokenLogProbsEqualTheTemperedLogSoftmax(temperature: Float) {
        var rng = RNG(seed: 2)
        let logits = Tensor.randn([5, 11], std: 3, rng: &rng)
        let targets = [3, -1, 10, 0, 7]
        let (lp, h) = tokenLogProbs(logits, targets: targets, temperature: temperature, entropy: true)
        let logSoftmax = (logits * (1 / temperature)).logSoftmax()
        for (r, t) in targets.enumerated() {
            guard t >= 0 else {
                #expect(lp.data[r] == 0 && h!.data[r] == 0)
                continue
            }
            #expect(abs(lp.data[r] - logSoftmax[r, t]) < 1e-5)
            var entropy: Float = 0
            for j in 0..<11 { entropy -= expf(logSoftmax[r, j]) * logSoftmax[r, j] }
            #expect(abs(h!.data[r] - entropy) < 1e-5)
        }
    }

    @Test func rowStatisticsGiveTheSamplerTheKernelsNumbers() {
        // The sampler's weights and log-normaliser come from the same function as the kernel's.
        var rng = RNG(seed: 3)
        let logits = Tensor.randn([1, 37], std: 2, rng: &rng)
        var weights = [Float](repeating: 0, count: 37)
        let stats = weights.withUnsafeMutableBufferPointer {
            softmaxRowStatistics(logits.data, count: 37, invTemperature: 1 / 0.8, weights: $0.baseAddress!)
        }
        let (lp, _) = tokenLogProbs(logits, targets: [5], temperature: 0.8)
        #expect(lp.data[0] == logits.data[5] * (1 / 0.8) - stats.logSumExp)
        let total = weights.reduce(0, +)
        #expect(abs(weights[5] / total - expf(lp.data[0])) < 1e-6)
    }
}
