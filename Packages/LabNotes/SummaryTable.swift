// A table of one ablation's runs, a row per name and a column per metric: each cell the mean ± std
// over the finished runs (seeds) of the run's value of "<row>/<column>" (its last logged value, or
// its summary of that name), "-" where no run has it; and, when asked, the difference of two rows
// paired by seed with its 95 % interval (as `lab compare` pairs ablations). For a pipeline's
// summary runs (r1-pipeline) the rows are stages: the table reads the recipe stage by stage.
import HDF5Store

struct SummaryTable {
    let runs: [RunResults]
    let rows: [String]
    let columns: [String]
    /// Rows whose difference is shown paired by seed: ("distill", "student-rl") adds a row
    /// "distill − student-rl" with the mean difference and its 95 % interval (* excluding 0).
    var differences: [(String, String)] = []

    func value(_ run: RunResults, _ key: String) -> Double? {
        run.metrics[key]?.values.last ?? run.summary[key]
    }

    var markdown: String {
        var lines = [
            "| | " + columns.joined(separator: " | ") + " |",
            "|---|" + String(repeating: "---:|", count: columns.count),
        ]
        for row in rows {
            let cells = columns.map { column -> String in
                let values = runs.compactMap { value($0, "\(row)/\(column)") }
                guard !values.isEmpty else { return "-" }
                let (mean, std) = meanStd(values)
                return values.count > 1 ? String(format: "%.3f ± %.3f", mean, std) : String(format: "%.3f", mean)
            }
            lines.append("| \(row) | " + cells.joined(separator: " | ") + " |")
        }
        for (a, b) in differences {
            let cells = columns.map { column -> String in
                let d = runs.compactMap { run in
                    value(run, "\(a)/\(column)").flatMap { x in value(run, "\(b)/\(column)").map { x - $0 } }
                }
                guard !d.isEmpty else { return "-" }
                let mean = d.reduce(0, +) / Double(d.count)
                guard let interval = pairedInterval(d) else { return String(format: "%+.3f", mean) }
                let beyond = interval.low > 0 || interval.high < 0
                return String(format: "%+.3f [%+.3f, %+.3f]", mean, interval.low, interval.high) + (beyond ? " *" : "")
            }
            lines.append("| \(a) − \(b) | " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }
}
