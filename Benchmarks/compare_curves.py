#!/usr/bin/env python3
"""Prints two sets of learning curves side by side (ours, then the peer's): the mean episodic
return of the episodes ending in each window of environment steps, averaged over seeds, and
each side's final return (episodes of the last 10 % of training) as mean +- std over seeds.
Input: {seed: {"curve": [[step, return], ...], "final_return": x}} per side.
Run: python3 Benchmarks/compare_curves.py ours-curves.json peer-curves.json [--window 50000]
"""
import json
import statistics
import sys


def windows(runs, width):
    out = {}
    for run in runs.values():
        per = {}
        for step, ret in run["curve"]:
            per.setdefault(int(step - 1) // width, []).append(ret)
        for w, rets in per.items():
            out.setdefault(w, []).append(sum(rets) / len(rets))
    return {w: sum(v) / len(v) for w, v in out.items()}


def final(runs):
    values = [run["final_return"] for run in runs.values()]
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.1f} +- {std:.1f} ({len(values)} seeds)"


width = int(sys.argv[sys.argv.index("--window") + 1]) if "--window" in sys.argv else 50_000
ours, peer = (json.load(open(path)) for path in sys.argv[1:3])
a, b = windows(ours, width), windows(peer, width)
print("| steps | ours: mean return | peer: mean return |")
print("|---|---:|---:|")
for w in sorted(set(a) | set(b)):
    fa = f"{a[w]:.1f}" if w in a else "-"
    fb = f"{b[w]:.1f}" if w in b else "-"
    print(f"| {w * width // 1000}k-{(w + 1) * width // 1000}k | {fa} | {fb} |")
print(f"\nfinal return (last 10 %): ours {final(ours)}, peer {final(peer)}")
