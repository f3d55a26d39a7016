// Learning curves as a standalone SVG: one line per ablation (the mean over seeds) with a band
// from the lowest to the highest seed, axes with round-number ticks, labels and a legend.
import ExperimentKit
import Foundation
import HDF5Store

public struct CurvePlot {
    public struct Curve {
        public let label: String
        public let steps: [Double]
        public let mean: [Double]
        public let low: [Double]
        public let high: [Double]
    }

    public let title: String
    public let xLabel: String
    public let yLabel: String
    public let curves: [Curve]

    /// One curve per ablation of `runs` for `metric`; seeds are aligned on the first seed's steps
    /// (other seeds are interpolated linearly there).
    public init(runs: [RunResults], metric: String, xLabel: String = "step") {
        var byAblation: [String: [MetricSeries]] = [:]
        for run in runs {
            if let s = run.metrics[metric], !s.values.isEmpty { byAblation[run.ablation, default: []].append(s) }
        }
        let ordered = byAblation.keys.sorted { ($0 == "base" ? 0 : 1, $0) < ($1 == "base" ? 0 : 1, $1) }
        curves = ordered.map { ablation in
            let group = byAblation[ablation]!
            let steps = group[0].steps.map(Double.init)
            let aligned = group.map { s in steps.map { interpolate(s, at: $0) } }
            let columns = steps.indices.map { i in aligned.map { $0[i] } }
            return Curve(
                label: ablation, steps: steps, mean: columns.map { $0.reduce(0, +) / Double($0.count) },
                low: columns.map { $0.min()! }, high: columns.map { $0.max()! })
        }
        title = metric
        self.xLabel = xLabel
        yLabel = metric
    }

    static let palette = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
        "#bcbd22", "#17becf",
    ]

    public func svg(width: Double = 760, height: Double = 440) -> String {
        let left = 78.0
        let right = 170.0
        let top = 40.0
        let bottom = 56.0
        let plotW = width - left - right
        let plotH = height - top - bottom
        let xs = curves.flatMap(\.steps)
        let ys = curves.flatMap { $0.low + $0.high }.filter(\.isFinite)
        let (xMin, xMax) = (xs.min() ?? 0, xs.max() ?? 1)
        var (yMin, yMax) = (ys.min() ?? 0, ys.max() ?? 1)
        if yMax - yMin < 1e-12 {
            yMin -= 0.5
            yMax += 0.5
        }
        let yTicks = niceTicks(yMin, yMax)
        let xTicks = niceTicks(xMin, xMax == xMin ? xMin + 1 : xMax)
        let (y0, y1) = (min(yMin, yTicks.first!), max(yMax, yTicks.last!))
        let (x0, x1) = (min(xMin, xTicks.first!), max(xMax == xMin ? xMin + 1 : xMax, xTicks.last!))
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * plotW }
        func py(_ y: Double) -> Double { top + (1 - (y - y0) / (y1 - y0)) * plotH }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }

        var out: [String] = [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
                + "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">",
            "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
            "<text x=\"\(f(left + plotW / 2))\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">\(escape(title))</text>",
        ]
        for t in yTicks where t >= y0 && t <= y1 {
            out.append(
                "<line x1=\"\(f(left))\" x2=\"\(f(left + plotW))\" y1=\"\(f(py(t)))\" y2=\"\(f(py(t)))\" stroke=\"#e5e5e5\"/>"
            )
            out.append("<text x=\"\(f(left - 8))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\">\(tickLabel(t))</text>")
        }
        for t in xTicks where t >= x0 && t <= x1 {
            out.append(
                "<line x1=\"\(f(px(t)))\" x2=\"\(f(px(t)))\" y1=\"\(f(top))\" y2=\"\(f(top + plotH))\" stroke=\"#f0f0f0\"/>"
            )
            out.append(
                "<text x=\"\(f(px(t)))\" y=\"\(f(top + plotH + 18))\" text-anchor=\"middle\">\(tickLabel(t))</text>")
        }
        out.append(
            "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"#333\"/>"
        )
        out.append(
            "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 14))\" text-anchor=\"middle\">\(escape(xLabel))</text>"
        )
        out.append(
            "<text transform=\"translate(18 \(f(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>"
        )
        for (i, curve) in curves.enumerated() {
            let color = Self.palette[i % Self.palette.count]
            let upper = zip(curve.steps, curve.high).map { "\(f(px($0))),\(f(py($1)))" }
            let lower = zip(curve.steps, curve.low).reversed().map { "\(f(px($0))),\(f(py($1)))" }
            out.append(
                "<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(color)\" fill-opacity=\"0.18\" stroke=\"none\"/>"
            )
            let line = zip(curve.steps, curve.mean).map { "\(f(px($0))),\(f(py($1)))" }.joined(separator: " ")
            out.append("<polyline points=\"\(line)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.8\"/>")
            let ly = top + 12 + Double(i) * 20
            out.append(
                "<line x1=\"\(f(width - right + 14))\" x2=\"\(f(width - right + 38))\" y1=\"\(f(ly))\" y2=\"\(f(ly))\" stroke=\"\(color)\" stroke-width=\"3\"/>"
            )
            out.append("<text x=\"\(f(width - right + 44))\" y=\"\(f(ly + 4))\">\(escape(curve.label))</text>")
        }
        let noteY = top + 12 + Double(curves.count) * 20 + 6
        for (i, note) in ["line: mean over seeds", "band: min to max"].enumerated() {
            out.append(
                "<text x=\"\(f(width - right + 14))\" y=\"\(f(noteY + Double(i) * 13))\" fill=\"#666\" font-size=\"10\">\(note)</text>"
            )
        }
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }
}

func interpolate(_ s: MetricSeries, at x: Double) -> Double {
    let steps = s.steps.map(Double.init)
    guard let firstStep = steps.first, x > firstStep else { return s.values.first ?? .nan }
    guard let j = steps.firstIndex(where: { $0 >= x }) else { return s.values.last! }
    if steps[j] == x { return s.values[j] }
    let t = (x - steps[j - 1]) / (steps[j] - steps[j - 1])
    return s.values[j - 1] + t * (s.values[j] - s.values[j - 1])
}

/// About five round-number ticks covering [lo, hi].
func niceTicks(_ lo: Double, _ hi: Double) -> [Double] {
    let span = hi - lo
    let raw = span / 5
    let magnitude = pow(10, floor(log10(raw)))
    let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
    let start = floor(lo / step) * step
    var ticks: [Double] = []
    var t = start
    while t <= hi + step * 0.5 && ticks.count < 20 {
        ticks.append(t)
        t += step
    }
    return ticks
}

func tickLabel(_ t: Double) -> String {
    if t == t.rounded() && abs(t) < 1e6 { return String(Int(t)) }
    let a = abs(t)
    return a >= 1e5 || a < 1e-3 ? String(format: "%.1e", t) : String(format: "%g", (t * 1e6).rounded() / 1e6)
}

func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;")
}
