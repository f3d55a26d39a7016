import Foundation
// Crash-safe file replacement: the HDF5 file is built in memory, its bytes written to a temporary
// file in the same folder by plain write(2) calls, fsynced, renamed over the target, and the folder
// fsynced. A process killed at any moment leaves either the old or the new file, never a torn one
// (rename is atomic within a filesystem); a full disk or any other write error is a named error
// before the rename, with the old file untouched (HDF5 itself never sees the disk on these writes:
// libhdf5 can crash closing a file whose writes failed). Temporaries are `<target>.tmp-<pid>`; a
// process that was killed leaves one behind, which `removeStaleTemporaries` deletes.
import LabSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Writes an HDF5 file at `path` through `body` on an in-memory file, then writes and renames it
/// into place.
public func writeHDF5Atomically(to path: String, _ body: (HDF5File) throws -> Void) throws {
    let folder = (path as NSString).deletingLastPathComponent
    if !folder.isEmpty {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw LabError(.hdf5, "\(path): cannot create folder '\(folder)': \(error.localizedDescription)")
        }
    }
    let temporary = "\(path).tmp-\(getpid())"
    let bytes: [UInt8]
    do {
        let file = try HDF5File(path: temporary, mode: .createInMemory)
        defer { file.close() }
        try body(file)
        bytes = try file.image()
    }
    do {
        try writeFileDurably(bytes, to: temporary)
        guard rename(temporary, path) == 0 else {
            throw LabError(
                .hdf5, "\(path): cannot rename the temporary file into place: \(String(cString: strerror(errno)))")
        }
        try? syncToDisk(folder.isEmpty ? "." : folder)
    } catch {
        unlink(temporary)
        throw error
    }
}

/// Creates (or truncates) `path`, writes `bytes` with as many write calls as it takes, fsyncs
/// and closes it; any failure (ENOSPC, EIO, EDQUOT, ...) is an error naming the file and errno.
public func writeFileDurably(_ bytes: [UInt8], to path: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw LabError(.hdf5, "\(path): cannot create: \(String(cString: strerror(errno)))") }
    var closed = false
    defer { if !closed { close(fd) } }
    try bytes.withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw LabError(
                    .hdf5,
                    "\(path): write failed after \(offset) of \(buffer.count) bytes: \(String(cString: strerror(errno))) (errno \(errno))"
                )
            }
            offset += written
        }
    }
    guard fsync(fd) == 0 else { throw LabError(.hdf5, "\(path): fsync failed: \(String(cString: strerror(errno)))") }
    closed = true
    guard close(fd) == 0 else { throw LabError(.hdf5, "\(path): close failed: \(String(cString: strerror(errno)))") }
}

func syncToDisk(_ path: String) throws {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw LabError(.hdf5, "\(path): cannot open to sync (errno \(errno))") }
    defer { close(fd) }
    guard fsync(fd) == 0 else { throw LabError(.hdf5, "\(path): fsync failed (errno \(errno))") }
}

/// Deletes the `*.tmp-<pid>` files in `folder` whose process no longer runs (left by a process
/// killed mid-write). Returns the names removed.
@discardableResult
public func removeStaleTemporaries(in folder: String) -> [String] {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
    var removed: [String] = []
    for name in names {
        guard let range = name.range(of: ".tmp-", options: .backwards),
            let pid = Int32(name[range.upperBound...]), pid > 0, pid != getpid()
        else { continue }
        // kill(pid, 0): ESRCH when no such process exists (EPERM means it runs under another user).
        if kill(pid, 0) != 0 && errno == ESRCH, unlink("\(folder)/\(name)") == 0 { removed.append(name) }
    }
    return removed
}
