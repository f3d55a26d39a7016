#!/usr/bin/env python3
"""The CleanRL-style PyTorch + Gymnasium PPO that a user would otherwise run: the structure and
defaults of CleanRL's ppo.py (4 CartPole-v1 envs x 128 steps, 500k steps, lr 2.5e-4 annealed,
GAE 0.99/0.95, 4 minibatches x 4 epochs, clip 0.2 on policy and value, entropy 0.01, value 0.5,
grad-norm 0.5, Adam eps 1e-5, orthogonal init, separate 64-64 tanh MLPs, truncation as
termination), written for Gymnasium 1.x with same-step auto-reset as CleanRL assumes.
Measures environment steps per second over the whole training and records the return curve.
Run: Scripts/bench-ppo (or: python ppo_cartpole.py --threads 1 --seeds 0 --out ppo-torch.json)
"""
import argparse
import json
import pathlib
import sys
import time

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
from torch.distributions.categorical import Categorical

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "torch_twin"))
from timing import write_results  # noqa: E402

TOTAL, ENVS, STEPS, LR, GAMMA, LAMBDA = 500_000, 4, 128, 2.5e-4, 0.99, 0.95
MINIBATCHES, EPOCHS, CLIP, ENT, VF, MAX_GRAD = 4, 4, 0.2, 0.01, 0.5, 0.5


def layer(i, o, std=np.sqrt(2)):
    linear = nn.Linear(i, o)
    nn.init.orthogonal_(linear.weight, std)
    nn.init.constant_(linear.bias, 0.0)
    return linear


class Agent(nn.Module):
    def __init__(self, obs, actions):
        super().__init__()
        self.critic = nn.Sequential(layer(obs, 64), nn.Tanh(), layer(64, 64), nn.Tanh(), layer(64, 1, 1.0))
        self.actor = nn.Sequential(layer(obs, 64), nn.Tanh(), layer(64, 64), nn.Tanh(), layer(64, actions, 0.01))

    def value(self, x):
        return self.critic(x)

    def act(self, x, action=None):
        dist = Categorical(logits=self.actor(x))
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action), dist.entropy(), self.critic(x)


def train(seed, total):
    np.random.seed(seed)
    torch.manual_seed(seed)
    envs = gym.vector.SyncVectorEnv(
        [lambda: gym.make("CartPole-v1") for _ in range(ENVS)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    agent = Agent(4, 2)
    optimizer = torch.optim.Adam(agent.parameters(), lr=LR, eps=1e-5)
    obs = torch.zeros((STEPS, ENVS, 4))
    actions = torch.zeros((STEPS, ENVS))
    logprobs, rewards, dones, values = (torch.zeros((STEPS, ENVS)) for _ in range(4))
    next_obs = torch.tensor(envs.reset(seed=seed)[0], dtype=torch.float32)
    next_done = torch.zeros(ENVS)
    episode_return, episode_returns, curve = np.zeros(ENVS), [], []
    batch = ENVS * STEPS
    updates, step = total // batch, 0
    start = time.perf_counter()
    for update in range(1, updates + 1):
        for group in optimizer.param_groups:
            group["lr"] = (1.0 - (update - 1.0) / updates) * LR
        for t in range(STEPS):
            step += ENVS
            obs[t], dones[t] = next_obs, next_done
            with torch.no_grad():
                action, logprob, _, value = agent.act(next_obs)
            values[t], actions[t], logprobs[t] = value.flatten(), action, logprob
            o, r, term, trunc, _ = envs.step(action.numpy())
            done = np.logical_or(term, trunc)
            episode_return += r
            for e in np.nonzero(done)[0]:
                episode_returns.append(episode_return[e])
                curve.append((step, float(episode_return[e])))
                episode_return[e] = 0
            rewards[t] = torch.tensor(r, dtype=torch.float32)
            next_obs, next_done = torch.tensor(o, dtype=torch.float32), torch.tensor(done, dtype=torch.float32)
        with torch.no_grad():
            next_value = agent.value(next_obs).reshape(1, -1)
            advantages = torch.zeros_like(rewards)
            last = 0
            for t in reversed(range(STEPS)):
                nonterminal = 1.0 - (next_done if t == STEPS - 1 else dones[t + 1])
                next_v = next_value if t == STEPS - 1 else values[t + 1]
                delta = rewards[t] + GAMMA * next_v * nonterminal - values[t]
                advantages[t] = last = delta + GAMMA * LAMBDA * nonterminal * last
            returns = advantages + values
        b_obs, b_logprobs, b_actions = obs.reshape(-1, 4), logprobs.reshape(-1), actions.reshape(-1)
        b_adv, b_ret, b_val = advantages.reshape(-1), returns.reshape(-1), values.reshape(-1)
        order = np.arange(batch)
        size = batch // MINIBATCHES
        for _ in range(EPOCHS):
            np.random.shuffle(order)
            for s in range(0, batch, size):
                mb = order[s:s + size]
                _, newlogprob, entropy, newvalue = agent.act(b_obs[mb], b_actions.long()[mb])
                ratio = (newlogprob - b_logprobs[mb]).exp()
                adv = b_adv[mb]
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                pg = torch.max(-adv * ratio, -adv * torch.clamp(ratio, 1 - CLIP, 1 + CLIP)).mean()
                newvalue = newvalue.view(-1)
                clipped = b_val[mb] + torch.clamp(newvalue - b_val[mb], -CLIP, CLIP)
                v = 0.5 * torch.max((newvalue - b_ret[mb]) ** 2, (clipped - b_ret[mb]) ** 2).mean()
                loss = pg - ENT * entropy.mean() + VF * v
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), MAX_GRAD)
                optimizer.step()
    seconds = time.perf_counter() - start
    tail = [r for s, r in curve if s > total * 9 // 10]
    return seconds / step, curve, float(np.mean(tail))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--out", required=True)
    parser.add_argument("--total", type=int, default=TOTAL, help="environment steps (smoke runs: fewer)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows, curves = [], {}
    for seed in [int(s) for s in args.seeds.split(",")]:
        per_step, curve, final = train(seed, args.total)
        print(f"seed {seed}: {1 / per_step:.0f} steps/s, final return {final:.1f}", flush=True)
        rows.append({"name": "ppo training", "shape": f"CartPole-v1 {args.total // 1000}k steps, seed {seed}",
                     "seconds": per_step})
        curves[seed] = {"curve": curve, "final_return": final}
    write_results(rows, args.out)
    pathlib.Path(args.out.replace(".json", "-curves.json")).write_text(json.dumps(curves))


if __name__ == "__main__":
    main()
