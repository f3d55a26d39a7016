// Shape ops: reshape is a view (shared storage); permute, slice, concat and stack copy.

extension Tensor {
    /// The same storage under a new shape; one dimension may be -1 (inferred).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let inferred = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != inferred }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            s[inferred] = count / known
        }
        precondition(s.reduce(1, *) == count, "cannot reshape \(shape) (\(count) elements) to \(newShape)")
        if s == shape { return self }
        let out = Tensor(viewOf: storage, shape: s)
        let inputShape = shape
        return record(out, "reshape", [self]) { g in [g.reshaped(inputShape)] }
    }

    /// Dimensions reordered: output dimension i is input dimension `order[i]` (copied).
    public func permuted(_ order: [Int]) -> Tensor {
        precondition(order.sorted() == Array(0..<rank), "permutation \(order) invalid for rank \(rank)")
        if order == Array(0..<rank) { return self }
        let outShape = order.map { shape[$0] }
        var inStrides = [Int](repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) { inStrides[d] = inStrides[d + 1] * shape[d + 1] }
        let strides = order.map { inStrides[$0] }
        let out = Tensor(shape: outShape, zeroed: false)
        // Walk the output in order; the input offset follows the permuted strides.
        let zero = [Int](repeating: 0, count: rank)
        let x = data
        let o = out.data
        forEachBroadcastRow(outShape, strides, zero) { start, aStart, _, n, aStep, _ in
            for j in 0..<n { o[start + j] = x[aStart + j * aStep] }
        }
        var inverse = [Int](repeating: 0, count: rank)
        for (i, d) in order.enumerated() { inverse[d] = i }
        return record(out, "permute", [self]) { g in [g.permuted(inverse)] }
    }

    /// Swaps two dimensions (copied).
    public func transposed(_ d0: Int = -2, _ d1: Int = -1) -> Tensor {
        var order = Array(0..<rank)
        order.swapAt(normalizedAxis(d0), normalizedAxis(d1))
        return permuted(order)
    }

    public func unsqueezed(_ axis: Int) -> Tensor {
        var s = shape
        s.insert(1, at: axis < 0 ? axis + rank + 1 : axis)
        return reshaped(s)
    }

    public func squeezed(_ axis: Int) -> Tensor {
        precondition(size(axis) == 1, "squeeze: dimension \(axis) of \(shape) is not 1")
        var s = shape
        s.remove(at: normalizedAxis(axis))
        return reshaped(s)
    }

    /// Elements `range` along `axis` (copied).
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        let a = normalizedAxis(axis)
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[a], "slice \(range) out of \(shape) axis \(a)")
        let (outer, n, inner) = axisSplit(a)
        var outShape = shape
        outShape[a] = range.count
        let out = Tensor(shape: outShape, zeroed: false)
        let len = range.count * inner
        for p in 0..<outer {
            (out.data + p * len).update(from: data + (p * n + range.lowerBound) * inner, count: len)
        }
        let inputShape = shape
        return record(out, "slice", [self]) { g in
            let dx = Tensor(shape: inputShape)
            for p in 0..<outer {
                (dx.data + (p * n + range.lowerBound) * inner).update(from: g.data + p * len, count: len)
            }
            return [dx]
        }
    }
}

/// Joins tensors along an existing axis (all other dimensions equal).
public func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
    precondition(!tensors.isEmpty, "concat of no tensors")
    let first = tensors[0]
    let a = first.normalizedAxis(axis)
    for t in tensors {
        precondition(
            t.rank == first.rank && (0..<t.rank).allSatisfy { $0 == a || t.shape[$0] == first.shape[$0] },
            "concat: shape \(t.shape) does not match \(first.shape) off axis \(a)")
    }
    let outer = first.shape[..<a].reduce(1, *)
    let inner = first.shape[(a + 1)...].reduce(1, *)
    let sizes = tensors.map { $0.shape[a] }
    var outShape = first.shape
    outShape[a] = sizes.reduce(0, +)
    let out = Tensor(shape: outShape, zeroed: false)
    let outRow = outShape[a] * inner
    var offset = 0
    for (t, n) in zip(tensors, sizes) {
        for p in 0..<outer {
            (out.data + p * outRow + offset * inner).update(from: t.data + p * n * inner, count: n * inner)
        }
        offset += n
    }
    return record(out, "concat", tensors) { g in
        var start = 0
        return sizes.map { n in
            defer { start += n }
            return g.slice(axis: a, start..<(start + n))
        }
    }
}

/// Stacks equal-shaped tensors along a new axis.
public func stack(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
    precondition(!tensors.isEmpty, "stack of no tensors")
    let a = axis < 0 ? axis + tensors[0].rank + 1 : axis
    return concat(tensors.map { $0.unsqueezed(a) }, axis: a)
}
