import Foundation
// One writer per run: an exclusive lock on `<out>/<experiment>/<ablation>/seed-<n>.lock`, held
// while the run writes its results and checkpoint, so a second process started on the same
// output paths fails at once, naming the first one's pid, instead of the two overwriting each
// other's files. The lock is the kernel's (flock): it goes away with the process however it ends,
// so a killed run never leaves a stale lock; the file itself stays (deleting it would race).
import LabSupport

#if canImport(Glibc)
    import Glibc
#endif

final class RunLock {
    let path: String
    private var fd: Int32

    /// Takes the lock or throws naming the process that holds it.
    init(_ path: String) throws {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw LabError(.config, "\(path): cannot open the run's lock file: \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(
                in: .whitespacesAndNewlines)
            close(fd)
            fd = -1
            throw LabError(
                .config,
                "\(path): another process (pid \(holder.flatMap { $0.isEmpty ? nil : $0 } ?? "unknown")) is writing this run; wait for it or give another --out"
            )
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, pid.count, 0) }
    }

    func release() {
        if fd >= 0 {
            flock(fd, LOCK_UN)
            close(fd)
        }
        fd = -1
    }

    deinit { release() }
}
