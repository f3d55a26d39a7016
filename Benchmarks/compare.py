#!/usr/bin/env python3
"""Prints a markdown table comparing two benchmark JSON files (ours, then the peer's) by
(name, shape): both times and the speed ratio peer_time / our_time (> 1 means we are faster).
Rows only one side measured are listed with a dash.
Run: python3 Benchmarks/compare.py ours.json peer.json
"""
import json
import sys


def load(path):
    with open(path) as f:
        return {(r["name"], r["shape"]): r for r in json.load(f)}


ours, peer = load(sys.argv[1]), load(sys.argv[2])
print("| op | shape | ours (us) | peer (us) | speed-up |")
print("|---|---|---:|---:|---:|")
for key in list(ours) + [k for k in peer if k not in ours]:
    a, b = ours.get(key), peer.get(key)
    fa = f"{a['seconds'] * 1e6:.1f}" if a else "-"
    fb = f"{b['seconds'] * 1e6:.1f}" if b else "-"
    ratio = f"{b['seconds'] / a['seconds']:.2f}x" if a and b else "-"
    print(f"| {key[0]} | {key[1]} | {fa} | {fb} | {ratio} |")
