#!/usr/bin/env python3
"""PyTorch DDP twin of data-parallel pretraining (Scripts/bench-scale-out): the nano-transformer of
nano_transformer.py at the nano-transformer experiment's base shape (d128 L4 H4, context 128,
vocabulary 2048), a global batch of 2 micro-batches of 16 x 128 tokens per step, AdamW and
gradient clipping, on N processes of --threads threads each: torch.distributed with the gloo backend,
DistributedDataParallel, each process its share of the micro-batches (one process: accumulation
over both, the first under no_sync, as a user writes it). Prints and writes training tokens/s over
every step from the first (no warm-up, as our side's perf/tokens_per_s counts them).
Run: python ddp_pretrain.py --processes 2 --steps 30 --out ddp.json
"""
import argparse
import json
import os
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from nano_transformer import NanoTransformer  # Benchmarks/torch_twin/nano_transformer.py

VOCAB, D, LAYERS, HEADS, T, B, MICRO = 2048, 128, 4, 4, 128, 16, 2


def worker(rank, world, threads, steps, warmup, port, queue):
    torch.set_num_threads(threads)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(NanoTransformer(VOCAB, D, LAYERS, HEADS))
    decay = [p for n, p in model.named_parameters() if "norm" not in n]
    no_decay = [p for n, p in model.named_parameters() if "norm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=2e-3, betas=(0.9, 0.95), eps=1e-8)
    generator = torch.Generator().manual_seed(1234)
    mine = range(rank * MICRO // world, (rank + 1) * MICRO // world)

    def step():
        opt.zero_grad(set_to_none=True)
        batches = [torch.randint(0, VOCAB, (B, T + 1), generator=generator) for _ in range(MICRO)]
        for i, k in enumerate(mine):
            ids, targets = batches[k][:, :-1], batches[k][:, 1:].reshape(-1)
            last = i == len(mine) - 1
            with model.no_sync() if not last else torch.enable_grad():
                loss = F.cross_entropy(model(ids).view(-1, VOCAB), targets) / MICRO
                loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    for _ in range(warmup):
        step()
    dist.barrier()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    dist.barrier()
    elapsed = time.perf_counter() - start
    if rank == 0:
        queue.put(steps * MICRO * B * T / elapsed)
    dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="threads per process")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--port", type=int, default=29533)
    parser.add_argument("--out")
    args = parser.parse_args()
    context = mp.get_context("spawn")
    queue = context.Queue()
    processes = [context.Process(target=worker, args=(r, args.processes, args.threads, args.steps, args.warmup, args.port, queue))
                 for r in range(args.processes)]
    for p in processes:
        p.start()
    tokens_per_s = queue.get()
    for p in processes:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"a DDP process failed (exit {p.exitcode})")
    print(f"DDP {args.processes} processes x {args.threads} threads: {tokens_per_s:.0f} tokens/s")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"processes": args.processes, "threads": args.threads, "tokens_per_s": tokens_per_s}, f)


if __name__ == "__main__":
    main()
