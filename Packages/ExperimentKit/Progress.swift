// A live progress line (step/total, elapsed, ETA, metrics, throughput), redrawn in place on a
// terminal and printed as plain periodic lines when stdout is a file or a pipe.
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

final class Progress {
    let label: String
    let start = Date()
    let interactive = isatty(STDOUT_FILENO) != 0
    var lastPrint = Date.distantPast
    var firstStep: Int?

    init(label: String) { self.label = label }

    func update(step: Int, total: Int, metrics: [(String, Double)], unit: String) {
        let now = Date()
        if firstStep == nil { firstStep = step }
        let done = step >= total
        let interval: TimeInterval = interactive ? 0.2 : 10
        guard done || now.timeIntervalSince(lastPrint) >= interval else { return }
        lastPrint = now
        let elapsed = now.timeIntervalSince(start)
        let rate = Double(step - (firstStep ?? 0)) / max(elapsed, 1e-9)
        let eta = rate > 0 ? Double(total - step) / rate : 0
        var line = "\(label)  \(step)/\(total)  \(Self.clock(elapsed)) elapsed  ETA \(Self.clock(eta))"
        for (name, value) in metrics { line += "  \(name) \(Self.number(value))" }
        line += "  \(Self.number(rate)) \(unit)/s"
        if interactive {
            print("\r\u{1B}[2K" + line, terminator: done ? "\n" : "")
        } else {
            print(line)
        }
        fflush(nil)
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
    }

    static func number(_ x: Double) -> String {
        if x == x.rounded() && abs(x) < 1e6 { return String(Int(x)) }
        return abs(x) >= 1000 || abs(x) < 1e-3 ? String(format: "%.3g", x) : String(format: "%.4f", x)
    }
}
