import Foundation
import HDF5Store
// Nothing written is lost or silently changed: a full disk is a named error that leaves the old
// file as it was; any byte of a checkpoint flipped either reads back the same content or is an
// error (never other weights); a truncated file is an error; strings HDF5 would cut short are
// refused; temporaries of killed writers are cleaned up; and the superblock checksum this
// project recomputes for in-memory images is the one HDF5 itself writes.
import LabSupport
import TensorCore
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct IntegrityTests {
    @Test func aFullDiskIsANamedErrorAndTheOldFileStays() throws {
        // /dev/full answers every write with ENOSPC, as a full filesystem does.
        let error = expectLabError(.hdf5) { try writeFileDurably([1, 2, 3], to: "/dev/full") }
        #expect(error?.message.contains("No space left on device (errno 28)") == true, "\(String(describing: error))")
        // Through the atomic writer: a body that fails leaves the previous file and no temporary.
        let path = temporaryFolder() + "/c.h5"
        try Checkpoint.save(sampleState(), to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        expectLabError(.hdf5) {
            try writeHDF5Atomically(to: path) { file in
                try file.write([Float(1)], shape: [1], to: "x")
                throw LabError(.hdf5, "simulated failure mid-write")
            }
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent) == [
                "c.h5"
            ])
    }

    /// Every 97th byte of a checkpoint flipped, one at a time: each load either throws or gives
    /// back exactly the saved content (a flip in padding changes nothing); none gives other numbers.
    @Test func aFlippedByteIsAnErrorOrChangesNothing() throws {
        let path = temporaryFolder() + "/c.h5"
        let state = sampleState()
        try Checkpoint.save(state, to: path)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let damaged = path + ".damaged"
        var (errors, unchanged) = (0, 0)
        for offset in stride(from: 0, to: bytes.count, by: 97) {
            var copy = bytes
            copy[offset] ^= 0x5A
            try Data(copy).write(to: URL(fileURLWithPath: damaged))
            do {
                let back = try Checkpoint.load(from: damaged)
                #expect(back.contentDigest == state.contentDigest, "byte \(offset): loaded other content")
                unchanged += 1
            } catch is LabError {
                errors += 1
            }
        }
        #expect(errors > 0 && errors + unchanged == (bytes.count + 96) / 97)
        // Truncated anywhere: an error.
        for length in [0, 8, bytes.count / 3, bytes.count - 1] {
            try Data(bytes.prefix(length)).write(to: URL(fileURLWithPath: damaged))
            #expect(throws: LabError.self, "truncated to \(length)") { try Checkpoint.load(from: damaged) }
        }
    }

    @Test func anEditedValueIsCaughtByTheDigest() throws {
        let path = temporaryFolder() + "/r.h5"
        var results = RunResults(experiment: "x", ablation: "y", seed: 0, configJSON: "{}", provenanceJSON: "{}")
        results.metrics["loss/train"] = MetricSeries(steps: [1, 2], values: [3, 2])
        try results.save(to: path)
        // An edit through HDF5 itself (valid file, other value): the digest no longer matches.
        let file = try HDF5File(path: path, mode: .readWrite)
        try file.write([Double(3), 1.5], shape: [2], to: "metrics/loss/train/value")
        file.close()
        let error = expectLabError(.hdf5) { try RunResults.load(from: path) }
        #expect(error?.message.contains("does not match its checksum (content_sha256)") == true)
        // A results file missing a group it always has is damaged, not "no metrics".
        let file2 = try HDF5File(path: path, mode: .readWrite)
        try file2.delete("metrics")
        file2.close()
        expectLabError(.hdf5) { try RunResults.load(from: path) }
    }

    @Test func stringsHDF5WouldCutShortAreRefusedAndSamplesKeepTheirText() throws {
        let path = temporaryFolder() + "/s.h5"
        let file = try HDF5File(path: path, mode: .create)
        expectLabError(.hdf5) { try file.writeStrings(["ok", "a\0b"], to: "t") }
        file.close()
        let results = temporaryFolder() + "/r.h5"
        let writer = try ResultsWriter(
            path: results,
            results: RunResults(experiment: "x", ablation: "y", seed: 0, configJSON: "{}", provenanceJSON: "{}"))
        writer.sample("generation", step: 1, "before\0after")
        try writer.close(status: "finished")
        #expect(try RunResults.load(from: results).samples["generation"]!.texts == ["before\u{FFFD}after"])
    }

    @Test func temporariesOfDeadWritersAreRemovedAndLiveOnesKept() throws {
        let folder = temporaryFolder()
        // A pid that cannot be running (beyond pid_max), one that is (this process's parent), ours.
        let names = ["c.h5.tmp-2147483646", "c.h5.tmp-\(getppid())", "c.h5.tmp-\(getpid())", "c.h5", "notes.tmp-x"]
        for name in names { _ = FileManager.default.createFile(atPath: "\(folder)/\(name)", contents: Data([1])) }
        #expect(removeStaleTemporaries(in: folder) == ["c.h5.tmp-2147483646"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == names.dropFirst().sorted())
    }

    /// A file HDF5 writes to disk itself (its superblock checksummed by HDF5 at close) carries
    /// the checksum this project computes for the superblocks of in-memory images.
    @Test func theSuperblockChecksumIsHDF5sOwn() throws {
        let path = temporaryFolder() + "/disk.h5"
        let file = try HDF5File(path: path, mode: .create)
        try file.write([Int64(7)], shape: [1], to: "x")
        file.close()
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes[8] >= 2, "a v2+ superblock (object headers with checksums)")
        #expect(superblockChecksumIsValid(bytes))
        var flipped = bytes
        flipped[11] ^= 1
        #expect(!superblockChecksumIsValid(flipped))
    }
}
