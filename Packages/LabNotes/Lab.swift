import ExperimentKit
import Foundation
import HDF5Store
// The `lab` command's work: list experiments and ablations, show one results file, compare
// ablations, and regenerate the results sections of the notes.
import LabSupport

public enum Lab {
    /// Every experiment folder with configs under `root/Experiments`, and its ablations.
    public static func list(root: String) throws -> String {
        let experiments = "\(root)/Experiments"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: experiments) else {
            throw LabError(.config, "\(experiments): no such folder (run lab from the repository, or pass --root)")
        }
        var lines: [String] = []
        for name in names.sorted() where FileManager.default.fileExists(atPath: "\(experiments)/\(name)/configs") {
            lines.append(name)
            for (ablation, text) in try listAblations(in: "\(experiments)/\(name)/configs") {
                lines.append("  " + ablation.padding(toLength: 22, withPad: " ", startingAt: 0) + text)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// A results file's config, provenance and metrics (points, last and best values).
    public static func show(_ path: String) throws -> String {
        let r = try RunResults.load(from: path)
        var lines = [
            "\(path)", "experiment \(r.experiment)  ablation \(r.ablation)  seed \(r.seed)  status \(r.status)",
            "provenance \(r.provenanceJSON)", "config \(r.configJSON)", "",
            "metric".padding(toLength: 28, withPad: " ", startingAt: 0)
                + "points      last step        last        best",
        ]
        for key in r.metrics.keys.sorted() {
            let s = r.metrics[key]!
            let best = isLowerBetter(key) ? s.values.min() : s.values.max()
            let columns = [
                "\(s.values.count)", "\(s.steps.last ?? 0)", format(s.values.last ?? .nan), format(best ?? .nan),
            ]
            let widths = [6, 15, 12, 12]
            lines.append(
                key.padding(toLength: 28, withPad: " ", startingAt: 0)
                    + zip(columns, widths).map { String(repeating: " ", count: max(0, $1 - $0.count)) + $0 }.joined())
        }
        if !r.summary.isEmpty {
            lines.append("")
            for (key, value) in r.summary.sorted(by: { $0.key < $1.key }) {
                lines.append("summary \(key) = \(format(value))")
            }
        }
        for (name, s) in r.samples.sorted(by: { $0.key < $1.key }) {
            lines.append("samples \(name): \(s.texts.count), last at step \(s.steps.last ?? 0): \(s.texts.last ?? "")")
        }
        return lines.joined(separator: "\n")
    }

    /// Markdown tables for `metrics` (all metrics when empty), and an SVG plot per metric in
    /// `plotFolder` when given. `ablations` keeps only those (all when empty); `figure` names the
    /// plot files (default: the experiment). Returns the markdown and the written plot paths.
    public static func compareReport(
        paths: [String], metrics: [String], baseline: String?, plotFolder: String?,
        lowerIsBetter: Set<String> = [], higherIsBetter: Set<String> = [], xLabel: String = "step",
        ablations: [String] = [], figure: String? = nil
    ) throws -> (markdown: String, plots: [String], runs: [RunResults]) {
        var runs = try loadResults(try findResultsFiles(paths))
        // A named baseline must have runs too (a note's block waits for it like for the others).
        let required = Set(ablations + (baseline.map { [$0] } ?? []))
        if !required.isEmpty {
            let missing = required.subtracting(runs.map(\.ablation)).sorted()
            guard missing.isEmpty else { throw MissingAblations(names: missing, paths: paths) }
            if !ablations.isEmpty { runs = runs.filter { ablations.contains($0.ablation) } }
        }
        let keys = metrics.isEmpty ? Set(runs.flatMap { $0.metrics.keys }).sorted() : metrics
        var sections: [String] = []
        var plots: [String] = []
        for metric in keys {
            let direction: Bool? =
                lowerIsBetter.contains(metric) ? true : (higherIsBetter.contains(metric) ? false : nil)
            sections.append(try compare(runs, metric: metric, baseline: baseline, lowerIsBetter: direction).markdown)
            // Curves for metrics; a summary, or a metric logged once per run, is a table only.
            if let plotFolder, runs.contains(where: { ($0.metrics[metric]?.steps.count ?? 0) > 1 }) {
                let stem = figure ?? runs[0].experiment.replacingOccurrences(of: "/", with: "-")
                let file = "\(plotFolder)/\(stem)-\(metric.replacingOccurrences(of: "/", with: "-")).svg"
                try writeText(CurvePlot(runs: runs, metric: metric, xLabel: xLabel).svg(), to: file, folder: plotFolder)
                plots.append(file)
            }
        }
        return (sections.joined(separator: "\n\n"), plots, runs)
    }

    /// Some requested ablations have no results (yet).
    public struct MissingAblations: Error, CustomStringConvertible {
        public let names: [String]
        public let paths: [String]
        public var description: String {
            "no results for ablation(s) \(names.joined(separator: ", ")) in \(paths.joined(separator: " "))"
        }
    }

    /// Rewrites every `<!-- lab:compare runs=DIR metric=KEY [baseline=NAME] [better=lower|higher]
    /// [x=axis_label] [ablations=a,b,c] [figure=file_stem] -->` ...
    /// `<!-- /lab:compare -->` block in the notes with a fresh table and plot, and every
    /// `<!-- lab:frontier ... -->` ... `<!-- /lab:frontier -->` block with a frontier (BlockKind).
    /// Paths in a marker are relative to the repository root; plots go to `<notes>/figures/`. A block whose runs
    /// are absent is left as it is. Each regenerated block's footer names its runs' commits, dates
    /// and seeds. Returns one line per block; a block is STALE when its runs are missing, or were
    /// made by a build with uncommitted changes, or by a commit after which the library code
    /// (`Packages/`, `Package.swift`) or the experiment's folder changed (a coarse test: a change
    /// that moves no bit, which `Scripts/bit-identity` shows, still marks them).
    public static func regenerateNotes(notesFolder: String, root: String) throws -> [String] {
        try regenerateNotesReport(notesFolder: notesFolder, root: root).lines
    }

    /// As `regenerateNotes`, with the number of stale blocks (`lab notes --strict` fails on any).
    public static func regenerateNotesReport(notesFolder: String, root: String) throws -> (lines: [String], stale: Int)
    {
        var staleCount = 0
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: notesFolder) else {
            throw LabError(.config, "\(notesFolder): no such folder")
        }
        var report: [String] = []
        for file in files.sorted() where file.hasSuffix(".md") {
            let path = "\(notesFolder)/\(file)"
            var text = try String(contentsOfFile: path, encoding: .utf8)
            var changed = false
            for kind in BlockKind.allCases {
                var searchFrom = text.startIndex
                while let open = text.range(of: kind.openMarker, range: searchFrom..<text.endIndex) {
                    // A marker quoted in inline code (`<!-- lab:compare ...`) documents the syntax.
                    if open.lowerBound > text.startIndex && text[text.index(before: open.lowerBound)] == "`" {
                        searchFrom = open.upperBound
                        continue
                    }
                    guard let openEnd = text.range(of: "-->", range: open.upperBound..<text.endIndex),
                        let close = text.range(of: kind.closeMarker, range: openEnd.upperBound..<text.endIndex)
                    else { throw LabError(.config, "\(path): unclosed '\(kind.openMarker)' block") }
                    let arguments = parseMarker(String(text[open.upperBound..<openEnd.lowerBound]))
                    let block: Block
                    do {
                        block = try generate(kind, arguments, path: path, notesFolder: notesFolder, root: root)
                    } catch let missing as MissingRuns {
                        report.append("STALE \(file): kept the block for \(missing.what) (\(missing.reason))")
                        staleCount += 1
                        searchFrom = close.upperBound
                        continue
                    }
                    let plotLinks = block.plots.map {
                        "![\(block.what)](figures/\(($0 as NSString).lastPathComponent))"
                    }
                    let body =
                        "\n" + block.markdown + "\n\n" + plotLinks.joined(separator: "\n")
                        + "\n\n_Generated by `lab notes` from `\(block.runs)`: \(origin(of: block.used))._\n"
                    text.replaceSubrange(openEnd.upperBound..<close.lowerBound, with: body)
                    changed = true
                    if let reason = staleness(of: block.used, root: root) {
                        report.append("STALE \(file): \(block.what) from \(block.runs): \(reason)")
                        staleCount += 1
                    } else {
                        report.append("\(file): \(block.what) from \(block.runs)")
                    }
                    searchFrom = text.range(of: kind.closeMarker, range: openEnd.upperBound..<text.endIndex)!.upperBound
                }
            }
            if changed { try writeText(text, to: path, folder: nil) }
        }
        return (report, staleCount)
    }

    /// The kinds of generated block a note can hold.
    enum BlockKind: String, CaseIterable {
        /// `<!-- lab:compare runs=DIR metric=KEY [baseline=NAME] [better=lower|higher] [x=axis_label]
        /// [ablations=a,b,c] [figure=file_stem] -->`: the ablations of one run folder compared.
        case compare
        /// `<!-- lab:frontier runs=DIR,DIR,... x=KEY y=KEY [ablations=experiment/ablation,...]
        /// [scale=log] [figure=file_stem] -->`: every (experiment, ablation) of several run folders
        /// as one point of final x against final y (Frontier.swift); scale=log draws x on a log
        /// scale.
        case frontier
        /// `<!-- lab:table runs=DIR ablation=NAME rows=a,b,... columns=x,y,... [differences=a~b,...]
        /// -->`: one ablation's runs as a table of "<row>/<column>" values, mean ± std over seeds,
        /// and rows' differences paired by seed (SummaryTable.swift).
        case table

        var openMarker: String { "<!-- lab:\(rawValue) " }
        var closeMarker: String { "<!-- /lab:\(rawValue) -->" }
    }

    /// A regenerated block: its text, its plots, the runs it used and how the report names it.
    struct Block {
        var markdown: String
        var plots: [String]
        var used: [RunResults]
        var what: String
        var runs: String
    }

    /// A block whose runs are not (all) there yet: kept as it is.
    struct MissingRuns: Error, CustomStringConvertible {
        var what: String
        var reason: String
        var description: String { "\(what): \(reason)" }
    }

    static func generate(
        _ kind: BlockKind, _ arguments: [String: String], path: String, notesFolder: String, root: String
    )
        throws -> Block
    {
        let absolute = { (runs: String) in runs.hasPrefix("/") ? runs : "\(root)/\(runs)" }
        switch kind {
        case .compare:
            guard let runs = arguments["runs"], let metric = arguments["metric"] else {
                throw LabError(.config, "\(path): a lab:compare block needs runs= and metric=")
            }
            guard FileManager.default.fileExists(atPath: absolute(runs)) else {
                throw MissingRuns(what: metric, reason: "no results at \(runs)")
            }
            do {
                let (markdown, plots, used) = try compareReport(
                    paths: [absolute(runs)], metrics: [metric], baseline: arguments["baseline"],
                    plotFolder: "\(notesFolder)/figures",
                    lowerIsBetter: arguments["better"] == "lower" ? [metric] : [],
                    higherIsBetter: arguments["better"] == "higher" ? [metric] : [],
                    xLabel: arguments["x"].map { $0.replacingOccurrences(of: "_", with: " ") } ?? "step",
                    ablations: arguments["ablations"].map { $0.split(separator: ",").map(String.init) } ?? [],
                    figure: arguments["figure"])
                return Block(markdown: markdown, plots: plots, used: used, what: metric, runs: runs)
            } catch let missing as MissingAblations {
                throw MissingRuns(what: metric, reason: missing.description)
            }
        case .frontier:
            guard let runs = arguments["runs"], let x = arguments["x"], let y = arguments["y"] else {
                throw LabError(.config, "\(path): a lab:frontier block needs runs=, x= and y=")
            }
            let folders = runs.split(separator: ",").map(String.init)
            let what = "\(y) against \(x)"
            if let absent = folders.first(where: { !FileManager.default.fileExists(atPath: absolute($0)) }) {
                throw MissingRuns(what: what, reason: "no results at \(absent)")
            }
            let (markdown, plot, used) = try frontierReport(
                paths: folders.map(absolute), x: x, y: y,
                points: arguments["ablations"].map { $0.split(separator: ",").map(String.init) } ?? [],
                plotFolder: "\(notesFolder)/figures", figure: arguments["figure"], logX: arguments["scale"] == "log")
            return Block(markdown: markdown, plots: [plot], used: used, what: what, runs: runs)
        case .table:
            guard let runs = arguments["runs"], let ablation = arguments["ablation"], let rows = arguments["rows"],
                let columns = arguments["columns"]
            else { throw LabError(.config, "\(path): a lab:table block needs runs=, ablation=, rows= and columns=") }
            let what = "table of \(ablation)"
            guard FileManager.default.fileExists(atPath: absolute(runs)) else {
                throw MissingRuns(what: what, reason: "no results at \(runs)")
            }
            let used = try loadResults(try findResultsFiles([absolute(runs)])).filter {
                $0.ablation == ablation && $0.status == "finished"
            }
            guard !used.isEmpty else {
                throw MissingRuns(what: what, reason: "no finished runs of \(ablation) in \(runs)")
            }
            var table = SummaryTable(
                runs: used, rows: rows.split(separator: ",").map(String.init),
                columns: columns.split(separator: ",").map(String.init))
            // differences=a~b,c~d: row a minus row b, paired by seed (row names hold "-").
            for pair in (arguments["differences"] ?? "").split(separator: ",") {
                let parts = pair.components(separatedBy: "~")
                guard parts.count == 2 else {
                    throw LabError(.config, "\(path): differences= takes row~row pairs, not '\(pair)'")
                }
                table.differences.append((parts[0], parts[1]))
            }
            let seeds = used.map(\.seed).sorted().map(String.init).joined(separator: ", ")
            return Block(
                markdown: "**\(ablation)** (mean ± std over seeds \(seeds))\n\n" + table.markdown, plots: [],
                used: used,
                what: what, runs: runs)
        }
    }

    /// The frontier of the runs under `paths` (Frontier.swift) as a table and an SVG scatter plot
    /// written to `plotFolder` (as `<figure>.svg`, by default `frontier-<y>-<x>.svg`). `points`,
    /// when given, are the "experiment/ablation" pairs to keep; one without finished runs that
    /// logged both metrics is a MissingRuns error.
    public static func frontierReport(
        paths: [String], x: String, y: String, points: [String] = [], plotFolder: String, figure: String? = nil,
        logX: Bool = false
    ) throws -> (markdown: String, plot: String, runs: [RunResults]) {
        var runs = try loadResults(try findResultsFiles(paths), mixed: true)
        if !points.isEmpty { runs = runs.filter { points.contains("\($0.experiment)/\($0.ablation)") } }
        let frontier = Frontier(runs: runs, x: x, y: y)
        let found = Set(frontier.points.map { "\($0.experiment)/\($0.ablation)" })
        let missing = points.filter { !found.contains($0) }
        guard missing.isEmpty, !frontier.points.isEmpty else {
            throw MissingRuns(
                what: "\(y) against \(x)",
                reason: missing.isEmpty
                    ? "no finished run in \(paths.joined(separator: " ")) logged both"
                    : "no finished runs of \(missing.joined(separator: ", ")) with both metrics")
        }
        let used = runs.filter { $0.status == "finished" && found.contains("\($0.experiment)/\($0.ablation)") }
        let stem = figure ?? "frontier-\(y)-\(x)".replacingOccurrences(of: "/", with: "-")
        let file = "\(plotFolder)/\(stem).svg"
        try writeText(frontier.svg(logX: logX), to: file, folder: plotFolder)
        return (frontier.markdown, file, used)
    }

    /// "12 runs, seeds 0, 1; commit 1a2b3c4d5e; 2026-12-01": what a block was generated from.
    static func origin(of runs: [RunResults]) -> String {
        let provenance = runs.map { try? JSONDecoder().decode(Provenance.self, from: Data($0.provenanceJSON.utf8)) }
        let commits = Set(provenance.map { p in p.map { Self.short($0.gitCommit) } ?? "unknown" }).sorted()
        let dates = Set(provenance.compactMap { $0?.date.prefix(10) }).sorted()
        let seeds = Set(runs.map(\.seed)).sorted().map(String.init)
        let dateText =
            dates.count > 1 ? "\(dates.first!) to \(dates.last!)" : (dates.first.map(String.init) ?? "no date")
        return "\(runs.count) runs, seeds \(seeds.joined(separator: ", ")); commit\(commits.count > 1 ? "s" : "") "
            + "\(commits.joined(separator: ", ")); \(dateText)"
    }

    static func short(_ commit: String) -> String {
        commit.hasSuffix("+dirty") ? String(commit.prefix(10)) + "+dirty" : String(commit.prefix(10))
    }

    /// The code an experiment's results depend on: Package.swift (see `manifestChangeCounts`), its
    /// own folder under Experiments, and under Packages the package it belongs to with everything
    /// that package and its experiment depend on, transitively (read from the manifest's table of
    /// LocalPackage rows; LabSupport, which every package uses, always). When the manifest cannot
    /// be read that way, all of Packages. A run named `<experiment>/<stage>` is its experiment's.
    static func codePaths(of experiment: String, root: String) -> [String] {
        guard let closure = packageClosure(of: experiment, root: root) else {
            return ["Package.swift", "Packages", "Experiments/\(experiment)"]
        }
        return ["Package.swift", "Experiments/\(experiment)"] + closure.sorted().map { "Packages/\($0)" }
    }

    /// A row's `name: "X"` (or another string field).
    static func field(_ name: String, in row: String) -> String? {
        guard let r = row.range(of: "(?<![A-Za-z])\(name):\\s*\"([^\"]+)\"", options: .regularExpression) else {
            return nil
        }
        return row[r].split(separator: "\"")[1].description
    }

    /// The packages an experiment's binary is built from (nil: the manifest does not say).
    static func packageClosure(of experiment: String, root: String) -> Set<String>? {
        guard let manifest = try? String(contentsOfFile: "\(root)/Package.swift", encoding: .utf8) else { return nil }
        func list(_ name: String, in row: String) -> [String] {
            guard let r = row.range(of: "(?<![A-Za-z])\(name):\\s*\\[[^\\]]*\\]", options: .regularExpression) else {
                return []
            }
            return row[r].split(separator: "\"").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
        }
        var deps: [String: [String]] = [:]
        var owner: String? = nil
        for row in manifest.components(separatedBy: "LocalPackage(").dropFirst() {
            guard let name = field("name", in: row) else { continue }
            deps[name] = list("deps", in: row)
            if field("experiment", in: row) == experiment {
                owner = name
                deps[name, default: []] += list("experimentDeps", in: row)
            }
        }
        // An experiment-like tool (base-models) is a row of the tools table: ("name", "path", [deps]).
        var roots = owner.map { [$0] } ?? []
        if owner == nil {
            let pattern =
                "\\(\"\(NSRegularExpression.escapedPattern(for: experiment))\",\\s*\"[^\"]*\",\\s*\\[[^\\]]*\\]"
            guard let r = manifest.range(of: pattern, options: .regularExpression) else { return nil }
            let row = manifest[r]
            let list = row[row.range(of: "[")!.upperBound...]
            roots = list.split(separator: "\"", omittingEmptySubsequences: false).enumerated()
                .filter { $0.offset % 2 == 1 }.map { String($0.element) }
                .filter { deps[$0] != nil }
        }
        var closure: Set<String> = []
        var pending = roots + ["LabSupport"]
        while let next = pending.popLast() {
            guard closure.insert(next).inserted else { continue }
            pending += (deps[next] ?? []).filter {
                deps[$0] != nil || FileManager.default.fileExists(atPath: "\(root)/Packages/\($0)")
            }
        }
        return closure
    }

    /// Why runs no longer stand for the code (nil: they do). Runs of several experiments (a
    /// frontier) are judged each against its own experiment's code.
    static func staleness(of runs: [RunResults], root: String) -> String? {
        let commitOf = { (run: RunResults) in
            (try? JSONDecoder().decode(Provenance.self, from: Data(run.provenanceJSON.utf8)))?.gitCommit ?? "unknown"
        }
        let commits = Set(runs.map(commitOf))
        if commits.contains("unknown") { return "made by a build outside any git checkout" }
        if let dirty = commits.first(where: { $0.hasSuffix("+dirty") }) {
            return "made by a build with uncommitted changes (\(short(dirty)))"
        }
        // A pipeline's stage runs (r1-pipeline/zero) depend on what their experiment depends on.
        let owner = { (run: RunResults) in run.experiment.split(separator: "/").first.map(String.init) ?? "" }
        for experiment in Set(runs.map(owner)).sorted() {
            let paths = codePaths(of: experiment, root: root)
            for commit in Set(runs.filter { owner($0) == experiment }.map(commitOf)).sorted() {
                guard
                    let changed = Provenance.run(
                        "/usr/bin/env", ["git", "-C", root, "diff", "--numstat", commit, "HEAD", "--"] + paths)
                else { return "commit \(short(commit)) is not in this checkout" }
                // "added<TAB>removed<TAB>path" per file; the manifest counts only when its change
                // can reach the experiment's build (manifestChangeCounts).
                let files = changed.split(separator: "\n").compactMap { line -> Substring? in
                    let fields = line.split(separator: "\t", maxSplits: 2)
                    guard fields.count == 3 else { return nil }
                    guard fields[2] == "Package.swift" else { return fields[2] }
                    return manifestChangeCounts(since: commit, experiments: [experiment], root: root) ? fields[2] : nil
                }
                if !files.isEmpty {
                    return
                        "\(files.count) files of the code changed since \(short(commit)) (\(files.prefix(3).joined(separator: ", "))\(files.count > 3 ? ", ..." : ""))"
                }
            }
        }
        return nil
    }

    /// Whether the manifest's change since `commit` can change what the experiments build. It
    /// cannot when every line it lost or gained is in a `testDeps:` list (a test target's
    /// dependencies, on one line or several), or in the tools table's entry of a tool that is not
    /// one of the experiments (a benchmark's dependencies build that benchmark alone), or, for a
    /// lost line, in the row of a package outside their closure, and, for a gained line, outside
    /// the rows of their closure (a new package or tool, a new row).
    static func manifestChangeCounts(since commit: String, experiments: Set<String>, root: String) -> Bool {
        var closure: Set<String> = []
        for experiment in experiments {
            guard let c = packageClosure(of: experiment, root: root) else { return true }
            closure.formUnion(c)
        }
        guard
            let diff = Provenance.run(
                "/usr/bin/env", ["git", "-C", root, "diff", "-U0", commit, "HEAD", "--", "Package.swift"]),
            let old = Provenance.run("/usr/bin/env", ["git", "-C", root, "show", "\(commit):Package.swift"]),
            let new = try? String(contentsOfFile: "\(root)/Package.swift", encoding: .utf8)
        else { return true }
        let (oldLines, newLines) = (old.components(separatedBy: "\n"), new.components(separatedBy: "\n"))
        /// The package whose LocalPackage row holds line `index` (0-based), if any.
        func rowPackage(_ lines: [String], _ index: Int) -> String? {
            var start = index
            while start >= 0 && !lines[start].contains("LocalPackage(") {
                if start < index && lines[start].trimmingCharacters(in: .whitespaces).hasSuffix("),") { return nil }
                start -= 1
            }
            guard start >= 0 else { return nil }
            var depth = 0
            var end = start
            for (k, line) in lines[start...].enumerated() {
                let text = k == 0 ? String(line[line.range(of: "LocalPackage(")!.lowerBound...]) : line
                depth += text.count { $0 == "(" } - text.count { $0 == ")" }
                end = start + k
                if depth <= 0 { break }
            }
            guard index <= end else { return nil }
            return field("name", in: lines[start...end].joined(separator: "\n"))
        }
        /// The tool whose entry of the tools table `("name", "path", [deps])` holds line `index`.
        func toolEntry(_ lines: [String], _ index: Int) -> String? {
            guard let table = lines.firstIndex(where: { $0.hasPrefix("let tools:") }), index > table,
                let end = lines[table...].firstIndex(where: { $0 == "]" }), index < end
            else { return nil }
            var start = index
            while start > table && !lines[start].trimmingCharacters(in: .whitespaces).hasPrefix("(") { start -= 1 }
            let entry = lines[start...min(index + 1, end - 1)].joined(separator: " ")
            return entry.split(separator: "\"", omittingEmptySubsequences: false).dropFirst().first.map(String.init)
        }
        /// Whether line `index` is inside its row's `testDeps: [...]` list.
        func inTestDeps(_ lines: [String], _ index: Int) -> Bool {
            if lines[index].trimmingCharacters(in: .whitespaces).hasPrefix("testDeps:") { return true }
            var start = index
            while start > 0 && !lines[start].contains("LocalPackage(") { start -= 1 }
            let before = lines[start..<index].joined(separator: "\n")
            guard let open = before.range(of: "testDeps:", options: .backwards) else { return false }
            let list = before[open.upperBound...]
            return list.count { $0 == "[" } > list.count { $0 == "]" }
        }
        /// nil: the line cannot change the experiments' builds; true: it can.
        func verdict(_ lines: [String], _ index: Int) -> Bool? {
            if inTestDeps(lines, index) { return nil }
            if let tool = toolEntry(lines, index) { return experiments.contains(tool) ? true : nil }
            return false
        }
        var (oldLine, newLine) = (0, 0)
        for line in diff.components(separatedBy: "\n") {
            if line.hasPrefix("@@") {
                // @@ -a[,b] +c[,d] @@: the hunk's first old and new line numbers (1-based).
                let parts = line.split(separator: " ")
                guard parts.count >= 3, let a = Int(parts[1].dropFirst().split(separator: ",")[0]),
                    let c = Int(parts[2].dropFirst().split(separator: ",")[0])
                else { return true }
                (oldLine, newLine) = (a, c)
            } else if line.hasPrefix("-") && !line.hasPrefix("---") {
                guard oldLine >= 1 && oldLine <= oldLines.count else { return true }
                if let counts = verdict(oldLines, oldLine - 1) {
                    if counts { return true }
                    guard let row = rowPackage(oldLines, oldLine - 1), !closure.contains(row) else { return true }
                }
                oldLine += 1
            } else if line.hasPrefix("+") && !line.hasPrefix("+++") {
                if newLine >= 1 && newLine <= newLines.count, let counts = verdict(newLines, newLine - 1) {
                    if counts { return true }
                    if let row = rowPackage(newLines, newLine - 1), closure.contains(row) { return true }
                }
                newLine += 1
            }
        }
        return false
    }

    static func parseMarker(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for part in text.split(separator: " ") {
            let kv = part.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { out[String(kv[0])] = String(kv[1]) }
        }
        return out
    }
}

/// Writes a text file atomically (creating `folder` first when given); a failure is one line
/// naming the path and the reason, not Foundation's error dump.
func writeText(_ text: String, to path: String, folder: String?) throws {
    do {
        if let folder { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    } catch {
        let underlying = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? any Error).map { $0 as NSError }
        let reason =
            underlying.flatMap { $0.domain == NSPOSIXErrorDomain ? String(cString: strerror(Int32($0.code))) : nil }
            ?? error.localizedDescription
        throw LabError(.config, "\(folder ?? path): cannot write \((path as NSString).lastPathComponent): \(reason)")
    }
}
