#!/usr/bin/env python3
"""Reference fixtures for the minhash package, from the real `datasketch` 2.0 and numpy.

- randomstate: the first raw draws of numpy's legacy RandomState (MT19937) and its bounded
  integers, the parameter source of every datasketch scheme.
- signatures: datasketch MinHash hash values for sample documents (word 5-gram shingles of the
  committed sample text, as UTF-8 bytes) in the `legacy`, `affine32` and `affine64` schemes.
- optimal: MinHashLSH's (b, r) for thresholds 0.05..0.95 and several num_perm values.
Run: python3 Scripts/reference/minhash_fixtures.py  (needs datasketch, numpy, scipy; tests never do)
Writes: Tests/MinHashTests/Fixtures/minhash_reference.json
"""
import json
import pathlib

import datasketch
import numpy as np
from datasketch import MinHash
from datasketch.lsh import _optimal_param

ROOT = pathlib.Path(__file__).resolve().parents[2]

rs = np.random.RandomState(1)
randomstate = {
    "seed": 1,
    "uint32": [int(x) for x in rs.randint(0, 1 << 32, 5, dtype=np.uint32)],
    "masked31": [int(x) for x in rs.randint(0, 1 << 31, 5, dtype=np.uint32)],
    "legacy_pairs": [int(rs.randint(1, (1 << 61) - 1, dtype=np.uint64)) for _ in range(3)],
    "uint64_full": [int(x) for x in rs.randint(0, 1 << 64, 3, dtype=np.uint64)],
}

text = (ROOT / "Data/sample/english-tempest.txt").read_text("utf-8")
paragraphs = [p for p in text.split("\n\n") if len(p.split()) >= 8][:40]


def shingles(doc, n=5):
    words = doc.split()
    return [" ".join(words[i : i + n]).encode("utf-8") for i in range(max(len(words) - n + 1, 1))]


signatures = []
for scheme in ("legacy", "affine32", "affine64"):
    for num_perm, seed in ((128, 1), (64, 7)):
        docs = []
        for p in paragraphs[:12]:
            m = MinHash(num_perm=num_perm, seed=seed, scheme=scheme)
            for s in shingles(p):
                m.update(s)
            docs.append([int(v) for v in m.hashvalues])
        signatures.append({"scheme": scheme, "num_perm": num_perm, "seed": seed, "hashvalues": docs})
hello = MinHash(num_perm=4, seed=1, scheme="legacy")
hello.update(b"hello")

optimal = []
for num_perm in (16, 32, 64, 112, 128, 200, 256):
    for t in [round(0.05 * i, 2) for i in range(1, 20)]:
        optimal.append({"threshold": t, "num_perm": num_perm, "bands_rows": list(_optimal_param(t, num_perm, 0.5, 0.5))})
for t, k, w in ((0.8, 128, (0.3, 0.7)), (0.6, 128, (0.9, 0.1))):
    optimal.append({"threshold": t, "num_perm": k, "weights": list(w), "bands_rows": list(_optimal_param(t, k, *w))})

out = ROOT / "Tests/MinHashTests/Fixtures/minhash_reference.json"
out.write_text(json.dumps({
    "generator": f"datasketch {datasketch.__version__}, numpy {np.__version__}",
    "randomstate": randomstate,
    "documents": paragraphs[:12],
    "signatures": signatures,
    "hello_legacy_seed1": [int(v) for v in hello.hashvalues],
    "optimal": optimal,
}))
print(f"wrote {out}: {len(signatures)} signature sets, {len(optimal)} optimal parameter cases")
