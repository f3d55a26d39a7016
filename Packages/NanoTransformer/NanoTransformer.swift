// The decoder-only language model (GPT-2 layout with the modern parts of Llama): token
// embedding, L blocks, final norm, LM head. Initialised as nanoGPT: every weight N(0, 0.02^2),
// the residual projections (attn.wo, mlp.w2) N(0, (0.02 / sqrt(2L))^2), norms at 1.
//
// Parameter names (the checkpoint layout; PyTorch state_dict keys of the twin):
//   tok_embeddings.weight (V, C)             pos_embeddings.weight (context, C)   [learned]
//   blocks.{i}.attn_norm.weight [.bias]      blocks.{i}.mlp_norm.weight [.bias]
//   blocks.{i}.attn.wq.weight (H*D, C)       blocks.{i}.attn.wk.weight (KVH*D, C)
//   blocks.{i}.attn.wv.weight (KVH*D, C)     blocks.{i}.attn.wo.weight (C, H*D)
//   blocks.{i}.attn.q_norm.weight (D)        blocks.{i}.attn.k_norm.weight (D)    [qkNorm]
//   blocks.{i}.mlp.w1.weight (F, C)          blocks.{i}.mlp.w3.weight (F, C)      [swiglu]
//   blocks.{i}.mlp.w2.weight (C, F)          norm.weight [.bias]                  [pre-norm]
//   lm_head.weight (V, C)                    [untied]
// A drop-in attention (MLA) replaces blocks.{i}.attn.* with its own names; its output
// projection is still attn.wo, so the residual scaling applies to it too. A drop-in MLP (MoE)
// replaces blocks.{i}.mlp.*; every w2 under mlp (each expert's) gets the residual scaling.
// Buffers (checkpointed, not trained): blocks.{i}.mlp.* of a drop-in MLP (MoE's routing bias).
import LabSupport
import TensorCore

public final class NanoTransformer: Module {
    public let config: TransformerConfig
    let tokEmbeddings: Embedding
    let posEmbeddings: Embedding?
    let blocks: [TransformerBlock]
    let finalNorm: Norm?
    let lmHead: Linear?
    let attentionFactory: AttentionFactory?
    let mlpFactory: MLPFactory?
    /// False for a trunk built without its untied LM head (`logits` is then unavailable).
    public let hasLanguageModelHead: Bool

    /// The blocks' attention kind ("gqa": standard) and MLP kind ("dense": standard), with the
    /// drop-in layer's config as JSON ("{}" for the standard ones, whose shape is the model config).
    public var attentionKind: (kind: String, configJSON: String) {
        attentionFactory.map { ($0.kind, $0.configJSON) } ?? ("gqa", "{}")
    }
    public var mlpKind: (kind: String, configJSON: String) {
        mlpFactory.map { ($0.kind, $0.configJSON) } ?? ("dense", "{}")
    }

    /// `attention` replaces the standard GQA attention of every block, `mlp` the dense MLP
    /// (nil: standard). `languageModelHead: false` leaves out an untied `lm_head` (a trunk for a
    /// reward model or critic); with tied embeddings there is nothing to leave out.
    public init(
        _ config: TransformerConfig, attention: AttentionFactory? = nil, mlp: MLPFactory? = nil,
        languageModelHead: Bool = true, rng: inout RNG
    ) throws {
        try config.check()
        self.config = config
        attentionFactory = attention
        mlpFactory = mlp
        tokEmbeddings = Embedding(config.vocabSize, config.dModel, std: Float(config.initStd), rng: &rng)
        posEmbeddings =
            config.positionEncoding == .learned
            ? Embedding(config.contextLength, config.dModel, std: Float(config.initStd), rng: &rng) : nil
        var blocks: [TransformerBlock] = []
        for _ in 0..<config.layers {
            blocks.append(TransformerBlock(config, attention: attention, mlp: mlp, rng: &rng))
        }
        self.blocks = blocks
        finalNorm =
            config.normPlacement == .pre ? Norm(config.dModel, kind: config.norm, eps: Float(config.normEps)) : nil
        lmHead =
            config.tiedEmbeddings || !languageModelHead
            ? nil : Linear(config.dModel, config.vocabSize, bias: false, rng: &rng)
        hasLanguageModelHead = languageModelHead || config.tiedEmbeddings
        initialize(rng: &rng)
    }

