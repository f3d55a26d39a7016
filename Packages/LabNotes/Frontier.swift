// A frontier across experiments: one point per (experiment, ablation), its final value of metric
// x against its final value of metric y, the mean over its finished seeds with the lowest and
// highest seed as bars. DPO's paper draws its reward-KL frontier this way (true reward against
// KL to the reference, every method's runs on one plane); the table lists the same points sorted
// by x, and the SVG draws them as a scatter plot, one colour per experiment, each point labelled.
import ExperimentKit
import Foundation
import HDF5Store
import LabSupport

public struct Frontier {
    public struct Point {
        public let experiment: String
        public let ablation: String
        public let seeds: [Int]
        public let x: (mean: Double, low: Double, high: Double)
        public let y: (mean: Double, low: Double, high: Double)
    }

    public let xMetric: String
    public let yMetric: String
    /// Sorted by x, then experiment and ablation.
    public let points: [Point]

    /// The points of the finished `runs` that logged both metrics (a run without one is left out).
    public init(runs: [RunResults], x: String, y: String) {
        xMetric = x
        yMetric = y
        var groups: [String: [RunResults]] = [:]
        for run in runs where run.status == "finished" {
            guard let xs = run.metrics[x]?.values, let ys = run.metrics[y]?.values, xs.last != nil, ys.last != nil
            else { continue }
            groups["\(run.experiment)\u{0}\(run.ablation)", default: []].append(run)
        }
        func summary(_ values: [Double]) -> (mean: Double, low: Double, high: Double) {
            (values.reduce(0, +) / Double(values.count), values.min()!, values.max()!)
        }
        points = groups.values.map { group in
            Point(
                experiment: group[0].experiment, ablation: group[0].ablation, seeds: group.map(\.seed).sorted(),
                x: summary(group.map { $0.metrics[x]!.values.last! }),
                y: summary(group.map { $0.metrics[y]!.values.last! }))
        }.sorted { ($0.x.mean, $0.experiment, $0.ablation) < ($1.x.mean, $1.experiment, $1.ablation) }
    }

    /// The points as a markdown table: mean over seeds with the seeds' range.
    public var markdown: String {
        var lines = [
            "**\(yMetric) against \(xMetric)** (final values; mean over seeds, [lowest, highest seed]; sorted by \(xMetric))",
            "",
            "| experiment | ablation | seeds | \(xMetric) | \(yMetric) |",
            "|---|---|---:|---:|---:|",
        ]
        func cell(_ v: (mean: Double, low: Double, high: Double)) -> String {
            String(format: "%.4f [%.4f, %.4f]", v.mean, v.low, v.high)
        }
        for p in points {
            lines.append("| \(p.experiment) | \(p.ablation) | \(p.seeds.count) | \(cell(p.x)) | \(cell(p.y)) |")
        }
        return lines.joined(separator: "\n")
    }

