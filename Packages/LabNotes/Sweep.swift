import ExperimentKit
import Foundation
import HDF5Store
// A study as a list of tasks, one per (ablation, seed): a Slurm job array (one array task each,
// requeue-safe) with a follow-up job that compares them, or the same list run here N at a time.
// Every task goes through `lab sweep-task`, which skips a finished run, resumes one that left a
// checkpoint, and starts the rest: a preempted and requeued task continues bit for bit.
import LabSupport

#if canImport(Glibc)
    import Glibc
#endif

public struct Sweep: Equatable {
    public struct Task: Equatable, Codable, Sendable {
        public var ablation: String
        public var seed: Int
    }

    /// What runs after the array (or after the local tasks).
    public enum Then: String, CaseIterable, Codable {
        /// `lab compare` of the sweep's runs into `sweep/compare.md` (plots beside it).
        case compare
        /// `lab notes`: regenerate the notes' results blocks from the runs.
        case notes
        case none
    }

    public var experiment: String
    /// Absolute paths of the experiment's executable and of `lab`.
    public var binary: String
    public var lab: String
    /// The repository root (the tasks' working folder) and the results root (absolute).
    public var root: String
    public var out: String
    public var tasks: [Task]
    /// `--set key=value` overrides, passed to every task.
    public var sets: [String]
    /// Slurm resources per task: CPUs (the run's `--threads`), memory, wall time, partition. The
    /// threads and memory are the experiment's own declaration (`<experiment> --resources`) unless
    /// the sweep gives them.
    public var threads: Int
    public var memory: String
    public var time: String?
    public var partition: String?
    public var then: Then

    /// Where the sweep's scripts, Slurm's own logs and the comparison go.
    public var folder: String { "\(out)/\(experiment)/sweep" }
    public var arrayScriptPath: String { "\(folder)/array.sbatch" }
    public var thenScriptPath: String { "\(folder)/then.sbatch" }
    /// A task's log, beside its results: every attempt (first start, requeues, resumes) appends.
    public func log(of task: Task) -> String { "\(out)/\(experiment)/\(task.ablation)/seed-\(task.seed).log" }

