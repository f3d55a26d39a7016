// Explained variance (detail 12's debug variable): 1 - Var(R - V) / Var(R); 1 when the critic
// predicts the returns, 0 when it does no better than their mean, negative when worse.

public enum ExplainedVariance {
    public static func of(predictions: [Float], targets: [Float]) -> Double {
        func variance(_ x: [Double]) -> Double {
            let mean = x.reduce(0, +) / Double(max(x.count, 1))
            return x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(x.count, 1))
        }
        let targetVariance = variance(targets.map(Double.init))
        guard targetVariance > 0 else { return .nan }
        return 1 - variance(zip(targets, predictions).map { Double($0) - Double($1) }) / targetVariance
    }
}
