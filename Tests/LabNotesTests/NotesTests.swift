// lab's comparisons and notes: tables and plots from mlp-demo runs, blocks rewritten in place with
// a footer naming their runs, and staleness judged by the code each experiment depends on.
import Foundation
import HDF5Store
import LabNotes
import LabSupport
import TestSupport
import Testing

@Suite(.serialized) struct CompareTests {
    /// The Δ's interval paired by seed: mean(d) ± t(0.975, n − 1) sd(d) / √n, * only when it excludes 0.
    @Test func differencesArePairedBySeed() throws {
        func run(_ ablation: String, _ seed: Int, _ final: Double) -> RunResults {
            var r = RunResults(experiment: "x", ablation: ablation, seed: seed, configJSON: "{}", provenanceJSON: "{}")
            r.metrics["loss/val"] = MetricSeries(steps: [0, 10], values: [5, final])
            return r
        }
        let runs =
            zip([0, 1, 2], [1.0, 2.0, 3.0]).map { run("base", $0, $1) }
            + zip([0, 1, 2], [1.5, 2.4, 3.6]).map { run("a", $0, $1) }  // d = 0.5, 0.4, 0.6
            + zip([0, 1, 2], [1.1, 1.9, 3.2]).map { run("b", $0, $1) }  // d = 0.1, -0.1, 0.2
            + [run("c", 0, 9)]
        let c = try compare(runs, metric: "loss/val")
        let row = { (name: String) in c.rows.first { $0.ablation == name }! }
        let half = 4.303 * 0.1 / 3.0.squareRoot()
        #expect(abs(row("a").pairedInterval!.low - (0.5 - half)) < 1e-9 && row("a").beyondNoise)
        #expect(!row("b").beyondNoise && row("b").pairedInterval!.low < 0)
        #expect(row("c").pairedInterval == nil && !row("c").beyondNoise)
        #expect(c.markdown.contains("| a | 3 |") && c.markdown.contains("[+0.2516, +0.7484] *"))
        #expect(c.markdown.contains("| c | 1 | 9.0000 ± 0.0000 | 5.0000 | 7.0000 | +7.0000 | - |"))
    }

    @Test func ablationsAndSeedsCompareAsTablesAndPlots() throws {
        let out = temporaryFolder()
        let run = try runProduct(
            "mlp-demo", ["--all-ablations", "--seeds", "0,1", "--steps", "60", "--out", out, "--threads", "1"])
        #expect(run.status == 0, "\(run.stderr)")
        // A file a run writes beside its results (checkpoint, preference data) is not read as results.
        try FileManager.default.copyItem(
            atPath: "\(out)/mlp-demo/base/seed-0.ckpt.h5", toPath: "\(out)/mlp-demo/base/seed-0.preferences.h5")
        let (markdown, plots, _) = try Lab.compareReport(
            paths: [out], metrics: ["loss/val"], baseline: nil, plotFolder: out + "/plots")
        #expect(markdown.contains("| base | 2 |") && markdown.contains("| sgd | 2 |"))
        #expect(markdown.contains("Δ final vs base"))
        let svg = try String(contentsOfFile: plots[0], encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains("polyline") && svg.contains(">relu</text>"))
        // A summary (one number per run) compares as a table, higher-is-better for a rate, no plot.
        let (summary, noPlots, _) = try Lab.compareReport(
            paths: [out], metrics: ["perf/steps_per_s"], baseline: nil, plotFolder: out + "/plots")
        #expect(summary.contains("**perf/steps_per_s** (higher is better") && summary.contains("| relu | 2 |"))
        #expect(noPlots.isEmpty)
        // A subset of ablations, plots under another name; an unknown ablation is an error.
        let (subset, named, _) = try Lab.compareReport(
            paths: [out], metrics: ["loss/val"], baseline: nil, plotFolder: out + "/plots",
            ablations: ["base", "relu"],
            figure: "demo-subset")
        #expect(
            subset.contains("| relu | 2 |") && !subset.contains("| sgd |")
                && named[0].hasSuffix("demo-subset-loss-val.svg"))
        #expect(throws: Lab.MissingAblations.self) {
            _ = try Lab.compareReport(
                paths: [out], metrics: ["loss/val"], baseline: nil, plotFolder: nil, ablations: ["gone"])
        }
        // A named baseline without runs is missing too (a note's block is kept until it has run).
        #expect(throws: Lab.MissingAblations.self) {
            _ = try Lab.compareReport(paths: [out], metrics: ["loss/val"], baseline: "gone", plotFolder: nil)
        }
    }
}

