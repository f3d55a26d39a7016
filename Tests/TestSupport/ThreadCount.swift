// The tensor core's thread count is one setting for the whole process, and Swift Testing runs
// tests in parallel: a test that compares 1 and 2 threads, or that exercises the worker pool,
// must own the setting while it runs. Every test that sets it goes through `withThreadCount`,
// which holds one process-wide lock (an actor: a waiting test suspends instead of blocking one of
// the few threads the others need) and checks afterwards that nobody changed the count meanwhile.
// Tests that do not set it run at the default of one thread, inline, and never touch the pool.
import TensorCore

public actor ThreadCountLock {
    public static let shared = ThreadCountLock()
    var busy = false
    var waiters: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        if busy {
            await withCheckedContinuation { waiters.append($0) }
        } else {
            busy = true
        }
    }

    func release() {
        if waiters.isEmpty { busy = false } else { waiters.removeFirst().resume() }
    }
}

public struct ThreadCountChanged: Error, CustomStringConvertible {
    public let expected, found: Int
    public var description: String { "the thread count changed from \(expected) to \(found) while a test owned it" }
}

/// Runs `body` with `n` tensor-core threads, owning the setting; resets it to 1 afterwards.
public func withThreadCount<T>(_ n: Int, _ body: () async throws -> T) async throws -> T {
    await ThreadCountLock.shared.acquire()
    Threads.set(n)
    do {
        let result = try await body()
        let found = Threads.count
        Threads.set(1)
        await ThreadCountLock.shared.release()
        if found != n { throw ThreadCountChanged(expected: n, found: found) }
        return result
    } catch {
        Threads.set(1)
        await ThreadCountLock.shared.release()
        throw error
    }
}
