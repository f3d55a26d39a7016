import Foundation
import HDF5Store
// The kit's worked example: an MLP learns to separate two noisy interleaved spirals.
// Small enough for tests, complete enough to exercise every part of the kit: configs and
// ablations, results, checkpoints, resume (weights, AdamW moments, two RNG streams, the data
// cursor and the epoch's permutation), Ctrl-C, and `lab compare`.
import LabSupport
import TensorCore

public struct MLPDemoConfig: ExperimentConfig, Equatable {
    /// Widths of the hidden layers.
    public var hidden = [64, 64]
    /// Activation between layers: tanh | relu | gelu | silu.
    public var activation = Activation.tanh
    /// adamw | sgd (SGD uses momentum 0.9).
    public var optimizer = "adamw"
    /// Peak learning rate (after warmup; cosine decay to a tenth of it).
    public var learningRate = 0.02
    /// Decoupled weight decay (AdamW) or L2 (SGD); biases are excluded.
    public var weightDecay = 0.01
    /// Dropout probability after each hidden activation.
    public var dropout = 0.1
    /// Examples per step.
    public var batchSize = 64
    /// Training steps.
    public var steps = 400
    /// Linear warmup steps.
    public var warmupSteps = 20
    /// Validation every N steps, and always after the last (N >= steps: only after the last).
    public var evalEvery = 25
    /// Checkpoint every N steps (0: only at the end and on interrupt).
    public var checkpointEvery = 100
    /// Training and validation set sizes.
    public var trainExamples = 1024
    public var valExamples = 512
    /// Gaussian noise on the spiral points.
    public var noise = 0.3

    public init() {}

    /// Every field's range and the rules between fields, each error naming its key.
    public func validate() throws {
        try Check.that(
            !hidden.isEmpty && hidden.count <= 64 && hidden.allSatisfy { (1...65536).contains($0) }, "hidden",
            "1 to 64 widths, each in 1...65536")
        try Check.oneOf("optimizer", optimizer, ["adamw", "sgd"])
        try Check.range("learningRate", learningRate, 0...10, openLow: true)
        try Check.range("weightDecay", weightDecay, 0...10)
        try Check.range("dropout", dropout, 0...1, openHigh: true)
        try Check.range("trainExamples", trainExamples, 1...10_000_000)
        try Check.range("valExamples", valExamples, 1...10_000_000)
        try Check.range("batchSize", batchSize, 1...10_000_000)
        try Check.that(
            batchSize <= trainExamples, "batchSize", "must not exceed trainExamples (\(trainExamples))",
            related: ["trainExamples"])
        try Check.range("steps", steps, 1...1_000_000_000)
        try Check.range("warmupSteps", warmupSteps, 0...1_000_000_000)
        try Check.range("evalEvery", evalEvery, 1...Int.max)
        try Check.range("checkpointEvery", checkpointEvery, 0...Int.max)
        try Check.range("noise", noise, 0...100)
    }
}

/// Two interleaved spirals with Gaussian noise: x (n, 2), labels 0/1. A function of the seed.
func spirals(count: Int, noise: Double, rng: inout RNG) -> (x: Tensor, labels: [Int]) {
    let x = Tensor(shape: [count, 2])
    var labels: [Int] = []
    for i in 0..<count {
        let label = i % 2
        let t = 0.1 + 1.15 * Double(rng.uniform())  // radius grows with the angle: 1.25 turns
        let angle = t * 2 * Double.pi + Double(label) * Double.pi
        x[i, 0] = Float(t * cos(angle) + noise * Double(rng.normal()) * 0.3)
        x[i, 1] = Float(t * sin(angle) + noise * Double(rng.normal()) * 0.3)
        labels.append(label)
    }
    return (x, labels)
}

public enum MLPDemo: Experiment {
    public typealias Config = MLPDemoConfig
    public static let name = "mlp-demo"
    public static let summary = "An MLP separates two spirals: the experiment kit's worked example."
    /// The executable and its configs live in Experiments/mlp-demo; the code here, so tests can run it.
    public static let source = SourceLocation(
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Experiments/mlp-demo/main.swift").standardized.path)
    public static let resources = TaskResources(threads: 1, memory: "256M")  // Scripts/measure-resources mlp-demo

    public static func run(_ run: Run<Config>) throws -> RunOutcome {
        let task = MLPDemoTask(run.config, seed: run.seed)
        let started = Date()
        let loop = TrainingLoop(evalEvery: run.config.evalEvery, checkpointEvery: run.config.checkpointEvery)
        let outcome = try loop.run(task, in: run, total: run.totalSteps(run.config.steps))
        if case .interrupted = outcome { return outcome }
        let elapsed = Date().timeIntervalSince(started)
        let done = task.updatesDone - (run.resumeState?.step ?? 0)
        run.results.summary("perf/steps_per_s", Double(done) / max(elapsed, 1e-9))
        if let accuracy = run.results.results.metrics["charts/val_accuracy"]?.last {
            run.results.summary("charts/val_accuracy", accuracy)
        }
        return .finished
    }
}

/// The demo's training as the shared loop drives it: shuffled minibatches from an epoch
/// permutation, one clipped step each; the state a resume needs is the two RNG streams, the
/// permutation and the cursor in it.
final class MLPDemoTask: TrainingTask {
    let config: MLPDemoConfig
    let model: MLP
    let parameters: [(name: String, tensor: Tensor)]
    let optimizer: any Optimizer
    let schedule: LearningRateSchedule
    let train, val: (x: Tensor, labels: [Int])
    var shuffleRNG, dropoutRNG: RNG
    var permutation: [Int]
    var cursor = 0
    private(set) var updatesDone = 0

