import ArgumentParser
import Dispatch
import ExperimentKit
import Foundation
import R1Pipeline
import Synchronization

// r1-pipeline: DeepSeek-R1's recipe end to end on the reasoning world (and the preference world for
// the non-reasoning data and reward), each stage a resumable run with its own results, checkpoint
// and trained policy (Packages/R1Pipeline):
//   zero -> cold-start-data -> cold-start-sft -> reasoning-rl -> rejection-sampling -> sft-2
//        -> final-rl -> distill, and student-rl (RL on the small student base, for comparison)
// Results: <out>/r1-pipeline/<stage>/<ablation>/seed-N.h5 (metrics: R1Stages.swift's header), and
// <out>/r1-pipeline/summary/<ablation>/seed-N.h5 with every stage's final numbers as summaries
// <stage>/<metric> (R1PipelineRunner.swift). Inputs under --out: base-models/base (reasoning-base),
// base-models/base-small (the student) and reward-bpr/base/seed-0.reward-model.h5 (final-rl's
// reward model); Scripts/r1-pipeline makes them.
//   r1-pipeline [--ablation NAME] [--stage NAME ...] [--force NAME ...] [experiment options]

/// The signal that stopped the pipeline: the experiment kit stops the running stage at the next
/// step on SIGINT, SIGTERM or SIGHUP; this only records which one, for the exit status 128 + N.
let stopSignal = Atomic<Int32>(0)
let signalSources = [SIGINT, SIGTERM, SIGHUP].map { number in
    signal(number, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
    source.setEventHandler { _ = stopSignal.compareExchange(expected: 0, desired: number, ordering: .relaxed) }
    source.resume()
    return source
}

struct R1PipelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "r1-pipeline", abstract: "DeepSeek-R1's recipe at small scale, stage by stage.")

    @OptionGroup var options: ExperimentOptions

    @Option(name: .customLong("stage"), help: "Run only this stage (repeatable; default: every stage of the config).")
    var stages: [String] = []

    @Option(help: "Run this stage again even when it finished (repeatable).")
    var force: [String] = []

    func run() throws {
        var selection = R1PipelineRunner.Selection()
        selection.options = options
        (selection.only, selection.force) = (Set(stages), Set(force))
        let outcome = try R1PipelineRunner.run(selection)
        let signal = stopSignal.load(ordering: .relaxed)
        if case .interrupted = outcome, signal != 0 { throw ExitCode(128 + signal) }
    }
}

_ = signalSources
R1PipelineCommand.main()
