// lab: list experiments, show a results file, compare ablations, regenerate the notes' results.
import ArgumentParser
import ExperimentKit
import Foundation
import Interop
import LabNotes

extension LabNotes.Sweep.Then: ExpressibleByArgument {}

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
        subcommands: [
            List.self, Show.self, Compare.self, Frontier.self, Notes.self, Sweep.self, SweepTaskCommand.self,
            Export.self,
            Import.self, Logits.self,
        ])

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

    struct Frontier: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "One point per (experiment, ablation) of several run folders: final x against final y, as a table and an SVG."
        )
        @Argument(help: "Run folders (e.g. runs/study/ppo-rlhf runs/study/dpo).") var paths: [String]
        @Option(help: "The metric on the x axis.") var x = "eval/kl"
        @Option(help: "The metric on the y axis.") var y = "eval/true_reward"
        @Option(help: "Only these points, comma separated experiment/ablation pairs (default: all).")
        var points: String?
        @Option(help: "Folder for the SVG plot.") var plots = "."
        @Flag(help: "Draw x on a log scale.") var logX = false
        func run() throws {
            let (markdown, plot, _) = try Lab.frontierReport(
                paths: paths, x: x, y: y, points: points.map { $0.split(separator: ",").map(String.init) } ?? [],
                plotFolder: plots, logX: logX)
            print(markdown)
            print("\nplot: \(plot)")
        }
    }

    struct Notes: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Regenerate the results blocks (<!-- lab:compare ... -->, <!-- lab:frontier ... -->, <!-- lab:table ... -->) in Notebooks-md."
        )
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

/// This executable's folder: the build folder that holds the experiments beside it.
func buildFolder() -> String {
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
}

extension LabCommand {
    struct Sweep: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a study (ablations x seeds) as a Slurm job array, or here N tasks at a time.",
            discussion: """
                Each task skips finished results and resumes from a checkpoint it finds, so a \
                preempted, requeued or rerun sweep continues where it stopped. Scripts, Slurm's logs \
                and the comparison go to <out>/<experiment>/sweep; a task's log is beside its results.
                """)
        @Argument(help: "The experiment (lab list names them).") var experiment: String
        @Option(help: "Ablations, comma separated (default: every one).") var ablations: String?
        @Option(help: "Seeds, comma separated.") var seeds: String
        @Option(name: .customLong("set"), help: "Override a config key in every task: --set key.path=value.")
        var sets: [String] = []
        @Option(help: "Results root: <out>/<experiment>/<ablation>/seed-N.h5.") var out = "runs"
        @Option(help: "Threads per task (Slurm: --cpus-per-task; default: the experiment's, see --resources).")
        var threads: Int?
        @Option(help: "Memory per task (Slurm's --mem, e.g. 4G; default: the experiment's, see --resources).")
        var mem: String?
        @Option(help: "Wall time per task (Slurm's --time).") var time: String?
        @Option(help: "Slurm partition (default: the cluster's default).") var partition: String?
        @Option(help: "After the tasks: compare (table and plots into sweep/compare.md), notes, or none.")
        var then: LabNotes.Sweep.Then = .compare
        @Flag(help: "Write the Slurm scripts (array.sbatch, then.sbatch).") var slurm = false
        @Flag(help: "Also submit them (the follow-up job with --dependency=afterok on the array).") var submit = false
        @Option(help: "Submit the array with --dependency=afterok on this job id.") var after: String?
        @Option(help: "Run the tasks here instead, N at a time.") var local: Int?
        @Option(help: "Repository root.") var root: String?

        func validate() throws {
            guard slurm != (local != nil) else { throw ValidationError("give exactly one of --slurm and --local N") }
            if (submit || after != nil) && !slurm { throw ValidationError("--submit and --after go with --slurm") }
            if after != nil && !submit { throw ValidationError("--after needs --submit") }
        }

        func run() throws {
            let seedList = try seeds.split(separator: ",", omittingEmptySubsequences: false).map {
                guard let n = Int($0.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--seeds '\(seeds)': comma-separated whole numbers")
                }
                return n
            }
            let sweep = try LabNotes.Sweep.plan(
                experiment: experiment, ablations: ablations.map { $0.split(separator: ",").map(String.init) },
                seeds: seedList, sets: sets, out: out, threads: threads, memory: mem, time: time, partition: partition,
                then: then, root: repositoryRoot(root), buildFolder: buildFolder())
            if let local {
                let failed = try sweep.runLocally(parallel: local)
                for (task, status) in failed {
                    print("failed: \(task.ablation) seed \(task.seed) (exit \(status)); log \(sweep.log(of: task))")
                }
                if !failed.isEmpty { throw ExitCode(1) }
                print("\(sweep.tasks.count) tasks done")
                if let command = sweep.thenCommand { try runAfter(command, sweep) }
                return
            }
            try sweep.writeScripts()
            print("wrote \(sweep.arrayScriptPath) (\(sweep.tasks.count) array tasks)")
            if sweep.then != .none { print("wrote \(sweep.thenScriptPath)") }
            if submit {
                let (array, next) = try sweep.submit(after: after)
                print(
                    "submitted array job \(array)" + (next.map { "; \(sweep.then.rawValue) job \($0) after it" } ?? ""))
            } else {
                print(
                    "submit: id=$(sbatch --parsable \(sweep.arrayScriptPath))"
                        + (sweep.then != .none ? " && sbatch --dependency=afterok:$id \(sweep.thenScriptPath)" : ""))
            }
        }

        /// The follow-up, here: its output printed (and the comparison saved as Slurm's job would).
        func runAfter(_ command: [String], _ sweep: LabNotes.Sweep) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: command[0])
            process.arguments = Array(command.dropFirst())
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let text = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            print(String(decoding: text, as: UTF8.self))
            if process.terminationStatus != 0 { throw ExitCode(process.terminationStatus) }
            if sweep.then == .compare {
                try text.write(to: URL(fileURLWithPath: "\(sweep.folder)/compare.md"))
                print("saved \(sweep.folder)/compare.md")
            }
        }
    }

    struct SweepTaskCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sweep-task",
            abstract: "One task of a sweep (what its array tasks run): skip, resume or start the run.")
        @Option(help: "The sweep's record (<out>/<experiment>/sweep/sweep.json).") var plan: String
        @Option(help: "The task's ablation.") var ablation: String
        @Option(help: "The task's seed.") var seed: Int
        func run() throws { try SweepTask.execute(plan: plan, ablation: ablation, seed: seed) }
    }
}

