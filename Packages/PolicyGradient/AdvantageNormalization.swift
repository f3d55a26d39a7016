// Advantage normalisation (detail 7): (A - mean A) / (std A + 1e-8) over one minibatch, with the
// unbiased std as torch's Tensor.std (CleanRL normalises per minibatch, not per batch).

public enum AdvantageNormalization {
    public static func normalized(_ advantages: [Float], eps: Float = 1e-8) -> [Float] {
        let n = advantages.count
        guard n > 1 else { return advantages.map { _ in 0 } }
        let mean = advantages.reduce(0.0) { $0 + Double($1) } / Double(n)
        let variance = advantages.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(n - 1)
        let std = Float(variance.squareRoot())
        return advantages.map { (Float(Double($0) - mean)) / (std + eps) }
    }
}
