import Foundation
// Token files: a corpus encoded once, read by the model packages without decoding.
// Layout: a 32-byte header, then the ids as little-endian uint16 (vocabularies up to 65,536) or
// uint32. Header: magic "LABTOKS1", uint32 bytes per id, uint32 vocabulary size, uint64 count,
// 8 reserved bytes. In numpy: np.memmap(path, dtype="<u2", mode="r", offset=32).
import LabSupport

#if canImport(Glibc)
    import Glibc
#endif

public enum TokenFile {
    static let magic = Array("LABTOKS1".utf8)
    static let headerSize = 32

    /// Writes `ids` (all below `vocabSize`) atomically.
    public static func write(_ ids: [Int], vocabSize: Int, to path: String) throws {
        let width = vocabSize <= 65_536 ? 2 : 4
        var data = Data(capacity: headerSize + ids.count * width)
        data.append(contentsOf: magic)
        var w = UInt32(width).littleEndian
        var v = UInt32(vocabSize).littleEndian
        var c = UInt64(ids.count).littleEndian
        withUnsafeBytes(of: &w) { data.append(contentsOf: $0) }
        withUnsafeBytes(of: &v) { data.append(contentsOf: $0) }
        withUnsafeBytes(of: &c) { data.append(contentsOf: $0) }
        data.append(contentsOf: [UInt8](repeating: 0, count: 8))
        for id in ids {
            guard id >= 0 && id < vocabSize else {
                throw LabError(.tokenizer, "\(path): token id \(id) is outside 0..<\(vocabSize)")
            }
            if width == 2 {
                var x = UInt16(id).littleEndian
                withUnsafeBytes(of: &x) { data.append(contentsOf: $0) }
            } else {
                var x = UInt32(id).littleEndian
                withUnsafeBytes(of: &x) { data.append(contentsOf: $0) }
            }
        }
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

/// A memory-mapped token file: random access to ids without loading the file.
public final class TokenArray: RandomAccessCollection, @unchecked Sendable {
    public let path: String
    public let vocabSize: Int
    public let count: Int
    let width: Int
    let base: UnsafeRawPointer
    let mappedLength: Int

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw LabError(.tokenizer, "\(path): cannot open token file") }
        defer { close(fd) }
        var info = stat()
        fstat(fd, &info)
        let size = Int(info.st_size)
        guard size >= TokenFile.headerSize, let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0),
            mapped != MAP_FAILED
        else { throw LabError(.tokenizer, "\(path): not a token file (too short or unmappable)") }
        let header = UnsafeRawBufferPointer(start: mapped, count: TokenFile.headerSize)
        guard Array(header[0..<8]) == TokenFile.magic else {
            munmap(mapped, size)
            throw LabError(.tokenizer, "\(path): not a token file (bad magic)")
        }
        width = Int(UInt32(littleEndian: header.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
        vocabSize = Int(UInt32(littleEndian: header.loadUnaligned(fromByteOffset: 12, as: UInt32.self)))
        count = Int(UInt64(littleEndian: header.loadUnaligned(fromByteOffset: 16, as: UInt64.self)))
        guard width == 2 || width == 4, size == TokenFile.headerSize + count * width else {
            munmap(mapped, size)
            throw LabError(.tokenizer, "\(path): truncated or corrupt token file (\(size) bytes for \(count) ids)")
        }
        base = UnsafeRawPointer(mapped) + TokenFile.headerSize
        mappedLength = size
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base - TokenFile.headerSize), mappedLength) }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(position: Int) -> Int {
        precondition(position >= 0 && position < count, "token index \(position) out of 0..<\(count)")
        if width == 2 {
            return Int(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: position * 2, as: UInt16.self)))
        }
        return Int(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: position * 4, as: UInt32.self)))
    }
}
