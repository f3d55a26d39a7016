import Foundation
import HDF5Store
// HDF5Store: round trips of every element type, strings, attributes, extendable and gzipped
// datasets, tensors; and the errors for bad files and bad requests, each naming file and object.
import LabSupport
import TensorCore
import TestSupport
import Testing

@Suite struct HDF5FileTests {
    @Test func everyElementTypeRoundTrips() throws {
        let path = temporaryFolder() + "/types.h5"
        let file = try HDF5File(path: path, mode: .create)
        try file.write([1.5, -2, 3.25] as [Float], shape: [3], to: "f32")
        try file.write([1e300, -1e-300] as [Double], shape: [2], to: "g/f64")
        try file.write([Int32.min, 0, Int32.max], shape: [3], to: "g/h/i32")
        try file.write([Int64.min, 42], shape: [2], to: "i64")
        try file.write([0, 255] as [UInt8], shape: [1, 2], to: "u8")
        try file.write([UInt64.max, 7], shape: [2], to: "u64")
        try file.write([true, false, true], shape: [3], to: "flags")
        try file.writeStrings(["ascii", "naïve ünïcode", "中文", ""], to: "text")
        file.close()

        let r = try HDF5File(path: path, mode: .readOnly)
        #expect(try r.read(Float.self, from: "f32").values == [1.5, -2, 3.25])
        #expect(try r.read(Double.self, from: "g/f64").values == [1e300, -1e-300])
        #expect(try r.read(Int32.self, from: "g/h/i32").values == [Int32.min, 0, Int32.max])
        #expect(try r.read(Int64.self, from: "i64").values == [Int64.min, 42])
        let u8 = try r.read(UInt8.self, from: "u8")
        #expect(u8.values == [0, 255] && u8.shape == [1, 2])
        #expect(try r.read(UInt64.self, from: "u64").values == [UInt64.max, 7])
        #expect(try r.read(Bool.self, from: "flags").values == [true, false, true])
        #expect(try r.readStrings(from: "text") == ["ascii", "naïve ünïcode", "中文", ""])
        #expect(try r.children() == ["f32", "flags", "g", "i64", "text", "u64", "u8"])
        #expect(try r.datasets(under: "g") == ["f64", "h/i32"])
        #expect(try r.kind(of: "g") == .group && r.kind(of: "f32") == .dataset && r.kind(of: "nope") == nil)
        #expect(try r.typeName(of: "u64") == "uint64")
    }

    @Test func attributesOfEveryKind() throws {
        let path = temporaryFolder() + "/attrs.h5"
        let file = try HDF5File(path: path, mode: .create)
        try file.write([1, 2] as [Float], shape: [2], to: "d")
        try file.setAttribute("config", "{\"lr\": 0.1}")
        try file.setAttribute("seed", Int64(3))
        try file.setAttribute("scale", 0.5, on: "d")
        try file.setAttribute("dims", [Int64(4), 5], on: "d")
        try file.setAttribute("seed", Int64(4))  // replaces
        #expect(try file.stringAttribute("config") == "{\"lr\": 0.1}")
        #expect(try file.attribute("seed", as: Int64.self) == [4])
        #expect(try file.attribute("scale", as: Double.self, on: "d") == [0.5])
        #expect(try file.attribute("dims", as: Int64.self, on: "d") == [4, 5])
        #expect(try file.attributeNames(on: "d").sorted() == ["dims", "scale"])
        expectLabError(.hdf5) { try file.attribute("config", as: Double.self) }
        expectLabError(.hdf5) { try file.stringAttribute("missing") }
    }

