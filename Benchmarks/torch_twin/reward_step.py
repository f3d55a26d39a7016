#!/usr/bin/env python3
"""PyTorch twin of Benchmarks/RewardBench: a reward-model update on the same right-padded batch
(read from the file the Swift side wrote) and batched scoring, with the nano-transformer twin's
trunk (RoPE, SwiGLU, RMSNorm pre-norm, MHA; d128 L4 H4, vocabulary 2048), written the way a user
would (TRL's RewardTrainer computes the same): the final hidden state gathered at each row's last
real token, a Linear(d, 1) head, -logsigmoid(r_w - r_l).mean(), clip_grad_norm_, AdamW.
Run: python reward_step.py --threads 2 --out torch.json  (Scripts/bench-reward, after the Swift side)
"""
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from nano_transformer import NanoTransformer  # the same trunk as the nano-transformer twin
from timing import timeit, twin_arguments, write_results  # Benchmarks/torch_twin/timing.py

BATCH = os.path.join(os.path.dirname(__file__), "../results/reward-batch.json")


class RewardModel(nn.Module):
    def __init__(self, vocab, d, layers, heads):
        super().__init__()
        self.trunk = NanoTransformer(vocab, d, layers, heads)
        self.head = nn.Linear(d, 1)

    def forward(self, ids, last_index):
        t = self.trunk
        positions = torch.arange(ids.shape[1])
        x = t.embed(ids)
        for block in t.blocks:
            x = block(x, positions)
        h = F.rms_norm(x, (x.shape[-1],), t.norm, 1e-5)
        return self.head(h[torch.arange(ids.shape[0]), last_index]).squeeze(-1)


def main():
    args = twin_arguments()
    batch = json.load(open(BATCH))
    ids = torch.tensor(batch["ids"]).view(batch["batch"], batch["time"])
    last = torch.tensor(batch["last_index"])
    winners, losers = torch.tensor(batch["winners"]), torch.tensor(batch["losers"])
    model = RewardModel(2048, 128, 4, 4)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0)

    def step():
        opt.zero_grad(set_to_none=True)
        r = model(ids, last)
        (-F.logsigmoid(r[winners] - r[losers]).mean()).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    def score():
        with torch.inference_mode():
            for _ in range(32):
                model(ids, last)

    seconds = timeit(step)
    scoring = timeit(score, trials=3)
    shape = f"tiny d128 L4 H4 V2048, 8 prompts x 4 responses (T {batch['time']}), {len(winners)} pairs"
    print(f"{shape}  step {seconds * 1000:.1f} ms;  scoring {1024 / scoring:.0f} responses/s")
    write_results([{"name": "reward_step", "shape": shape, "seconds": seconds},
                   {"name": "score_1024", "shape": "tiny, 1024 responses, 32 per forward", "seconds": scoring}],
                  args.out)


if __name__ == "__main__":
    main()
