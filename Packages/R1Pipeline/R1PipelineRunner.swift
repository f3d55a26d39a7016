import ExperimentKit
import Foundation
import HDF5Store
// The r1-pipeline command's work: for each (ablation, seed), the config's stages in order, each a
// run of the experiment kit named r1-pipeline/<stage> (R1Stages.swift) chained by StagePipeline:
// a finished stage is kept, an interrupted one resumes from its checkpoint, a forced one starts
// over. Then one more results file, r1-pipeline/summary, holds every stage's final numbers as
// summaries `<stage>/<metric>` (the table Scripts/r1-pipeline prints and the note compares), and
// those of the models the pipeline starts from (`reasoning-base/<metric>`: the first RL stage's
// step-0 evaluation; `reasoning-base-small/<metric>`: student-rl's).
// All stage runs take the command's options (ablation or --config, --set, --seed(s), --out,
// --threads, --steps, --stop-at); --resume is refused (stages resume by themselves) and
// --overwrite forces every stage that runs.
import LabSupport

/// The experiment kit's view of one stage: its name and the pipeline's config.
public protocol R1StageExperiment: Experiment where Config == R1PipelineConfig {
    static var stage: R1Stage { get }
}

extension R1StageExperiment {
    public static var name: String { stage.experimentName }
    public static var summary: String { "r1-pipeline's \(stage.rawValue) stage" }
    public static var resources: TaskResources { R1PipelineSummary.resources }
    /// Experiments/r1-pipeline: its configs, and the repository two levels up.
    public static var source: SourceLocation {
        SourceLocation(
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
                "../../Experiments/r1-pipeline/main.swift"
            ).standardized.path)
    }
    public static func run(_ run: Run<R1PipelineConfig>) throws -> RunOutcome {
        try R1Stages.run(stage, run, root: source.repositoryRoot)
    }
}

public enum ZeroStage: R1StageExperiment { public static let stage = R1Stage.zero }
public enum ColdStartDataStage: R1StageExperiment { public static let stage = R1Stage.coldStartData }
public enum ColdStartSFTStage: R1StageExperiment { public static let stage = R1Stage.coldStartSFT }
public enum ReasoningRLStage: R1StageExperiment { public static let stage = R1Stage.reasoningRL }
public enum RejectionSamplingStage: R1StageExperiment { public static let stage = R1Stage.rejectionSampling }
public enum SFT2Stage: R1StageExperiment { public static let stage = R1Stage.sft2 }
public enum FinalRLStage: R1StageExperiment { public static let stage = R1Stage.finalRL }
public enum DistillStage: R1StageExperiment { public static let stage = R1Stage.distill }
public enum StudentRLStage: R1StageExperiment { public static let stage = R1Stage.studentRL }

/// The summary run: it runs the stages (the selection comes from the command through
/// `R1PipelineRunner.selection`) and records their final numbers.
public enum R1PipelineSummary: Experiment {
    public typealias Config = R1PipelineConfig
    public static let name = "r1-pipeline/summary"
    public static let summary = "DeepSeek-R1's recipe at small scale, stage by stage."
    public static var source: SourceLocation { ZeroStage.source }
    /// The largest of its stages (each stage is a run of this size): Scripts/measure-resources r1-pipeline.
    public static let resources = TaskResources(threads: 1, memory: "3072M")

    /// The metrics the summary keeps of each stage (its final value; absent ones are skipped).
    public static let kept = [
        "eval/greedy_accuracy", "eval/mean@n", "eval/format_rate", "eval/mixing_rate", "eval/reasoning_words",
        "eval/self_corrections", "eval/length", "pref/true_reward", "data/samples", "data/kept", "data/kept_share",
        "data/mixing_rate", "data/examples",
    ]

    public static func run(_ run: Run<R1PipelineConfig>) throws -> RunOutcome {
        let c = run.config
        let selection = R1PipelineRunner.selection
        let out = R1Stages.out(run)
        let files = { (s: R1Stage) in StageFiles(out: out, stage: s, ablation: run.ablation, seed: run.seed) }
        let stages = try c.stages.map { stage in
            Stage(
                name: stage.rawValue, configJSON: try c.section(stage),
                input: try R1Stages.previous(stage, in: c)?.rawValue, recordPath: files(stage).record
            ) { forced in
                try R1PipelineRunner.runStage(
                    stage, options: selection.options, ablation: run.ablation, seed: run.seed, forced: forced)
            }
        }
        let outcomes = try StagePipeline(stages: stages).run(
            only: selection.only.isEmpty ? nil : selection.only,
            force: selection.options.overwrite ? Set(c.stages.map(\.rawValue)) : selection.force)
        for outcome in outcomes {
            if case .skipped(let name) = outcome { print("\(name): finished before, kept") }
        }
        if outcomes.contains(where: { if case .interrupted = $0 { true } else { false } }) { return .interrupted }
        var rows: [(String, [String: Double])] = []
        func record(_ row: String, _ value: (String) -> Double?) {
            var values: [String: Double] = [:]
            for key in kept {
                guard let v = value(key) else { continue }
                run.results.summary("\(row)/\(key)", v)
                values[key] = v
            }
            if !values.isEmpty { rows.append((row, values)) }
        }
        for stage in c.stages where FileManager.default.fileExists(atPath: files(stage).record) {
            let results = try RunResults.load(from: files(stage).results)
            // An RL stage's step-0 evaluation is its input's: the first stage's is reasoning-base's,
            // student-rl's the student base's (rows "reasoning-base", "reasoning-base-small").
            let start =
                stage == .studentRL ? "reasoning-base-small" : (stage == c.stages.first ? "reasoning-base" : nil)
            if let start {
                record(start) { key in results.metrics[key].flatMap { $0.steps.first == 0 ? $0.values.first : nil } }
            }
            record(stage.rawValue) { key in results.metrics[key]?.values.last ?? results.summary[key] }
        }
        print(table(rows))
        return .finished
    }

