// The small addition world of the SFT, GRPO and GSPO tests: one-digit addition in the conversation
// format on a small model, dense or MoE, and the GRPO task on it with small settings.
import GRPO
import MoE
import NanoTransformer
import PostTraining
import TensorCore
import Tokenizer

/// One-digit addition in the conversation format, answer only, on a small model SFT'd for
/// `sftUpdates` updates (partial ability), and the task source of all 100 questions.
public func additionWorld(sftUpdates: Int) throws -> (NanoTransformer, ConversationFormat, [ArithmeticTask]) {
    let pairs = (0..<10).flatMap { a in (0..<10).map { b in ArithmeticTask(.addition, Int64(a), Int64(b)) } }
    let base = try BPETrainer.train(pairs.map { $0.prompt(.english) }, options: .init(vocabSize: 270))
    let format = try ConversationFormat(tokenizer: ConversationFormat.addingSpecialTokens(to: base))
    var c = TransformerConfig()
    (c.vocabSize, c.dModel, c.layers, c.heads, c.kvHeads, c.contextLength) = (
        format.tokenizer.vocabSize, 64, 2, 4, 2, 32
    )
    var rng = RNG(seed: 1)
    let model = try NanoTransformer(c, rng: &rng)
    try supervise(model, format, pairs, updates: sftUpdates)
    return (model, format, pairs)
}

/// The same world with every MLP an MoE layer (4 experts of 16, top-2, no shared expert),
/// SFT'd for `sftUpdates` updates.
public func additionWorldMoE(sftUpdates: Int) throws -> (NanoTransformer, ConversationFormat, [ArithmeticTask]) {
    let (dense, format, pairs) = try additionWorld(sftUpdates: 0)
    var moe = MoEConfig()
    (moe.experts, moe.topK, moe.expertHidden, moe.sharedExperts) = (4, 2, 16, 0)
    var rng = RNG(seed: 2)
    let model = try NanoTransformer(dense.config, mlp: MixtureOfExperts.factory(moe), rng: &rng)
    try supervise(model, format, pairs, updates: sftUpdates)
    return (model, format, pairs)
}

func supervise(_ model: NanoTransformer, _ format: ConversationFormat, _ pairs: [ArithmeticTask], updates: Int) throws {
    guard updates > 0 else { return }
    var solutionRNG = RNG(seed: 0)
    let examples = pairs.map { $0.sftExample(format, language: .english, response: .answerOnly, rng: &solutionRNG) }
    var s = SFTSettings()
    (s.batchSize, s.epochs, s.optimizer.learningRate, s.optimizer.warmupSteps, s.optimizer.decay) = (
        20, 100, 3e-3, 10, .constant
    )
    let sft = try SFTTask(model: model, record: nil, train: examples, heldOut: [], settings: s, seed: 3)
    for _ in 0..<updates { _ = try sft.update() }
}

/// 8 prompts x G 8, 8 new tokens, AdamW 1e-3, no KL.
public var smallGRPOSettings: GRPOSettings {
    var s = GRPOSettings()
    (s.promptsPerStep, s.groupSize, s.maxNewTokens, s.optimizer.learningRate, s.loss.beta) = (8, 8, 8, 1e-3, 0)
    return s
}

/// GRPO's task on the world: prompts drawn from all 100 questions, evaluated greedily on them.
public func additionTask(
    _ model: NanoTransformer, _ format: ConversationFormat, _ pairs: [ArithmeticTask], _ settings: GRPOSettings,
    reference: ReferenceModel? = nil, seed: UInt64 = 5
) throws -> GRPOTask {
    var eval = EvaluationSettings()
    (eval.samples, eval.passK, eval.maxNewTokens, eval.promptsPerBatch) = (0, [], 8, 100)
    return try GRPOTask(
        policy: model, record: nil, reference: reference, format: format,
        source: { rng in pairs[rng.int(below: pairs.count)].verifiable(.english) },
        evaluationTasks: pairs.map { $0.verifiable(.english) }, evaluation: eval, settings: settings, seed: seed)
}