    /// The scatter plot; `logX` draws x on a log scale (ticks at 1, 2, 5 times powers of ten),
    /// for points that span decades (KL from 1 to 300 nats); it needs every x > 0.
    public func svg(width: Double = 760, height: Double = 480, logX: Bool = false) -> String {
        let (left, right, top, bottom) = (78.0, 150.0, 40.0, 56.0)
        let (plotW, plotH) = (width - left - right, height - top - bottom)
        let logX = logX && points.allSatisfy { $0.x.low > 0 }
        let u = { (x: Double) in logX ? log10(x) : x }  // x as drawn
        var (xMin, xMax) = (u(points.map(\.x.low).min() ?? 1), u(points.map(\.x.high).max() ?? 10))
        var (yMin, yMax) = (points.map(\.y.low).min() ?? 0, points.map(\.y.high).max() ?? 1)
        if xMax - xMin < 1e-12 { (xMin, xMax) = (xMin - 0.5, xMax + 0.5) }
        if yMax - yMin < 1e-12 { (yMin, yMax) = (yMin - 0.5, yMax + 0.5) }
        // Log ticks: 1, 2, 5 x 10^k inside the range, and the decades around it as its ends.
        var xTicks: [Double] = []
        if logX {
            let (low, high) = (floor(xMin), ceil(xMax))
            for k in Int(low)...Int(high) {
                for m: Double in [1, 2, 5] where log10(m) + Double(k) <= high { xTicks.append(log10(m) + Double(k)) }
            }
        } else {
            xTicks = niceTicks(xMin, xMax)
        }
        let yTicks = niceTicks(yMin, yMax)
        (xMin, xMax) = (min(xMin, xTicks.first!), max(xMax, xTicks.last!))
        (yMin, yMax) = (min(yMin, yTicks.first!), max(yMax, yTicks.last!))
        let px = { (x: Double) in left + (u(x) - xMin) / (xMax - xMin) * plotW }
        let tx = { (t: Double) in left + (t - xMin) / (xMax - xMin) * plotW }  // a tick, already drawn units
        let py = { (y: Double) in top + plotH - (y - yMin) / (yMax - yMin) * plotH }
        let f = { (v: Double) in String(format: "%.1f", v) }
        var s = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
            font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(f(width / 2))" y="22" text-anchor="middle" font-size="15">\(escape(yMetric)) against \(escape(xMetric))</text>

            """
        for t in xTicks {
            s +=
                "<line x1=\"\(f(tx(t)))\" y1=\"\(f(top))\" x2=\"\(f(tx(t)))\" y2=\"\(f(top + plotH))\" stroke=\"#eee\"/>\n"
            let label = logX ? tickLabel((pow(10, t) * 1000).rounded() / 1000) : tickLabel(t)
            s += "<text x=\"\(f(tx(t)))\" y=\"\(f(top + plotH + 18))\" text-anchor=\"middle\">\(label)</text>\n"
        }
        for t in yTicks {
            s +=
                "<line x1=\"\(f(left))\" y1=\"\(f(py(t)))\" x2=\"\(f(left + plotW))\" y2=\"\(f(py(t)))\" stroke=\"#eee\"/>\n"
            s += "<text x=\"\(f(left - 8))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\">\(tickLabel(t))</text>\n"
        }
        s +=
            "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"#333\"/>\n"
        s +=
            "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 14))\" text-anchor=\"middle\">\(escape(xMetric))\(logX ? " (log scale)" : "")</text>\n"
        s +=
            "<text x=\"18\" y=\"\(f(top + plotH / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 18 \(f(top + plotH / 2)))\">\(escape(yMetric))</text>\n"
        let experiments = Array(Set(points.map(\.experiment))).sorted()
        for p in points {
            let colour = CurvePlot.palette[experiments.firstIndex(of: p.experiment)! % CurvePlot.palette.count]
            let (cx, cy) = (px(p.x.mean), py(p.y.mean))
            s +=
                "<line x1=\"\(f(px(p.x.low)))\" y1=\"\(f(cy))\" x2=\"\(f(px(p.x.high)))\" y2=\"\(f(cy))\" stroke=\"\(colour)\" stroke-opacity=\"0.5\"/>\n"
            s +=
                "<line x1=\"\(f(cx))\" y1=\"\(f(py(p.y.low)))\" x2=\"\(f(cx))\" y2=\"\(f(py(p.y.high)))\" stroke=\"\(colour)\" stroke-opacity=\"0.5\"/>\n"
            s += "<circle cx=\"\(f(cx))\" cy=\"\(f(cy))\" r=\"4\" fill=\"\(colour)\"/>\n"
            s +=
                "<text x=\"\(f(cx + 6))\" y=\"\(f(cy - 6))\" font-size=\"10\" fill=\"\(colour)\">\(escape(p.ablation))</text>\n"
        }
        for (i, experiment) in experiments.enumerated() {
            let y = top + 14 + Double(i) * 18
            let colour = CurvePlot.palette[i % CurvePlot.palette.count]
            s += "<circle cx=\"\(f(left + plotW + 18))\" cy=\"\(f(y - 4))\" r=\"4\" fill=\"\(colour)\"/>\n"
            s += "<text x=\"\(f(left + plotW + 28))\" y=\"\(f(y))\">\(escape(experiment))</text>\n"
        }
        return s + "</svg>\n"
    }
}
