// Ctrl-C: the first SIGINT asks the running experiment to stop after its current step (it then
// flushes results and writes a checkpoint); a second one exits at once.
import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

public enum Interrupt {
    static let flag = Atomic<Bool>(false)
    nonisolated(unsafe) static var source: DispatchSourceSignal?

    public static var requested: Bool { flag.load(ordering: .relaxed) }

    /// Installs the handler (idempotent).
    public static func install() {
        guard source == nil else { return }
        signal(SIGINT, SIG_IGN)
        let s = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        s.setEventHandler {
            if flag.exchange(true, ordering: .relaxed) { _exit(130) }
            print("\ninterrupt: stopping after this step (Ctrl-C again to quit now)")
        }
        s.resume()
        source = s
    }
}
