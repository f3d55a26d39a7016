import ExperimentKit
import Foundation
import HDF5Store
// Comparing ablations from results files: runs are grouped by ablation and aggregated over
// seeds. For each metric: the final value (mean ± sample std over seeds), the best value, the
// area under the curve (the trapezoid area divided by the step span: the curve's mean level),
// and the final value's difference from the baseline ablation.
import LabSupport

public struct AblationRow: Sendable {
    public let ablation: String
    public let seeds: [Int]
    public let finalMean: Double
    public let finalStd: Double
    public let bestMean: Double
    public let aucMean: Double
    public var deltaFinal: Double?
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

/// Every results file under `paths` (files or folders, recursively; checkpoints skipped).
func findResultsFiles(_ paths: [String]) throws -> [String] {
    var files: [String] = []
    for path in paths {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw LabError(.config, "\(path): no such file or folder")
        }
        if isDirectory.boolValue {
            let found = (FileManager.default.enumerator(atPath: path)?.allObjects as? [String] ?? [])
                .filter { $0.hasSuffix(".h5") && !$0.hasSuffix(".ckpt.h5") }
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
func loadResults(_ files: [String]) throws -> [RunResults] {
    var runs: [RunResults] = []
    for file in files {
        let run = try RunResults.load(from: file)
        if let first = runs.first, first.experiment != run.experiment {
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
            bestMean: meanStd(best).0, aucMean: meanStd(curves.map(normalizedArea)).0, deltaFinal: nil)
    }
    let base = baseline ?? (byAblation["base"] != nil ? "base" : nil)
    if let base {
        guard let reference = rows.first(where: { $0.ablation == base }) else {
            throw LabError(.config, "baseline ablation '\(base)' has no runs with metric '\(metric)'")
        }
        for i in rows.indices { rows[i].deltaFinal = rows[i].finalMean - reference.finalMean }
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
            "**\(metric)** (\(direction); mean ± std over seeds)", "",
            "| ablation | seeds | final | best | AUC | \(baseline.map { "Δ final vs \($0)" } ?? "Δ final") |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for row in rows {
            let delta = row.deltaFinal.map { ($0 >= 0 ? "+" : "") + format($0) } ?? "-"
            lines.append(
                "| \(row.ablation) | \(row.seeds.count) | \(format(row.finalMean)) ± \(format(row.finalStd)) "
                    + "| \(format(row.bestMean)) | \(format(row.aucMean)) | \(row.ablation == baseline ? "baseline" : delta) |"
            )
        }
        return lines.joined(separator: "\n")
    }
}
