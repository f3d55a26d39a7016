// Broadcasting binary ops (numpy rules) and their gradients, which sum the output gradient back
// to each input's shape. Dimensions are collapsed first so the inner loop is a long run.
import LabSupport

/// The numpy broadcast of two shapes.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
    let rank = max(a.count, b.count)
    var out = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        precondition(da == db || da == 1 || db == 1, "shapes \(a) and \(b) do not broadcast")
        out[i] = da == 1 ? db : da
    }
    return out
}

/// Strides of `shape` read as if broadcast to `outShape` (0 along broadcast dimensions).
func broadcastStrides(_ shape: [Int], to outShape: [Int]) -> [Int] {
    let offset = outShape.count - shape.count
    var strides = [Int](repeating: 0, count: outShape.count)
    var running = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[i + offset] = shape[i] == 1 ? 0 : running
        running *= shape[i]
    }
    return strides
}

/// Merges adjacent dimensions that every operand traverses contiguously (or skips together).
func collapseDimensions(_ shape: [Int], _ strides: [[Int]]) -> (shape: [Int], strides: [[Int]]) {
    var outShape: [Int] = []
    var outStrides: [[Int]] = strides.map { _ in [] }
    for d in 0..<shape.count where shape[d] != 1 {
        if let last = outShape.last,
            strides.indices.allSatisfy({ outStrides[$0].last! == strides[$0][d] * shape[d] })
        {
            outShape[outShape.count - 1] = last * shape[d]
            for s in strides.indices { outStrides[s][outStrides[s].count - 1] = strides[s][d] }
        } else {
            outShape.append(shape[d])
            for s in strides.indices { outStrides[s].append(strides[s][d]) }
        }
    }
    if outShape.isEmpty { return ([1], strides.map { _ in [0] }) }
    return (outShape, outStrides)
}

/// Calls `row(outStart, aStart, bStart, length, aStep, bStep)` for each innermost run of a
/// broadcast of two operands over `outShape`.
@inline(__always)
func forEachBroadcastRow(
    _ outShape: [Int], _ aStrides: [Int], _ bStrides: [Int],
    _ row: (Int, Int, Int, Int, Int, Int) -> Void
) {
    let (shape, strides) = collapseDimensions(outShape, [aStrides, bStrides])
    let sa = strides[0]
    let sb = strides[1]
    let r = shape.count
    let inner = shape[r - 1]
    let outerCount = shape.dropLast().reduce(1, *)
    var index = [Int](repeating: 0, count: r)
    var aOff = 0
    var bOff = 0
    for o in 0..<outerCount {
        row(o * inner, aOff, bOff, inner, sa[r - 1], sb[r - 1])
        var d = r - 2
        while d >= 0 {
            index[d] += 1
            aOff += sa[d]
            bOff += sb[d]
            if index[d] < shape[d] { break }
            aOff -= sa[d] * shape[d]
            bOff -= sb[d] * shape[d]
            index[d] = 0
            d -= 1
        }
    }
}

/// out[i] = f(a[i'], b[i'']) over the broadcast shape. `f8`, the same function on 8 lanes,
/// serves equal shapes (one closure call per 8 elements when the loop runs on threads).
@inline(__always)
func broadcastMap(
    _ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float, _ f8: ((Float8, Float8) -> Float8)? = nil
) -> Tensor {
    let outShape = broadcastShape(a.shape, b.shape)
    let out = Tensor(shape: outShape, zeroed: false)
    let o = out.data
    let x = a.data
    let y = b.data
    if a.shape == b.shape, let f8 {
        let box = UncheckedSendable((o, x, y))
        parallelFor(out.count) { range in
            let (o, x, y) = box.value
            forEachBlock8(range) { i, lanes in store8(f8(load8(x + i, lanes), load8(y + i, lanes)), o + i, lanes) }
        }
    } else if a.shape == b.shape {
        for i in 0..<out.count { o[i] = f(x[i], y[i]) }
    } else if b.count == 1 {
        let s = y[0]
        for i in 0..<out.count { o[i] = f(x[i], s) }
    } else if a.count == 1 {
        let s = x[0]
        for i in 0..<out.count { o[i] = f(s, y[i]) }
    } else {
        let sa = broadcastStrides(a.shape, to: outShape)
        let sb = broadcastStrides(b.shape, to: outShape)
        forEachBroadcastRow(outShape, sa, sb) { start, aStart, bStart, n, aStep, bStep in
            for j in 0..<n { o[start + j] = f(x[aStart + j * aStep], y[bStart + j * bStep]) }
        }
    }
    return out
}

extension Tensor {
    /// Sums this tensor over the dimensions that were broadcast to reach its shape from `target`.
    func sumToShape(_ target: [Int]) -> Tensor {
        if shape == target { return self }
        let out = Tensor(shape: target)
        let strides = broadcastStrides(target, to: shape)
        let zero = [Int](repeating: 0, count: shape.count)
        let o = out.data
        let g = data
        forEachBroadcastRow(shape, strides, zero) { start, tStart, _, n, tStep, _ in
            if tStep == 0 {
                var s: Float = 0
                for j in 0..<n { s += g[start + j] }
                o[tStart] += s
            } else {
                for j in 0..<n { o[tStart + j * tStep] += g[start + j] }
            }
        }
        return out
    }

