#!/usr/bin/env python3
"""End-to-end dedup benchmark: our `dedup` command against the datasketch pipeline with the same
semantics (dedup_pipeline.py), on the same text file, each timed as a whole process (reading,
normalisation, shingling, signatures, LSH, verification, boilerplate, writing), in alternating
order. Rows: with and without verification; ours on 1 and 2 threads (the Python pipeline is
single-threaded). Also checks that ours in datasketch-compatible mode writes the same bytes and
drops the same documents for the same reasons as the Python pipeline.
Run: python3 dedup_bench.py --dedup .build/release/dedup --corpus corpus.txt --label 220k \
         --ours ours.json --peer peer.json
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def timed(command):
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed: {result.stderr}")
    return seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dedup", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--ours", required=True)
    ap.add_argument("--peer", required=True)
    ap.add_argument("--check", action="store_true", help="compare outputs in compatible mode")
    args = ap.parse_args()
    work = tempfile.mkdtemp()
    ours, peer = [], []
    docs = sum(1 for line in open(args.corpus, "rb") if line.rstrip(b"\r\n") == b"%") + 1
    for verify in (True, False):
        flags = [] if verify else ["--no-verify"]
        name = f"dedup {'with' if verify else 'without'} verification"
        shape = f"{args.label} docs"
        python = [sys.executable, os.path.join(HERE, "dedup_pipeline.py"), args.corpus, "--separator", "%",
                  "--out", os.path.join(work, "peer.txt"), "--report", os.path.join(work, "peer.json")] + flags
        python_seconds = timed(python)
        for threads in (1, 2):
            swift = [args.dedup, args.corpus, "--separator", "%", "--out", os.path.join(work, "ours.txt"),
                     "--report", os.path.join(work, "ours.json"), "--threads", str(threads)] + flags
            seconds = timed(swift)
            row = f"{name}, {threads} thread{'s' if threads > 1 else ''}"
            ours.append({"name": row, "shape": shape, "seconds": seconds, "gflops": None})
            peer.append({"name": row, "shape": shape, "seconds": python_seconds, "gflops": None})
            print(f"{row:42} {shape:12} ours {seconds:7.2f} s  datasketch {python_seconds:7.2f} s  "
                  f"({docs / seconds:,.0f} vs {docs / python_seconds:,.0f} docs/s)")
        if args.check:
            timed([args.dedup, args.corpus, "--separator", "%", "--out", os.path.join(work, "compat.txt"),
                   "--report", os.path.join(work, "compat.json"), "--scheme", "datasketchAffine32"] + flags)
            same_bytes = open(os.path.join(work, "compat.txt"), "rb").read() == open(os.path.join(work, "peer.txt"), "rb").read()
            a, b = json.load(open(os.path.join(work, "compat.json"))), json.load(open(os.path.join(work, "peer.json")))
            keys = ("emptyDocumentIds", "exactDuplicateOf", "emptiedByLineDedupIds", "nearDuplicateOf")
            same_report = all(a[k] == b[k] for k in keys)
            print(f"  compatible mode: output {'identical' if same_bytes else 'DIFFERENT'}, "
                  f"dropped documents and reasons {'identical' if same_report else 'DIFFERENT'} "
                  f"({a['documentsOut']} of {a['documentsIn']} kept)")
            if not (same_bytes and same_report):
                sys.exit(1)
    json.dump(ours, open(args.ours, "w"), indent=1)
    json.dump(peer, open(args.peer, "w"), indent=1)


if __name__ == "__main__":
    main()