    func initialize(rng: inout RNG) {
        let std = Float(config.initStd)
        let residualStd = std / Float(2 * config.layers).squareRoot()
        for (name, tensor) in namedParameters() {
            if name.hasSuffix("norm.weight") || name.hasSuffix("_norm.weight") {
                tensor.fill(1)
            } else if name.hasSuffix(".bias") {
                tensor.fill(0)
            } else if name.hasSuffix("attn.wo.weight") || (name.contains(".mlp.") && name.hasSuffix("w2.weight")) {
                Init.normal(tensor, std: residualStd, rng: &rng)
            } else {
                Init.normal(tensor, std: std, rng: &rng)
            }
        }
    }

    public func namedParameters() -> [(name: String, tensor: Tensor)] {
        var out = prefixed("tok_embeddings", tokEmbeddings)
        if let posEmbeddings { out += prefixed("pos_embeddings", posEmbeddings) }
        for (i, block) in blocks.enumerated() { out += prefixed("blocks.\(i)", block) }
        if let finalNorm { out += prefixed("norm", finalNorm) }
        if let lmHead { out += prefixed("lm_head", lmHead) }
        return out
    }

    /// Every block's MLP, in order (a drop-in MLP's own statistics and state are read from here).
    public var feedForwardLayers: [any FeedForwardLayer] { blocks.map(\.mlp) }

    /// Checkpointed state that the optimiser does not train (see the header).
    public func namedBuffers() -> [(name: String, tensor: Tensor)] {
        blocks.enumerated().flatMap { i, block in
            block.mlp.namedBuffers().map { (name: "blocks.\(i).mlp.\($0.name)", tensor: $0.tensor) }
        }
    }

    /// Parameters that should not get weight decay (norm gains, biases; embeddings decay, as nanoGPT).
    public var noDecayNames: Set<String> {
        Set(namedParameters().map(\.name).filter { $0.contains("norm") || $0.hasSuffix(".bias") })
    }

    /// The trunk: embeddings, blocks and final norm, (B, T, C) for token ids (B*T, row-major).
    /// positions: T values shared by the batch, or B*T; default 0 ..< T, or with a cache each
    /// row's slot length onwards. mask: additive (B, T, T) or (T, T), uncached forwards only.
    /// With a cache, row b's keys and values go to slot `slots[b]` (default b), and each slot's
    /// length then grows by `counted[b]` (default T: right-padded rows count their real tokens).
    public func hiddenStates(
        _ ids: [Int], batch b: Int, time t: Int, positions: [Int]? = nil, mask: Tensor? = nil, cache: KVCache? = nil,
        slots: [Int]? = nil, counted: [Int]? = nil, training: Bool = false, rng: inout RNG,
        observe: ((Tensor) -> Void)? = nil
    ) -> Tensor {
        precondition(ids.count == b * t, "hiddenStates: \(ids.count) ids for batch \(b) x time \(t)")
        precondition(cache == nil || positions == nil, "hiddenStates: with a cache, positions come from its slots")
        let pos = cache?.begin(batch: b, time: t, slots: slots) ?? positions ?? Array(0..<t)
        var x = embedding(tokEmbeddings.weight, ids: ids, shape: [b, t])
        if let posEmbeddings {
            precondition(
                pos.allSatisfy { $0 < config.contextLength },
                "position beyond the learned table (\(config.contextLength))")
            let table = embedding(posEmbeddings.weight, ids: pos, shape: pos.count == t ? [1, t] : [b, t])
            x = x + table
        }
        observe?(x)
        for (i, block) in blocks.enumerated() {
            x = block(x, positions: pos, mask: mask, cache: cache, layer: i, training: training, rng: &rng)
            observe?(x)
        }
        cache?.end(counted: counted)
        if let finalNorm { x = finalNorm(x) }
        return x
    }

    /// The residual stream of an uncached forward of one sequence, (L + 1) tensors of (T, C): after
    /// the embeddings, then after each block (before the final norm). What a linear probe reads
    /// layer by layer. An empty sequence, or one longer than the context, is a named error.
    public func residualStream(_ ids: [Int]) throws -> [Tensor] {
        guard (1...config.contextLength).contains(ids.count) else {
            throw LabError(
                .model, "residualStream: \(ids.count) tokens; a sequence must hold 1...\(config.contextLength)")
        }
        if let bad = ids.first(where: { !(0..<config.vocabSize).contains($0) }) {
            throw LabError(.model, "residualStream: token id \(bad) is outside the vocabulary (\(config.vocabSize))")
        }
        var states: [Tensor] = []
        var rng = RNG(seed: 0)  // not drawn from: no dropout outside training
        _ = hiddenStates(
            ids, batch: 1, time: ids.count, rng: &rng,
            observe: { states.append($0.reshaped([ids.count, self.config.dModel])) })
        return states
    }

