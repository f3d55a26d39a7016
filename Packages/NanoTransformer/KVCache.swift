// The KV cache: what earlier positions left behind, per layer, in preallocated slabs written in
// place (grown in chunks when a sequence outgrows them), one slot per sequence with its own
// length, so a batch of sequences of different lengths needs no padding mask and a finished
// sequence simply stops being fed. Standard attention keeps two slabs per layer, K and V
// (S, capacity, KVH·D) after RoPE; a drop-in attention keeps its own (MLA: one slab of c_KV and
// k_R side by side).
import TensorCore

public final class KVCache {
    public let layers: Int
    /// Sequences the slabs hold (grows when a forward addresses a slot beyond it).
    public private(set) var slots: Int
    /// Positions each slot can hold before the slabs grow.
    public private(set) var capacity: Int
    /// Tokens added to the capacity when it grows (rounded up to what is needed).
    public let growth: Int
    /// Cached tokens per slot.
    public private(set) var lengths: [Int]
    /// slabs[layer][part]: (slots, capacity, width), allocated on a layer's first write.
    public private(set) var slabs: [[Tensor]]

    /// The forward in flight (between `begin` and `end`): the slot of each batch row, each row's
    /// cached length before it, and the tokens per row it adds.
    public private(set) var rows: [Int] = []
    public private(set) var starts: [Int] = []
    public private(set) var time = 0

    /// `slots` and `capacity` may be 0: the first forward sizes them (growing by `growth`).
    public init(layers: Int, slots: Int = 0, capacity: Int = 0, growth: Int = 256) {
        precondition(layers >= 1 && slots >= 0 && capacity >= 0 && growth >= 1, "KVCache: invalid sizes")
        self.layers = layers
        self.slots = slots
        self.capacity = capacity
        self.growth = growth
        lengths = Array(repeating: 0, count: slots)
        slabs = Array(repeating: [], count: layers)
    }

    /// Cached positions of slot 0 (a single sequence's cache length).
    public var length: Int { lengths.first ?? 0 }

    /// Opens a forward of `time` tokens per row; row b writes slot `slots[b]` (default b). Returns
    /// each row's positions (B·T values: the slot's length onwards). Grows the slabs if needed.
    public func begin(batch: Int, time: Int, slots chosen: [Int]? = nil) -> [Int] {
        let rows = chosen ?? Array(0..<batch)
        precondition(rows.count == batch && Set(rows).count == batch, "KVCache: one distinct slot per row")
        precondition(rows.allSatisfy { $0 >= 0 }, "KVCache: negative slot")
        let needed = rows.map { lengths.indices.contains($0) ? lengths[$0] : 0 }.max()! + time
        reserve(
            slots: (rows.max() ?? -1) + 1, capacity: needed > capacity ? Swift.max(needed, capacity + growth) : capacity
        )
        self.rows = rows
        starts = rows.map { lengths[$0] }
        self.time = time
        return starts.flatMap { start in (start..<(start + time)).map { $0 } }
    }

    /// Closes the forward: each row's slot grows by counted[b] tokens (default all `time`; fewer
    /// for right-padded rows whose padding is written but not kept).
    public func end(counted: [Int]? = nil) {
        let counted = counted ?? Array(repeating: time, count: rows.count)
        precondition(counted.count == rows.count && counted.allSatisfy { (0...time).contains($0) }, "KVCache: counts")
        for (row, n) in zip(rows, counted) { lengths[row] += n }
        (rows, starts, time) = ([], [], 0)
    }

    /// Makes room for at least `slots` sequences of `capacity` positions, keeping what is cached
    /// (a generator that knows its longest sequence reserves it once, exactly).
    public func reserve(slots wanted: Int, capacity wantedCapacity: Int) {
        let (newSlots, newCapacity) = (Swift.max(slots, wanted), Swift.max(capacity, wantedCapacity))
        guard newSlots != slots || newCapacity != capacity else { return }
        for layer in 0..<layers {
            slabs[layer] = slabs[layer].map { old in
                let width = old.shape[2]
                let new = Tensor(shape: [newSlots, newCapacity, width])
                for s in 0..<slots {
                    (new.data + s * newCapacity * width).update(
                        from: old.data + s * capacity * width, count: lengths[s] * width)
                }
                return new
            }
        }
        lengths += Array(repeating: 0, count: newSlots - slots)
        (slots, capacity) = (newSlots, newCapacity)
    }

    /// Writes the forward's new rows x (B, T, width...) of one part of a layer's cache into their
    /// slots at their positions; returns the part's slab (S, capacity, width).
    @discardableResult
    public func store(_ x: Tensor, layer: Int, part: Int) -> Tensor {
        precondition(x.shape[0] == rows.count && x.shape[1] == time, "KVCache.store: \(x.shape) outside begin/end")
        let width = x.count / Swift.max(rows.count * time, 1)
        if part == slabs[layer].count {
            slabs[layer].append(Tensor(shape: [slots, capacity, width]))
        }
        let slab = slabs[layer][part]
        precondition(slab.shape[2] == width, "KVCache.store: width \(width) for a slab of \(slab.shape[2])")
        for (b, slot) in rows.enumerated() {
            (slab.data + (slot * capacity + starts[b]) * width).update(
                from: x.data + b * time * width, count: time * width)
        }
        return slab
    }

    /// Keys each row attends to in the forward in flight: its cached tokens and the new ones.
    public var visibleLengths: [Int] { starts.map { $0 + time } }

    /// Copies slot `source`'s cached tokens into `target` (several samples of one prompt share
    /// one prefill).
    public func copy(slot source: Int, to target: Int) {
        reserve(slots: target + 1, capacity: lengths[source])
        for layer in slabs {
            for slab in layer {
                let width = slab.shape[2]
                (slab.data + target * capacity * width).update(
                    from: slab.data + source * capacity * width, count: lengths[source] * width)
            }
        }
        lengths[target] = lengths[source]
    }

    /// Float32 numbers one layer keeps per token (all its parts).
    public var elementsPerTokenPerLayer: Int { slabs[0].reduce(0) { $0 + $1.shape[2] } }

    /// Bytes per token over all layers: what the cache costs, from its slabs.
    public var bytesPerToken: Int {
        slabs.reduce(0) { $0 + $1.reduce(0) { $0 + $1.shape[2] } } * MemoryLayout<Float>.size
    }
}
