import Foundation
// safetensors (Hugging Face's weight format): an 8-byte little-endian length N, N bytes of JSON
//   {"<name>": {"dtype": "F32", "shape": [rows, cols], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"format": "pt"}}
// padded with spaces to a multiple of 8, then the tensors' raw little-endian bytes, offsets
// counted from the end of the header. Written here in Swift (float32, names sorted, no holes);
// read in float32, float16 and bfloat16, every field checked against the file's size.
import LabSupport

public struct NamedArray: Equatable, Sendable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }
}

public enum SafeTensors {
    /// The file's bytes: tensors in name order, float32.
    public static func encode(_ tensors: [String: NamedArray], metadata: [String: String] = ["format": "pt"]) throws
        -> [UInt8]
    {
        var header: [String: Any] = ["__metadata__": metadata]
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            guard t.values.count == t.shape.reduce(1, *) else {
                throw LabError(.model, "safetensors: '\(name)' has \(t.values.count) values for shape \(t.shape)")
            }
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.values.count]]
            offset += 4 * t.values.count
        }
        var json = Array(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        while json.count % 8 != 0 { json.append(0x20) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out += json
        for name in names {
            for v in tensors[name]!.values {
                withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) }
            }
        }
        return out
    }

    /// Every tensor of a file, as float32; `source` names the file in errors.
    public static func decode(_ bytes: [UInt8], source: String) throws -> [String: NamedArray] {
        func fail(_ why: String) -> LabError { LabError(.model, "\(source): \(why)") }
        guard bytes.count >= 8 else { throw fail("\(bytes.count) bytes: too short for a safetensors header") }
        let length = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard length <= UInt64(bytes.count - 8) else {
            throw fail("the header claims \(length) bytes but the file has \(bytes.count - 8) after the length")
        }
        let dataStart = 8 + Int(length)
        guard let header = try? JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart])) as? [String: Any] else {
            throw fail("the header is not a JSON object")
        }
        let dataBytes = bytes.count - dataStart
        var out: [String: NamedArray] = [:]
        for (name, entry) in header where name != "__metadata__" {
            guard let entry = entry as? [String: Any], let dtype = entry["dtype"] as? String,
                let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else { throw fail("tensor '\(name)': needs dtype, shape and data_offsets [begin, end]") }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw fail("tensor '\(name)': negative dimension in \(shape)") }
            let width: Int
            switch dtype {
            case "F32": width = 4
            case "F16", "BF16": width = 2
            default: throw fail("tensor '\(name)': dtype \(dtype) is not read (F32, F16 and BF16 are)")
            }
            let count = shape.reduce(1, *)
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, end >= begin, end <= dataBytes else {
                throw fail("tensor '\(name)': data_offsets [\(begin), \(end)] outside the \(dataBytes) data bytes")
            }
            guard end - begin == count * width else {
                throw fail(
                    "tensor '\(name)': \(end - begin) bytes for \(dtype) shape \(shape) (needs \(count * width))")
            }
            var values = [Float](repeating: 0, count: count)
            let base = dataStart + begin
            for i in 0..<count {
                let p = base + i * width
                switch dtype {
                case "F32":
                    let bits =
                        UInt32(bytes[p]) | UInt32(bytes[p + 1]) << 8 | UInt32(bytes[p + 2]) << 16
                        | UInt32(bytes[p + 3]) << 24
                    values[i] = Float(bitPattern: bits)
                case "F16":
                    values[i] = Float(Float16(bitPattern: UInt16(bytes[p]) | UInt16(bytes[p + 1]) << 8))
                default:  // BF16: the upper half of a float32
                    values[i] = Float(bitPattern: (UInt32(bytes[p]) | UInt32(bytes[p + 1]) << 8) << 16)
                }
            }
            out[name] = NamedArray(shape: shape, values: values)
        }
        return out
    }

    /// Reads a file (named errors for a missing or unreadable one).
    public static func read(_ path: String) throws -> [String: NamedArray] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LabError(.model, "\(path): no such file or not readable")
        }
        return try decode(Array(data), source: path)
    }
}
