import ExperimentKit
import Foundation
import HDF5Store
// Comparing ablations from results files: runs are grouped by ablation and aggregated over
// seeds. For each metric: the final value (mean ± sample std over seeds), the best value, the
// area under the curve (the trapezoid area divided by the step span: the curve's mean level),
// and the final value's difference from the baseline ablation, with its 95 % interval paired by
// seed: d_s = final(ablation, s) − final(baseline, s) over the seeds both have, mean(d) ±
// t(0.975, n − 1) · sd(d) / √n. A difference is beyond the seed noise when that interval excludes
// 0 (marked *); with 2 seeds t is 12.7, so only a difference that is nearly the same in both
// seeds qualifies.
import LabSupport

public struct AblationRow: Sendable {
    public let ablation: String
    public let seeds: [Int]
    public let finalMean: Double
    public let finalStd: Double
    public let bestMean: Double
    public let aucMean: Double
    public var deltaFinal: Double?
    /// The paired 95 % interval of the difference from the baseline (nil: fewer than 2 common seeds).
    public var pairedInterval: (low: Double, high: Double)?
    /// Per seed, the final value (for pairing).
    public let finals: [Int: Double]

    /// Whether the paired interval excludes 0.
    public var beyondNoise: Bool { pairedInterval.map { $0.low > 0 || $0.high < 0 } ?? false }
}

/// Two-sided 95 % quantiles of Student's t for 1...30 degrees of freedom (1.96 beyond).
let tQuantile975: [Double] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
    2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
]

/// The 95 % interval of the mean of paired differences (nil for fewer than 2).
func pairedInterval(_ differences: [Double]) -> (low: Double, high: Double)? {
    guard differences.count >= 2 else { return nil }
    let (mean, sd) = meanStd(differences)
    let t = differences.count - 1 <= tQuantile975.count ? tQuantile975[differences.count - 2] : 1.96
    let half = t * sd / Double(differences.count).squareRoot()
    return (mean - half, mean + half)
}

public struct MetricComparison: Sendable {
    public let metric: String
    public let lowerIsBetter: Bool
    public let rows: [AblationRow]
    public let baseline: String?
}

/// Default direction of a metric: keys naming a cost (loss, error, perplexity, kl, mae, seconds,
/// tokens_per_word, cache_bytes, and MoE's imbalance: load_cv, max_over_mean, dropped, routing_change)
/// are better when lower; everything else (tokens_per_s too) when higher.
/// `lab compare --lower-is-better KEY / --higher-is-better KEY` overrides it.
public func isLowerBetter(_ metric: String) -> Bool {
    let key = metric.lowercased()
    return [
        "loss", "error", "perplexity", "kl", "mae", "seconds", "tokens_per_word", "cache_bytes", "load_cv",
        "max_over_mean", "dropped", "routing_change",
    ].contains {
        key.contains($0)
    }
}

/// Every results file under `paths` (files or folders, recursively). A run's results file is
/// `seed-N.h5`; the files it writes beside it carry a second extension (`seed-N.ckpt.h5`, a
/// checkpoint; `seed-N.preferences.h5`, reward-bpr's data) and are skipped.
func findResultsFiles(_ paths: [String]) throws -> [String] {
    var files: [String] = []
    for path in paths {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw LabError(.config, "\(path): no such file or folder")
        }
        if isDirectory.boolValue {
            let found = (FileManager.default.enumerator(atPath: path)?.allObjects as? [String] ?? [])
                .filter { $0.hasSuffix(".h5") && !(($0 as NSString).lastPathComponent.dropLast(3).contains(".")) }
                .sorted()
                .map { "\(path)/\($0)" }
            files += found
        } else {
            files.append(path)
        }
    }
    if files.isEmpty { throw LabError(.config, "\(paths.joined(separator: " ")): no results files (*.h5) found") }
    return files
}

/// Loads results files, requiring that they all come from one experiment.
/// The results files, all of one experiment unless `mixed` (a frontier spans experiments).
func loadResults(_ files: [String], mixed: Bool = false) throws -> [RunResults] {
    var runs: [RunResults] = []
    for file in files {
        let run = try RunResults.load(from: file)
        if !mixed, let first = runs.first, first.experiment != run.experiment {
            throw LabError(
                .config,
                "\(file): results of experiment '\(run.experiment)', but the others are '\(first.experiment)'")
        }
        runs.append(run)
    }
    return runs
}

/// Mean and sample standard deviation (0 for a single value).
func meanStd(_ values: [Double]) -> (Double, Double) {
    let mean = values.reduce(0, +) / Double(max(values.count, 1))
    guard values.count > 1 else { return (mean, 0) }
    let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)
    return (mean, variance.squareRoot())
}