    /// A sweep checked before anything is written: the ablations exist in the experiment's
    /// configs folder, seeds are distinct and non-negative, the executables exist, the resources
    /// are well formed. `ablations` nil: every ablation; `threads`, `memory` nil: the experiment's.
    public static func plan(
        experiment: String, ablations: [String]?, seeds: [Int], sets: [String], out: String, threads: Int?,
        memory: String?, time: String?, partition: String?, then: Then, root: String, buildFolder: String
    ) throws -> Sweep {
        let configs = "\(root)/Experiments/\(experiment)/configs"
        guard FileManager.default.fileExists(atPath: configs) else {
            throw LabError(.config, "experiment '\(experiment)': no \(configs) (lab list names the experiments)")
        }
        let known = try listAblations(in: configs).map(\.name)
        let chosen = ablations ?? known
        if let unknown = chosen.first(where: { !known.contains($0) }) {
            throw LabError(
                .config,
                "--ablations: '\(unknown)' is not an ablation of \(experiment) (known: \(known.joined(separator: ", ")))"
            )
        }
        guard !chosen.isEmpty else { throw LabError(.config, "--ablations: none given") }
        // The array script lists tasks as words: an ablation's name must be one.
        if let odd = chosen.first(where: { $0.isEmpty || !$0.allSatisfy(Self.isPlain) }) {
            throw LabError(
                .config,
                "ablation '\(odd)' (\(configs)/\(odd).json): a sweep needs names of letters, digits, '.', '_' or '-'")
        }
        guard Set(chosen).count == chosen.count else { throw LabError(.config, "--ablations: an ablation twice") }
        guard !seeds.isEmpty else { throw LabError(.config, "--seeds: none given") }
        guard seeds.allSatisfy({ $0 >= 0 }), Set(seeds).count == seeds.count else {
            throw LabError(.config, "--seeds \(seeds.map(String.init).joined(separator: ",")): distinct, non-negative")
        }
        let binary = "\(buildFolder)/\(experiment)"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw LabError(
                .config, "\(binary): the experiment is not built (swift build -c release --product \(experiment))")
        }
        let declared = threads != nil && memory != nil ? nil : try declaredResources(binary)
        let (threads, memory) = (threads ?? declared!.threads, memory ?? declared!.memory)
        guard (1...ExperimentOptions.maxThreads).contains(threads) else {
            throw LabError(.config, "--threads \(threads): 1 to \(ExperimentOptions.maxThreads)")
        }
        guard memory.range(of: #"^[1-9][0-9]*[KMGT]?$"#, options: .regularExpression) != nil else {
            throw LabError(.config, "--mem '\(memory)': a whole number with an optional unit K, M, G or T (Slurm's)")
        }
        if let time, time.range(of: #"^[0-9]+(-[0-9]+)?(:[0-9]{1,2}){0,2}$"#, options: .regularExpression) == nil {
            throw LabError(.config, "--time '\(time)': minutes, or [days-]hours:minutes:seconds (Slurm's)")
        }
        if let partition, partition.isEmpty || !partition.allSatisfy(Self.isPlain) {
            throw LabError(.config, "--partition '\(partition)': letters, digits, '.', '_' or '-'")
        }
        for assignment in sets where !assignment.contains("=") {
            throw LabError(.config, "--set '\(assignment)': expected key.path=value")
        }
        let absoluteOut = out.hasPrefix("/") ? out : "\(FileManager.default.currentDirectoryPath)/\(out)"
        return Sweep(
            experiment: experiment, binary: binary, lab: "\(buildFolder)/lab", root: root,
            out: (absoluteOut as NSString).standardizingPath,
            tasks: chosen.flatMap { a in seeds.map { Task(ablation: a, seed: $0) } }, sets: sets, threads: threads,
            memory: memory, time: time, partition: partition, then: then)
    }

    /// What the experiment declares one run needs (`<binary> --resources`).
    static func declaredResources(_ binary: String) throws -> TaskResources {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--resources"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch {
            throw LabError(.config, "\(binary) --resources: cannot start it (\(error.localizedDescription))")
        }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw LabError(.config, "\(binary) --resources failed (status \(process.terminationStatus))")
        }
        return try TaskResources.parse(text, source: binary)
    }

    static func isPlain(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isNumber || "._-".contains(c)) }

    /// The sweep's settings as `sweep.json` records them: what every task runs (`lab sweep-task`
    /// reads it). A later sweep into the same folder must use the same experiment and overrides
    /// (its finished runs would otherwise be skipped as if they were its own).
    public struct Record: Codable, Equatable {
        public var experiment: String
        public var sets: [String]
        public var binary: String
        public var out: String
        public var threads: Int
    }

    public var recordPath: String { "\(folder)/sweep.json" }

    /// Writes sweep.json (after checking the one there).
    public func claimFolder() throws {
        let mine = Record(experiment: experiment, sets: sets, binary: binary, out: out, threads: threads)
        if FileManager.default.fileExists(atPath: recordPath) {
            let theirs = try Self.record(at: recordPath)
            guard theirs.experiment == mine.experiment, theirs.sets == mine.sets else {
                throw LabError(
                    .config,
                    "\(recordPath): a sweep of \(theirs.experiment) with --set [\(theirs.sets.joined(separator: ", "))] writes here; this one has [\(sets.joined(separator: ", "))]: give another --out (its finished runs would be skipped as this sweep's)"
                )
            }
        }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try write(String(decoding: try encoder.encode(mine), as: UTF8.self) + "\n", to: recordPath)
    }

    /// A sweep.json, checked.
    public static func record(at path: String) throws -> Record {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LabError(.config, "\(path): no such sweep record (lab sweep writes it)")
        }
        do { return try JSONDecoder().decode(Record.self, from: data) } catch {
            throw LabError(.config, "\(path): not a sweep record (\(error)); remove it and run lab sweep again")
        }
    }

    /// The arguments of `lab sweep-task` for one task (ablation and seed as given: words or the
    /// array script's variables).
    func taskArguments(ablation: String, seed: String) -> [String] {
        ["sweep-task", "--plan", recordPath, "--ablation", ablation, "--seed", seed]
    }

    /// The job array: task i runs tasks[i] through `lab sweep-task`, its output appended to the log
    /// beside its results; `--requeue` lets Slurm restart a preempted task, which then resumes.
    public func arrayScript() -> String {
        var lines = [
            "#!/usr/bin/env bash",
            "# lab sweep of \(experiment): \(tasks.count) tasks (ablation x seed), one array task each.",
            "# Submit: sbatch \(q(arrayScriptPath)); a task that finds its finished results skips, one that",
            "# finds a checkpoint resumes (so a requeued task continues where it stopped).",
            "#SBATCH --job-name=lab-\(experiment)",
            "#SBATCH --array=0-\(tasks.count - 1)",
            "#SBATCH --ntasks=1",
            "#SBATCH --cpus-per-task=\(threads)",
            "#SBATCH --mem=\(memory)",
            "#SBATCH --requeue",
            "#SBATCH --open-mode=append",
            "#SBATCH --chdir=\(root)",
            "#SBATCH --output=\(folder)/slurm-%A_%a.out",
        ]
        if let time { lines.append("#SBATCH --time=\(time)") }
        if let partition { lines.append("#SBATCH --partition=\(partition)") }
        lines += [
            "set -euo pipefail",
            "tasks=(" + tasks.map { q("\($0.ablation) \($0.seed)") }.joined(separator: " ") + ")",
            "read -r ablation seed <<< \"${tasks[$SLURM_ARRAY_TASK_ID]}\"",
            "log=\(q("\(out)/\(experiment)"))/\"$ablation/seed-$seed.log\"",
            "mkdir -p \"$(dirname \"$log\")\"",
            "echo \"== $(date -u +%Y-%m-%dT%H:%M:%SZ) array task $SLURM_ARRAY_TASK_ID of job ${SLURM_ARRAY_JOB_ID:-?}"
                + " (restart ${SLURM_RESTART_COUNT:-0}) on $(hostname -s)\" >> \"$log\"",
            // exec: Slurm's SIGTERM (preemption, scancel, requeue) reaches the experiment itself,
            // which checkpoints before it exits.
            "exec \(q(lab)) sweep-task --plan \(q(recordPath)) --ablation \"$ablation\" --seed \"$seed\" >> \"$log\" 2>&1",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// The follow-up job (submitted with --dependency=afterok on the array): the comparison table
    /// and plots of every ablation, or the notes regenerated.
    public func thenScript() -> String? {
        guard let command = thenCommand else { return nil }
        return [
            "#!/usr/bin/env bash",
            "# After the lab sweep of \(experiment) (submitted with --dependency=afterok:<array job>).",
            "#SBATCH --job-name=lab-\(experiment)-\(then.rawValue)",
            "#SBATCH --ntasks=1",
            "#SBATCH --cpus-per-task=1",
            "#SBATCH --mem=\(memory)",
            "#SBATCH --chdir=\(root)",
            "#SBATCH --output=\(folder)/slurm-%j-\(then.rawValue).out",
            // A failed task makes afterok unsatisfiable: cancel this job then instead of leaving it pending.
            "#SBATCH --kill-on-invalid-dep=yes",
        ].joined(separator: "\n") + (partition.map { "\n#SBATCH --partition=\($0)" } ?? "")
            + "\nset -euo pipefail\n" + command.map(q).joined(separator: " ")
            + (then == .compare ? " > \(q("\(folder)/compare.md"))" : "") + "\n"
    }

    /// The command that runs after the tasks.
    public var thenCommand: [String]? {
        switch then {
        case .compare: [lab, "compare", "\(out)/\(experiment)", "--plots", "\(folder)/plots"]
        case .notes: [lab, "notes", "--root", root]
        case .none: nil
        }
    }

    /// Writes the scripts (and claims the folder).
    public func writeScripts() throws {
        try claimFolder()
        try write(arrayScript(), to: arrayScriptPath, executable: true)
        if let then = thenScript() { try write(then, to: thenScriptPath, executable: true) }
    }

    func write(_ text: String, to path: String, executable: Bool = false) throws {
        let temporary = path + ".tmp"
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
            if executable {
                try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: temporary)
            }
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: temporary, toPath: path)
        } catch {
            throw LabError(.config, "\(path): cannot write: \(error.localizedDescription)")
        }
    }

    /// A word quoted for bash (single quotes; a quote inside becomes '\'').
    func q(_ word: String) -> String {
        word.allSatisfy({ Self.isPlain($0) || "/=:,+@%".contains($0) }) && !word.isEmpty
            ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// What one task does with what it finds at its paths.
public enum SweepAction: Equatable {
    /// Finished results: nothing to do.
    case skip
    /// A checkpoint (and results) to continue from: the run resumes bit for bit.
    case resume(checkpoint: String)
    /// Results without a checkpoint (killed before its first one): nothing to continue from, so
    /// the run starts again, replacing them; `reason` is logged.
    case restart(reason: String)
    /// Nothing there yet.
    case start

    /// Decides from the files alone. A damaged checkpoint is not guessed around: resuming from it
    /// fails with the experiment's named error, and the task fails.
    public static func decide(results: String, checkpoint: String) -> SweepAction {
        let fm = FileManager.default
        let hasResults = fm.fileExists(atPath: results)
        if hasResults, let r = try? RunResults.load(from: results), r.status == "finished" { return .skip }
        if fm.fileExists(atPath: checkpoint) {
            return .resume(checkpoint: checkpoint)
        }
        guard hasResults else { return .start }
        let status = (try? RunResults.load(from: results)).map { "status \($0.status)" } ?? "unreadable"
        return .restart(reason: "\(results): \(status) and no checkpoint to continue from")
    }

    /// The experiment's arguments for this action (nil: skip).
    public func experimentArguments(
        ablation: String, seed: Int, out: String, threads: Int, sets: [String]
    ) -> [String]? {
        var arguments =
            ["--ablation", ablation, "--seed", String(seed), "--out", out, "--threads", String(threads)]
            + sets.flatMap { ["--set", $0] }
        switch self {
        case .skip: return nil
        case .resume(let checkpoint): arguments += ["--resume", checkpoint]
        case .restart: arguments += ["--overwrite"]
        case .start: break
        }
        return arguments
    }
}

extension Sweep {
    /// Runs the tasks here, `parallel` at a time, each as `lab sweep-task` (the same code path as
    /// an array task) with its output appended to its log. Returns the tasks that failed with
    /// their exit status.
    public func runLocally(parallel: Int) throws -> [(Task, Int32)] {
        guard parallel >= 1 else { throw LabError(.config, "--local \(parallel): at least 1") }
        try claimFolder()
        let semaphore = DispatchSemaphore(value: parallel)
        let group = DispatchGroup()
        let failures = Failures()
        for task in tasks {
            semaphore.wait()
            let log = log(of: task)
            try FileManager.default.createDirectory(
                atPath: (log as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            if !FileManager.default.fileExists(atPath: log) {
                _ = FileManager.default.createFile(atPath: log, contents: nil)
            }
            guard let handle = FileHandle(forWritingAtPath: log) else {
                throw LabError(.config, "\(log): cannot open the task's log")
            }
            handle.seekToEndOfFile()
            handle.write(
                Data(
                    "== \(ISO8601DateFormatter().string(from: Date())) local task \(task.ablation) seed \(task.seed)\n"
                        .utf8))
            let process = Process()
            process.executableURL = URL(fileURLWithPath: lab)
            process.arguments = taskArguments(ablation: task.ablation, seed: String(task.seed))
            process.currentDirectoryURL = URL(fileURLWithPath: root)
            process.standardOutput = handle
            process.standardError = handle
            print("task \(task.ablation) seed \(task.seed): log \(log)")
            try process.run()
            group.enter()
            DispatchQueue.global().async {
                process.waitUntilExit()
                try? handle.close()
                if process.terminationStatus != 0 { failures.append((task, process.terminationStatus)) }
                semaphore.signal()
                group.leave()
            }
        }
        group.wait()
        return failures.sorted(in: tasks)
    }

    final class Failures: @unchecked Sendable {
        private var list: [(Task, Int32)] = []
        private let lock = NSLock()
        func append(_ f: (Task, Int32)) { lock.withLock { list.append(f) } }
        func sorted(in order: [Task]) -> [(Task, Int32)] {
            lock.withLock { list.sorted { order.firstIndex(of: $0.0)! < order.firstIndex(of: $1.0)! } }
        }
    }

    /// Submits the array (after `dependency`, a job id, when given) and the follow-up job after it;
    /// returns both job ids.
    public func submit(after dependency: String?) throws -> (array: String, then: String?) {
        if let dependency, dependency.range(of: #"^[0-9]+(_[0-9]+)?$"#, options: .regularExpression) == nil {
            throw LabError(.config, "--after '\(dependency)': a Slurm job id")
        }
        let array = try sbatch(
            (dependency.map { ["--dependency=afterok:\($0)"] } ?? []) + [arrayScriptPath])
        guard FileManager.default.fileExists(atPath: thenScriptPath), then != .none else { return (array, nil) }
        return (array, try sbatch(["--dependency=afterok:\(array)", thenScriptPath]))
    }

    func sbatch(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sbatch", "--parsable"] + arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch {
            throw LabError(.config, "sbatch: cannot start it (\(error.localizedDescription)): is Slurm installed?")
        }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let problem = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // --parsable prints "<job id>" or "<job id>;<cluster>".
        let id = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init) ?? ""
        guard process.terminationStatus == 0, id.allSatisfy(\.isNumber), !id.isEmpty else {
            throw LabError(
                .config,
                "sbatch \(arguments.joined(separator: " ")) failed (status \(process.terminationStatus)): \(problem.trimmingCharacters(in: .whitespacesAndNewlines))"
            )
        }
        return id
    }
}

/// `lab sweep-task`: decides what a task does and replaces this process with the experiment, so
/// a scheduler's signal reaches the run directly.
public enum SweepTask {
    public static func execute(plan: String, ablation: String, seed: Int) throws {
        let record = try Sweep.record(at: plan)
        let paths = RunPaths(out: record.out, experiment: record.experiment, ablation: ablation, seed: seed)
        let action = SweepAction.decide(results: paths.results, checkpoint: paths.checkpoint)
        switch action {
        case .skip: print("\(paths.results): finished; skipped")
        case .resume(let c): print("\(c): resuming")
        case .restart(let reason): print("\(reason): starting again")
        case .start: print("\(paths.results): starting")
        }
        guard
            let arguments = action.experimentArguments(
                ablation: ablation, seed: seed, out: record.out, threads: record.threads, sets: record.sets)
        else { return }
        fflush(nil)  // the decision line reaches the log before the experiment's own output
        let argv = ([record.binary] + arguments).map { strdup($0) } + [nil]
        execv(record.binary, argv)
        throw LabError(.config, "\(record.binary): cannot run it (\(String(cString: strerror(errno))))")
    }
}