    @Test func extendableDatasetsGrowAlongTheFirstAxis() throws {
        let path = temporaryFolder() + "/grow.h5"
        let file = try HDF5File(path: path, mode: .create)
        try file.createExtendable(Double.self, at: "series/value", chunkRows: 4, gzipLevel: 4)
        try file.append([1, 2, 3], to: "series/value")
        try file.append([4], to: "series/value")
        try file.createExtendable(Float.self, at: "rows", rowShape: [2], chunkRows: 2)
        try file.append([1, 2, 3, 4] as [Float], to: "rows")
        try file.append([5, 6] as [Float], to: "rows")
        try file.createExtendableStrings(at: "log")
        try file.appendStrings(["a", "b"], to: "log")
        try file.appendStrings(["c"], to: "log")
        try file.flush()
        #expect(try file.read(Double.self, from: "series/value").values == [1, 2, 3, 4])
        let rows = try file.read(Float.self, from: "rows")
        #expect(rows.shape == [3, 2] && rows.values == [1, 2, 3, 4, 5, 6])
        #expect(try file.readStrings(from: "log") == ["a", "b", "c"])
        expectLabError(.hdf5) { try file.append([1, 2, 3] as [Float], to: "rows") }
    }

    @Test func gzipCompressesLargeRepetitiveData() throws {
        let folder = temporaryFolder()
        let values = [Float](repeating: 1, count: 100_000)
        let plain = try HDF5File(path: folder + "/plain.h5", mode: .create)
        try plain.write(values, shape: [values.count], to: "x")
        plain.close()
        let packed = try HDF5File(path: folder + "/packed.h5", mode: .create)
        try packed.write(values, shape: [values.count], to: "x", options: .init(chunkRows: 10_000, gzipLevel: 6))
        packed.close()
        let size = { (p: String) in (try? FileManager.default.attributesOfItem(atPath: p)[.size] as? Int) ?? 0 }
        #expect(size(folder + "/packed.h5") * 10 < size(folder + "/plain.h5"))
        #expect(try HDF5File(path: folder + "/packed.h5", mode: .readOnly).read(Float.self, from: "x").values == values)
    }

    @Test func tensorsKeepTheirShape() throws {
        let path = temporaryFolder() + "/tensor.h5"
        var rng = RNG(seed: 1)
        let t = Tensor.randn([2, 3, 4], rng: &rng)
        let file = try HDF5File(path: path, mode: .create)
        try file.write(t, to: "params/w")
        let back = try file.readTensor(from: "params/w", shape: [2, 3, 4])
        #expect(back.isBitIdentical(to: t))
        let error = expectLabError(.hdf5) { try file.readTensor(from: "params/w", shape: [6, 4]) }
        #expect(error?.message == "\(path): tensor 'params/w' has shape [2, 3, 4], expected [6, 4]")
    }

    @Test func badFilesAndRequestsGiveOneLineErrorsNamingFileAndObject() throws {
        let folder = temporaryFolder()
        let missing = folder + "/absent.h5"
        #expect(throws: LabError(.hdf5, "\(missing): no such file")) { try HDF5File(path: missing, mode: .readOnly) }

        let text = folder + "/notes.h5"
        try "this is not HDF5".write(toFile: text, atomically: true, encoding: .utf8)
        #expect(throws: LabError(.hdf5, "\(text): not an HDF5 file")) { try HDF5File(path: text, mode: .readOnly) }

        let good = folder + "/good.h5"
        let file = try HDF5File(path: good, mode: .create)
        try file.write([Float](repeating: 1, count: 50_000), shape: [50_000], to: "x")
        try file.write([Int32(1)], shape: [1], to: "n")
        file.close()
        let truncated = folder + "/truncated.h5"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))
        let truncatedError = expectLabError(.hdf5) {
            let f = try HDF5File(path: truncated, mode: .readOnly)
            _ = try f.read(Float.self, from: "x")
        }
        #expect(truncatedError?.message.hasPrefix("\(truncated): truncated or corrupt HDF5 file") == true)

        let r = try HDF5File(path: good, mode: .readOnly)
        #expect(throws: LabError(.hdf5, "\(good): no dataset 'params/w'")) { try r.read(Float.self, from: "params/w") }
        #expect(throws: LabError(.hdf5, "\(good): dataset 'n' holds int32, expected float32")) {
            try r.read(Float.self, from: "n")
        }
        #expect(throws: LabError(.hdf5, "\(good): dataset 'x' has shape [50000], expected [10]")) {
            try r.read(Float.self, from: "x", shape: [10])
        }
        #expect(throws: LabError(.hdf5, "\(good): no group 'metrics'")) { try r.children(of: "metrics") }
    }
}
