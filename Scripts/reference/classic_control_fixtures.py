#!/usr/bin/env python3
"""Reference trajectories of Gymnasium's classic-control environments for the PPO package.

For each case: gym.make(id) (so the TimeLimit wrapper is on), reset(seed), the unwrapped float64
state after the reset, then a fixed action sequence; every step's float64 state, observation
(float32), reward, terminated and truncated. The Swift test checks every single step from the
recorded state, and replays whole episodes from the start state (its own reset draws from the
project's RNG, not NumPy's PCG64).
- CartPole-v1: random actions until termination; a balancing controller until the 500-step
  truncation.
- Acrobot-v1: random torques until the 500-step truncation (random play rarely swings up).
- Pendulum-v1: random torques in [-3, 3] (some outside the bounds: the env clips) for all 200 steps.
Run: python3 Scripts/reference/classic_control_fixtures.py  (needs gymnasium, numpy; tests never do)
Writes: Tests/PPOTests/Fixtures/classic_control.json
"""
import json
import pathlib

import gymnasium as gym
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]


def record(env_id, seed, policy, max_steps=1000):
    env = gym.make(env_id)
    obs, _ = env.reset(seed=seed)
    start = [float(v) for v in np.asarray(env.unwrapped.state, dtype=np.float64)]
    rng = np.random.default_rng(seed)
    case = {"env": env_id, "seed": seed, "start": start, "actions": [], "observations": [],
            "states": [], "rewards": [], "terminated": [], "truncated": []}
    for _ in range(max_steps):
        action = policy(obs, rng)
        obs, reward, terminated, truncated, _ = env.step(action)
        case["actions"].append([float(a) for a in np.atleast_1d(action)])
        case["observations"].append([float(v) for v in obs])
        case["states"].append([float(v) for v in np.asarray(env.unwrapped.state, dtype=np.float64)])
        case["rewards"].append(float(reward))
        case["terminated"].append(bool(terminated))
        case["truncated"].append(bool(truncated))
        if terminated or truncated:
            break
    return case


def main():
    cases = {
        "cartpole_random": record("CartPole-v1", 3, lambda o, r: int(r.integers(2))),
        "cartpole_balanced": record("CartPole-v1", 5, lambda o, r: int(o[2] + 0.5 * o[3] + 0.01 * o[1] > 0)),
        "acrobot_random": record("Acrobot-v1", 7, lambda o, r: int(r.integers(3))),
        "pendulum_random": record(
            "Pendulum-v1", 11, lambda o, r: np.array([r.uniform(-3, 3)], dtype=np.float32)),
    }
    out = ROOT / "Tests/PPOTests/Fixtures/classic_control.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"generator": f"gymnasium {gym.__version__}, numpy {np.__version__}",
                               "cases": cases}))
    for name, case in cases.items():
        print(name, len(case["actions"]), "steps, terminated", case["terminated"][-1],
              "truncated", case["truncated"][-1])


if __name__ == "__main__":
    main()
