// Acrobot-v1 as Gymnasium's classic_control/acrobot.py ("book" dynamics): torques -1, 0, +1 on
// the joint, one RK4 step of dt 0.2, angles wrapped to [-pi, pi], velocities bounded by 4 pi and
// 9 pi; reward -1 per step and 0 on the terminating one; terminates when the tip rises above the
// bar, -cos(t1) - cos(t1 + t2) > 1; truncated at 500 steps. Observation
// (cos t1, sin t1, cos t2, sin t2, t1_dot, t2_dot).
import Foundation
import TensorCore

public struct Acrobot: Environment {
    static let dt = 0.2
    static let linkLength1 = 1.0, linkMass1 = 1.0, linkMass2 = 1.0
    static let linkCenter1 = 0.5, linkCenter2 = 0.5, linkInertia = 1.0
    static let maxVelocity1 = 4 * Double.pi, maxVelocity2 = 9 * Double.pi
    static let torques = [-1.0, 0.0, 1.0]

    /// (theta1, theta2, theta1_dot, theta2_dot).
    public var state = [0.0, 0, 0, 0]
    public let observationSize = 6
    public let actionSpace = ActionSpace.discrete(3)
    public let maxEpisodeSteps = 500

    public init() {}

    public var observation: [Float] {
        [cos(state[0]), sin(state[0]), cos(state[1]), sin(state[1]), state[2], state[3]].map { Float($0) }
    }

    /// Uniform(-0.1, 0.1) per component, rounded to Float32 as Gymnasium's .astype(np.float32).
    public mutating func reset(rng: inout RNG) -> [Float] {
        state = (0..<4).map { _ in Double(Float(-0.1 + 0.2 * rng.uniformDouble())) }
        return observation
    }

    public mutating func step(_ action: [Float]) -> (observation: [Float], reward: Double, terminated: Bool) {
        let torque = Self.torques[Int(action[0])]
        var next = Self.rungeKutta4(state, torque: torque, dt: Self.dt)
        next[0] = Self.wrap(next[0])
        next[1] = Self.wrap(next[1])
        next[2] = min(max(next[2], -Self.maxVelocity1), Self.maxVelocity1)
        next[3] = min(max(next[3], -Self.maxVelocity2), Self.maxVelocity2)
        state = next
        let terminated = -cos(state[0]) - cos(state[1] + state[0]) > 1.0
        return (observation, terminated ? 0 : -1, terminated)
    }

    /// One classical RK4 step of ds/dt = derivatives(s).
    static func rungeKutta4(_ s: [Double], torque: Double, dt: Double) -> [Double] {
        func add(_ a: [Double], _ b: [Double], _ h: Double) -> [Double] { zip(a, b).map { $0 + h * $1 } }
        let k1 = derivatives(s, torque: torque)
        let k2 = derivatives(add(s, k1, dt / 2), torque: torque)
        let k3 = derivatives(add(s, k2, dt / 2), torque: torque)
        let k4 = derivatives(add(s, k3, dt), torque: torque)
        return (0..<4).map { s[$0] + dt / 6.0 * (k1[$0] + 2 * k2[$0] + 2 * k3[$0] + k4[$0]) }
    }

    /// Sutton and Barto's equations of motion (the "book" variant).
    static func derivatives(_ s: [Double], torque a: Double) -> [Double] {
        let (m1, m2, l1, lc1, lc2, i1, i2, g) =
            (linkMass1, linkMass2, linkLength1, linkCenter1, linkCenter2, linkInertia, linkInertia, 9.8)
        let (theta1, theta2, dtheta1, dtheta2) = (s[0], s[1], s[2], s[3])
        // Gymnasium's x**2 is libm's pow(x, 2), not always x * x to the last bit (LibmPower.swift).
        let d1 =
            m1 * numpySquare(lc1) + m2 * (numpySquare(l1) + numpySquare(lc2) + 2 * l1 * lc2 * cos(theta2)) + i1 + i2
        let d2 = m2 * (numpySquare(lc2) + l1 * lc2 * cos(theta2)) + i2
        let phi2 = m2 * lc2 * g * cos(theta1 + theta2 - Double.pi / 2.0)
        let phi1 =
            -m2 * l1 * lc2 * numpySquare(dtheta2) * sin(theta2) - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin(theta2)
            + (m1 * lc1 + m2 * l1) * g * cos(theta1 - Double.pi / 2) + phi2
        let ddtheta2 =
            (a + d2 / d1 * phi1 - m2 * l1 * lc2 * numpySquare(dtheta1) * sin(theta2) - phi2)
            / (m2 * numpySquare(lc2) + i2 - numpySquare(d2) / d1)
        let ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
        return [dtheta1, dtheta2, ddtheta1, ddtheta2]
    }

    static func wrap(_ x: Double) -> Double {
        var x = x
        while x > Double.pi { x -= 2 * Double.pi }
        while x < -Double.pi { x += 2 * Double.pi }
        return x
    }
}
