// lab: list experiments, show a results file, compare ablations, regenerate the notes' results.
import ArgumentParser
import ExperimentKit
import Foundation
import LabNotes

/// The repository root: --root, else the current folder when it holds Package.swift, else the
/// checkout this binary was built from.
func repositoryRoot(_ option: String?) -> String {
    if let option { return option }
    let cwd = FileManager.default.currentDirectoryPath
    if FileManager.default.fileExists(atPath: "\(cwd)/Package.swift") { return cwd }
    return SourceLocation(#filePath).repositoryRoot
}

struct LabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab", abstract: "Experiments, results and comparisons of llm-pipeline-lab.",
        subcommands: [List.self, Show.self, Compare.self, Notes.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every experiment and its ablations.")
        @Option(help: "Repository root.") var root: String?
        func run() throws { print(try Lab.list(root: repositoryRoot(root))) }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Config, provenance and metrics of a results file.")
        @Argument(help: "A results file (.h5).") var file: String
        func run() throws { print(try Lab.show(file)) }
    }

    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare ablations over seeds: markdown table and SVG learning curves.")
        @Argument(help: "Results files or folders (searched recursively).") var paths: [String]
        @Option(name: .customLong("metric"), help: "Metric key to compare (repeatable; default: all).")
        var metrics: [String] = []
        @Option(help: "Baseline ablation for the deltas (default: base, when present).") var baseline: String?
        @Option(help: "Folder for the SVG plots (one per metric).") var plots: String?
        @Option(help: "A metric that is better when lower (repeatable; overrides the default by name).")
        var lowerIsBetter: [String] = []
        @Option(help: "A metric that is better when higher (repeatable).")
        var higherIsBetter: [String] = []
        @Option(help: "Only these ablations, comma separated (default: all).")
        var ablations: String?
        func run() throws {
            let (markdown, plots, _) = try Lab.compareReport(
                paths: paths, metrics: metrics, baseline: baseline, plotFolder: plots,
                lowerIsBetter: Set(lowerIsBetter), higherIsBetter: Set(higherIsBetter),
                ablations: ablations.map { $0.split(separator: ",").map(String.init) } ?? [])
            print(markdown)
            for p in plots { print("\nplot: \(p)") }
        }
    }

    struct Notes: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Regenerate the results blocks (<!-- lab:compare ... -->) in Notebooks-md.")
        @Option(help: "Repository root.") var root: String?
        @Flag(help: "Exit 1 when a block is stale (its runs missing, or older than the code).") var strict = false
        func run() throws {
            let root = repositoryRoot(root)
            let (lines, stale) = try Lab.regenerateNotesReport(notesFolder: "\(root)/Notebooks-md", root: root)
            for line in lines { print(line) }
            if stale > 0 {
                print("\(stale) stale blocks")
                if strict { throw ExitCode(1) }
            }
        }
    }
}

LabCommand.main()
