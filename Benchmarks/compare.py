#!/usr/bin/env python3
"""Prints a markdown table comparing benchmark JSON files (ours, then the peer's) by (name, shape):
both times and the speed ratio peer_time / our_time (> 1 means we are faster). Rows only one
side measured are listed with a dash.

With several rounds (pairs of files measured one after the other, Scripts/bench-vs-torch with
ROUNDS=N), the times are each side's median over the rounds, the speed-up is the median of the
per-round ratios (each ratio compares two runs made minutes apart, so a slow spell of a shared
machine hits both sides), and the range of those ratios is listed.
Run: python3 Benchmarks/compare.py ours.json peer.json [ours2.json peer2.json ...]
"""
import json
import statistics
import sys


def load(path):
    with open(path) as f:
        return {(r["name"], r["shape"]): r["seconds"] for r in json.load(f)}


paths = sys.argv[1:]
if not paths or len(paths) % 2:
    sys.exit("usage: compare.py ours.json peer.json [ours2.json peer2.json ...]")
rounds = [(load(paths[i]), load(paths[i + 1])) for i in range(0, len(paths), 2)]
keys = list(rounds[0][0]) + [k for k in rounds[0][1] if k not in rounds[0][0]]
several = len(rounds) > 1
header = "| op | shape | ours (us) | peer (us) | speed-up |" + (" per-round range |" if several else "")
print(header)
print("|---|---|---:|---:|---:|" + ("---|" if several else ""))
for key in keys:
    ours = [r[0][key] for r in rounds if key in r[0]]
    peer = [r[1][key] for r in rounds if key in r[1]]
    ratios = [r[1][key] / r[0][key] for r in rounds if key in r[0] and key in r[1]]
    fa = f"{statistics.median(ours) * 1e6:.1f}" if ours else "-"
    fb = f"{statistics.median(peer) * 1e6:.1f}" if peer else "-"
    ratio = f"{statistics.median(ratios):.2f}x" if ratios else "-"
    row = f"| {key[0]} | {key[1]} | {fa} | {fb} | {ratio} |"
    if several:
        row += f" {min(ratios):.2f}–{max(ratios):.2f}x |" if ratios else " - |"
    print(row)
if several:
    print(f"({len(rounds)} rounds)")