    /// This tensor broadcast (copied) to `outShape`; the gradient sums back.
    public func expand(to outShape: [Int]) -> Tensor {
        if shape == outShape { return self }
        precondition(broadcastShape(shape, outShape) == outShape, "cannot expand \(shape) to \(outShape)")
        let out = broadcastMap(self, Tensor.zeros(outShape)) { x, _ in x }
        let inputShape = shape
        return record(out, "expand", [self]) { g in [g.sumToShape(inputShape)] }
    }
}

public func + (a: Tensor, b: Tensor) -> Tensor {
    let out: Tensor
    if a.shape == b.shape {  // residual connections: the common case, without a closure per 8 elements
        out = Tensor(shape: a.shape, zeroed: false)
        elementwiseSum(out.data, a.data, b.data, count: out.count)
    } else {
        out = broadcastMap(a, b, +, +)
    }
    return record(out, "add", [a, b]) { g in [g.sumToShape(a.shape), g.sumToShape(b.shape)] }
}

public func - (a: Tensor, b: Tensor) -> Tensor {
    let out = broadcastMap(a, b, -, -)
    return record(out, "sub", [a, b]) { g in [g.sumToShape(a.shape), (-g).sumToShape(b.shape)] }
}

public func * (a: Tensor, b: Tensor) -> Tensor {
    let out = broadcastMap(a, b, *, *)
    return record(out, "mul", [a, b]) { g in
        [
            a.requiresGrad ? (g * b).sumToShape(a.shape) : nil,
            b.requiresGrad ? (g * a).sumToShape(b.shape) : nil,
        ]
    }
}

public func / (a: Tensor, b: Tensor) -> Tensor {
    let out = broadcastMap(a, b, /, /)
    return recordUsingOutput(out, "div", [a, b]) { g, out in
        [
            a.requiresGrad ? (g / b).sumToShape(a.shape) : nil,
            b.requiresGrad ? (-(g * out) / b).sumToShape(b.shape) : nil,
        ]
    }
}

/// Elementwise minimum; the gradient goes to `a` where a <= b (ties to a), else to `b`.
public func minimum(_ a: Tensor, _ b: Tensor) -> Tensor {
    let out = broadcastMap(a, b) { x, y in x <= y ? x : y }
    return record(out, "minimum", [a, b]) { g in
        let pickA = broadcastMap(a, b) { x, y in x <= y ? 1 : 0 }
        return [(g * pickA).sumToShape(a.shape), (g * (1 - pickA)).sumToShape(b.shape)]
    }
}

/// Elementwise maximum; the gradient goes to `a` where a >= b (ties to a), else to `b`.
public func maximum(_ a: Tensor, _ b: Tensor) -> Tensor {
    let out = broadcastMap(a, b) { x, y in x >= y ? x : y }
    return record(out, "maximum", [a, b]) { g in
        let pickA = broadcastMap(a, b) { x, y in x >= y ? 1 : 0 }
        return [(g * pickA).sumToShape(a.shape), (g * (1 - pickA)).sumToShape(b.shape)]
    }
}

/// mask ? a : b elementwise (mask of 0/1 floats, all three broadcast together).
public func `where`(_ mask: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
    let shape = broadcastShape(mask.shape, broadcastShape(a.shape, b.shape))
    let m = mask.expand(to: shape).detach()
    let ea = a.expand(to: shape)
    let eb = b.expand(to: shape)
    let out = Tensor(shape: shape, zeroed: false)
    for i in 0..<out.count { out.data[i] = m.data[i] != 0 ? ea.data[i] : eb.data[i] }
    return record(out, "where", [ea, eb]) { g in
        let ga = Tensor(shape: shape, zeroed: false)
        let gb = Tensor(shape: shape, zeroed: false)
        for i in 0..<g.count {
            let pick = m.data[i] != 0
            ga.data[i] = pick ? g.data[i] : 0
            gb.data[i] = pick ? 0 : g.data[i]
        }
        return [ga, gb]
    }
}

// Comparisons give 0/1 masks and take no part in autograd.
public func greater(_ a: Tensor, _ b: Tensor) -> Tensor { broadcastMap(a, b) { $0 > $1 ? 1 : 0 } }
public func greaterEqual(_ a: Tensor, _ b: Tensor) -> Tensor { broadcastMap(a, b) { $0 >= $1 ? 1 : 0 } }
public func less(_ a: Tensor, _ b: Tensor) -> Tensor { broadcastMap(a, b) { $0 < $1 ? 1 : 0 } }
public func lessEqual(_ a: Tensor, _ b: Tensor) -> Tensor { broadcastMap(a, b) { $0 <= $1 ? 1 : 0 } }
public func equal(_ a: Tensor, _ b: Tensor) -> Tensor { broadcastMap(a, b) { $0 == $1 ? 1 : 0 } }
