import ArgumentParser
import Foundation
import HDF5Store
// The command line every experiment executable shares, and the runner behind it:
//   --ablation NAME | --config FILE, --seed N | --seeds 0,1,2, --set k=v, --out DIR,
//   --resume PATH, --steps N, --stop-at N, --threads N, --list-ablations, --all-ablations.
// An experiment's main.swift is one line: `ExperimentCommand<MyExperiment>.main()`.
import LabSupport
import TensorCore

public struct ExperimentOptions: ParsableArguments {
    @Option(help: "Ablation to run: configs/<NAME>.json over configs/base.json.")
    public var ablation = "base"

    @Option(help: "A config file of overrides to run instead of a named ablation (its name: the file's stem).")
    public var config: String?

    @Option(help: "Seed of the run.")
    public var seed: Int?

    @Option(help: "Several seeds, comma separated (one results file each).")
    public var seeds: String?

    @Option(name: .customLong("set"), help: "Override a config key: --set key.path=value (repeatable).")
    public var sets: [String] = []

    @Option(help: "Folder for results and checkpoints: <out>/<experiment>/<ablation>/seed-<n>.h5.")
    public var out = "runs"

    @Option(help: "Resume from this checkpoint (same ablation, seed and config).")
    public var resume: String?

    @Option(help: "Shorten the run to at most N steps (smoke runs).")
    public var steps: Int?

    @Option(help: "Stop after step N as if interrupted: writes a checkpoint to resume from.")
    public var stopAt: Int?

    @Option(help: "Threads for matmuls and kernels (1 to \(ExperimentOptions.maxThreads)).")
    public var threads = 2

    @Flag(help: "Replace an existing run at the output paths (its results and checkpoint are deleted first).")
    public var overwrite = false

    @Option(help: "Folder of the experiment's configs (default: the one beside its source).")
    public var configs: String?

    @Flag(help: "List the ablations with their descriptions and exit.")
    public var listAblations = false

    @Flag(help: "Print what one run needs from a cluster (threads, memory) as JSON and exit.")
    public var resources = false

    @Flag(help: "Run every ablation for every seed.")
    public var allAblations = false

    public init() {}

    /// More threads than this is a typo, not a machine (the worker pool starts them all).
    public static let maxThreads = 256

    public func validate() throws {
        if seed != nil && seeds != nil { throw ValidationError("give --seed or --seeds, not both") }
        if config != nil && (allAblations || ablation != "base") {
            throw ValidationError("--config replaces --ablation / --all-ablations")
        }
        if resume != nil && (allAblations || seeds != nil) { throw ValidationError("--resume continues one run") }
        if resume != nil && overwrite { throw ValidationError("--resume continues a run; --overwrite replaces it") }
        if !(1...Self.maxThreads).contains(threads) {
            throw ValidationError("--threads \(threads): must be in 1...\(Self.maxThreads)")
        }
        if let steps, steps < 1 { throw ValidationError("--steps \(steps): must be at least 1") }
        if let stopAt, stopAt < 1 { throw ValidationError("--stop-at \(stopAt): must be at least 1") }
        do { _ = try seedList() } catch let error as LabError where error.domain == .config {
            throw ValidationError(error.message)
        }
    }

    /// The seeds to run: each a distinct non-negative integer (a seed becomes the RNG's UInt64).
    func seedList() throws -> [Int] {
        var list = [seed ?? 0]
        if let seeds {
            let parsed = seeds.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !parsed.isEmpty, parsed.allSatisfy({ $0 != nil }) else {
                throw LabError(.config, "--seeds \(seeds): expected comma-separated integers")
            }
            list = parsed.map { $0! }
            if Set(list).count != list.count { throw LabError(.config, "--seeds \(seeds): a seed is listed twice") }
        }
        if let negative = list.first(where: { $0 < 0 }) {
            throw LabError(.config, "\(seeds != nil ? "--seeds" : "--seed") \(negative): seeds must be 0 or more")
        }
        return list
    }
}

public struct ExperimentCommand<E: Experiment>: ParsableCommand {
    public static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: E.name, abstract: E.summary)
    }

    @OptionGroup public var options: ExperimentOptions

    public init() {}

    /// Exit status: 0 when every run finished or stopped where `--stop-at` asked; 128 + the
    /// signal's number when a signal stopped it (130 for Ctrl-C, 143 for SIGTERM); 1 on an error.
    public func run() throws {
        let runner = ExperimentRunner<E>(options: options)
        let outcome = try runner.runAll()
        if case .interrupted = outcome, let signal = Interrupt.signal { throw ExitCode(128 + signal) }
    }
}

/// Resolves configs and runs every requested (ablation, seed) pair; also usable from tests.
public struct ExperimentRunner<E: Experiment> {
    public let options: ExperimentOptions
    public var log: (String) -> Void = { print($0) }

    public init(options: ExperimentOptions) { self.options = options }

    var configsDirectory: String { options.configs ?? E.configsDirectory }

