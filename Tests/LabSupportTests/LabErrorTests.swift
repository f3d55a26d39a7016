// The one error type: its message, key and reason, and the field form "key: reason".
import LabSupport
import Testing

@Suite struct LabErrorTests {
    @Test func aPlainErrorIsItsOwnReason() {
        let error = LabError(.hdf5, "runs/x.h5: no such file")
        #expect(error.domain == .hdf5 && error.description == "runs/x.h5: no such file")
        #expect(error.key == nil && error.related.isEmpty && error.reason == error.message)
    }

    @Test func aFieldErrorNamesItsKeyAndTheKeysItRelatesTo() {
        let error = LabError(.model, key: "heads", "3 must divide dModel 128", related: ["dModel"])
        #expect(error.message == "heads: 3 must divide dModel 128")
        #expect(error.key == "heads" && error.related == ["dModel"] && error.reason == "3 must divide dModel 128")
        #expect(error != LabError(.config, key: "heads", "3 must divide dModel 128", related: ["dModel"]))
    }
}