@Suite struct NotesTests {
    @Test func labNotesRewritesOnlyTheMarkedBlock() throws {
        let root = temporaryFolder()
        let run = try runProduct("mlp-demo", ["--out", "\(root)/runs", "--seeds", "0,1", "--steps", "30"])
        #expect(run.status == 0, "\(run.stderr)")
        try FileManager.default.createDirectory(atPath: "\(root)/Notebooks-md", withIntermediateDirectories: true)
        let note = """
            # Demo
            Text before.
            <!-- lab:compare runs=runs/mlp-demo metric=loss/val -->
            stale table
            <!-- /lab:compare -->
            <!-- lab:compare runs=runs/absent metric=loss/val -->
            kept as is
            <!-- /lab:compare -->
            The syntax, quoted: `<!-- lab:compare runs=DIR metric=KEY -->` ... `<!-- /lab:compare -->`.
            Text after.
            """
        try note.write(toFile: "\(root)/Notebooks-md/demo.md", atomically: true, encoding: .utf8)
        let report = try Lab.regenerateNotes(notesFolder: "\(root)/Notebooks-md", root: root)
        #expect(report.count == 2 && report[1].hasPrefix("STALE demo.md: kept the block"))
        let text = try String(contentsOfFile: "\(root)/Notebooks-md/demo.md", encoding: .utf8)
        #expect(!text.contains("stale table") && text.contains("kept as is"))
        // The footer says what the table was made from.
        #expect(text.contains("_Generated by `lab notes` from `runs/mlp-demo`: 2 runs, seeds 0, 1; commit "), "\(text)")
        #expect(text.contains("| base | 2 |") && text.contains("![loss/val](figures/mlp-demo-loss-val.svg)"))
        #expect(text.hasPrefix("# Demo\nText before.") && text.hasSuffix("Text after."))
        #expect(FileManager.default.fileExists(atPath: "\(root)/Notebooks-md/figures/mlp-demo-loss-val.svg"))
        // Running again gives the same text (idempotent).
        _ = try Lab.regenerateNotes(notesFolder: "\(root)/Notebooks-md", root: root)
        #expect(try String(contentsOfFile: "\(root)/Notebooks-md/demo.md", encoding: .utf8) == text)
    }