    /// Where this process writes its runs: `--out`, except on the ranks after the first of a
    /// data-parallel launch (mpirun), which compute the same run as rank 0 and write their copies
    /// of its files to a scratch folder of their own, removed when they finish.
    var out: String {
        guard let launched = LaunchedRank.fromEnvironment, launched.rank > 0 else { return options.out }
        return NSTemporaryDirectory() + "lab-rank-\(launched.rank)-of-\(launched.size)-\(getpid())"
    }

    /// The (name, layers) of every ablation to run, checked before any work starts.
    func ablations() throws -> [(name: String, layers: [ConfigLayer])] {
        let base = try ConfigLayer.file("\(configsDirectory)/base.json", optional: true)
        let sets = try ConfigLayer.sets(options.sets)
        let known = try listAblations(in: configsDirectory).map(\.name)
        var chosen: [(String, ConfigLayer?)] = []
        if let file = options.config {
            chosen = [
                (((file as NSString).lastPathComponent as NSString).deletingPathExtension, try ConfigLayer.file(file))
            ]
        } else if options.allAblations {
            chosen = try known.map { ($0, $0 == "base" ? nil : try ConfigLayer.file("\(configsDirectory)/\($0).json")) }
        } else {
            guard known.contains(options.ablation) else {
                throw LabError(
                    .config,
                    "unknown ablation '\(options.ablation)' for \(E.name) (known: \(known.joined(separator: ", ")))")
            }
            let layer =
                options.ablation == "base" ? nil : try ConfigLayer.file("\(configsDirectory)/\(options.ablation).json")
            chosen = [(options.ablation, layer)]
        }
        return try chosen.map { name, layer in
            (name, [base] + (try layer.map { try extended($0, seen: [name]) } ?? []) + [sets])
        }.map { ($0.0, $0.1.compactMap { $0 }) }
    }

    /// An ablation file's layers: those of the ablation its `"_extends": "NAME"` names (itself
    /// layered the same way), then its own. A family of ablations (Pendulum's) shares one file.
    func extended(_ layer: ConfigLayer, seen: Set<String>) throws -> [ConfigLayer] {
        guard let parent = layer.values["_extends"] else { return [layer] }
        guard case .string(let name) = parent, name != "base" else {
            throw LabError(.config, "\(layer.source): _extends must name another ablation of the configs folder")
        }
        if seen.contains(name) { throw LabError(.config, "\(layer.source): _extends cycle through '\(name)'") }
        guard let file = try ConfigLayer.file("\(configsDirectory)/\(name).json", optional: true) else {
            throw LabError(.config, "\(layer.source): _extends '\(name)', but there is no \(name).json")
        }
        return try extended(file, seen: seen.union([name])) + [layer]
    }

    public func runAll() throws -> RunOutcome {
        if options.listAblations {
            for (name, text) in try listAblations(in: configsDirectory) { log("\(name)\t\(text)") }
            return .finished
        }
        if options.resources {
            print(E.resources.json)
            return .finished
        }
        let seeds = try options.seedList()
        if let launched = LaunchedRank.fromEnvironment, launched.size > 1, !E.dataParallel {
            throw LabError(
                .config,
                "\(E.name) trains as one process: under mpirun its \(launched.size) processes would each train a copy (the pretraining experiments, grpo and gspo train data parallel); run it without mpirun"
            )
        }
        if out != options.out {
            // Rank 0 speaks for the run; the others' errors still reach stderr.
            let null = open("/dev/null", O_WRONLY)
            if null >= 0 { dup2(null, STDOUT_FILENO) }
            try? FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        }
        defer { if out != options.out { try? FileManager.default.removeItem(atPath: out) } }
        // Resolve every config first: a bad file fails before any run starts.
        let resolved = try ablations().map { ($0.name, try ConfigResolver.resolve(E.Config.self, layers: $0.layers)) }
        // And no run may replace another's files unless asked (each run checks again under its lock).
        for (ablation, _) in resolved {
            for seed in seeds {
                try checkOutputs(RunPaths(out: out, experiment: E.name, ablation: ablation, seed: seed))
            }
        }
        Threads.set(options.threads)
        Interrupt.install()
        for (ablation, config) in resolved {
            for seed in seeds {
                if case .interrupted = try runOne(ablation: ablation, seed: seed, config: config) {
                    return .interrupted
                }
            }
        }
        return .finished
    }

    /// A fresh run may not replace the results or checkpoint of another (finished or not) unless
    /// `--overwrite` says so; a resumed run continues its own.
    func checkOutputs(_ paths: RunPaths) throws {
        guard options.resume == nil && !options.overwrite else { return }
        let existing = [paths.results, paths.checkpoint].filter { FileManager.default.fileExists(atPath: $0) }
        guard let first = existing.first else { return }
        let status =
            (try? RunResults.load(from: paths.results)).map { "status \($0.status)" } ?? "its results unreadable"
        throw LabError(
            .config,
            "\(first): a run exists here (\(status)); --resume \(paths.checkpoint) continues it, --overwrite replaces it, or give another --out"
        )
    }

