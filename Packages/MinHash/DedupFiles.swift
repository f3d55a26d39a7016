// The dedup stage's two files of its own: the spill file that holds normalised lines between the
// first and second pass, and the output, written to a temporary file and renamed over the target
// only when complete (a failure leaves the target as it was). An output that is one of the inputs
// is refused before anything is read or written.
import Foundation
import LabSupport

/// Documents' normalisations with their line ranges, appended in order and read back once, in order.
final class SpillFile {
    let path: String
    private let handle: FileHandle
    private var buffer: [UInt8] = []

    init(directory: String = NSTemporaryDirectory()) throws {
        path = (directory as NSString).appendingPathComponent("dedup-spill-\(getpid())-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forUpdatingAtPath: path)
        else { throw LabError(.dedup, "\(path): cannot create the spill file") }
        handle = h
    }

    deinit {
        try? handle.close()
        try? FileManager.default.removeItem(atPath: path)
    }

    private func put(_ n: Int) { withUnsafeBytes(of: UInt32(n).littleEndian) { buffer += $0 } }

    /// One document: its normalisation and each line's range in it (counts and offsets as
    /// little-endian UInt32).
    func append(_ normalized: [UInt8], ranges: [Range<Int>]) throws {
        put(ranges.count)
        for range in ranges {
            put(range.lowerBound)
            put(range.upperBound)
        }
        put(normalized.count)
        buffer += normalized
        if buffer.count >= 1 << 22 { try flush() }
    }

    private func flush() throws {
        do { try handle.write(contentsOf: buffer) } catch {
            throw LabError(.dedup, "\(path): cannot write the spill file: \(error)")
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Every document's normalisation and line ranges, in order, `size` documents at a time.
    func forEachBatch(of size: Int, _ body: ([(normalized: [UInt8], ranges: [Range<Int>])]) throws -> Void) throws {
        try flush()
        try handle.seek(toOffset: 0)
        var data: [UInt8] = []
        var position = 0
        /// Makes `count` more bytes available at `position`, reading 4 MiB blocks; false at the end.
        func fill(_ count: Int) throws -> Bool {
            while data.count - position < count {
                data.removeFirst(position)
                position = 0
                let more = try handle.read(upToCount: max(1 << 22, count)) ?? Data()
                if more.isEmpty { return false }
                data += more
            }
            return true
        }
        func take() throws -> Int {
            guard try fill(4) else { throw LabError(.dedup, "\(path): the spill file ends early") }
            let n = data[position..<(position + 4)].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            position += 4
            return Int(UInt32(littleEndian: n))
        }
        var batch: [(normalized: [UInt8], ranges: [Range<Int>])] = []
        while try fill(1) {
            let count = try take()
            var ranges: [Range<Int>] = []
            ranges.reserveCapacity(count)
            for _ in 0..<count {
                let (start, end) = (try take(), try take())
                ranges.append(start..<end)
            }
            let length = try take()
            guard try fill(length) else { throw LabError(.dedup, "\(path): the spill file ends early") }
            batch.append((Array(data[position..<(position + length)]), ranges))
            position += length
            if batch.count == size {
                try body(batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        if !batch.isEmpty { try body(batch) }
    }
}

/// The kept documents, written to `<output>.tmp-<pid>` and renamed over `output` by `commit`.
final class OutputFile {
    let path: String
    let temporary: String
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var committed = false

    init(_ path: String) throws {
        self.path = path
        temporary = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: nil),
            let h = FileHandle(forWritingAtPath: temporary)
        else { throw LabError(.dedup, "\(path): cannot write (no temporary file \(temporary))") }
        handle = h
    }

    deinit {
        try? handle.close()
        if !committed { try? FileManager.default.removeItem(atPath: temporary) }
    }

    func write(_ bytes: [UInt8]) throws {
        buffer += bytes
        if buffer.count >= 1 << 22 { try flush() }
    }

    private func flush() throws {
        do { try handle.write(contentsOf: buffer) } catch { throw LabError(.dedup, "\(path): cannot write: \(error)") }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes, syncs and renames the temporary file over the output.
    func commit() throws {
        try flush()
        do { try handle.synchronize() } catch { throw LabError(.dedup, "\(path): cannot write: \(error)") }
        try? handle.close()
        guard rename(temporary, path) == 0 else {
            throw LabError(.dedup, "\(path): cannot replace it: \(String(cString: strerror(errno)))")
        }
        committed = true
    }

    /// Refuses an output that is one of the inputs: the same path, or the same file by identity
    /// (a hard link, a symbolic link, another spelling of the path).
    static func checkNotAnInput(_ output: String, inputs: [String]) throws {
        let resolved = URL(fileURLWithPath: output).standardizedFileURL.resolvingSymlinksInPath().path
        var outputStat = stat()
        let exists = stat(output, &outputStat) == 0
        for input in inputs {
            var inputStat = stat()
            let same =
                URL(fileURLWithPath: input).standardizedFileURL.resolvingSymlinksInPath().path == resolved
                || (exists && stat(input, &inputStat) == 0 && inputStat.st_dev == outputStat.st_dev
                    && inputStat.st_ino == outputStat.st_ino)
            if same { throw LabError(.dedup, key: "out", "\(output) is the input \(input): refusing to overwrite it") }
        }
    }
}