    /// Runs made at the checkout's commit are fresh; after a commit that changes library code they
    /// are stale, and so are runs of a dirty build or of a commit the checkout does not have.
    @Test func blocksAreStaleWhenTheCodeChangedSinceTheirRuns() throws {
        let root = temporaryFolder()
        func git(_ arguments: String...) -> String {
            Provenance.run(
                "/usr/bin/env", ["git", "-C", root, "-c", "user.name=t", "-c", "user.email=t@t"] + arguments) ?? ""
        }
        _ = git("init", "-q")
        try FileManager.default.createDirectory(atPath: "\(root)/Packages/A", withIntermediateDirectories: true)
        try "let a = 1\n".write(toFile: "\(root)/Packages/A/a.swift", atomically: true, encoding: .utf8)
        _ = git("add", "-A")
        _ = git("commit", "-q", "-m", "first")
        let head = git("rev-parse", "HEAD")
        func results(_ commit: String) throws {
            for seed in [0, 1] {
                var r = RunResults(
                    experiment: "demo", ablation: "base", seed: seed, configJSON: "{}",
                    provenanceJSON: Provenance(
                        gitCommit: commit, date: "2026-12-01T10:00:00Z", swiftVersion: "6.3", threads: 1, command: "x"
                    ).json)
                r.metrics["loss/val"] = MetricSeries(steps: [1, 2], values: [2, 1])
                try r.save(to: "\(root)/runs/demo/base/seed-\(seed).h5")
            }
        }
        try FileManager.default.createDirectory(atPath: "\(root)/Notebooks-md", withIntermediateDirectories: true)
        let note = "<!-- lab:compare runs=runs/demo metric=loss/val -->\n<!-- /lab:compare -->\n"
        try note.write(toFile: "\(root)/Notebooks-md/n.md", atomically: true, encoding: .utf8)
        try results(head)
        var (lines, stale) = try Lab.regenerateNotesReport(notesFolder: "\(root)/Notebooks-md", root: root)
        #expect(stale == 0 && lines == ["n.md: loss/val from runs/demo"])
        #expect(
            try String(contentsOfFile: "\(root)/Notebooks-md/n.md", encoding: .utf8).contains(
                "commit \(head.prefix(10)); 2026-12-01"))
        try "let a = 2\n".write(toFile: "\(root)/Packages/A/a.swift", atomically: true, encoding: .utf8)
        _ = git("commit", "-q", "-am", "second")
        (lines, stale) = try Lab.regenerateNotesReport(notesFolder: "\(root)/Notebooks-md", root: root)
        #expect(
            stale == 1 && lines[0].contains("1 files of the code changed since \(head.prefix(10)) (Packages/A/a.swift)")
        )
        try results(head + "+dirty")
        (lines, _) = try Lab.regenerateNotesReport(notesFolder: "\(root)/Notebooks-md", root: root)
        #expect(lines[0].contains("made by a build with uncommitted changes"))
        try results(String(repeating: "f", count: 40))
        (lines, _) = try Lab.regenerateNotesReport(notesFolder: "\(root)/Notebooks-md", root: root)
        #expect(lines[0].contains("is not in this checkout"))
    }

    /// A block goes stale when code its experiment depends on changes, and only then: the
    /// manifest's table says experiment "demo" is package A's, A uses Core, the experiment also
    /// uses Kit, and every package uses LabSupport; package Other is none of these. A manifest
    /// whose change is a new line outside the closure's rows, a test dependency, or a line of a
    /// row outside the closure changes nothing built; a line gained or lost in a closure row, or
    /// lost outside any row, does.
    @Test func onlyCodeTheExperimentDependsOnMakesItStale() throws {
        let root = temporaryFolder()
        func git(_ arguments: String...) {
            _ = Provenance.run(
                "/usr/bin/env", ["git", "-C", root, "-c", "user.name=t", "-c", "user.email=t@t"] + arguments)
        }
        func write(_ path: String, _ text: String) throws {
            let url = URL(fileURLWithPath: "\(root)/\(path)")
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        try write(
            "Package.swift",
            """
            let packages: [LocalPackage] = [
                LocalPackage(name: "Core"),
                LocalPackage(
                    name: "A", deps: ["Core"], experiment: "demo", experimentDeps: ["Kit"],
                    testDeps: ["Other"]),
                LocalPackage(name: "Kit"),
                LocalPackage(name: "Other", deps: ["Core"], experiment: "other"),
            ]
            let tools: [(name: String, path: String, deps: [String])] = [
                ("toolexp", "Experiments/toolexp", ["Kit"]),
                (
                    "bench", "Benchmarks/bench",
                    ["Kit"]
                ),
            ]

            """)
        for package in ["Core", "A", "Kit", "Other", "LabSupport"] { try write("Packages/\(package)/x.swift", "1\n") }
        try write("Experiments/other/main.swift", "1\n")
        try write(".gitignore", "runs/\n")
        try write(
            "Notebooks-md/n.md",
            "<!-- lab:compare runs=runs/demo/zero metric=loss/val -->\n<!-- /lab:compare -->\n"
                + "<!-- lab:compare runs=runs/toolexp metric=loss/val -->\n<!-- /lab:compare -->\n")
        git("init", "-q")
        git("add", "-A")
        git("commit", "-q", "-m", "first")
        let head = Provenance.run("/usr/bin/env", ["git", "-C", root, "rev-parse", "HEAD"])!
        // Runs of "demo/zero", a stage of the experiment "demo" (package A's; a pipeline's stage
        // runs are named <experiment>/<stage>), and of "toolexp", an experiment-like tool of the
        // tools table whose closure is Kit.
        for experiment in ["demo/zero", "toolexp"] {
            var r = RunResults(
                experiment: experiment, ablation: "base", seed: 0, configJSON: "{}",
                provenanceJSON: Provenance(
                    gitCommit: head, date: "2026-12-01T10:00:00Z", swiftVersion: "6.3", threads: 1, command: "x"
                ).json)
            r.metrics["loss/val"] = MetricSeries(steps: [1, 2], values: [2, 1])
            try r.save(to: "\(root)/runs/\(experiment)/base/seed-0.h5")
        }
        let manifest = try String(contentsOfFile: "\(root)/Package.swift", encoding: .utf8)
        // (path, new text, stale blocks: demo's + toolexp's)
        for (path, text, stale) in [
            ("Packages/Other/x.swift", "2\n", 0), ("Experiments/other/main.swift", "2\n", 0),
            ("Notebooks-md/m.md", "2\n", 0), ("Package.swift", manifest + "// a new row\n", 0),
            (
                "Package.swift",
                manifest.replacingOccurrences(of: "testDeps: [\"Other\"]", with: "testDeps: [\"Kit\"]"), 0
            ),
            (
                "Package.swift",
                manifest.replacingOccurrences(of: "experiment: \"other\")", with: "experiment: \"other2\")"), 0
            ),
            (
                "Package.swift",
                manifest.replacingOccurrences(
                    of: "testDeps: [\"Other\"]),", with: "testDeps: [\"Other\"],\n        exclude: [\"x\"]),"), 1
            ),
            // A test target's dependencies over several lines, and a benchmark's: nothing stale.
            (
                "Package.swift",
                manifest.replacingOccurrences(
                    of: "testDeps: [\"Other\"]),", with: "testDeps: [\n            \"Other\", \"Kit\",\n        ]),"), 0
            ),
            (
                "Package.swift",
                manifest.replacingOccurrences(
                    of: "        [\"Kit\"]\n    ),", with: "        [\"Kit\", \"Core\"]\n    ),"), 0
            ),
            ("Packages/Kit/x.swift", "2\n", 2), ("Packages/Core/x.swift", "2\n", 1),
            ("Packages/LabSupport/x.swift", "2\n", 2),
            // A's row and the tools row both lose a line: both blocks are stale.
            ("Package.swift", manifest.replacingOccurrences(of: "\"Kit\"]", with: "\"Kit\", \"Other\"]"), 2),
        ] {
            git("reset", "-q", "--hard", head)
            try write(path, text)
            git("add", "-A")
            git("commit", "-q", "-m", path)
            let (lines, count) = try Lab.regenerateNotesReport(notesFolder: "\(root)/Notebooks-md", root: root)
            #expect(count == stale, "a change to \(path): \(lines)")
        }
    }
}

