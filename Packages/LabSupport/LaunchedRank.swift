import Foundation

// Which process of a data-parallel launch this is, as the launcher's environment says (Open MPI's
// mpirun: OMPI_COMM_WORLD_RANK / _SIZE; MPICH and Slurm's srun: PMI_RANK / PMI_SIZE). Read before
// MPI starts, so that only rank 0 writes a run's files; Distributed checks it against MPI's own.
public struct LaunchedRank: Equatable, Sendable {
    public var rank: Int
    public var size: Int

    public init(rank: Int, size: Int) {
        self.rank = rank
        self.size = size
    }

    /// nil: not launched as one of several processes.
    public static var fromEnvironment: LaunchedRank? { from(ProcessInfo.processInfo.environment) }

    public static func from(_ environment: [String: String]) -> LaunchedRank? {
        for (rankKey, sizeKey) in [("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"), ("PMI_RANK", "PMI_SIZE")] {
            if let r = environment[rankKey].flatMap(Int.init), let s = environment[sizeKey].flatMap(Int.init),
                s >= 1, (0..<s).contains(r)
            {
                return LaunchedRank(rank: r, size: s)
            }
        }
        return nil
    }
}