    /// The LM head: hidden states (..., C) to logits (..., V), through the token embedding (tied)
    /// or `lm_head`.
    public func languageModelHead(_ hidden: Tensor) -> Tensor {
        precondition(hasLanguageModelHead, "languageModelHead: this trunk was built without its LM head")
        if let lmHead { return lmHead(hidden) }
        return matmul(hidden, tokEmbeddings.weight, transposeB: true)
    }

    /// Logits (B, T, V) = languageModelHead(hiddenStates(...)); arguments as `hiddenStates`.
    public func logits(
        _ ids: [Int], batch b: Int, time t: Int, positions: [Int]? = nil, mask: Tensor? = nil, cache: KVCache? = nil,
        slots: [Int]? = nil, counted: [Int]? = nil, training: Bool = false, rng: inout RNG
    ) -> Tensor {
        languageModelHead(
            hiddenStates(
                ids, batch: b, time: t, positions: positions, mask: mask, cache: cache, slots: slots, counted: counted,
                training: training, rng: &rng))
    }

    /// The sum of the auxiliary losses the drop-in MLPs computed in the last training forward
    /// (MoE load balance, router z-loss), nil when there are none.
    public var auxiliaryLoss: Tensor? {
        let losses = blocks.compactMap(\.mlp.auxiliaryLoss)
        return losses.isEmpty ? nil : losses.dropFirst().reduce(losses[0], +)
    }

    /// Mean cross-entropy of next-token prediction (targets with ignoreIndex -1 skipped) plus the
    /// z-loss term zLoss * mean(logsumexp(logits)^2) over the counted tokens, plus the auxiliary
    /// losses of drop-in MLPs (MoE load balance and router z-loss; training forwards only).
    public func loss(
        _ ids: [Int], targets: [Int], batch b: Int, time t: Int, training: Bool = true, rng: inout RNG
    ) -> (total: Tensor, crossEntropy: Tensor) {
        let logits = self.logits(ids, batch: b, time: t, training: training, rng: &rng).reshaped([
            b * t, config.vocabSize,
        ])
        let ce = crossEntropy(logits, targets: targets, ignoreIndex: -1)
        var total = ce
        if config.zLoss > 0 {
            let counted = Tensor(targets.map { $0 == -1 ? 0 : 1 })
            let lse = logits.logSumExp(axis: -1)
            let z = (lse.square() * counted).sum() / Swift.max(counted.sum().item, 1)
            total = total + z * Float(config.zLoss)
        }
        if training {
            for auxiliary in blocks.compactMap(\.mlp.auxiliaryLoss) { total = total + auxiliary }
        }
        return (total, ce)
    }
}

extension NanoTransformer {
    /// A model with copies of this one's parameters under another config of the same shapes
    /// (context extension changes only RoPE's base and position scale) and optionally another
    /// attention factory of the same parameters (MLA's naive vs absorbed inference). Buffers are
    /// copied too; the MLP factory is kept.
    public func copy(with config: TransformerConfig, attention: AttentionFactory? = nil) throws
        -> NanoTransformer
    {
        var rng = RNG(seed: 0)
        let other = try NanoTransformer(
            config, attention: attention ?? attentionFactory, mlp: mlpFactory, languageModelHead: hasLanguageModelHead,
            rng: &rng)
        let mine = namedParameters() + namedBuffers()
        let source = Dictionary(uniqueKeysWithValues: mine.map { ($0.name, $0.tensor) })
        for (name, tensor) in other.namedParameters() + other.namedBuffers() {
            guard let s = source[name], s.shape == tensor.shape else {
                throw LabError(.model, "sharingWeights: parameter '\(name)' differs between the configs")
            }
            tensor.assign(s)
        }
        return other
    }

    /// Mean validation cross-entropy over `batches` windows of `time` tokens.
    public func validationLoss(_ data: TokenWindows, batches: Int, batchSize: Int, time: Int, rng: inout RNG) -> Double
    {
        withNoGrad {
            var total = 0.0
            for _ in 0..<batches {
                let (ids, targets) = data.batch(batchSize, time: time, validation: true, rng: &rng)
                total += Double(
                    loss(ids, targets: targets, batch: batchSize, time: time, training: false, rng: &rng).crossEntropy
                        .item)
            }
            return total / Double(batches)
        }
    }
}