@Suite struct FrontierTests {
    static func run(
        _ experiment: String, _ ablation: String, _ seed: Int, kl: Double?, reward: Double, status: String = "finished"
    ) -> RunResults {
        var r = RunResults(
            experiment: experiment, ablation: ablation, seed: seed, configJSON: "{}", provenanceJSON: "{}")
        if let kl { r.metrics["eval/kl"] = MetricSeries(steps: [0, 10], values: [0, kl]) }
        r.metrics["eval/true_reward"] = MetricSeries(steps: [0, 10], values: [0, reward])
        r.status = status
        return r
    }

    /// One point per (experiment, ablation): the mean of the seeds' final values with their range,
    /// sorted by x; unfinished runs and runs without one of the metrics are left out.
    @Test func pointsAreMeansOverSeedsSortedByX() {
        let runs = [
            Self.run("ppo", "base", 0, kl: 8, reward: 0.5), Self.run("ppo", "base", 1, kl: 10, reward: 0.7),
            Self.run("ppo", "beta-0", 0, kl: 30, reward: 0.2),
            Self.run("dpo", "base", 0, kl: 2, reward: 0.1),
            Self.run("dpo", "base", 1, kl: 99, reward: 9, status: "interrupted"),
            Self.run("dpo", "ipo", 0, kl: nil, reward: 1),
        ]
        let f = Frontier(runs: runs, x: "eval/kl", y: "eval/true_reward")
        #expect(f.points.map { "\($0.experiment)/\($0.ablation)" } == ["dpo/base", "ppo/base", "ppo/beta-0"])
        let ppo = f.points[1]
        #expect(ppo.seeds == [0, 1] && ppo.x.mean == 9 && ppo.x.low == 8 && ppo.x.high == 10)
        #expect(abs(ppo.y.mean - 0.6) < 1e-12 && ppo.y.low == 0.5 && ppo.y.high == 0.7)
        #expect(f.markdown.contains("| ppo | base | 2 | 9.0000 [8.0000, 10.0000] | 0.6000 [0.5000, 0.7000] |"))
        let svg = f.svg()
        #expect(svg.hasPrefix("<svg") && svg.filter { $0 == "\n" }.count > 10)
        #expect(svg.components(separatedBy: "<circle").count - 1 == 3 + 2, "three points and two legend marks")
        #expect(svg.contains(">beta-0</text>") && svg.contains(">dpo</text>"))
        // On a log scale the ticks are 1, 2, 5 times powers of ten around the points (2 to 30).
        let log = f.svg(logX: true)
        #expect(log.contains("(log scale)") && log.contains(">1</text>") && log.contains(">50</text>"))
        #expect(log.contains(">100</text>") && !log.contains(">200</text>"))
    }

