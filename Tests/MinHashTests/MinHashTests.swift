// MinHash and LSH. Fixture: Tests/MinHashTests/Fixtures/minhash_reference.json, written by
// `python3 Scripts/reference/minhash_fixtures.py` (the real datasketch 2.0, numpy, scipy).
import Foundation
import MinHash
import Testing

struct MinHashFixture: Decodable {
    struct RandomStateDraws: Decodable {
        let uint32: [UInt32]
        let masked31: [UInt32]
        let legacyPairs: [UInt64]
        let uint64Full: [UInt64]
        enum CodingKeys: String, CodingKey {
            case uint32, masked31
            case legacyPairs = "legacy_pairs"
            case uint64Full = "uint64_full"
        }
    }
    struct SignatureSet: Decodable {
        let scheme: String
        let numPerm: Int
        let seed: UInt64
        let hashvalues: [[UInt64]]
        enum CodingKeys: String, CodingKey {
            case scheme, seed, hashvalues
            case numPerm = "num_perm"
        }
    }
    struct Optimal: Decodable {
        let threshold: Double
        let numPerm: Int
        let weights: [Double]?
        let bandsRows: [Int]
        enum CodingKeys: String, CodingKey {
            case threshold, weights
            case numPerm = "num_perm"
            case bandsRows = "bands_rows"
        }
    }
    let randomstate: RandomStateDraws
    let documents: [String]
    let signatures: [SignatureSet]
    let helloLegacySeed1: [UInt64]
    let optimal: [Optimal]
    enum CodingKeys: String, CodingKey {
        case randomstate, documents, signatures, optimal
        case helloLegacySeed1 = "hello_legacy_seed1"
    }

    static let shared: MinHashFixture = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/minhash_reference.json")
        return try! JSONDecoder().decode(MinHashFixture.self, from: Data(contentsOf: url))
    }()
}

/// Word 5-grams exactly as the fixture script makes them (split on whitespace, no normalisation).
func fixtureShingles(_ doc: String) -> [[UInt8]] {
    let words = doc.split(whereSeparator: { $0.isWhitespace })
    let n = 5
    return (0..<max(words.count - n + 1, 1)).map {
        Array(words[$0..<min($0 + n, words.count)].joined(separator: " ").utf8)
    }
}

@Suite struct DatasketchParityTests {
    @Test func numpyRandomStateDrawsMatch() {
        let f = MinHashFixture.shared.randomstate
        var rs = NumpyRandomState(seed: 1)
        #expect((0..<5).map { _ in rs.randintUInt32(0, 1 << 32) } == f.uint32)
        #expect((0..<5).map { _ in rs.randintUInt32(0, 1 << 31) } == f.masked31)
        #expect((0..<3).map { _ in rs.randintUInt64(1, inclusiveHigh: (1 << 61) - 2) } == f.legacyPairs)
        #expect((0..<3).map { _ in rs.randintUInt64(0, inclusiveHigh: UInt64.max) } == f.uint64Full)
    }

    @Test func legacyHelloVectorWrapsLikeNumpy() {
        let hasher = MinHasher(numPerm: 4, seed: 1, scheme: .datasketchLegacy)
        let sig = hasher.signature([Array("hello".utf8)])
        #expect(sig == MinHashFixture.shared.helloLegacySeed1)
        #expect(sig[0] == 228_630_785)  // REFERENCE.md: wrapped; exact arithmetic would give 396576921
    }

    @Test(arguments: MinHashFixture.shared.signatures.indices)
    func signaturesEqualDatasketchBitForBit(_ index: Int) {
        let set = MinHashFixture.shared.signatures[index]
        let scheme: MinHashScheme =
            switch set.scheme {
            case "legacy": .datasketchLegacy
            case "affine32": .datasketchAffine32
            default: .datasketchAffine64
            }
        let hasher = MinHasher(numPerm: set.numPerm, seed: set.seed, scheme: scheme)
        for (doc, expected) in zip(MinHashFixture.shared.documents, set.hashvalues) {
            #expect(hasher.signature(fixtureShingles(doc)) == expected, "\(set.scheme) K=\(set.numPerm)")
        }
    }
}

