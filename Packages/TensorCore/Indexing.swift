// Indexing: gather along the last axis (log-probs of chosen tokens), embedding lookup,
// row select and scatter-add (MoE dispatch and combine), top-k, argmax and cumulative sum.

extension Tensor {
    /// out[r] = self[r, indices[r]] for x: (..., V) and one index per row; out: (...).
    public func gatherLast(_ indices: [Int]) -> Tensor {
        let v = shape.last!
        let rows = count / Swift.max(v, 1)
        precondition(indices.count == rows, "gatherLast: \(indices.count) indices for \(rows) rows of \(shape)")
        let out = Tensor(shape: Array(shape.dropLast()), zeroed: false)
        for r in 0..<rows {
            precondition(indices[r] >= 0 && indices[r] < v, "gatherLast: index \(indices[r]) out of 0..<\(v)")
            out.data[r] = data[r * v + indices[r]]
        }
        let inputShape = shape
        return record(out, "gather", [self]) { g in
            let dx = Tensor(shape: inputShape)
            for r in 0..<rows { dx.data[r * v + indices[r]] += g.data[r] }
            return [dx]
        }
    }

    /// Rows `indices` of a (N, C) tensor (repeats allowed): (k, C). The gradient scatter-adds.
    public func indexSelect(rows indices: [Int]) -> Tensor {
        precondition(rank == 2, "indexSelect needs a (N, C) tensor, got \(shape)")
        let (n, c) = (shape[0], shape[1])
        let out = Tensor(shape: [indices.count, c], zeroed: false)
        for (k, r) in indices.enumerated() {
            precondition(r >= 0 && r < n, "indexSelect: row \(r) out of 0..<\(n)")
            (out.data + k * c).update(from: data + r * c, count: c)
        }
        return record(out, "index_select", [self]) { g in [g.scatterAddRows(indices, rowCount: n)] }
    }

    /// A (rowCount, C) tensor of zeros with row k of self added into row indices[k].
    /// The gradient selects rows back.
    public func scatterAddRows(_ indices: [Int], rowCount: Int) -> Tensor {
        precondition(rank == 2 && indices.count == shape[0], "scatterAddRows: \(indices.count) indices for \(shape)")
        let c = shape[1]
        let out = Tensor(shape: [rowCount, c])
        for (k, r) in indices.enumerated() {
            precondition(r >= 0 && r < rowCount, "scatterAddRows: row \(r) out of 0..<\(rowCount)")
            let dst = out.data + r * c
            let src = data + k * c
            for j in 0..<c { dst[j] += src[j] }
        }
        return record(out, "scatter_add", [self]) { g in [g.indexSelect(rows: indices)] }
    }

    /// The k largest values along the last axis (descending; ties to the lower index) and their
    /// indices. Values carry gradients; indices do not.
    public func topK(_ k: Int) -> (values: Tensor, indices: [Int]) {
        let v = shape.last!
        precondition(k >= 1 && k <= v, "topK: k = \(k) for last dimension \(v)")
        let rows = count / v
        var indices = [Int](repeating: 0, count: rows * k)
        var order = [Int](repeating: 0, count: v)
        for r in 0..<rows {
            let row = data + r * v
            for j in 0..<v { order[j] = j }
            // Partial selection sort is fine for the small k of routers; stable for ties.
            for s in 0..<k {
                var best = s
                for j in (s + 1)..<v where row[order[j]] > row[order[best]] { best = j }
                order.swapAt(s, best)
                if best != s { order[(s + 1)...best].sort() }
                indices[r * k + s] = order[s]
            }
        }
        let flatIndices = (0..<(rows * k)).map { (r: $0 / k, j: indices[$0]) }
        let picked = reshaped([rows, v]).gatherRows(flatIndices, k: k)
        return (picked.reshaped(Array(shape.dropLast()) + [k]), indices)
    }

    /// out[r, s] = self[r, picks[r*k + s].j] for a (rows, v) tensor.
    func gatherRows(_ picks: [(r: Int, j: Int)], k: Int) -> Tensor {
        let v = shape[1]
        let rows = shape[0]
        let out = Tensor(shape: [rows, k], zeroed: false)
        for (i, p) in picks.enumerated() { out.data[i] = data[p.r * v + p.j] }
        return record(out, "gather_rows", [self]) { g in
            let dx = Tensor(shape: [rows, v])
            for (i, p) in picks.enumerated() { dx.data[p.r * v + p.j] += g.data[i] }
            return [dx]
        }
    }

    /// Index of the maximum along the last axis for every row (first one on ties).
    public func argmax() -> [Int] {
        let v = shape.last!
        return (0..<(count / v)).map { r in
            let row = data + r * v
            var best = 0
            for j in 1..<v where row[j] > row[best] { best = j }
            return best
        }
    }

    /// Cumulative sum along the last axis (no gradient).
    public func cumsum() -> Tensor {
        let v = shape.last!
        let out = Tensor(shape: shape, zeroed: false)
        for r in 0..<(count / Swift.max(v, 1)) {
            var s: Float = 0
            for j in 0..<v {
                s += data[r * v + j]
                out.data[r * v + j] = s
            }
        }
        return out
    }
}

/// Rows of `weight` (V, C) for each id: output shape idsShape + [C]. The gradient scatter-adds
/// into the used rows only.
public func embedding(_ weight: Tensor, ids: [Int], shape idsShape: [Int]) -> Tensor {
    precondition(ids.count == idsShape.reduce(1, *), "embedding: \(ids.count) ids for shape \(idsShape)")
    precondition(weight.rank == 2, "embedding weight must be (V, C), got \(weight.shape)")
    for id in ids where id < 0 || id >= weight.shape[0] {
        preconditionFailure("embedding: token id \(id) out of vocabulary 0..<\(weight.shape[0])")
    }
    return weight.indexSelect(rows: ids).reshaped(idsShape + [weight.shape[1]])
}
