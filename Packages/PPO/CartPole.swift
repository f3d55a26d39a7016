// CartPole-v1 as Gymnasium's classic_control/cartpole.py: explicit Euler with tau 0.02, positions
// updated with the old velocities; +1 reward every step including the terminating one;
// terminates when |x| > 2.4 or |theta| > 12 degrees; truncated at 500 steps.
import Foundation
import TensorCore

public struct CartPole: Environment {
    static let gravity = 9.8, massCart = 1.0, massPole = 0.1, length = 0.5, forceMagnitude = 10.0, tau = 0.02
    static let totalMass = massPole + massCart
    static let poleMassLength = massPole * length
    static let thetaThreshold = 12 * 2 * Double.pi / 360
    static let xThreshold = 2.4

    /// (x, x_dot, theta, theta_dot).
    public var state = [0.0, 0, 0, 0]
    public let observationSize = 4
    public let actionSpace = ActionSpace.discrete(2)
    public let maxEpisodeSteps = 500

    public init() {}

    public var observation: [Float] { state.map { Float($0) } }

    public mutating func reset(rng: inout RNG) -> [Float] {
        state = (0..<4).map { _ in -0.05 + 0.1 * rng.uniformDouble() }
        return observation
    }

    public mutating func step(_ action: [Float]) -> (observation: [Float], reward: Double, terminated: Bool) {
        var (x, xDot, theta, thetaDot) = (state[0], state[1], state[2], state[3])
        let force = action[0] == 1 ? Self.forceMagnitude : -Self.forceMagnitude
        let (cosTheta, sinTheta) = (cos(theta), sin(theta))
        // Gymnasium's grouping, pml * square(theta_dot) * sin: (pml * theta_dot) * theta_dot rounds
        // differently, and the 500-step balanced replay then drifts by 3e-3.
        let temp = (force + Self.poleMassLength * (thetaDot * thetaDot) * sinTheta) / Self.totalMass
        let thetaAcc =
            (Self.gravity * sinTheta - cosTheta * temp)
            / (Self.length * (4.0 / 3.0 - Self.massPole * (cosTheta * cosTheta) / Self.totalMass))
        let xAcc = temp - Self.poleMassLength * thetaAcc * cosTheta / Self.totalMass
        x = x + Self.tau * xDot
        xDot = xDot + Self.tau * xAcc
        theta = theta + Self.tau * thetaDot
        thetaDot = thetaDot + Self.tau * thetaAcc
        state = [x, xDot, theta, thetaDot]
        let terminated =
            x < -Self.xThreshold || x > Self.xThreshold || theta < -Self.thetaThreshold || theta > Self.thetaThreshold
        return (observation, 1.0, terminated)
    }
}
