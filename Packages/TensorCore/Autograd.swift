// Reverse-mode automatic differentiation: each op records a GradNode with its inputs and a
// closure mapping the output gradient to input gradients; backward() runs them in reverse order.
import LabSupport

/// One recorded op: its inputs and the vector-Jacobian product for each of them.
final class GradNode {
    let op: String
    let inputs: [Tensor]
    /// Maps (dL/d(output), output) to dL/d(input) for each input (nil where an input needs no
    /// gradient). The engine passes the output in, so no closure has to capture it: a closure
    /// holding its own output would be a reference cycle (output -> node -> closure -> output).
    let backward: (Tensor, Tensor) -> [Tensor?]

    init(op: String, inputs: [Tensor], backward: @escaping (Tensor, Tensor) -> [Tensor?]) {
        self.op = op
        self.inputs = inputs
        self.backward = backward
    }
}

public enum GradMode {
    /// Whether ops record the graph; task- and thread-local, so parallel tests do not interfere.
    @TaskLocal public static var isEnabled = true
}

/// Runs `body` without recording a graph (evaluation, optimiser updates).
public func withNoGrad<T>(_ body: () throws -> T) rethrows -> T {
    try GradMode.$isEnabled.withValue(false) { try body() }
}

/// Attaches `backward` to `output` when gradients are recorded and any input needs one.
/// The closure must not capture `output` (see GradNode); use `recordUsingOutput` instead.
@inline(__always)
func record(
    _ output: Tensor, _ op: String, _ inputs: [Tensor], _ backward: @escaping (Tensor) -> [Tensor?]
) -> Tensor {
    recordUsingOutput(output, op, inputs) { g, _ in backward(g) }
}

/// As `record`, for backward passes that read the op's output: it arrives as the second argument.
@inline(__always)
func recordUsingOutput(
    _ output: Tensor, _ op: String, _ inputs: [Tensor], _ backward: @escaping (Tensor, Tensor) -> [Tensor?]
) -> Tensor {
    if GradMode.isEnabled, inputs.contains(where: { $0.requiresGrad }) {
        output.requiresGrad = true
        output.gradFn = GradNode(op: op, inputs: inputs, backward: backward)
    }
    return output
}

extension Tensor {
    /// Accumulates d(self)/d(leaf) * gradient into `.grad` of every leaf that requires grad.
    /// Calling it again without `zeroGrad` adds to the gradients (gradient accumulation).
    public func backward(_ gradient: Tensor? = nil) {
        precondition(requiresGrad, "backward() on a tensor that does not require grad")
        let seed =
            gradient
            ?? {
                precondition(count == 1, "backward() without a gradient needs a scalar, got shape \(shape)")
                return Tensor.ones(shape)
            }()
        precondition(seed.shape == shape, "backward: gradient shape \(seed.shape) != \(shape)")
        let order = topologicalOrder()
        var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): seed]
        withNoGrad {
            for tensor in order.reversed() {
                guard let g = grads.removeValue(forKey: ObjectIdentifier(tensor)) else { continue }
                guard let node = tensor.gradFn else {
                    tensor.accumulateGrad(g)
                    continue
                }
                let inputGrads = node.backward(g, tensor)
                for (input, inputGrad) in zip(node.inputs, inputGrads) {
                    guard input.requiresGrad, let inputGrad else { continue }
                    precondition(
                        inputGrad.shape == input.shape,
                        "\(node.op) backward produced gradient \(inputGrad.shape) for input \(input.shape)")
                    let key = ObjectIdentifier(input)
                    // Out of place: backward closures may hand the same tensor to several inputs.
                    grads[key] = grads[key].map { $0.addingWithoutGraph(inputGrad) } ?? inputGrad
                }
            }
        }
    }

    func accumulateGrad(_ g: Tensor) {
        if let existing = grad {
            elementwiseSum(existing.data, existing.data, g.data, count: count)
        } else {
            grad = g.copy()
        }
    }

    func addingWithoutGraph(_ other: Tensor) -> Tensor {
        let out = Tensor(shape: shape, zeroed: false)
        elementwiseSum(out.data, data, other.data, count: count)
        return out
    }

    /// Tensors reachable from self through recorded ops, inputs before outputs.
    func topologicalOrder() -> [Tensor] {
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        // Iterative DFS: deep graphs (long RL rollouts) must not overflow the stack.
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (tensor, expanded) = stack.popLast() {
            if expanded {
                order.append(tensor)
                continue
            }
            let id = ObjectIdentifier(tensor)
            if visited.contains(id) { continue }
            visited.insert(id)
            stack.append((tensor, true))
            for input in tensor.gradFn?.inputs ?? [] where input.requiresGrad {
                if !visited.contains(ObjectIdentifier(input)) { stack.append((input, false)) }
            }
        }
        return order
    }

    public func zeroGrad() { grad = nil }
}

/// out[i] = a[i] + b[i] (out may alias a), over the tensor core's threads.
func elementwiseSum(
    _ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int
) {
    let box = UncheckedSendable((out, a, b))
    parallelFor(count, costPerItem: 2) { range in
        let (out, a, b) = box.value
        forEachBlock8(range) { i, lanes in store8(load8(a + i, lanes) + load8(b + i, lanes), out + i, lanes) }
    }
}
