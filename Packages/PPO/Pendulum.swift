// Pendulum-v1 as Gymnasium's classic_control/pendulum.py: torque clipped to +-2, g 10, m 1, l 1,
// dt 0.05; reward -(angle^2 + 0.1 theta_dot^2 + 0.001 u^2) with the angle normalised to
// [-pi, pi); theta_dot clipped to +-8; never terminates, truncated at 200 steps.
// Observation (cos theta, sin theta, theta_dot).
import Foundation
import TensorCore

public struct Pendulum: Environment {
    static let maxSpeed = 8.0, maxTorque: Float = 2.0, dt = 0.05, g = 10.0, m = 1.0, l = 1.0

    /// (theta, theta_dot).
    public var state = [0.0, 0]
    public let observationSize = 3
    public let actionSpace = ActionSpace.box(dimension: 1, low: -2, high: 2)
    public let maxEpisodeSteps = 200

    public init() {}

    public var observation: [Float] { [cos(state[0]), sin(state[0]), state[1]].map { Float($0) } }

    /// theta ~ U(-pi, pi), theta_dot ~ U(-1, 1).
    public mutating func reset(rng: inout RNG) -> [Float] {
        state = [Double.pi * (2 * rng.uniformDouble() - 1), 2 * rng.uniformDouble() - 1]
        return observation
    }

    public mutating func step(_ action: [Float]) -> (observation: [Float], reward: Double, terminated: Bool) {
        let (theta, thetaDot) = (state[0], state[1])
        // The torque stays Float32, as in Gymnasium, where u is the float32 action array's element.
        let u = min(max(action[0], -Self.maxTorque), Self.maxTorque)
        let angle = (theta + Double.pi).truncatingRemainder(dividingBy: 2 * Double.pi)
        let normalized = (angle < 0 ? angle + 2 * Double.pi : angle) - Double.pi
        // Gymnasium's angle**2 + 0.1 * thdot**2 + 0.001 * u**2 (LibmPower.swift: NumPy's ** is pow, powf on
        // the float32 torque), not always x * x to the last bit.
        let cost = numpySquare(normalized) + 0.1 * numpySquare(thetaDot) + Double(0.001 * numpySquare(u))
        var newThetaDot =
            thetaDot + (3 * Self.g / (2 * Self.l) * sin(theta) + Double(Float(3.0 / (Self.m * Self.l * Self.l)) * u))
            * Self.dt
        newThetaDot = min(max(newThetaDot, -Self.maxSpeed), Self.maxSpeed)
        state = [theta + newThetaDot * Self.dt, newThetaDot]
        return (observation, -cost, false)
    }
}
