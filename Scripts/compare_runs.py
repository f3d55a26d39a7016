#!/usr/bin/env python3
"""Compares two trees of run files (results and checkpoints) dataset by dataset, bit for bit,
ignoring what is measured in seconds (perf/, speed/, inference/ metrics and summaries) and where a
file came from (provenance, git commit, date). Datasets only the second tree has (a group added by
a newer format) are not differences. Prints the differences; exit status 1 when there are any.
Run: python3 Scripts/compare_runs.py BEFORE_DIR AFTER_DIR   (Scripts/bit-identity)
"""
import os
import sys

import h5py
import numpy as np

before, after = sys.argv[1], sys.argv[2]
timing = ("perf/", "speed/", "inference/")
differences, compared = [], 0
for root, _, files in os.walk(before):
    for name in sorted(files):
        if not name.endswith(".h5") or f"{os.sep}tokens" in root:
            continue
        a_path = os.path.join(root, name)
        b_path = os.path.join(after, os.path.relpath(a_path, before))
        if not os.path.exists(b_path):
            differences.append(f"missing {b_path}")
            continue
        with h5py.File(a_path) as a, h5py.File(b_path) as b:
            def visit(key, obj):
                global compared
                if not isinstance(obj, h5py.Dataset) or any(t in key for t in timing):
                    return
                compared += 1
                if key not in b:
                    differences.append(f"{b_path}: no {key}")
                    return
                x, y = obj[()], b[key][()]
                same = (x.shape == y.shape and x.dtype == y.dtype and x.tobytes() == y.tobytes()) \
                    if isinstance(x, np.ndarray) and x.dtype.kind in "fiu" else np.array_equal(x, y)
                if not same:
                    differences.append(f"{a_path}: {key} differs")
            a.visititems(visit)
            for key, value in a.attrs.items():
                if key in ("provenance", "git_commit", "date", "swift_version", "config", "content_sha256"):
                    continue
                if str(b.attrs.get(key)) != str(value):
                    differences.append(f"{a_path}: attribute {key} {value!r} vs {b.attrs.get(key)!r}")
            if "summary" in a:
                for key, value in a["summary"].attrs.items():
                    if not any(t in key for t in timing) and b["summary"].attrs.get(key) != value:
                        differences.append(f"{a_path}: summary {key} differs")
print("\n".join(differences))
print(f"{compared} datasets compared, {len(differences)} differences")
sys.exit(1 if differences else 0)
