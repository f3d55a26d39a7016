// The pipeline's stages, each named in the config and counted in the report. A stage sees one
// document at a time and keeps it (perhaps changed) or removes it with a reason:
//   html           text from HTML (HTMLText.swift) for documents that are HTML: a "content_type"
//                  of text/html, or a text that opens with <!doctype html> or <html
//   pii            e-mail, IP, card, ID and phone numbers to typed placeholders (PIIScrub.swift);
//                  counts per kind
//   documentDedup  a document whose whole text an earlier document had is removed (first kept)
//   lineDedup      a line (its bytes, less trailing whitespace) that an earlier line had, in this
//                  document or an earlier one, is removed; blank lines stay; a document left
//                  with no text is removed (the seed's 按行去重)
//   nearDedup      MinHash + LSH from the minhash package, streaming: each document's text is
//                  normalised, shingled (5 words) and signed (112 permutations), its LSH
//                  candidates among the documents kept so far are verified by exact Jaccard of
//                  their shingle hashes, and one at or above the threshold (0.8) makes it a
//                  near-duplicate of that earlier document: removed, the first kept
//   language       the document's language by LanguageID.swift, written to its metadata
//                  ("language", "language_confidence"); a document below the confidence threshold
//                  is removed as language.unsure, one in a language not kept as language.other
//   perplexity     CCNet's filter (PerplexityFilter.swift): the document's perplexity under a
//                  nano-transformer and its bucket among its source's documents, both written to
//                  the metadata; a bucket not kept is removed as perplexity.<bucket>, a document of
//                  a source without cutoffs as perplexity.noCutoffs, one too short to score as
//                  perplexity.empty
//   classifier     the quality classifier's score (QualityClassifier.swift), written to the
//                  metadata ("quality_score"); below `minQualityScore` removed as classifier.low
//   quality        the rule filters (QualityRules.swift): C4's line filter changes the text, the
//                  first rule broken removes the document and is its reason
// html, pii, language, classifier and quality judge each document alone and run on all threads;
// the dedup stages remember what came before and the perplexity stage runs its model on all
// threads itself, so those run one document at a time in input order.
import Crypto
import Foundation
import LabSupport
import MinHash

public enum StageName: String, Codable, Sendable, CaseIterable {
    case html
    case pii
    case documentDedup
    case lineDedup
    case nearDedup
    case language
    case perplexity
    case classifier
    case quality

    /// Whether the stage runs one document at a time in input order (its decision depends on the
    /// documents before it, or its model uses the threads itself).
    public var isOrdered: Bool { [.documentDedup, .lineDedup, .nearDedup, .perplexity].contains(self) }
}

public enum StageDecision: Sendable, Equatable {
    case keep(Document)
    case remove(reason: String)
}

/// What one stage did, for the report.
public struct StageReport: Codable, Sendable, Equatable {
    public var name: String
    public var documentsIn = 0
    public var kept = 0
    /// Kept with a changed text.
    public var changed = 0
    public var removed = 0
    /// Removals by reason.
    public var reasons: [String: Int] = [:]
    /// Named counts of what the stage found (PII kinds, lines removed).
    public var counts: [String: Int] = [:]
    /// The first removed documents of each reason (id and the text's opening), for the report.
    public var removedSamples: [RemovedSample] = []

    public init(name: String) { self.name = name }
}

public struct RemovedSample: Codable, Sendable, Equatable {
    public var id: String
    public var reason: String
    public var excerpt: String

    public init(id: String, reason: String, excerpt: String) {
        (self.id, self.reason, self.excerpt) = (id, reason, excerpt)
    }
}

/// The language stage's settings.
public struct LanguageFilter: Codable, Sendable, Equatable {
    /// Languages kept (empty: any).
    public var keep: [String] = []
    /// Below this confidence a document is removed as unsure.
    public var minConfidence = 0.65

    public init() {}

    public func check() throws {
        if !(0...1).contains(minConfidence) {
            throw LabError(.config, "language.minConfidence: \(minConfidence) must be in [0, 1]")
        }
    }
}

/// A stage that judges each document alone.
struct PerDocumentStage: Sendable {
    let name: StageName
    let rules: QualityRules
    let languageFilter: LanguageFilter
    let languageID: LanguageID?
    let classifier: QualityClassifier?
    let minQualityScore: Double

    func apply(_ document: Document, counts: inout [String: Int]) -> StageDecision {
        var d = document
        switch name {
        case .html:
            guard HTMLText.isHTML(d) else { return .keep(d) }
            d.text = HTMLText.text(d.text)
            return d.text.isEmpty ? .remove(reason: "html.empty") : .keep(d)
        case .pii:
            let (text, found) = PIIScrub.scrub(d.text)
            for (kind, n) in found { counts["pii." + kind.rawValue, default: 0] += n }
            d.text = text
            return .keep(d)
        case .language:
            guard let (language, confidence) = languageID!.identify(d.text) else {
                return .remove(reason: "language.unsure")
            }
            d.metadata["language"] = "\"\(language)\""
            d.metadata["language_confidence"] = String(format: "%.4f", confidence)
            counts["language." + language, default: 0] += 1
            if confidence < languageFilter.minConfidence { return .remove(reason: "language.unsure") }
            if !languageFilter.keep.isEmpty && !languageFilter.keep.contains(language) {
                return .remove(reason: "language.other")
            }
            return .keep(d)
        case .classifier:
            let score = classifier!.score(d.text)
            d.metadata["quality_score"] = String(format: "%.4f", score)
            return score < minQualityScore ? .remove(reason: "classifier.low") : .keep(d)
        case .quality:
            let (text, rule) = rules.judge(d.text)
            if let rule { return .remove(reason: rule.rawValue) }
            d.text = text
            return .keep(d)
        case .documentDedup, .lineDedup, .nearDedup, .perplexity:
            preconditionFailure("\(name) is an ordered stage")
        }
    }
}

