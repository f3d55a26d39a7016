// One optimiser update's gradient: zero the gradients, back-propagate each of n micro-batches'
// losses divided by n (so n micro-batches of b give the gradient of one batch of n·b: gradient
// accumulation), then clip the global norm. The caller steps the optimiser, or not (a spike guard
// may skip the update after seeing the loss and the norm). The shared training loop's tasks
// (ExperimentKit) and PPO's minibatch steps all take their gradient here.

public enum GradientStep {
    /// Runs `loss(k)` for k in 0..<microBatches, accumulating the gradients of loss / microBatches.
    /// Returns the mean loss and the global gradient norm before clipping (nil when `clip` is nil:
    /// no norm is computed). `clip` as clipGradNorm takes it.
    public static func accumulate(
        _ optimizer: any Optimizer, parameters: [Tensor], microBatches n: Int, clip: Float?,
        loss: (Int) throws -> Tensor
    ) rethrows -> (meanLoss: Float, gradNorm: Float?) {
        precondition(n >= 1, "GradientStep: \(n) micro-batches")
        optimizer.zeroGrad()
        var meanLoss: Float = 0
        for k in 0..<n {
            let l = try loss(k)
            (l * (1 / Float(n))).backward()
            meanLoss += l.item / Float(n)
        }
        return (meanLoss, clip.map { clipGradNorm(parameters, maxNorm: $0) })
    }
}
