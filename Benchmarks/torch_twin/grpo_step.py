#!/usr/bin/env python3
"""PyTorch twin of Benchmarks/GRPOBench: one GRPO step on the same shapes (policy and reference each
a d128 L4 H4 nano transformer, vocabulary 2048; 32 prompts x G 8 samples, 48 new tokens) and on the
rows and rewards the Swift side sampled (read from the file it wrote), eager fp32 on CPU, laid out
as TRL's GRPOTrainer does: each prompt repeated G times, prompts left-padded, responses
right-padded after them, every forward over the whole padded batch.
  rollout    batched generation of the 256 rows with a KV cache of concatenated tensors,
             torch.multinomial on softmax(logits), each token's log-prob kept; 48 steps;
  reference  no grad: the reference's log-probs of the response tokens;
  update     group advantages (r - mean) / (std + 1e-4), then one update (mu = 1, TRL's default):
             the policy's log-probs of all 256 rows, ratio exp(logp - old_logp), the clipped
             surrogate (0.2), k3 KL to the reference times 0.04, per-sequence token mean then mean
             over sequences (TRL's loss_type "grpo"), backward, clip_grad_norm_ 1, AdamW;
  step       the three in a row.
The rewards are read from the batch file (the Swift side computed them from the decoded text):
the twin spends nothing on decoding and parsing.
--mlp moe: every MLP an MoE layer (8 routed experts of hidden 117, top-2, 1 shared, sigmoid
router), as grpo-bench --mlp moe builds it, on the rows that run wrote (grpo-moe-batch.json).
Run: python grpo_step.py --threads 2 --out torch.json  (Scripts/bench-grpo, after the Swift side)
"""
import copy
import json
import os

import torch
from nano_transformer import NanoTransformer  # the same trunk as the nano-transformer twin
from rl_pieces import response_logprobs as rl_response_logprobs, sample  # shared with the other RL twin
from timing import timeit, twin_arguments, write_results  # Benchmarks/torch_twin/timing.py

RESULTS = os.path.join(os.path.dirname(__file__), "../results")
MOE = (8, 2, 117, 1)  # routed experts, top-k, expert hidden, shared experts
D, LAYERS, HEADS, NEW, G = 128, 4, 4, 48, 8
BETA, CLIP, EPS = 0.04, 0.2, 1e-4


def main():
    args = twin_arguments(lambda parser: parser.add_argument("--mlp", choices=["dense", "moe"], default="dense"))
    moe = MOE if args.mlp == "moe" else None
    batch = json.load(open(os.path.join(RESULTS, "grpo-moe-batch.json" if moe else "grpo-batch.json")))
    vocab = batch["vocab"]
    p = max(len(x) for x in batch["prompts"])
    prompts = torch.tensor([[0] * (p - len(x)) + x for x in batch["prompts"]])  # left-padded, G rows each
    lengths = torch.tensor([len(y) for y in batch["responses"]])
    responses = torch.tensor([y + [0] * (NEW - len(y)) for y in batch["responses"]])  # right-padded
    mask = (torch.arange(NEW)[None] < lengths[:, None]).float()
    ids = torch.cat([prompts, responses], 1)
    rewards = torch.tensor(batch["rewards"], dtype=torch.float32)
    policy = NanoTransformer(vocab, D, LAYERS, HEADS, moe)
    reference = copy.deepcopy(policy).requires_grad_(False)
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-5, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.0)

    def rollout():
        return sample(policy, prompts, LAYERS, NEW)

    def response_logprobs(model, rows_ids):
        return rl_response_logprobs(model, rows_ids, p)[0]

    with torch.no_grad():
        old_logprobs = response_logprobs(policy, ids) * mask  # what the sampler recorded

    def reference_logprobs():
        with torch.no_grad():
            return response_logprobs(reference, ids) * mask

    def update(ref_logprobs):
        grouped = rewards.view(-1, G)
        mean = grouped.mean(1).repeat_interleave(G)
        std = grouped.std(1).repeat_interleave(G)
        advantages = ((rewards - mean) / (std + EPS))[:, None]
        opt.zero_grad(set_to_none=True)
        logprobs = response_logprobs(policy, ids)
        ratio = torch.exp(logprobs - old_logprobs)
        surrogate = -torch.min(ratio * advantages, torch.clamp(ratio, 1 - CLIP, 1 + CLIP) * advantages)
        delta = (ref_logprobs - logprobs) * mask  # padding zeroed before exp (its log-probs are arbitrary)
        kl = torch.exp(delta) - delta - 1
        per_token = surrogate + BETA * kl
        loss = ((per_token * mask).sum(1) / mask.sum(1).clamp(min=1)).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        opt.step()

    def step():
        rollout()
        update(reference_logprobs())

    prefix = "grpo_moe" if moe else "grpo"
    shape = f"d128 L4 H4 V{vocab}{' MoE 8x117 top-2 + 1 shared' if moe else ''}, 32 prompts x 8 samples, 48 new tokens, one update"
    rollout_time = timeit(rollout, trials=5)
    reference_time = timeit(reference_logprobs, trials=5)
    total = timeit(step, trials=3)
    update_time = total - rollout_time - reference_time
    print(f"{shape}  rollout {rollout_time * 1000:.0f} ms  reference {reference_time * 1000:.0f} ms  "
          f"update {update_time * 1000:.0f} ms  step {total:.3f} s")
    write_results([{"name": f"{prefix}_step", "shape": shape, "seconds": total},
                   {"name": f"{prefix}_rollout", "shape": "256 x 48 new tokens", "seconds": rollout_time},
                   {"name": f"{prefix}_reference", "shape": "256 sequences, no grad", "seconds": reference_time},
                   {"name": f"{prefix}_update", "shape": "step - rollout - reference", "seconds": update_time}],
                  args.out)


if __name__ == "__main__":
    main()
