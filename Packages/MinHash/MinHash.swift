import Crypto
import Dispatch
import Foundation
// MinHash signatures (Broder 1997): sig_k(S) = min over x in S of h_k(x), so that
// P[sig_k(A) = sig_k(B)] = Jaccard(A, B) and the share of equal positions estimates it.
// Schemes: a fast 64-bit default, and datasketch 2.0's three schemes bit for bit.
import LabSupport

public enum MinHashScheme: String, Codable, Sendable, CaseIterable {
    /// Default: a 64-bit base hash (word-wise mixing, MurmurHash3 finaliser), then h_k = a_k h + b_k
    /// mod 2^64 with odd a_k from the project's RNG. No SHA-1, so many times faster.
    case fast64
    /// datasketch's default: SHA-1's first 4 bytes (little endian), MurmurHash3 fmix32, then
    /// a_k h + b_k mod 2^32; a_k = 2 randint(0, 2^31) + 1, b_k = randint(0, 2^32), all a then all b.
    case datasketchAffine32
    /// The same in 64 bits with SHA-1's first 8 bytes and fmix64.
    case datasketchAffine64
    /// datasketch before 2.0: ((a_k h + b_k) mod 2^64 mod (2^61 - 1)) & (2^32 - 1), with
    /// a_k = randint(1, p), b_k = randint(0, p) drawn in turn. The product wraps at 2^64 as in
    /// numpy; exact arithmetic gives other values (seed 1, "hello": 228630785, not 396576921).
    case datasketchLegacy
}

public struct MinHasher: Sendable {
    public let numPerm: Int
    public let seed: UInt64
    public let scheme: MinHashScheme
    let a: [UInt64]
    let b: [UInt64]
    static let mersenne: UInt64 = (1 << 61) - 1

    public init(numPerm: Int, seed: UInt64 = 1, scheme: MinHashScheme = .fast64) {
        precondition(numPerm > 0, "numPerm must be positive")
        self.numPerm = numPerm
        self.seed = seed
        self.scheme = scheme
        var a = [UInt64](repeating: 0, count: numPerm)
        var b = a
        switch scheme {
        case .fast64:
            var state = seed
            for k in 0..<numPerm {
                a[k] = splitMix64(&state) | 1
                b[k] = splitMix64(&state)
            }
        case .datasketchAffine32:
            var rs = NumpyRandomState(seed: UInt32(truncatingIfNeeded: seed))
            for k in 0..<numPerm { a[k] = UInt64(rs.randintUInt32(0, 1 << 31)) * 2 + 1 }
            for k in 0..<numPerm { b[k] = UInt64(rs.randintUInt32(0, 1 << 32)) }
        case .datasketchAffine64:
            var rs = NumpyRandomState(seed: UInt32(truncatingIfNeeded: seed))
            for k in 0..<numPerm { a[k] = rs.randintUInt64(0, inclusiveHigh: (1 << 63) - 1) &* 2 &+ 1 }
            for k in 0..<numPerm { b[k] = rs.randintUInt64(0, inclusiveHigh: UInt64.max) }
        case .datasketchLegacy:
            var rs = NumpyRandomState(seed: UInt32(truncatingIfNeeded: seed))
            for k in 0..<numPerm {
                a[k] = rs.randintUInt64(1, inclusiveHigh: Self.mersenne - 1)
                b[k] = rs.randintUInt64(0, inclusiveHigh: Self.mersenne - 1)
            }
        }
        self.a = a
        self.b = b
    }

    /// The value every position starts from (and keeps, for an empty set).
    public var maxHash: UInt64 {
        switch scheme {
        case .fast64, .datasketchAffine64: UInt64.max
        case .datasketchAffine32, .datasketchLegacy: UInt64(UInt32.max)
        }
    }

    /// The signature of a set of shingles (given as bytes).
    public func signature(_ shingles: [[UInt8]]) -> [UInt64] {
        var sig = [UInt64](repeating: maxHash, count: numPerm)
        for s in shingles { update(&sig, s) }
        return sig
    }

    /// Folds one shingle into a signature.
    public func update(_ sig: inout [UInt64], _ shingle: [UInt8]) {
        let h = shingle.withUnsafeBytes { base(of: $0, hash64: scheme == .fast64 ? hash64($0) : 0) }
        sig.withUnsafeMutableBufferPointer { fold(into: $0, base: h) }
    }

    /// The scheme's base hash of a shingle's bytes (`hash64`: their hash64, which fast64 uses).
    @inline(__always) func base(of bytes: UnsafeRawBufferPointer, hash64 h: UInt64) -> UInt64 {
        switch scheme {
        case .fast64: fmix64(h)
        case .datasketchAffine32: UInt64(fmix32(sha1Prefix32(bytes)))
        case .datasketchAffine64: fmix64(sha1Prefix64(bytes))
        case .datasketchLegacy: UInt64(sha1Prefix32(bytes))
        }
    }

