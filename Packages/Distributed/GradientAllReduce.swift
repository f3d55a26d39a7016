// Data parallelism's one collective per step: every parameter's gradient, and the step's own sums
// (its loss), packed into one buffer and summed over the processes by a single all-reduce (not a
// call per tensor: a call costs a latency, the buffer only bandwidth). Then every process holds the
// gradient of the whole global batch and takes the same optimiser step.
import LabSupport
import TensorCore

extension Communicator {
    /// Sums the gradients of `parameters` and `sums` over every process. A parameter that has no
    /// gradient anywhere keeps none (as in one process); one that has a gradient on some process
    /// gets the sum on all.
    public func allReduceGradients(_ parameters: [Tensor], sums: inout [Float]) throws {
        guard size > 1 else { return }
        let total = parameters.reduce(0) { $0 + $1.count }
        // [gradients | has-gradient flags | sums]
        var buffer = [Float](repeating: 0, count: total + parameters.count + sums.count)
        var offset = 0
        for (i, p) in parameters.enumerated() {
            if let g = p.grad {
                for j in 0..<g.count { buffer[offset + j] = g.data[j] }
                buffer[total + i] = 1
            }
            offset += p.count
        }
        for (k, s) in sums.enumerated() { buffer[total + parameters.count + k] = s }
        try allReduceSum(&buffer, what: "gradients of \(parameters.count) parameters")
        offset = 0
        for (i, p) in parameters.enumerated() {
            defer { offset += p.count }
            guard buffer[total + i] > 0 else { continue }
            if p.grad == nil { p.grad = Tensor(shape: p.shape) }
            let g = p.grad!
            for j in 0..<g.count { g.data[j] = buffer[offset + j] }
        }
        sums = Array(buffer[(total + parameters.count)...])
    }

    /// Rank 0's parameters on every process (the run starts from one model).
    public func broadcastParameters(_ parameters: [(name: String, tensor: Tensor)]) throws {
        guard size > 1 else { return }
        var buffer = [Float](repeating: 0, count: parameters.reduce(0) { $0 + $1.tensor.count })
        var offset = 0
        for (_, t) in parameters {
            for j in 0..<t.count { buffer[offset + j] = t.data[j] }
            offset += t.count
        }
        try broadcast(&buffer, what: "the initial weights of \(parameters.count) parameters")
        offset = 0
        for (_, t) in parameters {
            for j in 0..<t.count { t.data[j] = buffer[offset + j] }
            offset += t.count
        }
    }

    /// The micro-batches of a global step that this process computes: an equal, contiguous share
    /// of `count` (count divisible by the world size; the caller checks it and names its key).
    public func share(of count: Int) -> Range<Int> {
        let per = count / size
        return (rank * per)..<((rank + 1) * per)
    }
}
