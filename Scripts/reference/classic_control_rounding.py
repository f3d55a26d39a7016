#!/usr/bin/env python3
"""Where single steps of the classic-control environments can differ from Gymnasium in the last bit.

Recomputes every recorded step of Tests/PPOTests/Fixtures/classic_control.json from its recorded
previous state and counts the steps whose next state is bit-identical to Gymnasium's:
  - Gymnasium's own code with NumPy's sin/cos, and with libm's (math.sin/cos): sin and cos are
    not a cause if both give every step;
  - CartPole with the textbook grouping (pml * theta_dot) * theta_dot instead of
    pml * square(theta_dot), and Acrobot with x * x instead of x**2 (libm's pow).
Run: python3 Scripts/reference/classic_control_rounding.py  (needs gymnasium 1.4, numpy)
"""
import json
import math
import pathlib

import numpy as np
from gymnasium.envs.classic_control import acrobot, cartpole

ROOT = pathlib.Path(__file__).resolve().parents[2]
cases = json.loads((ROOT / "Tests/PPOTests/Fixtures/classic_control.json").read_text())["cases"]


def count(case, step):
    same = 0
    for t, action in enumerate(case["actions"]):
        previous = case["start"] if t == 0 else case["states"][t - 1]
        same += [float(v) for v in step(list(previous), int(action[0]))] == case["states"][t]
    return f"{same}/{len(case['actions'])}"


def gym_step(env_class, trig):
    module = acrobot if env_class is acrobot.AcrobotEnv else cartpole
    env = env_class()
    saved = (module.np.sin, module.np.cos) if module is cartpole else (module.sin, module.cos)

    def step(state, action):
        if module is cartpole:
            module.np.sin, module.np.cos = (np.sin, np.cos) if trig == "numpy" else (math.sin, math.cos)
        else:
            module.sin, module.cos = (np.sin, np.cos) if trig == "numpy" else (math.sin, math.cos)
        env.state = np.array(state)
        env.step(action)
        if module is cartpole:
            module.np.sin, module.np.cos = saved
        else:
            module.sin, module.cos = saved
        return env.state

    return step


def cartpole_textbook(state, action):
    x, x_dot, theta, theta_dot = state
    g, mp, l, tau, tm = 9.8, 0.1, 0.5, 0.02, 1.1
    pml = mp * l
    force = 10.0 if action == 1 else -10.0
    c, s = math.cos(theta), math.sin(theta)
    temp = (force + pml * theta_dot * theta_dot * s) / tm
    thetaacc = (g * s - c * temp) / (l * (4.0 / 3.0 - mp * c * c / tm))
    xacc = temp - pml * thetaacc * c / tm
    return [x + tau * x_dot, x_dot + tau * xacc, theta + tau * theta_dot, theta_dot + tau * thetaacc]


def acrobot_textbook(state, action):
    def derivatives(s, a):
        t1, t2, v1, v2 = s
        d1 = 0.25 + (1.0 + 0.25 + 1.0 * math.cos(t2)) + 2.0
        d2 = (0.25 + 0.5 * math.cos(t2)) + 1.0
        phi2 = 0.5 * 9.8 * math.cos(t1 + t2 - math.pi / 2.0)
        phi1 = -0.5 * v2 * v2 * math.sin(t2) - 2 * 0.5 * v2 * v1 * math.sin(t2) + 1.5 * 9.8 * math.cos(t1 - math.pi / 2) + phi2
        dd2 = (a + d2 / d1 * phi1 - 0.5 * v1 * v1 * math.sin(t2) - phi2) / (0.25 + 1.0 - d2 * d2 / d1)
        return [v1, v2, -(d2 * dd2 + phi1) / d1, dd2]

    a = [-1.0, 0.0, 1.0][action]
    add = lambda s, k, h: [p + h * q for p, q in zip(s, k)]
    k1 = derivatives(state, a)
    k2 = derivatives(add(state, k1, 0.1), a)
    k3 = derivatives(add(state, k2, 0.1), a)
    k4 = derivatives(add(state, k3, 0.2), a)
    n = [state[i] + 0.2 / 6.0 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]) for i in range(4)]
    for i in (0, 1):
        while n[i] > math.pi:
            n[i] -= 2 * math.pi
        while n[i] < -math.pi:
            n[i] += 2 * math.pi
    n[2] = min(max(n[2], -4 * math.pi), 4 * math.pi)
    n[3] = min(max(n[3], -9 * math.pi), 9 * math.pi)
    return n


for name in ["cartpole_random", "cartpole_balanced"]:
    c = cases[name]
    print(f"{name:18} gymnasium+numpy trig {count(c, gym_step(cartpole.CartPoleEnv, 'numpy'))}  "
          f"gymnasium+libm trig {count(c, gym_step(cartpole.CartPoleEnv, 'libm'))}  "
          f"textbook grouping {count(c, cartpole_textbook)}  steps bit-identical")
c = cases["acrobot_random"]
print(f"{'acrobot_random':18} gymnasium+numpy trig {count(c, gym_step(acrobot.AcrobotEnv, 'numpy'))}  "
      f"gymnasium+libm trig {count(c, gym_step(acrobot.AcrobotEnv, 'libm'))}  "
      f"x * x for x**2 {count(c, acrobot_textbook)}  steps bit-identical")
