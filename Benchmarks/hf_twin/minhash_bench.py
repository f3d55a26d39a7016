#!/usr/bin/env python3
"""datasketch twin of Benchmarks/MinHashBench: the same shingle sets (read from the file the
Swift side wrote), MinHash(num_perm=128, seed=1) with update_batch, MinHashLSH(threshold=0.8)
insert + query, union-find clusters. Prints timings and checks the clusters against Swift's.
Run: python3 minhash_bench.py --shingles FILE --clusters SWIFT_CLUSTERS.json --out py.json
"""
import argparse
import json
import time

from datasketch import MinHash, MinHashLSH


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shingles", required=True)
    parser.add_argument("--clusters", required=True)
    parser.add_argument("--out")
    args = parser.parse_args()
    docs = [[s.encode("utf-8") for s in json.loads(line)] for line in open(args.shingles, encoding="utf-8")]
    shape = f"{len(docs)} docs, K=128"
    results = []

    start = time.perf_counter()
    sigs = []
    for d in docs:
        m = MinHash(num_perm=128, seed=1)
        m.update_batch(d)
        sigs.append(m)
    seconds = time.perf_counter() - start
    results.append({"name": "signatures datasketchAffine32", "shape": shape, "seconds": seconds, "gflops": None})

    start = time.perf_counter()
    sigs = []
    for d in docs:
        m = MinHash(num_perm=128, seed=1)
        m.update_batch(d)
        sigs.append(m)
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    for i, m in enumerate(sigs):
        lsh.insert(i, m)
    parent = list(range(len(docs)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, m in enumerate(sigs):
        for j in lsh.query(m):
            a, b = find(i), find(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups = {}
    for i in range(len(docs)):
        groups.setdefault(find(i), []).append(i)
    clusters = sorted(g for g in groups.values() if len(g) > 1)
    seconds = time.perf_counter() - start
    results.append({"name": "dedup end to end datasketchAffine32", "shape": shape, "seconds": seconds, "gflops": None})
    swift = json.load(open(args.clusters))
    same = sorted(swift) == clusters
    print(f"datasketch clusters: {len(clusters)}; identical to the Swift datasketch-mode clusters: {same}")
    for r in results:
        print(f"{r['name']:40} {r['shape']:22} {r['seconds']:8.3f} s  {len(docs) / r['seconds']:10.0f} docs/s")
    if args.out:
        json.dump(results, open(args.out, "w"), indent=1)
    if not same:
        raise SystemExit("clusters differ")


if __name__ == "__main__":
    main()
