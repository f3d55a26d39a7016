// Locality-sensitive hashing for MinHash (Indyk & Motwani 1998; Mining of Massive Datasets,
// ch. 3). Notation used everywhere here: b = number of BANDS, r = ROWS per band, b * r <= K.
// Two signatures become candidates when all r rows of at least one band agree, which happens with
// probability P(s) = 1 - (1 - s^r)^b for Jaccard similarity s (the S-curve).

import Foundation

/// P(candidate | similarity s) for b bands of r rows.
public func candidateProbability(_ s: Double, bands b: Int, rows r: Int) -> Double {
    1 - Foundation.pow(1 - Foundation.pow(s, Double(r)), Double(b))
}

public struct LSHParameters: Codable, Sendable, Equatable {
    public var bands: Int
    public var rows: Int

    public init(bands: Int, rows: Int) {
        self.bands = bands
        self.rows = rows
    }

    /// datasketch's `_optimal_param`: over b = 1...K and r = 1...K/b, minimise
    /// w_fp * ∫_0^t P(s) ds + w_fn * ∫_t^1 (1 - P(s)) ds, keeping the first (smallest b, then r)
    /// minimum on ties (strict <).
    public static func optimal(
        threshold t: Double, numPerm k: Int, falsePositiveWeight: Double = 0.5,
        falseNegativeWeight: Double = 0.5
    ) -> LSHParameters {
        var best = LSHParameters(bands: 0, rows: 0)
        var minError = Double.infinity
        for b in 1...k {
            for r in 1...(k / b) {
                let fp = integrate(0, t) { candidateProbability($0, bands: b, rows: r) }
                let fn = integrate(t, 1) { 1 - candidateProbability($0, bands: b, rows: r) }
                let error = fp * falsePositiveWeight + fn * falseNegativeWeight
                if error < minError {
                    minError = error
                    best = LSHParameters(bands: b, rows: r)
                }
            }
        }
        return best
    }
}

/// Adaptive Gauss-Kronrod (7-15) quadrature to about 1e-13, as scipy's `quad` does (QUADPACK).
func integrate(_ lo: Double, _ hi: Double, _ f: (Double) -> Double) -> Double {
    let xgk: [Double] = [
        0.991455371120812639, 0.949107912342758525, 0.864864423359769073, 0.741531185599394440,
        0.586087235467691130, 0.405845151377397167, 0.207784955007898468, 0.0,
    ]
    let wgk: [Double] = [
        0.022935322010529225, 0.063092092629978553, 0.104790010322250184, 0.140653259715525919,
        0.169004726639267903, 0.190350578064785410, 0.204432940075298892, 0.209482141084727828,
    ]
    let wg: [Double] = [0.129484966168869693, 0.279705391489276668, 0.381830050505118945, 0.417959183673469388]
    func gk(_ a: Double, _ b: Double) -> (Double, Double) {
        let c = (a + b) / 2
        let h = (b - a) / 2
        let fc = f(c)
        var kronrod = fc * wgk[7]
        var gauss = fc * wg[3]
        for j in 0..<7 {
            let x = h * xgk[j]
            let sum = f(c - x) + f(c + x)
            kronrod += wgk[j] * sum
            if j % 2 == 1 { gauss += wg[j / 2] * sum }
        }
        return (kronrod * h, abs((kronrod - gauss) * h))
    }
    func adapt(_ a: Double, _ b: Double, _ depth: Int) -> Double {
        let (value, error) = gk(a, b)
        if error <= 1e-14 * max(abs(value), 1e-300) || error < 1e-16 || depth > 40 { return value }
        let m = (a + b) / 2
        return adapt(a, m, depth + 1) + adapt(m, b, depth + 1)
    }
    return hi > lo ? adapt(lo, hi, 0) : 0
}

/// An LSH index over MinHash signatures: b hash tables, one per band, keyed by the band's r values.
public struct LSHIndex: Sendable {
    public let parameters: LSHParameters
    var tables: [[UInt64: [Int]]]
    public private(set) var count = 0

