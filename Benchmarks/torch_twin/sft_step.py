#!/usr/bin/env python3
"""PyTorch twin of Benchmarks/SFTBench: one SFT update on the same packed batch (read from the
file the Swift side wrote), the same model (the nano-transformer twin's blocks: RoPE, SwiGLU,
RMSNorm pre-norm, tied embeddings, MHA; d128 L4 H4, vocabulary 2048), threads and timing rule, fp32 eager on CPU, written the way a
user would: positions restarting at each packed sequence, a boolean mask that keeps attention
causal and inside each sequence (F.scaled_dot_product_attention), cross-entropy summed over the
response targets (ignore_index -100) divided by their count, clip_grad_norm_, torch.optim.AdamW.
Run: python sft_step.py --threads 2 --out torch.json  (Scripts/bench-sft, after the Swift side)
"""
import json
import os

import torch
import torch.nn.functional as F
from nano_transformer import NanoTransformer  # the same blocks as the nano-transformer twin
from timing import timeit, twin_arguments, write_results  # Benchmarks/torch_twin/timing.py

BATCH = os.path.join(os.path.dirname(__file__), "../results/sft-batch.json")


class PackedNanoTransformer(NanoTransformer):
    """The nano-transformer twin reading per-row positions and a mask (packed SFT rows)."""

    def forward(self, ids, positions, mask):
        x = self.embed(ids)
        for block in self.blocks:
            x = block(x, positions, mask=mask)
        return F.rms_norm(x, (x.shape[-1],), self.norm, 1e-5) @ self.embed.weight.T


def main():
    args = twin_arguments()
    batch = json.load(open(BATCH))
    rows, t, vocab = batch["rows"], batch["time"], 2048
    ids = torch.tensor(batch["ids"]).view(rows, t)
    positions = torch.tensor(batch["positions"]).view(rows, t)
    targets = torch.tensor(batch["targets"])
    targets[targets < 0] = -100
    segments = torch.tensor(batch["segments"]).view(rows, t)
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    mask = ((segments[:, :, None] == segments[:, None, :]) & causal)[:, None]  # (B, 1, T, T)
    counted = int((targets != -100).sum())
    model = PackedNanoTransformer(vocab, 128, 4, 4)
    decay = [p for n, p in model.named_parameters() if "norm" not in n]
    no_decay = [p for n, p in model.named_parameters() if "norm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.0}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), eps=1e-8)

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(ids, positions, mask).view(-1, vocab)
        (F.cross_entropy(logits, targets, ignore_index=-100, reduction="sum") / counted).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    seconds = timeit(step)
    shape = f"tiny d128 L4 H4 T128 V2048, {rows} packed rows, {counted} response targets"
    print(f"{shape}  sft step {seconds * 1000:.1f} ms  {rows * t / seconds:.0f} tokens/s")
    write_results([{"name": "sft_step", "shape": shape, "seconds": seconds}], args.out)


if __name__ == "__main__":
    main()
