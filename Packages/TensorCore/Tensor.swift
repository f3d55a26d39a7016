// Tensor: a Float32 n-d array in contiguous row-major storage, with a slot in the autograd graph.
// Follows PyTorch's eager model: ops build the graph as they run; `backward()` walks it.

/// 64-byte aligned Float32 buffer shared by a tensor and its reshaped views.
public final class Storage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    let byteCount: Int

    init(count: Int) {
        self.count = count
        byteCount = BufferPool.roundedByteCount(max(count, 1) * 4)
        pointer = BufferPool.shared.allocate(byteCount).bindMemory(to: Float.self, capacity: max(count, 1))
    }

    deinit { BufferPool.shared.release(UnsafeMutableRawPointer(pointer), byteCount) }
}

public final class Tensor: @unchecked Sendable, CustomStringConvertible {
    public let shape: [Int]
    public let count: Int
    public let storage: Storage
    /// Leaf tensors with `requiresGrad` receive `.grad` from `backward()`.
    public var requiresGrad: Bool
    public var grad: Tensor?
    /// The op that produced this tensor (nil for leaves and for tensors made without grad).
    var gradFn: GradNode?

    /// A fresh tensor; contents are uninitialised unless `zeroed`.
    public init(shape: [Int], zeroed: Bool = true) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.storage = Storage(count: count)
        self.requiresGrad = false
        if zeroed { storage.pointer.initialize(repeating: 0, count: count) }
    }

    /// A view sharing `storage` with a new shape (same element count).
    init(viewOf storage: Storage, shape: [Int]) {
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.storage = storage
        self.requiresGrad = false
    }

    public convenience init(_ values: [Float], shape: [Int]) {
        precondition(values.count == shape.reduce(1, *), "\(values.count) values do not fill shape \(shape)")
        self.init(shape: shape, zeroed: false)
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: values.count) }
    }

    public convenience init(_ values: [Float]) { self.init(values, shape: [values.count]) }

    public convenience init(scalar: Float) { self.init([scalar], shape: []) }

    public var data: UnsafeMutablePointer<Float> { storage.pointer }
    public var rank: Int { shape.count }
    public var isLeaf: Bool { gradFn == nil }

    public var array: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// The single value of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item needs a one-element tensor, got shape \(shape)")
        return data[0]
    }

    public subscript(_ index: Int...) -> Float {
        get { data[flatIndex(index)] }
        set { data[flatIndex(index)] = newValue }
    }

    func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == rank, "index \(index) has the wrong rank for shape \(shape)")
        var flat = 0
        for (i, n) in zip(index, shape) {
            precondition(i >= 0 && i < n, "index \(index) out of range for shape \(shape)")
            flat = flat * n + i
        }
        return flat
    }

    public var description: String {
        let preview: String = array.prefix(8).map { String($0) }.joined(separator: ", ")
        let more: String = count > 8 ? ", ..." : ""
        return "Tensor(shape: \(shape), [\(preview)\(more)])"
    }

    /// Size of dimension `axis` (negative counts from the end).
    public func size(_ axis: Int) -> Int { shape[normalizedAxis(axis)] }

    func normalizedAxis(_ axis: Int) -> Int {
        let a = axis < 0 ? axis + rank : axis
        precondition(a >= 0 && a < rank, "axis \(axis) out of range for shape \(shape)")
        return a
    }

    /// A deep copy that does not take part in autograd.
    public func copy() -> Tensor {
        let out = Tensor(shape: shape, zeroed: false)
        out.data.update(from: data, count: count)
        return out
    }

    /// The same values, cut from the graph (shares storage, as PyTorch's `detach`).
    public func detach() -> Tensor { Tensor(viewOf: storage, shape: shape) }

    /// Overwrites this tensor's values (no autograd): used by optimisers and loaders.
    public func assign(_ other: Tensor) {
        precondition(other.shape == shape, "assign: shape \(other.shape) into \(shape)")
        data.update(from: other.data, count: count)
    }

    public func fill(_ value: Float) { data.update(repeating: value, count: count) }

    /// True when both have the same shape and every element differs by at most atol + rtol * |other|.
    public func isClose(to other: Tensor, atol: Float = 1e-5, rtol: Float = 1e-5) -> Bool {
        guard shape == other.shape else { return false }
        for i in 0..<count {
            let a = data[i]
            let b = other.data[i]
            if a.isNaN || b.isNaN { return false }
            let tolerance: Float = atol + rtol * Swift.abs(b)
            if Swift.abs(a - b) > tolerance { return false }
        }
        return true
    }

    /// Largest absolute elementwise difference (shapes must match).
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(shape == other.shape, "maxAbsDifference: \(shape) vs \(other.shape)")
        var m: Float = 0
        for i in 0..<count { m = Swift.max(m, Swift.abs(data[i] - other.data[i])) }
        return m
    }

    /// Bit-for-bit equality of shape and values.
    public func isBitIdentical(to other: Tensor) -> Bool {
        shape == other.shape && memcmp(data, other.data, count * 4) == 0
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