    init(_ config: MLPDemoConfig, seed: Int) {
        self.config = config
        // Independent streams: data, initialisation, shuffling, dropout.
        var root = RNG(seed: UInt64(seed))
        var dataRNG = root.split()
        var initRNG = root.split()
        shuffleRNG = root.split()
        dropoutRNG = root.split()
        train = spirals(count: config.trainExamples, noise: config.noise, rng: &dataRNG)
        val = spirals(count: config.valExamples, noise: config.noise, rng: &dataRNG)
        model = MLP(sizes: [2] + config.hidden + [2], activation: config.activation, rng: &initRNG)
        parameters = model.namedParameters()
        let noDecay = Set(parameters.map(\.name).filter { $0.hasSuffix(".bias") })
        optimizer =
            config.optimizer == "sgd"
            ? SGD(parameters, momentum: 0.9, weightDecay: Float(config.weightDecay))
            : Adam.adamW(parameters, weightDecay: Float(config.weightDecay), noDecay: noDecay)
        schedule = LearningRateSchedule(
            peak: Float(config.learningRate), warmupSteps: config.warmupSteps, totalSteps: config.steps,
            decay: .cosine, floor: Float(config.learningRate) / 10)
        permutation = shuffleRNG.permutation(config.trainExamples)
    }

    var modelRecord: ModelRecord? { model.modelRecord }

    func forward(_ x: Tensor, training: Bool) -> Tensor {
        var h = x
        for (i, layer) in model.layers.enumerated() {
            h = layer(h)
            if i < model.layers.count - 1 {
                h = dropout(config.activation(h), p: Float(config.dropout), training: training, rng: &dropoutRNG)
            }
        }
        return h
    }

    func update() throws -> StepReport {
        if cursor + config.batchSize > config.trainExamples {
            permutation = shuffleRNG.permutation(config.trainExamples)
            cursor = 0
        }
        let rows = Array(permutation[cursor..<(cursor + config.batchSize)])
        cursor += config.batchSize
        let (loss, gradNorm) = GradientStep.accumulate(
            optimizer, parameters: parameters.map(\.tensor), microBatches: 1, clip: 1
        ) { _ in
            crossEntropy(
                forward(train.x.indexSelect(rows: rows), training: true), targets: rows.map { train.labels[$0] })
        }
        let lr = schedule(updatesDone)
        optimizer.step(lr: lr)
        updatesDone += 1
        return StepReport(
            metrics: ["loss/train": Double(loss), "optim/lr": Double(lr), "optim/grad_norm": Double(gradNorm!)],
            shown: [("loss/train", Double(loss))])
    }

    func evaluate() throws -> StepReport {
        let (valLoss, accuracy) = withNoGrad {
            let logits = forward(val.x, training: false)
            let correct = zip(logits.argmax(), val.labels).filter { $0 == $1 }.count
            return (crossEntropy(logits, targets: val.labels).item, Double(correct) / Double(val.labels.count))
        }
        return StepReport(
            metrics: ["loss/val": Double(valLoss), "charts/val_accuracy": accuracy], shown: [("val_acc", accuracy)])
    }

    func exportState() -> TaskState {
        TaskState(
            rngStreams: ["shuffle": shuffleRNG.stateWords, "dropout": dropoutRNG.stateWords],
            tensors: ["permutation": Tensor(permutation.map(Float.init))], counters: ["cursor": Double(cursor)])
    }

    func restore(_ state: TaskState, step: Int, path: String) throws {
        shuffleRNG = try state.stream("shuffle", path: path)
        dropoutRNG = try state.stream("dropout", path: path)
        cursor = try state.counter("cursor", in: 0...config.trainExamples, path: path)
        let saved = try state.tensor("permutation", shape: [config.trainExamples], path: path).array
        guard saved.allSatisfy({ $0 == $0.rounded() }), Set(saved.map(Int.init)) == Set(0..<config.trainExamples) else {
            throw LabError(.config, "\(path): state 'permutation' is not a permutation of 0..<\(config.trainExamples)")
        }
        permutation = saved.map(Int.init)
        updatesDone = step
    }
}
