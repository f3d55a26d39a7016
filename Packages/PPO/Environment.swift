// The environment interface: Gymnasium's reset/step with termination and truncation kept apart.
// Each environment holds its physical state in Double, as Gymnasium's float64 NumPy arrays do,
// and returns Float32 observations, as Gymnasium does. The time limit (Gymnasium's TimeLimit
// wrapper) is applied by VectorEnvironment from maxEpisodeSteps.
import TensorCore

public enum ActionSpace: Equatable, Sendable {
    /// Actions 0..<n.
    case discrete(Int)
    /// Vectors of `dimension` values, each in low...high.
    case box(dimension: Int, low: Float, high: Float)

    /// Numbers per action: 1 for discrete (the index as a Float), the dimension for a box.
    public var width: Int {
        switch self {
        case .discrete: 1
        case .box(let d, _, _): d
        }
    }
}

public protocol Environment {
    var observationSize: Int { get }
    var actionSpace: ActionSpace { get }
    /// Steps after which an episode is truncated (the registered max_episode_steps).
    var maxEpisodeSteps: Int { get }
    /// The physical state (Gymnasium's env.unwrapped.state), settable to replay a recorded one.
    var state: [Double] { get set }
    /// Samples a start state from the environment's reset distribution and returns its observation.
    mutating func reset(rng: inout RNG) -> [Float]
    /// Applies one action (a discrete action is its index as a Float).
    mutating func step(_ action: [Float]) -> (observation: [Float], reward: Double, terminated: Bool)
    /// The observation of the current state.
    var observation: [Float] { get }
}

/// The environments by Gymnasium id (config key `env`).
public enum EnvironmentID: String, Codable, Sendable, CaseIterable {
    case cartPole = "CartPole-v1"
    case acrobot = "Acrobot-v1"
    case pendulum = "Pendulum-v1"

    public func make() -> any Environment {
        switch self {
        case .cartPole: CartPole()
        case .acrobot: Acrobot()
        case .pendulum: Pendulum()
        }
    }
}