    public init(_ parameters: LSHParameters) {
        self.parameters = parameters
        tables = Array(repeating: [:], count: parameters.bands)
    }

    func bandKey(_ sig: [UInt64], _ band: Int) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for k in (band * parameters.rows)..<((band + 1) * parameters.rows) { h = fmix64(h ^ sig[k]) &+ UInt64(k) }
        return h
    }

    /// Inserts document `id`'s signature (ids are 0, 1, 2, ... in insertion order).
    public mutating func insert(_ sig: [UInt64]) -> Int {
        precondition(sig.count >= parameters.bands * parameters.rows, "signature shorter than bands x rows")
        let id = count
        for band in 0..<parameters.bands { tables[band][bandKey(sig, band), default: []].append(id) }
        count += 1
        return id
    }

    /// Ids of inserted documents sharing at least one band with `sig`, ascending.
    public func query(_ sig: [UInt64]) -> [Int] {
        var found = Set<Int>()
        for band in 0..<parameters.bands { found.formUnion(tables[band][bandKey(sig, band)] ?? []) }
        return found.sorted()
    }

    /// Every pair (i < j) that shares a bucket in at least one band, sorted.
    public func candidatePairs() -> [(Int, Int)] {
        var pairs = Set<UInt64>()
        for table in tables {
            for bucket in table.values where bucket.count > 1 {
                for x in 0..<bucket.count {
                    for y in (x + 1)..<bucket.count { pairs.insert(UInt64(bucket[x]) << 32 | UInt64(bucket[y])) }
                }
            }
        }
        return pairs.sorted().map { (Int($0 >> 32), Int($0 & 0xFFFF_FFFF)) }
    }
}

extension LSHIndex {
    /// The b band keys of a signature (what the hash tables are keyed by).
    public func bandKeys(_ sig: [UInt64]) -> [UInt64] {
        precondition(sig.count >= parameters.bands * parameters.rows, "signature shorter than bands x rows")
        return (0..<parameters.bands).map { bandKey(sig, $0) }
    }

    /// Every pair (i < j) of `signatures` that agrees on all rows of at least one band, sorted:
    /// what inserting them all and `candidatePairs()` give, without the hash tables.
    public static func candidatePairs(
        _ signatures: [[UInt64]], _ parameters: LSHParameters, threads: Int = 1
    ) -> [(Int, Int)] {
        let index = LSHIndex(parameters)
        return candidatePairs(
            bandKeys: signatures.flatMap { index.bandKeys($0) }, bands: parameters.bands, threads: threads)
    }

    /// The same from each document's b band keys, document after document in one array (n x b):
    /// per band, the documents are sorted by their key and each run of equal keys gives its pairs.
    public static func candidatePairs(bandKeys keys: [UInt64], bands: Int, threads: Int = 1) -> [(Int, Int)] {
        let count = keys.count / bands
        let perBand = parallelMap(Array(0..<bands), threads: threads) { band -> [UInt64] in
            var keyed = (0..<count).map { (key: keys[$0 * bands + band], id: $0) }
            keyed.sort { $0.key != $1.key ? $0.key < $1.key : $0.id < $1.id }
            var pairs: [UInt64] = []
            var start = 0
            while start < keyed.count {
                var end = start + 1
                while end < keyed.count && keyed[end].key == keyed[start].key { end += 1 }
                if end - start > 1 {
                    for x in start..<end {
                        for y in (x + 1)..<end { pairs.append(UInt64(keyed[x].id) << 32 | UInt64(keyed[y].id)) }
                    }
                }
                start = end
            }
            return pairs
        }
        var all = perBand.flatMap { $0 }
        all.sort()
        var out: [(Int, Int)] = []
        out.reserveCapacity(all.count)
        for (i, pair) in all.enumerated() where i == 0 || pair != all[i - 1] {
            out.append((Int(pair >> 32), Int(pair & 0xFFFF_FFFF)))
        }
        return out
    }
}
