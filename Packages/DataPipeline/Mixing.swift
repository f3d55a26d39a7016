// Mixing, as the seed describes it: each source's documents are concatenated into one token
// stream (an end-of-text token after each document) and cut into chunks of `chunkTokens`; every
// training chunk is drawn by first choosing a source by its weight and then one of that source's
// chunks: at random (with replacement), or the next of a shuffled order that is reshuffled when
// used up (without replacement: epochs of each source). The report gives, per source, its tokens,
// its chunks, the chunks drawn and the epochs that makes (drawn / available). The draw is a pure
// function of the streams, the settings and the seed. The chunks are written one after another as
// a token file the pretraining loop reads (Tokenizer's TokenFile).
import LabSupport
import TensorCore
import Tokenizer

public struct MixingSettings: Codable, Sendable, Equatable {
    /// Source → weight (normalised over the sources listed; a source of the data not listed is
    /// not drawn from).
    public var weights: [String: Double] = [:]
    public var chunkTokens = 129
    /// Chunks drawn in all.
    public var chunks = 1_000
    public var replacement = true
    public var seed: UInt64 = 0

    public init() {}

    public func check() throws {
        if weights.isEmpty { throw LabError(.config, "mixing.weights: no source has a weight") }
        for (source, w) in weights.sorted(by: { $0.key < $1.key }) where !(w >= 0 && w.isFinite) {
            throw LabError(.config, "mixing.weights.\(source): \(w) must be finite and >= 0")
        }
        if !(weights.values.reduce(0, +) > 0) { throw LabError(.config, "mixing.weights: they sum to 0") }
        if chunkTokens < 2 { throw LabError(.config, "mixing.chunkTokens: \(chunkTokens) must be at least 2") }
        if chunks < 1 { throw LabError(.config, "mixing.chunks: \(chunks) must be at least 1") }
    }
}

public struct SourceMix: Codable, Sendable, Equatable {
    public var documents = 0
    public var tokens = 0
    public var chunksAvailable = 0
    /// Tokens after the last whole chunk (not drawn).
    public var tailTokens = 0
    public var chunksDrawn = 0
    public var epochs = 0.0
}

public enum Mixing {
    /// Each source's token stream: its documents in order, encoded, each followed by `endOfText`.
    public static func streams(_ documents: [Document], endOfText: Int, encode: (String) throws -> [Int]) rethrows
        -> [String: (documents: Int, tokens: [Int])]
    {
        var out: [String: (documents: Int, tokens: [Int])] = [:]
        for d in documents {
            out[d.source, default: (0, [])].documents += 1
            out[d.source]!.tokens += try encode(d.text) + [endOfText]
        }
        return out
    }

    /// The drawn chunks, concatenated, and the report per source.
    public static func draw(_ streams: [String: (documents: Int, tokens: [Int])], settings: MixingSettings) throws
        -> (ids: [Int], report: [String: SourceMix])
    {
        try settings.check()
        let c = settings.chunkTokens
        var report: [String: SourceMix] = [:]
        for (source, s) in streams {
            report[source] = SourceMix(
                documents: s.documents, tokens: s.tokens.count, chunksAvailable: s.tokens.count / c,
                tailTokens: s.tokens.count % c)
        }
        let sources = settings.weights.keys.sorted().filter { settings.weights[$0]! > 0 }
        for source in sources {
            guard let r = report[source] else {
                throw LabError(.config, "mixing.weights.\(source): the data has no source '\(source)'")
            }
            guard r.chunksAvailable > 0 else {
                throw LabError(
                    .config,
                    "mixing.weights.\(source): the source has \(r.tokens) tokens, less than one chunk of \(c)")
            }
        }
        let total = sources.map { settings.weights[$0]! }.reduce(0, +)
        var cumulative: [Double] = []
        for source in sources { cumulative.append((cumulative.last ?? 0) + settings.weights[source]! / total) }
        var rng = RNG(seed: settings.seed)
        var orders: [String: [Int]] = [:]
        var cursors: [String: Int] = [:]
        var ids: [Int] = []
        ids.reserveCapacity(settings.chunks * c)
        for _ in 0..<settings.chunks {
            let u = rng.uniformDouble()
            let source = sources[cumulative.firstIndex { u < $0 } ?? sources.count - 1]
            let available = report[source]!.chunksAvailable
            let chunk: Int
            if settings.replacement {
                chunk = rng.int(below: available)
            } else {
                if cursors[source, default: available] == available {
                    orders[source] = shuffled(Array(0..<available), &rng)
                    cursors[source] = 0
                }
                chunk = orders[source]![cursors[source]!]
                cursors[source]! += 1
            }
            ids += streams[source]!.tokens[(chunk * c)..<((chunk + 1) * c)]
            report[source]!.chunksDrawn += 1
        }
        for source in report.keys where report[source]!.chunksAvailable > 0 {
            report[source]!.epochs = Double(report[source]!.chunksDrawn) / Double(report[source]!.chunksAvailable)
        }
        return (ids, report)
    }

    /// Fisher-Yates with the run's RNG.
    static func shuffled(_ items: [Int], _ rng: inout RNG) -> [Int] {
        var a = items
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, rng.int(below: i + 1)) }
        return a
    }

    /// Draws and writes the chunks as a token file (atomically).
    public static func write(
        _ streams: [String: (documents: Int, tokens: [Int])], settings: MixingSettings, vocabSize: Int, to path: String
    ) throws -> [String: SourceMix] {
        let (ids, report) = try draw(streams, settings: settings)
        try TokenFile.write(ids, vocabSize: vocabSize, to: path)
        return report
    }
}
