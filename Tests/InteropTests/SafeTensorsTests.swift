// The safetensors codec: float32 out and back, float16 and bfloat16 in, a damaged header or an
// unread dtype a named error.
import Foundation
import Interop
import LabSupport
import TestSupport
import Testing

@Suite struct SafeTensorsTests {
    /// A file with one tensor of `dtype` and the given raw bytes.
    func file(dtype: String, shape: [Int], bytes: [UInt8], offsets: [Int]? = nil) -> [UInt8] {
        let header = try! JSONSerialization.data(withJSONObject: [
            "w": ["dtype": dtype, "shape": shape, "data_offsets": offsets ?? [0, bytes.count]]
        ])
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        return out + Array(header) + bytes
    }

    @Test func float32RoundTripsInNameOrderWithAnAlignedHeader() throws {
        let tensors = [
            "b": NamedArray(shape: [2, 3], values: [1, 2, 3, 4, 5, -6.5]), "a": NamedArray(shape: [1], values: [.pi]),
        ]
        let bytes = try SafeTensors.encode(tensors)
        #expect(try SafeTensors.decode(bytes, source: "t") == tensors)
        let length = Int(bytes[0]) | Int(bytes[1]) << 8
        #expect(length % 8 == 0)
        // "a" (4 bytes) comes first, then "b".
        #expect(Array(bytes[(8 + length)..<(8 + length + 4)]) == withUnsafeBytes(of: Float.pi.bitPattern) { Array($0) })
    }

    @Test func halfPrecisionDecodes() throws {
        // float16 1.0 = 0x3C00, -2.5 = 0xC100; bfloat16 1.0 = 0x3F80, -2.5 = 0xC020.
        let f16 = try SafeTensors.decode(file(dtype: "F16", shape: [2], bytes: [0x00, 0x3C, 0x00, 0xC1]), source: "t")
        #expect(f16["w"]?.values == [1, -2.5])
        let bf16 = try SafeTensors.decode(
            file(dtype: "BF16", shape: [2], bytes: [0x80, 0x3F, 0x20, 0xC0]), source: "t")
        #expect(bf16["w"]?.values == [1, -2.5])
    }

    @Test func damagedFilesAreNamedErrors() {
        let cases: [(String, [UInt8])] = [
            ("too short", [1, 2, 3]),
            ("the header claims", [255, 0, 0, 0, 0, 0, 0, 0, 0x7B]),
            ("dtype F64 is not read", file(dtype: "F64", shape: [1], bytes: Array(repeating: 0, count: 8))),
            ("outside the 4 data bytes", file(dtype: "F32", shape: [2], bytes: [0, 0, 0, 0], offsets: [0, 8])),
            ("needs 8", file(dtype: "F32", shape: [2], bytes: [0, 0, 0, 0])),
        ]
        for (expected, bytes) in cases {
            let error = expectLabError(.model) { try SafeTensors.decode(bytes, source: "w.safetensors") }
            #expect(error?.message.hasPrefix("w.safetensors: ") == true)
            #expect(error?.message.contains(expected) == true, "\(String(describing: error))")
        }
    }
}
