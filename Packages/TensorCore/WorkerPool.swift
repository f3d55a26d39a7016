// The threads behind `parallelFor`: a persistent pool whose workers spin for a short while after
// each parallel loop before they sleep. A training step of the tiny nano-transformer runs a few
// hundred parallel loops of 0.1-1 ms each; libdispatch parks its workers between loops, and
// waking one is a futex call plus a trip through the scheduler (measured: about 250 context
// switches per step). A spinning worker starts the next loop at once.
//
// One loop runs at a time. A loop started while another runs (a nested loop, or another thread
// of the process, e.g. tests running in parallel) runs its chunks inline on the calling thread;
// results are the same, because every kernel's output is independent of how its range is cut.
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()

    /// How long an idle worker keeps looking for the next loop before it sleeps.
    static let spinNanoseconds: UInt64 = 200_000

    /// One parallel loop: `chunks` calls of `body`, claimed one at a time by whichever thread asks.
    final class Job: @unchecked Sendable {
        let chunks: Int
        /// Set while the loop runs; cleared by the submitter once every chunk has finished.
        var body: ((Int) -> Void)?
        let next = Atomic<Int>(0)
        let unfinished: Atomic<Int>

        init(chunks: Int, body: @escaping (Int) -> Void) {
            self.chunks = chunks
            self.body = body
            unfinished = Atomic(chunks)
        }

        /// Claims and runs chunks until none is left.
        func work() {
            while true {
                let chunk = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if chunk >= chunks { return }
                run(chunk)
                unfinished.subtract(1, ordering: .releasing)
            }
        }

        // A function of its own, so the closure reference is released before the chunk is counted.
        @inline(never)
        func run(_ chunk: Int) { body!(chunk) }
    }

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Incremented for every loop; workers compare it with the last loop they joined.
    private let generation = Atomic<Int>(0)
    /// Set while a loop runs (the submitter owns the pool).
    private let busy = Atomic<Bool>(false)
    // Guarded by `mutex`:
    private var job: Job?
    private var sleepers = 0
    private var workers = 0

    private init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
    }

    /// Runs body(0) ... body(chunks - 1) on the calling thread and up to `threads - 1` workers;
    /// returns when all have finished.
    func run(chunks: Int, threads: Int, _ body: (Int) -> Void) {
        guard threads > 1, chunks > 1,
            busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else {
            for chunk in 0..<chunks { body(chunk) }
            return
        }
        defer { busy.store(false, ordering: .releasing) }
        withoutActuallyEscaping(body) { body in
            let job = Job(chunks: chunks, body: body)
            pthread_mutex_lock(mutex)
            while workers < threads - 1 { startWorker() }
            self.job = job
            generation.add(1, ordering: .releasing)
            if sleepers > 0 { pthread_cond_broadcast(wake) }
            pthread_mutex_unlock(mutex)

            job.work()
            var spins = 0
            while job.unfinished.load(ordering: .acquiring) > 0 {
                spins += 1
                // A worker that lost its CPU needs it back more than we need to spin.
                if spins > 1024 { sched_yield() }
            }
            pthread_mutex_lock(mutex)
            self.job = nil
            pthread_mutex_unlock(mutex)
            job.body = nil
        }
    }

    /// Called with `mutex` held.
    private func startWorker() {
        workers += 1
        var thread = pthread_t()
        let context = Unmanaged.passUnretained(self).toOpaque()
        let created = pthread_create(
            &thread, nil,
            { context in
                Unmanaged<WorkerPool>.fromOpaque(context!).takeUnretainedValue().workerLoop()
            }, context)
        precondition(created == 0, "WorkerPool: pthread_create failed (\(created))")
        pthread_detach(thread)
    }

    private func workerLoop() -> Never {
        var seen = generation.load(ordering: .acquiring)
        while true {
            var spins = 0
            var spinStart: UInt64 = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins & 1023 == 0 {
                    let now = monotonicNanoseconds()
                    if spinStart == 0 {
                        spinStart = now
                    } else if now - spinStart > Self.spinNanoseconds {
                        break
                    }
                }
            }
            pthread_mutex_lock(mutex)
            while generation.load(ordering: .relaxed) == seen {
                sleepers += 1
                pthread_cond_wait(wake, mutex)
                sleepers -= 1
            }
            seen = generation.load(ordering: .relaxed)
            let current = job
            pthread_mutex_unlock(mutex)
            current?.work()
        }
    }
}

private func monotonicNanoseconds() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}