    /// A lab:frontier block over two run folders is rewritten with the table, the plot and a footer;
    /// one whose folder or requested point is missing is kept as it is.
    @Test func labNotesRewritesAFrontierBlock() throws {
        let root = temporaryFolder()
        for r in [
            Self.run("ppo", "base", 0, kl: 8, reward: 0.5), Self.run("ppo", "base", 1, kl: 10, reward: 0.7),
            Self.run("dpo", "base", 0, kl: 2, reward: 0.1),
        ] {
            let folder = "\(root)/runs/\(r.experiment)/\(r.ablation)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try r.save(to: "\(folder)/seed-\(r.seed).h5")
        }
        try FileManager.default.createDirectory(atPath: "\(root)/Notebooks-md", withIntermediateDirectories: true)
        let note = """
            # Frontier
            <!-- lab:frontier runs=runs/ppo,runs/dpo x=eval/kl y=eval/true_reward figure=both -->
            old
            <!-- /lab:frontier -->
            <!-- lab:frontier runs=runs/ppo,runs/absent x=eval/kl y=eval/true_reward -->
            kept 1
            <!-- /lab:frontier -->
            <!-- lab:frontier runs=runs/ppo x=eval/kl y=eval/true_reward ablations=ppo/base,ppo/gone -->
            kept 2
            <!-- /lab:frontier -->
            End.
            """
        try note.write(toFile: "\(root)/Notebooks-md/f.md", atomically: true, encoding: .utf8)
        let (report, stale) = try Lab.regenerateNotesReport(notesFolder: "\(root)/Notebooks-md", root: root)
        let text = try String(contentsOfFile: "\(root)/Notebooks-md/f.md", encoding: .utf8)
        #expect(!text.contains("old") && text.contains("kept 1") && text.contains("kept 2"), "\(text)")
        #expect(text.contains("| dpo | base | 1 | 2.0000 [2.0000, 2.0000] |"))
        #expect(text.contains("![eval/true_reward against eval/kl](figures/both.svg)"))
        #expect(text.contains("_Generated by `lab notes` from `runs/ppo,runs/dpo`: 3 runs, seeds 0, 1;"))
        #expect(FileManager.default.fileExists(atPath: "\(root)/Notebooks-md/figures/both.svg"))
        #expect(report.contains { $0.contains("kept the block") && $0.contains("no results at runs/absent") })
        #expect(report.contains { $0.contains("kept the block") && $0.contains("ppo/gone") }, "\(report)")
        #expect(stale == 3, "two kept blocks, and runs made outside a git checkout")
    }

    /// A table block: one ablation's runs, "<row>/<column>" values as mean ± std over seeds (a
    /// metric's last value or a summary), "-" where absent, and two rows' difference paired by
    /// seed; another ablation's runs are not read.
    @Test func labNotesRewritesATableBlock() throws {
        let root = temporaryFolder()
        func run(_ ablation: String, _ seed: Int, _ accuracy: Double) throws {
            var r = RunResults(
                experiment: "p/summary", ablation: ablation, seed: seed, configJSON: "{}", provenanceJSON: "{}")
            r.summary["zero/eval/acc"] = accuracy
            r.metrics["sft/eval/acc"] = MetricSeries(steps: [1, 2], values: [0, accuracy + 0.1])
            r.status = "finished"
            let folder = "\(root)/runs/p/summary/\(ablation)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try r.save(to: "\(folder)/seed-\(seed).h5")
        }
        try run("base", 0, 0.2)
        try run("base", 1, 0.4)
        try run("other", 0, 0.9)
        try FileManager.default.createDirectory(atPath: "\(root)/Notebooks-md", withIntermediateDirectories: true)
        let note = """
            <!-- lab:table runs=runs/p/summary ablation=base rows=zero,sft,distill columns=eval/acc,eval/len differences=sft~zero -->
            old
            <!-- /lab:table -->
            <!-- lab:table runs=runs/p/summary ablation=gone rows=zero columns=eval/acc -->
            kept
            <!-- /lab:table -->
            """
        try note.write(toFile: "\(root)/Notebooks-md/t.md", atomically: true, encoding: .utf8)
        let (report, _) = try Lab.regenerateNotesReport(notesFolder: "\(root)/Notebooks-md", root: root)
        let text = try String(contentsOfFile: "\(root)/Notebooks-md/t.md", encoding: .utf8)
        #expect(!text.contains("old") && text.contains("kept"), "\(text)")
        #expect(text.contains("**base** (mean ± std over seeds 0, 1)"))
        #expect(text.contains("| zero | 0.300 ± 0.141 | - |"), "\(text)")
        #expect(text.contains("| sft | 0.400 ± 0.141 | - |") && text.contains("| distill | - | - |"))
        // sft − zero is 0.1 for both seeds: the interval is [0.1, 0.1], beyond noise.
        #expect(text.contains("| sft − zero | +0.100 [+0.100, +0.100] * | - |"), "\(text)")
        #expect(report.contains { $0.contains("kept the block") && $0.contains("no finished runs of gone") })
    }
}
