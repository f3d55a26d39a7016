#!/usr/bin/env python3
"""PyTorch twin of Benchmarks/DPOBench: one DPO update on the same 8 pairs and the same cached
reference log-probs (read from the file the Swift side wrote), with the nano-transformer twin's
model (d128 L4 H4, vocabulary 2048), fp32 eager on CPU, written as TRL's DPOTrainer computes it:
chosen and rejected rows concatenated into one right-padded batch ("concatenated_forward"), the
logits of every position, log_softmax, the labels' log-probs gathered and summed over each row's
response tokens, loss = -logsigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))).mean(),
clip_grad_norm_, torch.optim.AdamW.
Run: python dpo_step.py --threads 2 --out torch.json  (Scripts/bench-dpo, after the Swift side)
"""
import json
import os

import torch
import torch.nn.functional as F
from nano_transformer import NanoTransformer  # the same model as the nano-transformer twin
from timing import timeit, twin_arguments, write_results  # Benchmarks/torch_twin/timing.py

BATCH = os.path.join(os.path.dirname(__file__), "../results/dpo-batch.json")
BETA = 0.1


def main():
    args = twin_arguments()
    batch = json.load(open(BATCH))
    rows = [p + r for p, r in zip(batch["prompts"] * 2, batch["chosen"] + batch["rejected"])]
    starts = [len(p) for p in batch["prompts"] * 2]
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])
    # labels: the next token at each response position, -100 elsewhere (prompt and padding)
    labels = torch.full((len(rows), width - 1), -100)
    for i, (row, start) in enumerate(zip(rows, starts)):
        labels[i, start - 1:len(row) - 1] = torch.tensor(row[start:])
    mask = labels != -100
    reference = torch.tensor(batch["reference_chosen"] + batch["reference_rejected"])
    n = len(batch["prompts"])
    model = NanoTransformer(2048, 128, 4, 4)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0)

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(ids)[:, :-1]
        per_token = torch.gather(F.log_softmax(logits, -1), 2, labels.clamp(min=0)[..., None]).squeeze(-1)
        logps = (per_token * mask).sum(-1)
        ratios = logps - reference
        loss = -F.logsigmoid(BETA * (ratios[:n] - ratios[n:])).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    seconds = timeit(step)
    shape = "d128 L4 H4 V2048, 8 pairs (16 sequences, prompts 6-10 + responses 8-40 tokens)"
    print(f"{shape}  step {seconds * 1000:.1f} ms")
    write_results([{"name": "dpo_step", "shape": shape, "seconds": seconds}], args.out)


if __name__ == "__main__":
    main()