    func runOne(ablation: String, seed: Int, config: ResolvedConfig<E.Config>) throws -> RunOutcome {
        let paths = RunPaths(out: out, experiment: E.name, ablation: ablation, seed: seed)
        let folder = (paths.results as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw LabError(.config, "\(folder): cannot create the run's folder: \(error.localizedDescription)")
        }
        let lock = try RunLock(paths.results.replacingOccurrences(of: ".h5", with: ".lock"))
        defer { lock.release() }
        for name in removeStaleTemporaries(in: folder) {
            log("removed \(folder)/\(name), left by a writer that was killed")
        }
        try checkOutputs(paths)
        if options.overwrite {
            for path in [paths.results, paths.checkpoint] where FileManager.default.fileExists(atPath: path) {
                try FileManager.default.removeItem(atPath: path)
                log("--overwrite: removed \(path)")
            }
        }
        log("== \(E.name) / \(ablation) / seed \(seed) -> \(paths.results)")
        log(config.displayed(derivedKeys: E.Config.derivedKeys).prettyString)
        var resumeState: TrainingState?
        var results = RunResults(
            experiment: E.name, ablation: ablation, seed: seed, configJSON: config.json.jsonString,
            provenanceJSON: Provenance.current(threads: options.threads).json)
        if let checkpoint = options.resume {
            if out != options.out {
                // A later rank resumes from rank 0's files: its results' history to continue.
                let first = RunPaths(out: options.out, experiment: E.name, ablation: ablation, seed: seed).results
                try? FileManager.default.removeItem(atPath: paths.results)
                try? FileManager.default.copyItem(atPath: first, toPath: paths.results)
            }
            let state = try Checkpoint.load(from: checkpoint)
            try checkResumable(state, checkpoint: checkpoint, config: config, seed: seed)
            resumeState = state
            // The run's history: without it the resumed results would start at the checkpoint's
            // step and look complete, so a missing or unreadable results file is an error.
            guard FileManager.default.fileExists(atPath: paths.results) else {
                throw LabError(
                    .config,
                    "\(paths.results): no results file to continue; resuming would lose the run's history up to step \(state.step)"
                )
            }
            var previous = try RunResults.load(from: paths.results)
            guard previous.experiment == E.name, previous.seed == seed, previous.ablation == ablation else {
                throw LabError(
                    .config,
                    "\(paths.results): results of \(previous.experiment) / \(previous.ablation) / seed \(previous.seed), not of this run"
                )
            }
            let before = previous.metrics.values.reduce(0) { $0 + $1.steps.count }
            previous.truncate(after: state.step)
            let dropped = before - previous.metrics.values.reduce(0) { $0 + $1.steps.count }
            previous.status = "running"
            results.metrics = previous.metrics
            results.samples = previous.samples
            log(
                "resuming from \(checkpoint) at step \(state.step)"
                    + (dropped > 0 ? "; \(dropped) metric points recorded after it are dropped and measured again" : "")
            )
        }
        let writer = try ResultsWriter(path: paths.results, results: results)
        let run = Run<E.Config>(
            experiment: E.name, ablation: ablation, seed: seed, config: config, threads: options.threads, paths: paths,
            inputs: options.out, results: writer, resumeState: resumeState, stepsOverride: options.steps,
            stopAtStep: options.stopAt)
        do {
            let outcome = try E.run(run)
            switch outcome {
            case .finished: try writer.close(status: "finished")
            case .interrupted:
                try writer.close(status: "interrupted")
                log("stopped; resume with: --resume \(paths.checkpoint)")
            }
            return outcome
        } catch {
            do { try writer.close(status: "failed") } catch let closing {
                log("\(paths.results): could not be marked failed: \(closing)")
            }
            throw error
        }
    }

    /// A checkpoint resumes only the run that wrote it: same experiment config and seed.
    func checkResumable(_ state: TrainingState, checkpoint: String, config: ResolvedConfig<E.Config>, seed: Int) throws
    {
        let saved = try JSONValue.parse(Data(state.configJSON.utf8), source: checkpoint)
        if saved != config.json {
            let keys = Set(saved.objectValue?.keys ?? [:].keys).union(config.json.objectValue?.keys ?? [:].keys)
            let differing = keys.sorted().filter { saved.value(at: $0) != config.json.value(at: $0) }
            throw LabError(
                .config,
                "\(checkpoint): checkpoint was written with a different config (keys: \(differing.joined(separator: ", ")))"
            )
        }
        guard let savedSeed = state.counters["seed"] else {
            throw LabError(.config, "\(checkpoint): no counter 'seed': not a checkpoint of an experiment run")
        }
        guard savedSeed == Double(seed) else {
            throw LabError(.config, "\(checkpoint): checkpoint is from seed \(savedSeed), not \(seed)")
        }
        guard state.step >= 0 else { throw LabError(.config, "\(checkpoint): step \(state.step) is negative") }
    }
}
