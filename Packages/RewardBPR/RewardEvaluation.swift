// How close a learned reward gets to the truth, on held-out preference data (every number is
// something the papers cannot measure, because their true reward is unknown):
//   label accuracy     share of the annotator's pairs (all C(K,2) per prompt) the model orders as
//                      labelled: r_w > r_l
//   truth accuracy     share of pairs with different true rewards the model orders as the truth does
//   Bayes ceiling      the best label accuracy any predictor can reach at this noise level
//                      (SimulatedAnnotator.bayesCeiling)
//   Spearman           rank correlation of the scores with the true rewards over all responses
//                      (average ranks for ties)
//   calibration        pairs in a fixed orientation (lower index first), predicted P(a ≻ b) =
//                      σ(r_a − r_b) against the labels, in 10 equal-width bins; ECE = Σ_bins
//                      (n_bin / N) |mean predicted − observed frequency|
//   scale              the standard deviation of the scores
import Foundation

public struct CalibrationBin: Sendable, Equatable {
    public var count: Int
    public var meanPredicted: Double
    public var observed: Double
}

public struct RewardEvaluation: Sendable, Equatable {
    public var labelAccuracy: Double
    public var truthAccuracy: Double
    public var bayesCeiling: Double
    public var spearman: Double
    public var calibration: [CalibrationBin]
    public var expectedCalibrationError: Double
    public var scoreStd: Double

    /// `scores`: one per response of `data`, flattened (prompt-major).
    public init(scores: [Float], data: PreferenceData, annotator: SimulatedAnnotator) {
        precondition(scores.count == data.count * data.k, "RewardEvaluation: one score per response")
        let s = scores.map(Double.init)
        let truth = data.trueRewards.flatMap { $0 }
        let pairs = data.pairs()
        labelAccuracy = Double(pairs.count { s[$0.winner] > s[$0.loser] }) / Double(pairs.count)
        let distinct = pairs.filter { truth[$0.winner] != truth[$0.loser] }
        truthAccuracy =
            distinct.isEmpty
            ? .nan
            : Double(distinct.count { (s[$0.winner] > s[$0.loser]) == (truth[$0.winner] > truth[$0.loser]) })
                / Double(distinct.count)
        bayesCeiling = annotator.bayesCeiling(differences: pairs.map { truth[$0.winner] - truth[$0.loser] })
        spearman = Self.pearson(Self.ranks(s), Self.ranks(truth))
        var bins = Array(repeating: (n: 0, p: 0.0, y: 0.0), count: 10)
        for p in pairs {
            let (a, b) = (min(p.winner, p.loser), max(p.winner, p.loser))
            let predicted = 1 / (1 + exp(-(s[a] - s[b])))
            let k = min(Int(predicted * 10), 9)
            bins[k].n += 1
            bins[k].p += predicted
            bins[k].y += p.winner == a ? 1 : 0
        }
        calibration = bins.map { bin in
            let n = Double(bin.n)
            return CalibrationBin(
                count: bin.n, meanPredicted: bin.n > 0 ? bin.p / n : .nan, observed: bin.n > 0 ? bin.y / n : .nan)
        }
        var ece = 0.0
        for bin in calibration where bin.count > 0 {
            ece += Double(bin.count) / Double(pairs.count) * abs(bin.meanPredicted - bin.observed)
        }
        expectedCalibrationError = ece
        let mean = s.reduce(0, +) / Double(s.count)
        scoreStd = (s.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(s.count)).squareRoot()
    }

    public var metrics: [String: Double] {
        [
            "eval/label_accuracy": labelAccuracy, "eval/truth_accuracy": truthAccuracy,
            "eval/bayes_ceiling": bayesCeiling, "eval/spearman": spearman, "eval/ece": expectedCalibrationError,
            "eval/score_std": scoreStd,
        ]
    }

    /// Ranks 1...n, ties sharing their average rank.
    static func ranks(_ x: [Double]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] }
        var r = [Double](repeating: 0, count: x.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && x[order[j + 1]] == x[order[i]] { j += 1 }
            for k in i...j { r[order[k]] = Double(i + j) / 2 + 1 }
            i = j + 1
        }
        return r
    }

    static func pearson(_ a: [Double], _ b: [Double]) -> Double {
        let (ma, mb) = (a.reduce(0, +) / Double(a.count), b.reduce(0, +) / Double(b.count))
        var (sab, saa, sbb) = (0.0, 0.0, 0.0)
        for (x, y) in zip(a, b) {
            sab += (x - ma) * (y - mb)
            saa += (x - ma) * (x - ma)
            sbb += (y - mb) * (y - mb)
        }
        return saa > 0 && sbb > 0 ? sab / (saa * sbb).squareRoot() : .nan
    }
}
