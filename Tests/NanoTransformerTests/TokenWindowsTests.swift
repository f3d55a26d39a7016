// The train/validation split and its windows on a corpus whose tokens are their own positions
// (token i at position i), so a window's contents show exactly where it came from.
import LabSupport
import NanoTransformer
import TensorCore
import TestSupport
import Testing

@Suite struct TokenWindowsTests {
    let corpus = Array(0..<1000)

    @Test func trainAndValidationShareNoTokenAndCoverTheCorpus() throws {
        let w = try TokenWindows(tokens: corpus, blockSize: 100, validationFraction: 0.2, seed: 3)
        let train = Set(w.trainSegments.flatMap { $0 })
        let validation = Set(w.validationSegments.flatMap { $0 })
        #expect(train.isDisjoint(with: validation))
        #expect(train.union(validation) == Set((0..<1000).map(Int32.init)))
        #expect(w.validationTokens == 200 && w.trainTokens == 800)
        // Each segment is a run of consecutive corpus positions.
        for segment in w.trainSegments + w.validationSegments {
            #expect(zip(segment, segment.dropFirst()).allSatisfy { $1 == $0 + 1 })
        }
    }

    /// Every window is a contiguous piece of the corpus: it never spans the join of two blocks
    /// that were not adjacent, and every valid start is drawn.
    @Test(arguments: [false, true])
    func windowsNeverSpanAJoinAndReachEveryStart(validation: Bool) throws {
        let w = try TokenWindows(tokens: corpus, blockSize: 50, validationFraction: 0.3, seed: 4)
        var rng = RNG(seed: 5)
        var starts: Set<Int> = []
        for _ in 0..<2000 {  // about 25 draws per valid start: each is reached with certainty in practice
            let (ids, targets) = w.batch(8, time: 9, validation: validation, rng: &rng)
            for b in 0..<8 {
                let window = Array(ids[(b * 9)..<(b * 9 + 9)])
                #expect(zip(window, window.dropFirst()).allSatisfy { $1 == $0 + 1 }, "\(window)")
                #expect(Array(targets[(b * 9)..<(b * 9 + 9)]) == window.map { $0 + 1 })
                starts.insert(window[0])
            }
        }
        let segments = validation ? w.validationSegments : w.trainSegments
        let valid = Set(segments.flatMap { s in s.prefix(Swift.max(0, s.count - 10)).map(Int.init) })
        #expect(starts == valid, "\(valid.subtracting(starts).count) starts never drawn")
        let held = validation ? w.trainSegments : w.validationSegments
        #expect(starts.isDisjoint(with: Set(held.flatMap { $0 }.map(Int.init))))
    }

    @Test func aCorpusOfOneBlockIsAnError() throws {
        expectLabError(.model) { _ = try TokenWindows(tokens: Array(0..<100), blockSize: 100, seed: 1) }
        let w = try TokenWindows(tokens: Array(0..<101), blockSize: 100, seed: 1)
        #expect(w.validationTokens + w.trainTokens == 101 && !w.validationSegments.isEmpty && !w.trainSegments.isEmpty)
        #expect(!w.fits(time: 100, validation: false) || !w.fits(time: 100, validation: true))
    }
}
