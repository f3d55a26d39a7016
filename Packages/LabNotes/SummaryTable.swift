// A table of one ablation's runs, a row per name and a column per metric: each cell the mean ± std
// over the finished runs (seeds) of the run's value of "<row>/<column>" (its last logged value, or
// its summary of that name), "-" where no run has it. For a pipeline's summary runs (r1-pipeline)
// the rows are stages: the table reads the recipe stage by stage.
import HDF5Store

struct SummaryTable {
    let runs: [RunResults]
    let rows: [String]
    let columns: [String]

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
        return lines.joined(separator: "\n")
    }
}
