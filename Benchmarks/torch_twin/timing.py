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
