// Crash-safe file replacement: write a temporary file in the same folder, fsync it, rename it
// over the target, fsync the folder. A process killed at any moment leaves either the old or
// the new file, never a torn one (rename is atomic within a filesystem).
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Writes an HDF5 file at `path` through `body` on a temporary file, then renames it into place.
public func writeHDF5Atomically(to path: String, _ body: (HDF5File) throws -> Void) throws {
    let folder = (path as NSString).deletingLastPathComponent
    if !folder.isEmpty {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw HDF5Error("\(path): cannot create folder '\(folder)': \(error.localizedDescription)")
        }
    }
    let temporary = "\(path).tmp-\(getpid())"
    do {
        let file = try HDF5File(path: temporary, mode: .create)
        try body(file)
        try file.flush()
        file.close()
        try syncToDisk(temporary)
        guard rename(temporary, path) == 0 else {
            throw HDF5Error("\(path): cannot rename the temporary file into place (errno \(errno))")
        }
        try? syncToDisk(folder.isEmpty ? "." : folder)
    } catch {
        unlink(temporary)
        throw error
    }
}

func syncToDisk(_ path: String) throws {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw HDF5Error("\(path): cannot open to sync (errno \(errno))") }
    defer { close(fd) }
    guard fsync(fd) == 0 else { throw HDF5Error("\(path): fsync failed (errno \(errno))") }
}