@Suite struct LSHTests {
    @Test func optimalParametersMatchReferenceTable() {
        // REFERENCE.md section 1 (bands, rows).
        let table: [(Double, Int, Int, Int)] = [
            (0.9, 128, 5, 25), (0.8, 128, 9, 13), (0.7, 128, 14, 9), (0.5, 128, 25, 5), (0.7, 256, 25, 10),
            (0.85, 256, 13, 19), (0.8, 112, 9, 12),
        ]
        for (t, k, b, r) in table {
            #expect(
                LSHParameters.optimal(threshold: t, numPerm: k) == LSHParameters(bands: b, rows: r), "t=\(t) K=\(k)")
        }
    }

    @Test func optimalParametersMatchDatasketchEverywhere() {
        var mismatches: [String] = []
        for c in MinHashFixture.shared.optimal {
            let w = c.weights ?? [0.5, 0.5]
            let p = LSHParameters.optimal(
                threshold: c.threshold, numPerm: c.numPerm, falsePositiveWeight: w[0], falseNegativeWeight: w[1])
            if [p.bands, p.rows] != c.bandsRows {
                mismatches.append("t=\(c.threshold) K=\(c.numPerm): \(p) vs \(c.bandsRows)")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches)")
    }

    @Test func sCurveClosedForm() {
        // FineWeb's 14 bands x 8 rows: P = 0.565 / 0.772 / 0.924 / 0.988 at s = 0.70 / 0.75 / 0.80 / 0.85.
        let expected: [(Double, Double)] = [(0.70, 0.565), (0.75, 0.772), (0.80, 0.924), (0.85, 0.988)]
        for (s, p) in expected { #expect(abs(candidateProbability(s, bands: 14, rows: 8) - p) < 0.001) }
        #expect(candidateProbability(0, bands: 5, rows: 3) == 0 && candidateProbability(1, bands: 5, rows: 3) == 1)
        // The 50 % point is near (1/b)^(1/r).
        let b = 20
        let r = 5
        #expect(abs(candidateProbability(pow(1 / Double(b), 1 / Double(r)), bands: b, rows: r) - 0.5) < 0.15)
    }

    @Test func indexFindsSharedBandsOnly() {
        var index = LSHIndex(LSHParameters(bands: 4, rows: 2))
        let a: [UInt64] = [1, 2, 3, 4, 5, 6, 7, 8]
        let b: [UInt64] = [1, 2, 9, 9, 9, 9, 9, 9]  // shares band 0 with a
        let c: [UInt64] = [0, 2, 3, 0, 5, 0, 7, 0]  // shares no whole band
        #expect(index.insert(a) == 0 && index.insert(b) == 1 && index.insert(c) == 2)
        #expect(index.query(a) == [0, 1])
        #expect(index.query(c) == [2])
        #expect(index.candidatePairs().map { [$0.0, $0.1] } == [[0, 1]])
    }
}

@Suite struct MinHashTests {
    @Test func estimateErrorStaysWithinTheBinomialBound() {
        // Random sets with known Jaccard; the estimate is Binomial(K, J)/K: |error| < 4 sqrt(J(1-J)/K).
        var state: UInt64 = 7
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 16
        }
        for scheme in [MinHashScheme.fast64, .datasketchAffine32] {
            let hasher = MinHasher(numPerm: 256, seed: 3, scheme: scheme)
            var worst = 0.0
            for _ in 0..<30 {
                let shared = Int(next() % 300) + 1
                let onlyA = Int(next() % 300)
                let onlyB = Int(next() % 300)
                let base = next()
                let common = (0..<shared).map { Array("s\(base)-\($0)".utf8) }
                let a = common + (0..<onlyA).map { Array("a\(base)-\($0)".utf8) }
                let b = common + (0..<onlyB).map { Array("b\(base)-\($0)".utf8) }
                let truth = jaccard(a, b)
                let estimate = estimatedJaccard(hasher.signature(a), hasher.signature(b))
                let bound = 4 * (truth * (1 - truth) / 256).squareRoot() + 1e-9
                worst = max(worst, abs(estimate - truth) / bound)
            }
            #expect(worst < 1, "\(scheme): error reached \(worst) of the bound")
        }
    }

    @Test func normalisationAndShingles() {
        #expect(normalizeForDedup("  Héllo,   WORLD!\n It's 2024 — café. ") == "hello world its 0000 cafe")
        #expect(shingles(of: "a b c d", .words(3)).map { String(decoding: $0, as: UTF8.self) } == ["a b c", "b c d"])
        #expect(shingles(of: "a b", .words(5)).map { String(decoding: $0, as: UTF8.self) } == ["a b"])
        #expect(shingles(of: "", .words(5)).isEmpty)
        let chinese = shingles(of: normalizeForDedup("床前明月光，疑是地上霜。"), .characters(3))
        #expect(chinese.count == 8 && String(decoding: chinese[0], as: UTF8.self) == "床前明")
        #expect(jaccard([[1], [2]], [[2], [3]]) == 1.0 / 3)
    }

    @Test func emptyShortInvalidAndHugeDocumentsNeverCrash() {
        let hasher = MinHasher(numPerm: 64)
        let empty = hasher.signature([])
        #expect(empty.allSatisfy { $0 == UInt64.max })
        let invalid = String(decoding: [0x61, 0xFF, 0xFE, 0x62, 0xC3], as: UTF8.self)  // replaced, never a crash
        #expect(!shingles(of: normalizeForDedup(invalid), .characters(2)).isEmpty)
        let huge = String(repeating: "lorem ipsum dolor sit amet ", count: 40_000)  // about 1 MB
        let sig = hasher.signature(shingles(of: normalizeForDedup(huge), .words(5)))
        #expect(sig.count == 64 && sig.allSatisfy { $0 < UInt64.max })
        let docs = (0..<50).map { shingles(of: "doc \($0) " + String(repeating: "w\($0) ", count: 20), .words(3)) }
        #expect(hasher.signatures(docs, threads: 2) == docs.map { hasher.signature($0) })
    }

    @Test func unionFindClustersAndKeepPolicies() {
        var uf = UnionFind(count: 6)
        uf.union(4, 1)
        uf.union(1, 3)
        uf.union(5, 2)
        let clusters = uf.clusters()
        #expect(clusters == [[1, 3, 4], [2, 5]])
        #expect(survivors(of: clusters, lengths: [0, 5, 9, 7, 7, 1], policy: .first) == [1, 2])
        #expect(survivors(of: clusters, lengths: [0, 5, 9, 7, 7, 1], policy: .longest) == [3, 2])
    }
}