    /// The final table: one row per finished stage, its last evaluation (and a sampling stage's
    /// kept share).
    static func table(_ rows: [(stage: String, values: [String: Double])]) -> String {
        let columns = [
            ("greedy", "eval/greedy_accuracy"), ("mean@n", "eval/mean@n"), ("format", "eval/format_rate"),
            ("mixing", "eval/mixing_rate"), ("words", "eval/reasoning_words"), ("pref", "pref/true_reward"),
            ("kept", "data/kept_share"),
        ]
        var lines = ["stage".padding(toLength: 20, withPad: " ", startingAt: 0) + columns.map { pad($0.0) }.joined()]
        for (stage, values) in rows {
            lines.append(
                stage.padding(toLength: 20, withPad: " ", startingAt: 0)
                    + columns.map { pad(values[$0.1].map { String(format: "%.3f", $0) } ?? "-") }.joined())
        }
        return lines.joined(separator: "\n")
    }

    static func pad(_ text: String) -> String { String(repeating: " ", count: max(0, 9 - text.count)) + text }
}

public enum R1PipelineRunner {
    public struct Selection: @unchecked Sendable {  // options: plain values, read-only once set
        public var options = ExperimentOptions()
        /// Stage names to run (empty: all of the config's).
        public var only: Set<String> = []
        public var force: Set<String> = []
        public init() {}
    }

    @TaskLocal static var selection = Selection()

    /// Runs the pipeline for every (ablation, seed) the options name.
    public static func run(_ selection: Selection, log: @escaping (String) -> Void = { print($0) }) throws
        -> RunOutcome
    {
        let o = selection.options
        if o.resume != nil {
            throw LabError(
                .config,
                "--resume: the pipeline's stages resume by themselves; run the same command again (--force STAGE starts one over)"
            )
        }
        let known = Set(R1Stage.allCases.map(\.rawValue))
        if let unknown = selection.only.union(selection.force).subtracting(known).sorted().first {
            throw LabError(
                .config, "no stage '\(unknown)' (stages: \(R1Stage.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        var summary = o
        summary.overwrite = true  // the summary is remade from the stages every time
        var runner = ExperimentRunner<R1PipelineSummary>(options: summary)
        runner.log = { line in if !line.hasPrefix("--overwrite: removed") && !line.hasPrefix("stopped;") { log(line) } }
        let outcome = try $selection.withValue(selection) { try runner.runAll() }
        if outcome == .interrupted {
            log("stopped; run the same command again: finished stages are kept and the stopped one resumes")
        }
        return outcome
    }

    /// Runs one stage as its own run: resumed from its checkpoint when an earlier run of it was
    /// interrupted, started over when forced or when it left results without a checkpoint.
    static func runStage(_ stage: R1Stage, options: ExperimentOptions, ablation: String, seed: Int, forced: Bool)
        throws -> RunOutcome
    {
        var o = options
        (o.seed, o.seeds, o.allAblations, o.overwrite, o.resume) = (seed, nil, false, false, nil)
        if o.config == nil { o.ablation = ablation }
        let files = StageFiles(out: o.out, stage: stage, ablation: ablation, seed: seed)
        if forced {
            o.overwrite = true
            // A forced stage starts over: its checkpoint and its files from before go first.
            for path in [files.checkpoint, files.policy, files.data] where FileManager.default.fileExists(atPath: path)
            {
                try FileManager.default.removeItem(atPath: path)
            }
        } else if FileManager.default.fileExists(atPath: files.checkpoint) {
            o.resume = files.checkpoint
        } else if FileManager.default.fileExists(atPath: files.results) {
            o.overwrite = true  // stopped before its first checkpoint (or a sampling stage): again
        }
        switch stage {
        case .zero: return try runAll(ExperimentRunner<ZeroStage>(options: o))
        case .coldStartData: return try runAll(ExperimentRunner<ColdStartDataStage>(options: o))
        case .coldStartSFT: return try runAll(ExperimentRunner<ColdStartSFTStage>(options: o))
        case .reasoningRL: return try runAll(ExperimentRunner<ReasoningRLStage>(options: o))
        case .rejectionSampling: return try runAll(ExperimentRunner<RejectionSamplingStage>(options: o))
        case .sft2: return try runAll(ExperimentRunner<SFT2Stage>(options: o))
        case .finalRL: return try runAll(ExperimentRunner<FinalRLStage>(options: o))
        case .distill: return try runAll(ExperimentRunner<DistillStage>(options: o))
        case .studentRL: return try runAll(ExperimentRunner<StudentRLStage>(options: o))
        }
    }

    /// A stage's run, logged without its config (one JSON text, the same for every stage: the
    /// summary run prints it).
    static func runAll<E>(_ runner: ExperimentRunner<E>) throws -> RunOutcome {
        var runner = runner
        runner.log = { line in if !line.hasPrefix("{") { print(line) } }
        return try runner.runAll()
    }
}