/// Trapezoid area under (steps, values) divided by the step span; the value itself for one point.
func normalizedArea(_ series: MetricSeries) -> Double {
    guard series.values.count > 1, let first = series.steps.first, let last = series.steps.last, last > first else {
        return series.values.first ?? .nan
    }
    var area = 0.0
    for i in 1..<series.values.count {
        area += Double(series.steps[i] - series.steps[i - 1]) * (series.values[i] + series.values[i - 1]) / 2
    }
    return area / Double(last - first)
}

/// A run's series for `metric`; a summary value of that name counts as a one-point series.
func series(_ run: RunResults, _ metric: String) -> MetricSeries? {
    if let s = run.metrics[metric], !s.values.isEmpty { return s }
    return run.summary[metric].map { MetricSeries(steps: [0], values: [$0]) }
}

/// Groups `runs` by ablation and compares `metric` (a metric or a summary) across them. The
/// baseline defaults to "base".
public func compare(
    _ runs: [RunResults], metric: String, baseline: String? = nil, lowerIsBetter: Bool? = nil
) throws -> MetricComparison {
    let lower = lowerIsBetter ?? isLowerBetter(metric)
    var byAblation: [String: [RunResults]] = [:]
    for run in runs where series(run, metric) != nil {
        byAblation[run.ablation, default: []].append(run)
    }
    guard !byAblation.isEmpty else {
        let known = Set(runs.flatMap { Array($0.metrics.keys) + Array($0.summary.keys) }).sorted()
            .joined(separator: ", ")
        throw LabError(.config, "no run has metric '\(metric)' (metrics: \(known))")
    }
    var rows: [AblationRow] = byAblation.keys.sorted().map { ablation in
        let group = byAblation[ablation]!.sorted { $0.seed < $1.seed }
        let curves = group.map { series($0, metric)! }
        let (finalMean, finalStd) = meanStd(curves.map { $0.values.last! })
        let best = curves.map { lower ? $0.values.min()! : $0.values.max()! }
        return AblationRow(
            ablation: ablation, seeds: group.map(\.seed), finalMean: finalMean, finalStd: finalStd,
            bestMean: meanStd(best).0, aucMean: meanStd(curves.map(normalizedArea)).0, deltaFinal: nil,
            pairedInterval: nil,
            finals: Dictionary(zip(group.map(\.seed), curves.map { $0.values.last! }), uniquingKeysWith: { a, _ in a }))
    }
    let base = baseline ?? (byAblation["base"] != nil ? "base" : nil)
    if let base {
        guard let reference = rows.first(where: { $0.ablation == base }) else {
            throw LabError(.config, "baseline ablation '\(base)' has no runs with metric '\(metric)'")
        }
        for i in rows.indices {
            rows[i].deltaFinal = rows[i].finalMean - reference.finalMean
            let common = rows[i].finals.keys.filter { reference.finals[$0] != nil }.sorted()
            rows[i].pairedInterval = pairedInterval(common.map { rows[i].finals[$0]! - reference.finals[$0]! })
        }
        // Baseline first, the rest by name.
        rows.sort { ($0.ablation == base ? 0 : 1, $0.ablation) < ($1.ablation == base ? 0 : 1, $1.ablation) }
    }
    return MetricComparison(metric: metric, lowerIsBetter: lower, rows: rows, baseline: base)
}

func format(_ x: Double) -> String {
    if x.isNaN { return "nan" }
    let a = abs(x)
    if a != 0 && (a >= 1e5 || a < 1e-3) { return String(format: "%.3e", x) }
    return String(format: a >= 100 ? "%.1f" : "%.4f", x)
}

extension MetricComparison {
    /// The comparison as a markdown table.
    public var markdown: String {
        let direction = lowerIsBetter ? "lower is better" : "higher is better"
        var lines = [
            "**\(metric)** (\(direction); mean ± std over seeds; the Δ's 95 % interval paired by seed, "
                + "* where it excludes 0)", "",
            "| ablation | seeds | final | best | AUC | \(baseline.map { "Δ final vs \($0)" } ?? "Δ final") | paired 95 % CI |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        let signed = { (x: Double) in (x >= 0 ? "+" : "") + format(x) }
        for row in rows {
            let delta = row.deltaFinal.map(signed) ?? "-"
            let interval =
                row.pairedInterval.map { "[\(signed($0.low)), \(signed($0.high))]\(row.beyondNoise ? " *" : "")" }
                ?? "-"
            let isBaseline = row.ablation == baseline
            lines.append(
                "| \(row.ablation) | \(row.seeds.count) | \(format(row.finalMean)) ± \(format(row.finalStd)) "
                    + "| \(format(row.bestMean)) | \(format(row.aucMean)) | \(isBaseline ? "baseline" : delta) "
                    + "| \(isBaseline ? "" : interval) |")
        }
        return lines.joined(separator: "\n")
    }
}