extension LabCommand {
    enum ExportFormat: String, ExpressibleByArgument, CaseIterable { case hf, gguf }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export a model checkpoint as a Hugging Face Llama folder or a llama.cpp GGUF file.")
        @Argument(help: "A model checkpoint (.h5) that describes its model.") var checkpoint: String
        @Option(help: "hf: config.json, model.safetensors, tokenizer.json; gguf: one .gguf file.")
        var format: ExportFormat
        @Argument(help: "The folder (hf) or file (gguf) to write.") var out: String
        @Option(help: "The tokenizer (.json) when the checkpoint does not carry one.") var tokenizer: String?
        @Flag(help: "GGUF: store the matrices in float16 (norm gains stay float32).") var f16 = false
        @Flag(help: "Replace an existing output (only once the new one is complete).") var overwrite = false
        func run() throws {
            let model = try ExportInput.model(checkpoint: checkpoint)
            let tok = try ExportInput.tokenizer(checkpoint: checkpoint, file: tokenizer)
            switch format {
            case .hf:
                try HuggingFaceFolder.export(model: model, tokenizer: tok, to: out, overwrite: overwrite)
            case .gguf:
                let name = ((checkpoint as NSString).lastPathComponent as NSString).deletingPathExtension
                try GGUFFile.export(model: model, tokenizer: tok, to: out, name: name, f16: f16, overwrite: overwrite)
            }
            print("exported \(checkpoint) (\(model.parameterCount) parameters) as \(format.rawValue): \(out)")
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a Hugging Face Llama folder (config.json, safetensors, tokenizer.json) as a checkpoint.")
        @Argument(help: "The Hugging Face model folder.") var folder: String
        @Argument(help: "The checkpoint (.h5) to write.") var out: String
        @Flag(help: "Replace an existing checkpoint.") var overwrite = false
        func run() throws {
            let model = try HuggingFaceFolder.importCheckpoint(from: folder, to: out, overwrite: overwrite)
            print("imported \(folder) (\(model.parameterCount) parameters): \(out)")
        }
    }
}

extension LabCommand {
    struct Logits: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a checkpoint's logits for a text or ids as JSON (to compare with an exported copy).")
        @Argument(help: "A model checkpoint (.h5).") var checkpoint: String
        @Option(help: "Text, encoded by the checkpoint's tokenizer with every special token matched, as HF does.")
        var text: String?
        @Option(help: "Token ids, comma separated (instead of --text).") var ids: String?
        func run() throws {
            let (tokens, values) = try ExportInput.logits(checkpoint: checkpoint, text: text, ids: ids)
            let rows = values.map { "[" + $0.map { "\($0)" }.joined(separator: ",") + "]" }
            print("{\"ids\": \(tokens), \"logits\": [\(rows.joined(separator: ",\n"))]}")
        }
    }
}

LabCommand.main()