    /// sig_k = min(sig_k, h_k(x)) for every k, from x's base hash.
    @inline(__always) func fold(into sig: UnsafeMutableBufferPointer<UInt64>, base h: UInt64) {
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                switch scheme {
                case .fast64, .datasketchAffine64:
                    for k in 0..<numPerm { sig[k] = min(sig[k], a[k] &* h &+ b[k]) }
                case .datasketchAffine32:
                    for k in 0..<numPerm { sig[k] = min(sig[k], (a[k] &* h &+ b[k]) & 0xFFFF_FFFF) }
                case .datasketchLegacy:
                    for k in 0..<numPerm { sig[k] = min(sig[k], ((a[k] &* h &+ b[k]) % Self.mersenne) & 0xFFFF_FFFF) }
                }
            }
        }
    }

    /// The signature of normalised text's shingles, found and hashed in place (the dedup stage's
    /// path; equal to `signature(shingles(of: text, kind))`).
    public func signature(normalized: [UInt8], _ kind: Shingling) -> [UInt64] {
        normalized.withUnsafeBufferPointer { signature(spans: shingleSpans($0, kind), text: $0) }
    }

    /// The signature of a document's distinct shingles, given as spans of its normalised text.
    func signature(spans: [ShingleSpan], text: UnsafeBufferPointer<UInt8>) -> [UInt64] {
        var sig = [UInt64](repeating: maxHash, count: numPerm)
        let raw = UnsafeRawBufferPointer(text)
        sig.withUnsafeMutableBufferPointer { s in
            for span in spans {
                let bytes = UnsafeRawBufferPointer(rebasing: raw[Int(span.start)..<Int(span.end)])
                fold(into: s, base: base(of: bytes, hash64: span.hash))
            }
        }
        return sig
    }

    /// Signatures of many documents on `threads` threads (results in input order).
    public func signatures(_ documents: [[[UInt8]]], threads: Int = 2) -> [[UInt64]] {
        var out = [[UInt64]](repeating: [], count: documents.count)
        let chunks = max(1, min(threads, documents.count))
        out.withUnsafeMutableBufferPointer { buffer in
            let box = UncheckedSendable(buffer)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                for i in (documents.count * c / chunks)..<(documents.count * (c + 1) / chunks) {
                    box.value[i] = signature(documents[i])
                }
            }
        }
        return out
    }
}

/// The share of equal positions: an unbiased estimate of the Jaccard similarity.
public func estimatedJaccard(_ a: [UInt64], _ b: [UInt64]) -> Double {
    precondition(a.count == b.count, "signatures of different lengths")
    var equal = 0
    for k in 0..<a.count where a[k] == b[k] { equal += 1 }
    return Double(equal) / Double(a.count)
}

func sha1Prefix32(_ data: some DataProtocol) -> UInt32 {
    var digest = Insecure.SHA1.hash(data: data).makeIterator()
    var v: UInt32 = 0
    for i in 0..<4 { v |= UInt32(digest.next()!) << (8 * UInt32(i)) }
    return v
}

func sha1Prefix64(_ data: some DataProtocol) -> UInt64 {
    var digest = Insecure.SHA1.hash(data: data).makeIterator()
    var v: UInt64 = 0
    for i in 0..<8 { v |= UInt64(digest.next()!) << (8 * UInt64(i)) }
    return v
}

/// MurmurHash3's 32-bit finaliser (a bijection that spreads every input bit).
@inline(__always) func fmix32(_ x: UInt32) -> UInt32 {
    var h = x
    h ^= h >> 16
    h = h &* 0x85EB_CA6B
    h ^= h >> 13
    h = h &* 0xC2B2_AE35
    return h ^ (h >> 16)
}

/// MurmurHash3's 64-bit finaliser.
@inline(__always) func fmix64(_ x: UInt64) -> UInt64 {
    var h = x
    h ^= h >> 33
    h = h &* 0xFF51_AFD7_ED55_8CCD
    h ^= h >> 33
    h = h &* 0xC4CE_B9FE_1A85_EC53
    return h ^ (h >> 33)
}

@inline(__always) func splitMix64(_ state: inout UInt64) -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    return fmix64(state)
}

/// A fast 64-bit hash of bytes: 8-byte little-endian words folded through fmix64.
func hash64(_ data: [UInt8]) -> UInt64 { data.withUnsafeBytes { hash64($0) } }

func hash64(_ raw: UnsafeRawBufferPointer) -> UInt64 {
    var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(raw.count)
    var i = 0
    while i + 8 <= raw.count {
        h = fmix64(h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
        i += 8
    }
    var tail: UInt64 = 0
    var shift: UInt64 = 0
    while i < raw.count {
        tail |= UInt64(raw[i]) << shift
        shift += 8
        i += 1
    }
    return fmix64(h ^ tail)
}
