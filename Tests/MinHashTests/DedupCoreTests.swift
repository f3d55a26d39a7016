// The dedup stage's fast pieces against their definitions: the byte-level normaliser against the
// scalar reference, hashed shingle spans against the byte shingles, signatures from spans against
// signatures from bytes (every scheme), Jaccard of sorted hashes against set Jaccard, LSH
// candidates by sorting against the hash tables, and the line reader's linear search.
import Foundation
import MinHash
import Testing

func sampleText(_ name: String) -> String {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Data/sample/\(name)").standardized
    return try! String(contentsOf: url, encoding: .utf8)
}

@Suite struct DedupCoreTests {
    /// Random strings over an alphabet that mixes ASCII (letters, digits, punctuation, symbols,
    /// controls, every whitespace) with accents, combining marks, CJK, Greek capitals, Turkish
    /// dotted I, the Kelvin sign, fullwidth digits, emoji and invalid UTF-8 bytes.
    @Test func fastNormalisationEqualsTheReference() {
        let alphabet: [[UInt8]] =
            (0..<128).map { [UInt8($0)] }
            + [
                "é", "É", "e\u{301}", "\u{308}", "ß", "İ", "Σ", "ΑΣ", "ς", "\u{212A}", "０", "٣", "中", "文", "。", "，",
                "—", "«", "»", "\u{00A0}", "\u{2028}", "\u{3000}", "\u{0085}", "🙂", "Å", "ǅ", "ﬁ",
            ].map { Array($0.utf8) } + [[0xFF], [0xC3], [0xE2, 0x82], [0x80]]
        var state: UInt64 = 11
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33) % n
        }
        var failures: [String] = []
        for _ in 0..<3000 {
            let bytes = (0..<next(40)).flatMap { _ in alphabet[next(alphabet.count)] }
            let fast = normalizeForDedup(bytes: bytes)
            let reference = Array(normalizeForDedupReference(String(decoding: bytes, as: UTF8.self)).utf8)
            if fast != reference { failures.append("\(bytes)") }
        }
        #expect(failures.isEmpty, "\(failures.count) differ, e.g. \(failures.prefix(3))")
        for name in ["english-tempest.txt", "chinese-tang300.txt"] {
            let text = sampleText(name)
            #expect(
                normalizeForDedup(bytes: Array(text.utf8)) == Array(normalizeForDedupReference(text).utf8), "\(name)")
        }
    }

    @Test(arguments: [Shingling.words(5), .words(1), .characters(3)])
    func spansAreTheByteShinglesAndSignTheSame(_ kind: Shingling) {
        let texts =
            sampleText("english-tempest.txt").components(separatedBy: "\n\n").prefix(40)
            + ["", "a", "a b", "床前明月光", "x x x x x x x x"]
        for text in texts {
            let normalized = Array(normalizeForDedup(text).utf8)
            let bytes = shingles(of: String(decoding: normalized, as: UTF8.self), kind)
            let hashes = shingleHashes(normalized: normalized, kind)
            #expect(hashes.count == bytes.count && hashes == hashes.sorted(), "\(text.prefix(30))")
            for scheme in MinHashScheme.allCases {
                let hasher = MinHasher(numPerm: 32, seed: 5, scheme: scheme)
                #expect(
                    hasher.signature(normalized: normalized, kind) == hasher.signature(bytes),
                    "\(scheme) \(text.prefix(30))")
            }
            let other = Array(normalizeForDedup(text + " and one more line of words here").utf8)
            let otherBytes = shingles(of: String(decoding: other, as: UTF8.self), kind)
            #expect(
                jaccard(sortedHashes: hashes, shingleHashes(normalized: other, kind)) == jaccard(bytes, otherBytes))
        }
    }

    @Test func candidatePairsBySortingEqualTheHashTables() {
        var state: UInt64 = 3
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 20
        }
        // 300 signatures over few values, so bands collide often.
        let signatures = (0..<300).map { _ in (0..<24).map { _ in next() % 3 } }
        let parameters = LSHParameters(bands: 6, rows: 4)
        var index = LSHIndex(parameters)
        for s in signatures { _ = index.insert(s) }
        let expected = index.candidatePairs()
        #expect(!expected.isEmpty)
        for threads in [1, 2] {
            let got = LSHIndex.candidatePairs(signatures, parameters, threads: threads)
            #expect(got.map { [$0.0, $0.1] } == expected.map { [$0.0, $0.1] })
        }
    }

    /// A line of 5 MB arrives in 1 MiB blocks: every byte is searched for a newline once, not once
    /// per block read (which made a 40 MB line take 32 s).
    @Test func theLineReaderSearchesEachByteOnce() throws {
        let path = NSTemporaryDirectory() + "long-line-\(UUID().uuidString)"
        let long = [UInt8](repeating: 0x61, count: 5_000_000)
        try Data(Array("short\n".utf8) + long + [0x0A] + Array("tail".utf8)).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let handle = FileHandle(forReadingAtPath: path)!
        var reader = LineReader(handle: handle, path: path)
        var lines: [([UInt8], UInt64)] = []
        while let line = try reader.next() { lines.append(line) }
        #expect(lines.map(\.0.count) == [6, 5_000_001, 4] && lines.map(\.1) == [0, 6, 5_000_007])
        #expect(lines[1].0.dropLast().allSatisfy { $0 == 0x61 })
        #expect(reader.searchedBytes <= 5_000_011, "searched \(reader.searchedBytes) bytes")
    }
}
