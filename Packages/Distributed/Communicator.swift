// The processes of one data-parallel run: rank, world size, broadcast, all-reduce and barrier over
// Open MPI (MPI_Allreduce, MPI_Bcast). Started by `mpirun -np N`, the same binary is one process
// of N; started alone it is the only one and every collective is the identity (MPI is not started).
import CMPI
import Foundation
import LabSupport

#if canImport(Glibc)
    import Glibc
#endif

public final class Communicator: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    let usesMPI: Bool

    /// This process's world: MPI's when mpirun (or srun) launched it, else a world of one. MPI
    /// starts on the first call; an error starting it (or a rank that is not the one the launcher
    /// announced) is thrown to every later call too.
    public static func world() throws -> Communicator { try started.get() }

    static let started: Result<Communicator, LabError> = {
        guard let launched = LaunchedRank.fromEnvironment, launched.size > 1 else {
            return .success(Communicator(rank: 0, size: 1, usesMPI: false))
        }
        var provided: Int32 = 0
        // FUNNELED: only the thread that started MPI calls it (the training loop's); the kernels'
        // own threads never do.
        guard MPI_Init_thread(nil, nil, cmpi_thread_funneled(), &provided) == cmpi_success() else {
            return .failure(
                LabError(.config, "MPI could not start on rank \(launched.rank) of \(launched.size) (MPI_Init_thread)"))
        }
        // Every process ends MPI before it exits (mpirun reads a rank that did not as failed).
        atexit { MPI_Finalize() }
        MPI_Comm_set_errhandler(cmpi_comm_world(), cmpi_errors_return())
        var rank: Int32 = 0
        var size: Int32 = 0
        MPI_Comm_rank(cmpi_comm_world(), &rank)
        MPI_Comm_size(cmpi_comm_world(), &size)
        guard Int(rank) == launched.rank, Int(size) == launched.size else {
            return .failure(
                LabError(
                    .config,
                    "MPI says rank \(rank) of \(size), the launcher's environment rank \(launched.rank) of \(launched.size): only rank 0 may write the run's files, so they must agree"
                ))
        }
        return .success(Communicator(rank: Int(rank), size: Int(size), usesMPI: true))
    }()

    init(rank: Int, size: Int, usesMPI: Bool) {
        self.rank = rank
        self.size = size
        self.usesMPI = usesMPI
    }

    /// Sums `values` over every process, in place (every process gets the sum). Two addends sum
    /// exactly the same in either order; with more, MPI's reduction order differs from a loop's.
    public func allReduceSum(_ values: inout [Float], what: String) throws {
        guard usesMPI else { return }
        let count = try elements(values, what)
        let status = values.withUnsafeMutableBufferPointer { buffer in
            MPI_Allreduce(cmpi_in_place(), buffer.baseAddress, count, cmpi_float(), cmpi_sum(), cmpi_comm_world())
        }
        try check(status, "all-reduce of \(what) (\(values.count) floats)")
    }

    /// Rank 0's `values` on every process.
    public func broadcast(_ values: inout [Float], what: String) throws {
        guard usesMPI else { return }
        let count = try elements(values, what)
        let status = values.withUnsafeMutableBufferPointer {
            MPI_Bcast($0.baseAddress, count, cmpi_float(), 0, cmpi_comm_world())
        }
        try check(status, "broadcast of \(what) (\(values.count) floats)")
    }

    /// Every process's `values` (their lengths may differ), in rank order, on every process:
    /// MPI_Allgatherv, a copy, so the values arrive bit for bit. A world of one returns [values].
    public func allGather(_ values: [Float], what: String) throws -> [[Float]] {
        try gather(values, cmpi_float(), what)
    }

    public func allGather(_ values: [Double], what: String) throws -> [[Double]] {
        try gather(values, cmpi_double(), what)
    }

    /// Whether `flag` is true on any process (every process gets the same answer).
    public func anyProcess(_ flag: Bool, what: String) throws -> Bool {
        var flags: [Float] = [flag ? 1 : 0]
        try allReduceSum(&flags, what: what)
        return flags[0] > 0
    }

    func gather<T: BinaryFloatingPoint>(_ values: [T], _ type: MPI_Datatype, _ what: String) throws -> [[T]] {
        guard usesMPI else { return [values] }
        var counts = [Int32](repeating: 0, count: size)
        var mine = try elements(values.count, what)
        try check(
            MPI_Allgather(&mine, 1, cmpi_int(), &counts, 1, cmpi_int(), cmpi_comm_world()), "count of \(what)")
        var offsets = [Int32](repeating: 0, count: size)
        var total = 0
        for r in 0..<size {
            offsets[r] = try elements(total, what)
            total += Int(counts[r])
        }
        _ = try elements(total, what)
        guard total > 0 else { return counts.map { _ in [] } }
        var all = [T](repeating: 0, count: total)
        let status = values.withUnsafeBufferPointer { local in
            all.withUnsafeMutableBufferPointer { out in
                MPI_Allgatherv(
                    local.baseAddress, mine, type, out.baseAddress, counts, offsets, type, cmpi_comm_world())
            }
        }
        try check(status, "gather of \(what) (\(total) values)")
        return (0..<size).map { r in Array(all[Int(offsets[r])..<(Int(offsets[r]) + Int(counts[r]))]) }
    }

    /// Waits for every process.
    public func barrier() throws {
        guard usesMPI else { return }
        try check(MPI_Barrier(cmpi_comm_world()), "barrier")
    }

    /// MPI counts elements in an Int32: a larger buffer is an error naming it, not a trap.
    func elements(_ values: [Float], _ what: String) throws -> Int32 { try elements(values.count, what) }

    func elements(_ count: Int, _ what: String) throws -> Int32 {
        guard let n = Int32(exactly: count) else {
            throw LabError(.config, "MPI: \(what) is \(count) values, more than one MPI call carries (\(Int32.max))")
        }
        return n
    }

    func check(_ status: Int32, _ what: String) throws {
        guard status != cmpi_success() else { return }
        var length: Int32 = 0
        var text = [CChar](repeating: 0, count: Int(cmpi_max_error_string()))
        MPI_Error_string(status, &text, &length)
        throw LabError(
            .config,
            "MPI \(what) failed on rank \(rank) of \(size): \(String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self))"
        )
    }
}
