// New tokens for a trained model (the R1 template's tags, a chat format's turn markers): the
// vocabulary grows at its end, each new embedding row (and untied LM-head row) starts at the mean
// of the trained rows, as Hugging Face's resize_token_embeddings(mean_resizing=True) and common
// practice do: a new token then starts as an "average" token, not as noise of the init's scale.
// The project reserves no ids at pretraining; the tokenizer's matching step is
// BPETokenizer.addingSpecialTokens, whose new ids are the same rows.
import LabSupport
import TensorCore

extension NanoTransformer {
    /// A copy of this model with `size` tokens (at least the current vocabulary): every parameter
    /// and buffer copied, rows beyond the old vocabulary set to the mean of the old rows.
    public func resizedVocabulary(to size: Int) throws -> NanoTransformer {
        let old = config.vocabSize
        guard size >= old else {
            throw LabError(.model, "resizedVocabulary: \(size) tokens would drop trained rows of \(old)")
        }
        var grown = config
        grown.vocabSize = size
        var rng = RNG(seed: 0)
        let other = try NanoTransformer(
            grown, attention: attentionFactory, mlp: mlpFactory, languageModelHead: hasLanguageModelHead, rng: &rng)
        let source = Dictionary(uniqueKeysWithValues: (namedParameters() + namedBuffers()).map { ($0.name, $0.tensor) })
        for (name, tensor) in other.namedParameters() + other.namedBuffers() {
            let s = source[name]!
            guard name == "tok_embeddings.weight" || name == "lm_head.weight" else {
                tensor.assign(s)
                continue
            }
            let c = s.shape[1]
            tensor.data.update(from: s.data, count: old * c)
            let mean = withNoGrad { s.mean(axis: 0) }
            for row in old..<size { (tensor.data + row * c).update(from: mean.data, count: c) }
        }
        return other
    }
}
