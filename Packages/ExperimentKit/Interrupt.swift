// Stop requests from outside: the first SIGINT (Ctrl-C), SIGTERM (what a cluster's scheduler
// sends before it stops or preempts a job) or SIGHUP (the terminal went away) asks the running
// experiment to stop after its current step; it then flushes its results, writes a checkpoint,
// marks the run `interrupted` and exits with 128 + the signal's number. A second signal exits at
// once (the files on disk are whole either way: every write is atomic).
import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

enum Interrupt {
    /// The first stop signal received, 0 for none.
    static let received = Atomic<Int32>(0)
    nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []
    static let handled: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    static var requested: Bool { received.load(ordering: .relaxed) != 0 }

    /// The signal that asked for the stop (nil: none; a `--stop-at` stop is not a signal).
    public static var signal: Int32? {
        let s = received.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }

    /// Installs the handlers (idempotent).
    static func install() {
        guard sources.isEmpty else { return }
        for number in handled {
            Glibc.signal(number, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: number, queue: .global())
            s.setEventHandler {
                let (first, _) = received.compareExchange(expected: 0, desired: number, ordering: .relaxed)
                if !first { _exit(128 + number) }
                print("\n\(name(number)): stopping after this step (send it again to quit now)")
            }
            s.resume()
            sources.append(s)
        }
    }

    static func name(_ number: Int32) -> String {
        switch number {
        case SIGINT: "interrupt"
        case SIGTERM: "SIGTERM"
        case SIGHUP: "SIGHUP"
        default: "signal \(number)"
        }
    }
}
