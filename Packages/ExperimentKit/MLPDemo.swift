// The kit's worked example: an MLP learns to separate two noisy interleaved spirals.
// Small enough for tests, complete enough to exercise every part of the kit: configs and
// ablations, results, checkpoints, resume (weights, AdamW moments, two RNG streams, the data
// cursor and the epoch's permutation), Ctrl-C, and `lab compare`.
import Foundation
import HDF5Store
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
    /// Validation every N steps.
    public var evalEvery = 25
    /// Checkpoint every N steps (0: only at the end and on interrupt).
    public var checkpointEvery = 100
    /// Training and validation set sizes.
    public var trainExamples = 1024
    public var valExamples = 512
    /// Gaussian noise on the spiral points.
    public var noise = 0.3

    public init() {}

    public func validate() throws {
        if learningRate <= 0 { throw ConfigError.invalid(key: "learningRate", "must be positive, got \(learningRate)") }
        if !(0..<1).contains(dropout) { throw ConfigError.invalid(key: "dropout", "must be in [0, 1), got \(dropout)") }
        if !["adamw", "sgd"].contains(optimizer) {
            throw ConfigError.invalid(key: "optimizer", "must be adamw or sgd, got '\(optimizer)'")
        }
        if batchSize < 1 || batchSize > trainExamples {
            throw ConfigError.invalid(key: "batchSize", "must be in 1...trainExamples, got \(batchSize)")
        }
        if hidden.isEmpty || hidden.contains(where: { $0 < 1 }) {
            throw ConfigError.invalid(key: "hidden", "needs at least one positive width")
        }
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

    public static func run(_ run: Run<Config>) throws -> RunOutcome {
        let config = run.config
        // Independent streams: data, initialisation, shuffling, dropout.
        var root = RNG(seed: UInt64(run.seed))
        var dataRNG = root.split()
        var initRNG = root.split()
        var shuffleRNG = root.split()
        var dropoutRNG = root.split()
        let train = spirals(count: config.trainExamples, noise: config.noise, rng: &dataRNG)
        let val = spirals(count: config.valExamples, noise: config.noise, rng: &dataRNG)

        let model = MLP(sizes: [2] + config.hidden + [2], activation: config.activation, rng: &initRNG)
        let params = model.namedParameters()
        let noDecay = Set(params.map(\.name).filter { $0.hasSuffix(".bias") })
        let optimizer: Optimizer =
            config.optimizer == "sgd"
            ? SGD(params, momentum: 0.9, weightDecay: Float(config.weightDecay))
            : Adam.adamW(params, weightDecay: Float(config.weightDecay), noDecay: noDecay)
        let total = run.totalSteps(config.steps)
        let schedule = LearningRateSchedule(
            peak: Float(config.learningRate), warmupSteps: config.warmupSteps, totalSteps: config.steps,
            decay: .cosine, floor: Float(config.learningRate) / 10)

        var step = 0
        var cursor = 0
        var permutation = shuffleRNG.permutation(config.trainExamples)
        if let state = run.resumeState {
            try Checkpoint.restore(params, from: state, path: run.paths.checkpoint)
            if let saved = state.optimizer { try optimizer.importState(saved) }
            shuffleRNG = RNG(stateWords: state.rngStreams["shuffle"] ?? shuffleRNG.stateWords)
            dropoutRNG = RNG(stateWords: state.rngStreams["dropout"] ?? dropoutRNG.stateWords)
            cursor = Int(state.counters["cursor"] ?? 0)
            permutation = state.tensors["permutation"].map { $0.array.map { Int($0) } } ?? permutation
            step = state.step
        }
        func snapshot() -> TrainingState {
            run.state(
                step: step, parameters: params, optimizer: optimizer.exportState(),
                rngStreams: ["shuffle": shuffleRNG.stateWords, "dropout": dropoutRNG.stateWords],
                tensors: ["permutation": Tensor(permutation.map(Float.init))], counters: ["cursor": Double(cursor)],
                model: model.modelRecord)
        }
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

        let started = Date()
        while step < total {
            if cursor + config.batchSize > config.trainExamples {
                permutation = shuffleRNG.permutation(config.trainExamples)
                cursor = 0
            }
            let rows = Array(permutation[cursor..<(cursor + config.batchSize)])
            cursor += config.batchSize
            optimizer.zeroGrad()
            let logits = forward(train.x.indexSelect(rows: rows), training: true)
            let loss = crossEntropy(logits, targets: rows.map { train.labels[$0] })
            loss.backward()
            let gradNorm = clipGradNorm(params.map(\.tensor), maxNorm: 1)
            let lr = schedule(step)
            optimizer.step(lr: lr)
            step += 1

            run.results.log(
                ["loss/train": Double(loss.item), "optim/lr": Double(lr), "optim/grad_norm": Double(gradNorm)],
                step: step)
            var shown: [(String, Double)] = [("loss/train", Double(loss.item))]
            if step % config.evalEvery == 0 || step == total {
                let (valLoss, accuracy) = withNoGrad {
                    let logits = forward(val.x, training: false)
                    let correct = zip(logits.argmax(), val.labels).filter { $0 == $1 }.count
                    return (crossEntropy(logits, targets: val.labels).item, Double(correct) / Double(val.labels.count))
                }
                run.results.log(["loss/val": Double(valLoss), "charts/val_accuracy": accuracy], step: step)
                shown.append(("val_acc", accuracy))
            }
            run.report(step: step, total: total, shown)
            let stopping = run.shouldStop(after: step)
            if stopping || (config.checkpointEvery > 0 && step % config.checkpointEvery == 0) {
                try run.saveCheckpoint(snapshot())
            }
            if stopping && step < total { return .interrupted }
        }
        let elapsed = Date().timeIntervalSince(started)
        run.results.summary("perf/steps_per_s", Double(step - (run.resumeState?.step ?? 0)) / max(elapsed, 1e-9))
        if let accuracy = run.results.results.metrics["charts/val_accuracy"]?.last {
            run.results.summary("charts/val_accuracy", accuracy)
        }
        try run.saveCheckpoint(snapshot())
        return .finished
    }
}
