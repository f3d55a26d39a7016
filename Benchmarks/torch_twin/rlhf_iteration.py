#!/usr/bin/env python3
"""PyTorch twin of Benchmarks/RLHFBench: one PPO-on-text iteration on the same shapes (policy,
reference, reward model and critic each a d128 L4 H4 nano transformer, vocabulary 2048; 32 prompts,
48 new tokens each, 4 epochs x 4 minibatches of 8) and on the rows the Swift side sampled (read from
the file it wrote), eager fp32 on CPU, laid out as TRL's PPO trainer does: prompts left-padded,
responses right-padded after them, every forward over the whole padded batch.
  rollout   batched generation with a KV cache of concatenated tensors, torch.multinomial on
            softmax(logits), each token's log-prob kept; 48 steps (a random policy does not stop);
  scoring   no grad: the reference's log-probs of the response tokens, the reward model's score at
            each response's last token, the critic's values;
  rest      per-token rewards -beta (logp - ref_logp) plus the score on the last token, GAE (gamma 1,
            lambda 0.95) as a reversed loop over the tokens, advantages whitened over real tokens,
            then 4 epochs x 4 minibatches: the policy's log-probs and entropy, the clipped
            surrogate (token mean), the critic's clipped value loss (x 0.1), one AdamW step on both
            models with the global gradient norm clipped to 1;
  iteration the three in a row.
Run: python rlhf_iteration.py --threads 2 --out torch.json  (Scripts/bench-rlhf, after the Swift side)
"""
import copy
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from nano_transformer import NanoTransformer  # the same trunk as the nano-transformer twin
from rl_pieces import response_logprobs as rl_response_logprobs, sample  # shared with the other RL twin
from timing import timeit, twin_arguments, write_results  # Benchmarks/torch_twin/timing.py

BATCH = os.path.join(os.path.dirname(__file__), "../results/rlhf-batch.json")
VOCAB, D, LAYERS, HEADS, NEW = 2048, 128, 4, 4, 48
BETA, GAMMA, LAMBDA, CLIP, VALUE_CLIP, VF_COEF = 0.05, 1.0, 0.95, 0.2, 0.2, 0.1
EPOCHS, MINIBATCHES = 4, 4


def hidden_states(trunk, ids):
    positions = torch.arange(ids.shape[1])
    x = trunk.embed(ids)
    for block in trunk.blocks:
        x = block(x, positions)
    return F.rms_norm(x, (x.shape[-1],), trunk.norm, 1e-5)


class ScalarModel(nn.Module):
    """A trunk and a Linear(d, 1) head: the reward model or the critic."""

    def __init__(self):
        super().__init__()
        self.trunk = NanoTransformer(VOCAB, D, LAYERS, HEADS)
        self.head = nn.Linear(D, 1)

    def forward(self, ids):
        return self.head(hidden_states(self.trunk, ids)).squeeze(-1)


def main():
    args = twin_arguments()
    batch = json.load(open(BATCH))
    p = max(len(x) for x in batch["prompts"])
    prompts = torch.tensor([[0] * (p - len(x)) + x for x in batch["prompts"]])  # left-padded
    lengths = torch.tensor([len(y) for y in batch["responses"]])
    responses = torch.tensor([y + [0] * (NEW - len(y)) for y in batch["responses"]])  # right-padded
    mask = (torch.arange(NEW)[None] < lengths[:, None]).float()
    ids = torch.cat([prompts, responses], 1)
    n = ids.shape[0]
    policy = NanoTransformer(VOCAB, D, LAYERS, HEADS)
    reference = copy.deepcopy(policy).requires_grad_(False)
    reward_model = ScalarModel().requires_grad_(False)
    critic = ScalarModel()
    critic.trunk.load_state_dict(reward_model.trunk.state_dict())  # InstructGPT: critic from the RM
    params = list(policy.parameters()) + list(critic.parameters())
    opt = torch.optim.AdamW(params, lr=3e-5, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0)

    def rollout():
        return sample(policy, prompts, LAYERS, NEW)

    def response_logprobs(model, rows_ids):
        return rl_response_logprobs(model, rows_ids, p)

    with torch.no_grad():
        old_logprobs = response_logprobs(policy, ids)[0] * mask  # what the sampler recorded

    def scoring():
        with torch.no_grad():
            ref_logprobs = response_logprobs(reference, ids)[0] * mask
            scores = reward_model(ids)[torch.arange(n), p + lengths - 1]
            values = critic(ids)[:, p - 1:-1] * mask
            return ref_logprobs, scores, values

    def masked_mean(x, m):
        return (x * m).sum() / m.sum()

    def rest(ref_logprobs, scores, old_values):
        with torch.no_grad():
            rewards = -BETA * (old_logprobs - ref_logprobs) * mask
            rewards[torch.arange(n), lengths - 1] += scores
            advantages_reversed, last = [], 0.0
            for t in reversed(range(NEW)):
                next_value = old_values[:, t + 1] if t < NEW - 1 else 0.0
                delta = rewards[:, t] + GAMMA * next_value - old_values[:, t]
                last = delta + GAMMA * LAMBDA * last
                advantages_reversed.append(last)
            advantages = torch.stack(advantages_reversed[::-1], 1) * mask
            returns = advantages + old_values
            mean = masked_mean(advantages, mask)
            std = ((advantages - mean) ** 2 * mask).sum().div(mask.sum() - 1).sqrt()
            advantages = (advantages - mean) / (std + 1e-8) * mask
        size = n // MINIBATCHES
        for _ in range(EPOCHS):
            order = torch.randperm(n)
            for start in range(0, n, size):
                rows = order[start:start + size]
                m = mask[rows]
                opt.zero_grad(set_to_none=True)
                logprobs, logits = response_logprobs(policy, ids[rows])
                ratio = torch.exp(logprobs - old_logprobs[rows])
                a = advantages[rows]
                pg_loss = masked_mean(torch.max(-a * ratio, -a * torch.clamp(ratio, 1 - CLIP, 1 + CLIP)), m)
                entropy = masked_mean(-(F.softmax(logits, -1) * F.log_softmax(logits, -1)).sum(-1), m)
                values = critic(ids[rows])[:, p - 1:-1]
                clipped = old_values[rows] + torch.clamp(values - old_values[rows], -VALUE_CLIP, VALUE_CLIP)
                errors = torch.max((values - returns[rows]) ** 2, (clipped - returns[rows]) ** 2)
                (pg_loss + VF_COEF * 0.5 * masked_mean(errors, m)).backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                entropy.item()

    def iteration():
        rollout()
        rest(*scoring())

    shape = "d128 L4 H4 V2048 x 4 models, 32 prompts, 48 new tokens, 4 epochs x 4 minibatches"
    rollout_time = timeit(rollout, trials=5)
    scoring_time = timeit(scoring, trials=5)
    total = timeit(iteration, trials=3)
    rest_time = total - rollout_time - scoring_time
    print(f"{shape}  rollout {rollout_time * 1000:.0f} ms  scoring {scoring_time * 1000:.0f} ms  "
          f"rest {rest_time * 1000:.0f} ms  iteration {total:.3f} s")
    write_results([{"name": "rlhf_iteration", "shape": shape, "seconds": total},
                   {"name": "rlhf_rollout", "shape": "32 x 48 new tokens", "seconds": rollout_time},
                   {"name": "rlhf_scoring", "shape": "reference, reward model, critic", "seconds": scoring_time},
                   {"name": "rlhf_rest", "shape": "iteration - rollout - scoring", "seconds": rest_time}], args.out)


if __name__ == "__main__":
    main()
