// Language identification by character n-grams, trained by the project on real text (the Debian
// Reference's editions; Scripts/reference/lid_fixture.py makes the committed sample the tests
// use). A multinomial naive Bayes model, the method of langid.py and CLD's ancestors in its
// simplest form:
//   features   the text lowercased, with a space at each end; every n-gram of 1 to 4 Unicode
//              scalars, hashed (FNV-1a over the scalars) into 2^18 buckets
//   training   per language, the count of each bucket over its texts; log p(f | lang) =
//              log((count_f + α) / (total + α B)), α = 0.5, B the buckets
//   predict    score(lang) = Σ_f log p(f | lang) over the text's n-grams (uniform prior);
//              confidence = softmax(score / n-gram count) of the best language, which stays
//              comparable across text lengths (the raw posterior of a long text is always ~1)
// What is written by hand: all of it; it is small, and no Swift package offers it.
import Foundation
import LabSupport

public struct LanguageID: Sendable {
    public static let buckets = 1 << 18
    /// The confidence's softmax sharpness per n-gram (see the header).
    public static let sharpness = 20.0
    public let languages: [String]
    /// The longest n-gram.
    public let maxN: Int
    /// log p(bucket | languages[k]) at [bucket * languages.count + k]: a feature's scores for
    /// every language share a cache line (a table per language costs a cache miss per language).
    let logProbabilities: [Float]

    /// Trains on `texts` per language (every language needs some text).
    public init(training texts: [String: [String]], alpha: Double = 0.01, maxN: Int = 4) throws {
        self.maxN = maxN
        languages = texts.keys.sorted()
        guard !languages.isEmpty else { throw LabError(.config, "languageID: no training text") }
        var tables: [[Float]] = []
        for language in languages {
            var counts = [Double](repeating: 0, count: Self.buckets)
            var total = 0.0
            for text in texts[language]! {
                Self.forEachFeature(text, maxN: maxN) {
                    counts[$0] += 1
                    total += 1
                }
            }
            guard total > 0 else { throw LabError(.config, "languageID: no training text for '\(language)'") }
            let denominator = total + alpha * Double(Self.buckets)
            tables.append(counts.map { Float(log(($0 + alpha) / denominator)) })
        }
        logProbabilities = (0..<Self.buckets).flatMap { f in tables.map { $0[f] } }
    }

    /// The most likely language and its confidence (0...1); nil for a text without letters.
    public func identify(_ text: String) -> (language: String, confidence: Double)? {
        let count = languages.count
        var scores = [Double](repeating: 0, count: count)
        var n = 0
        logProbabilities.withUnsafeBufferPointer { table in
            scores.withUnsafeMutableBufferPointer { scores in
                Self.forEachFeature(text, maxN: maxN) { f in
                    n += 1
                    for k in 0..<count { scores[k] += Double(table[f * count + k]) }
                }
            }
        }
        guard n > 0, text.unicodeScalars.contains(where: { $0.properties.isAlphabetic }) else { return nil }
        let perFeature = scores.map { $0 / Double(n) }
        let best = perFeature.indices.max { perFeature[$0] < perFeature[$1] }!
        let z = perFeature.map { exp(Self.sharpness * ($0 - perFeature[best])) }.reduce(0, +)
        return (languages[best], 1 / z)
    }

    /// The bucket of every 1- to maxN-gram of the lowercased, space-padded text, n-grams starting
    /// at the same scalar together, shortest first. The scalars stream through a window of the
    /// next maxN (no lowercased copy of the text, no array of it): this is the classifier's cost.
    static func forEachFeature(_ text: String, maxN: Int, _ body: (Int) -> Void) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: maxN) { window in
            var (head, filled) = (0, 0)  // window[head] is the oldest scalar; `filled` are held
            func emitOldest() {
                var h: UInt64 = 0xcbf2_9ce4_8422_2325
                for n in 0..<filled {
                    h = (h ^ UInt64(window[(head + n) % maxN])) &* 0x0000_0100_0000_01b3
                    body(Int(truncatingIfNeeded: (h ^ (h >> 29)) & UInt64(buckets - 1)))
                }
                (head, filled) = ((head + 1) % maxN, filled - 1)
            }
            func push(_ value: UInt32) {
                if filled == maxN { emitOldest() }
                window[(head + filled) % maxN] = value
                filled += 1
            }
            push(0x20)
            for scalar in text.unicodeScalars {
                // String.lowercased(), scalar by scalar: each scalar's lowercase mapping.
                if scalar.isASCII {
                    let v = scalar.value
                    push((0x41...0x5A).contains(v) ? v + 0x20 : v)
                } else if scalar.properties.changesWhenLowercased {
                    for lower in scalar.properties.lowercaseMapping.unicodeScalars { push(lower.value) }
                } else {
                    push(scalar.value)
                }
            }
            push(0x20)
            while filled > 0 { emitOldest() }
        }
    }
}
