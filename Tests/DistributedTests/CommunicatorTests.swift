// Data parallelism without and with MPI: a process alone is a world of one whose collectives are
// the identity; under `mpirun -np 2` a pretraining run equals one process with gradient
// accumulation 2 at the same global batch, bit for bit (the DataParallelTests suite).
import Distributed
import Foundation
import LabSupport
import TensorCore
import TestSupport
import Testing

@Suite struct CommunicatorTests {
    @Test func aProcessAloneIsAWorldOfOne() throws {
        let world = try Communicator.world()
        #expect(world.rank == 0 && world.size == 1)
        var values: [Float] = [1, 2, 3]
        try world.allReduceSum(&values, what: "test")
        #expect(values == [1, 2, 3])
        #expect(world.share(of: 4) == 0..<4)
        let p = Tensor(shape: [2])
        p.grad = Tensor(shape: [2])
        p.grad!.data[0] = 5
        var sums: [Float] = [7]
        try world.allReduceGradients([p], sums: &sums)
        #expect(p.grad!.data[0] == 5 && sums == [7])
    }

    @Test func theLaunchersEnvironmentNamesTheRank() {
        #expect(LaunchedRank.from([:]) == nil)
        #expect(
            LaunchedRank.from(["OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "4"])
                == LaunchedRank(rank: 1, size: 4))
        #expect(LaunchedRank.from(["PMI_RANK": "0", "PMI_SIZE": "2"]) == LaunchedRank(rank: 0, size: 2))
        // Out of range or unreadable: not a launch.
        #expect(LaunchedRank.from(["OMPI_COMM_WORLD_RANK": "4", "OMPI_COMM_WORLD_SIZE": "4"]) == nil)
        #expect(LaunchedRank.from(["PMI_RANK": "x", "PMI_SIZE": "2"]) == nil)
    }
}