/// The near-duplicate stage's settings (the minhash package's defaults).
public struct NearDedupSettings: Codable, Sendable, Equatable {
    public var threshold = 0.8
    public var numPerm = 112
    /// Words per shingle.
    public var shingleWords = 5
    public var seed: UInt64 = 1

    public init() {}

    public func check() throws {
        if !(threshold > 0 && threshold <= 1) {
            throw LabError(.config, "nearDedup.threshold: \(threshold) must be in (0, 1]")
        }
        if !(16...1024).contains(numPerm) {
            throw LabError(.config, "nearDedup.numPerm: \(numPerm) must be in 16...1024")
        }
        if !(1...32).contains(shingleWords) {
            throw LabError(.config, "nearDedup.shingleWords: \(shingleWords) must be in 1...32")
        }
    }
}

/// The dedup stages: what came before, as 128-bit digests of the texts (SHA-256's first half:
/// no collision to fear at any corpus size, and the same on every machine), or for nearDedup as
/// an LSH index of the kept documents' signatures and their sorted shingle hashes.
final class OrderedStage {
    let name: StageName
    private var seen: Set<Digest128> = []
    let near: NearDedupSettings
    private let hasher: MinHasher
    private var index: LSHIndex
    private var keptShingles: [[UInt64]] = []

    let scorer: PerplexityScorer?
    let perplexityFilter: PerplexityFilter

    init(
        _ name: StageName, near: NearDedupSettings = NearDedupSettings(), scorer: PerplexityScorer? = nil,
        perplexityFilter: PerplexityFilter = PerplexityFilter()
    ) {
        self.name = name
        self.near = near
        self.scorer = scorer
        self.perplexityFilter = perplexityFilter
        hasher = MinHasher(numPerm: near.numPerm, seed: near.seed)
        index = LSHIndex(LSHParameters.optimal(threshold: near.threshold, numPerm: near.numPerm))
    }

    struct Digest128: Hashable {
        var a: UInt64
        var b: UInt64
        init(_ text: Substring) {
            let bytes = Array(SHA256.hash(data: Data(text.utf8)))
            (a, b) = (
                bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }, bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
            )
        }
    }

    func apply(_ document: Document, counts: inout [String: Int]) -> StageDecision {
        var d = document
        switch name {
        case .documentDedup:
            return seen.insert(Digest128(d.text[...])).inserted ? .keep(d) : .remove(reason: "documentDedup.duplicate")
        case .lineDedup:
            var kept: [Substring] = []
            var removed = 0
            for line in d.text.split(separator: "\n", omittingEmptySubsequences: false) {
                var key = line[...]
                while let last = key.last, last.isWhitespace { key = key.dropLast() }
                if key.isEmpty || seen.insert(Digest128(key)).inserted {
                    kept.append(line)
                } else {
                    removed += 1
                }
            }
            counts["lineDedup.linesRemoved", default: 0] += removed
            guard removed > 0 else { return .keep(d) }
            d.text = kept.joined(separator: "\n")
            return d.text.allSatisfy(\.isWhitespace) ? .remove(reason: "lineDedup.emptied") : .keep(d)
        case .nearDedup:
            let normalized = normalizeForDedup(bytes: Array(d.text.utf8))
            let shingles = shingleHashes(normalized: normalized, .words(near.shingleWords))
            let signature = hasher.signature(normalized: normalized, .words(near.shingleWords))
            for earlier in index.query(signature)
            where jaccard(sortedHashes: shingles, keptShingles[earlier]) >= near.threshold {
                counts["nearDedup.verifiedPairs", default: 0] += 1
                return .remove(reason: "nearDedup.duplicate")
            }
            _ = index.insert(signature)
            keptShingles.append(shingles)
            return .keep(d)
        case .perplexity:
            guard let perplexity = scorer!.perplexity(d.text) else { return .remove(reason: "perplexity.empty") }
            d.metadata["perplexity"] = String(format: "%.4f", perplexity)
            guard let bucket = perplexityFilter.buckets.bucket(perplexity, source: d.source) else {
                return .remove(reason: "perplexity.noCutoffs")
            }
            d.metadata["perplexity_bucket"] = "\"\(bucket.rawValue)\""
            return perplexityFilter.keep.contains(bucket) ? .keep(d) : .remove(reason: "perplexity.\(bucket.rawValue)")
        case .html, .pii, .language, .classifier, .quality:
            preconditionFailure("\(name) judges documents alone")
        }
    }
}
