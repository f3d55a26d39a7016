#!/usr/bin/env python3
"""Data-parallel scaling beyond this machine, worked out from what Scripts/bench-scale-out measured
(Benchmarks/results/scale-out-ours-*.json): the compute time of one micro-batch on one process of
one thread (1 x 1 layout), the all-reduce's share at 2 processes, and the message, every gradient
of the base shape in float32. A ring all-reduce of S bytes over W processes moves 2 (W-1)/W S bytes
through each link and takes 2 (W-1) latency steps; our step all-reduces after the backward pass
(no overlap), so a step takes n/W micro-batches of compute plus the all-reduce, at a fixed global
batch of n micro-batches (strong scaling). The links are assumptions, named in the table.
Run: python3 Benchmarks/scale_out_projection.py   (Scripts/bench-scale-out runs it)
"""
import glob
import json
import statistics

# The nano-transformer's base shape: vocabulary, width, layers, SwiGLU hidden, tied embeddings.
V, D, L, H = 2048, 128, 4, 352
parameters = V * D + L * (2 * D + 3 * D * D + D * D + 3 * D * H) + D
message = 4 * parameters  # float32 gradients (plus one flag per tensor and two loss sums: negligible)
B, T, N = 16, 128, 2  # windows per micro-batch, context, micro-batches per global batch (as measured)

one = [json.load(open(p))["tokens_per_s"] for p in sorted(glob.glob("Benchmarks/results/scale-out-ours-1x1.*.json"))]
two = [json.load(open(p)) for p in sorted(glob.glob("Benchmarks/results/scale-out-ours-2x1.*.json"))]
if not one or not two:
    raise SystemExit("no Benchmarks/results/scale-out-ours-*.json: run Scripts/bench-scale-out first")
micro = B * T / statistics.median(one)  # seconds of one micro-batch, forward and backward, one thread
share = statistics.median(t["allreduce_share"] for t in two)
print(f"measured: one micro-batch {1000 * micro:.0f} ms on one thread; message {message / 1e6:.2f} MB "
      f"({parameters} parameters); all-reduce {100 * share:.1f} % of the step at 2 processes on one machine")

links = [("10 Gb/s Ethernet", 1.25e9, 20e-6), ("100 Gb/s InfiniBand", 12.5e9, 2e-6)]
print("\nProjected speed-up over one process at a global batch of 16 micro-batches (strong scaling),")
print("one thread per process, compute as measured here, links as assumed (bandwidth, latency):\n")
print("| processes | compute per step | " + " | ".join(f"{n}: all-reduce, speed-up" for n, _, _ in links) + " |")
print("|---:|---:|" + "---:|" * len(links))
n = 16
for w in [2, 4, 8, 16]:
    compute = n / w * micro
    cells = []
    for _, bandwidth, latency in links:
        reduce = 2 * (w - 1) / w * message / bandwidth + 2 * (w - 1) * latency
        cells.append(f"{1000 * reduce:.1f} ms, {n * micro / (compute + reduce):.1f}x")
    print(f"| {w} | {1000 * compute:.0f} ms | " + " | ".join(cells) + " |")
