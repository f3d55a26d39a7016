"""The timing rule every benchmark shares (Benchmarks/BenchmarkSupport on the Swift side): one
warm-up call, then the median of 7 trials, each repeated until it lasts at least 50 ms."""
import time


def timeit(fn, trials=7, min_time=0.05):
    fn()
    reps = 1
    while True:
        start = time.perf_counter()
        for _ in range(reps):
            fn()
        if time.perf_counter() - start >= min_time:
            break
        reps *= 2
    samples = []
    for _ in range(trials):
        start = time.perf_counter()
        for _ in range(reps):
            fn()
        samples.append((time.perf_counter() - start) / reps)
    return sorted(samples)[trials // 2]


def twin_arguments(extra=None):
    """--threads N and --out FILE, as the Swift benchmarks take them (and whatever `extra` adds
    to the parser); sets torch's threads and seed (imported here so that the timing rule alone
    does not need torch)."""
    import argparse

    import torch

    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out")
    if extra:
        extra(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    return args


def write_results(results, path):
    """The measurements as JSON for Benchmarks/compare.py (nothing when path is None)."""
    import json

    if path:
        with open(path, "w") as f:
            json.dump(results, f, indent=1)
        print(f"wrote {path}")
