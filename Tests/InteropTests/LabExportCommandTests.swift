// `lab export` and `lab import` as a user runs them: outputs written whole, never over an
// existing one unless asked, errors on stderr with a non-zero status.
import Foundation
import Interop
import ModelStore
import NanoTransformer
import TestSupport
import Testing

@Suite struct LabExportCommandTests {
    @Test func exportThenImportGivesTheSameModel() throws {
        let fixture = try InteropFixture()
        let folder = temporaryFolder("cli")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let hf = "\(folder)/hf"
        let first = try runProduct("lab", ["export", fixture.tinyCheckpoint, "--format", "hf", hf])
        #expect(first.status == 0, "\(first.stderr)")
        let again = try runProduct("lab", ["export", fixture.tinyCheckpoint, "--format", "hf", hf])
        #expect(again.status != 0)
        #expect(again.stderr.contains("exists (pass --overwrite to replace it)"), "\(again.stderr)")
        let replaced = try runProduct("lab", ["export", fixture.tinyCheckpoint, "--format", "hf", hf, "--overwrite"])
        #expect(replaced.status == 0, "\(replaced.stderr)")
        let gguf = try runProduct(
            "lab", ["export", fixture.tinyCheckpoint, "--format", "gguf", "\(folder)/m.gguf", "--f16"])
        #expect(gguf.status == 0, "\(gguf.stderr)")
        #expect(FileManager.default.fileExists(atPath: "\(folder)/m.gguf"))
        let imported = try runProduct("lab", ["import", hf, "\(folder)/back.h5"])
        #expect(imported.status == 0, "\(imported.stderr)")
        let original = try NanoTransformer.load(checkpoint: fixture.tinyCheckpoint)
        let back = try NanoTransformer.load(checkpoint: "\(folder)/back.h5")
        let ids = [3, 1, 4, 1, 5, 9, 2, 6]
        #expect(logits(back, ids) == logits(original, ids))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty)
    }

    @Test func badInputsExitNonZeroNamingTheFile() throws {
        let noFolder = try runProduct("lab", ["import", "/nonexistent/llama", "/tmp/never.h5"])
        #expect(noFolder.status != 0)
        #expect(noFolder.stderr.contains("/nonexistent/llama: no such folder"), "\(noFolder.stderr)")
        let noCheckpoint = try runProduct(
            "lab", ["export", "/nonexistent/model.h5", "--format", "gguf", "/tmp/never.gguf"])
        #expect(noCheckpoint.status != 0)
        #expect(noCheckpoint.stderr.contains("/nonexistent/model.h5"), "\(noCheckpoint.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/never.gguf"))
    }
}
