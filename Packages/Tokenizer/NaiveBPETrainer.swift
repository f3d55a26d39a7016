// The smallest correct BPE trainer, minbpe's loop, kept beside the fast one (BPETrainer.swift)
// as its specification: every round counts all adjacent pairs from scratch, takes the most
// frequent, and rewrites every chunk. O(merges x corpus), fine for a test corpus; the tests check
// that the fast trainer learns exactly these merges under both tie rules.

extension BPETrainer {
    public static func trainNaive(_ texts: [String], options: BPETrainingOptions) throws -> BPETokenizer {
        var chunks = texts.flatMap { text in
            let bytes = Array(text.utf8)
            return pretokenize(bytes, pattern: options.pattern).map { bytes[$0].map(Int.init) }
        }
        var merges: [(left: Int, right: Int)] = []
        while merges.count < options.vocabSize - 256 - options.specialTokens.count {
            // Counts, and each pair's first position in corpus order (minbpe's dict order).
            var counts: [UInt64: Int] = [:]
            var order: [UInt64] = []
            for chunk in chunks {
                for (a, b) in zip(chunk, chunk.dropFirst()) {
                    let pair = pairKey(a, b)
                    if counts[pair] == nil { order.append(pair) }
                    counts[pair, default: 0] += 1
                }
            }
            // The most frequent pair; ties by the rule (first seen, or the smallest in HF ids).
            func hf(_ id: Int) -> Int { id < 256 ? huggingFaceByteIds[id] : id }
            func hfKey(_ p: UInt64) -> (Int, Int) { (hf(Int(p >> 32)), hf(Int(p & 0xFFFF_FFFF))) }
            guard
                let best = order.max(by: { x, y in
                    if counts[x]! != counts[y]! { return counts[x]! < counts[y]! }
                    return options.tieRule == .firstOccurrence ? false : hfKey(x) > hfKey(y)
                }), counts[best]! >= max(options.minFrequency, 1)
            else { break }
            let (a, b, id) = (Int(best >> 32), Int(best & 0xFFFF_FFFF), 256 + merges.count)
            merges.append((a, b))
            // Replace non-overlapping occurrences left to right.
            chunks = chunks.map { chunk in
                var out: [Int] = []
                var i = 0
                while i < chunk.count {
                    if i + 1 < chunk.count && chunk[i] == a && chunk[i + 1] == b {
                        out.append(id)
                        i += 2
                    } else {
                        out.append(chunk[i])
                        i += 1
                    }
                }
                return out
            }
        }
        return try BPETokenizer(pattern: options.pattern, merges: merges, specialTokens: options.specialTokens)
    }
}
