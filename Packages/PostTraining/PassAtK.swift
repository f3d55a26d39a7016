// pass@k, the unbiased estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained
// on Code"): with n samples of which c are correct, the chance that k drawn without replacement
// include a correct one, 1 - C(n-c, k) / C(n, k), computed as 1 - prod_{i=n-c+1}^{n} (1 - k/i),
// which never forms the large binomials. mean@k, the mean of k samples' scores, is what R1
// reports as pass@1 (k samples at temperature 0.6).

public enum PassAtK {
    /// 1 - C(n-c, k) / C(n, k); needs n >= 1, k in 1...n and c in 0...n.
    public static func estimate(samples n: Int, correct c: Int, k: Int) -> Double {
        precondition(n >= 1 && (1...n).contains(k) && (0...n).contains(c), "pass@k needs 1 <= k <= n and 0 <= c <= n")
        if c == 0 { return 0 }
        if n - c < k { return 1 }  // every draw of k holds a correct sample
        var fail = 1.0
        for i in (n - c + 1)...n { fail *= 1 - Double(k) / Double(i) }
        return 1 - fail
    }

    /// The mean of the scores.
    public static func mean(_ scores: [Double]) -> Double {
        scores.isEmpty ? 0 : scores.reduce(0, +) / Double(scores.count)
    }
}
