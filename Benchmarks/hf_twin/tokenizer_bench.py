#!/usr/bin/env python3
"""HF `tokenizers` twin of Benchmarks/TokenizerBench: ByteLevel BPE (GPT-2 regex, no prefix
space) trained on the same documents and vocabulary, then encode_batch of the documents with
1 and 2 Rayon threads (each in a fresh process, since Rayon reads RAYON_NUM_THREADS once), and
one letter repeated up to 2 MB; the training documents end with one run of 4,096 a's, as ours do,
so the vocabulary has the merges that run needs.
Run: python3 tokenizer_bench.py --corpus FILE... --vocab-size 8192 --out hf.json
"""
import argparse
import json
import os
import subprocess
import sys
import time


def measure(args, threads):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    texts = [open(p, encoding="utf-8").read() for p in args.corpus]
    docs = [d for t in texts for d in t.split("\n\n")] + ["a" * 4096]
    mb = sum(len(t.encode()) for t in texts) / 1e6
    shape = f"{mb:.1f} MB, vocab {args.vocab_size}"
    out = []
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(vocab_size=args.vocab_size, min_frequency=1, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    start = time.perf_counter()
    tok.train_from_iterator(docs, trainer=trainer)
    if threads == 1:
        out.append({"name": "train", "shape": shape, "seconds": time.perf_counter() - start, "gflops": None})
    fresh = Tokenizer.from_str(tok.to_str())
    start = time.perf_counter()
    fresh.encode_batch(docs, add_special_tokens=False)
    name = f"encode {threads} thread{'s' if threads > 1 else ''}"
    out.append({"name": name, "shape": shape, "seconds": time.perf_counter() - start, "gflops": None})
    if threads == 1:
        for size in (125_000, 250_000, 500_000, 1_000_000, 2_000_000):
            fresh = Tokenizer.from_str(tok.to_str())
            start = time.perf_counter()
            fresh.encode("a" * size, add_special_tokens=False)
            out.append({"name": f"encode one letter x {size}", "shape": "no whitespace",
                        "seconds": time.perf_counter() - start, "gflops": None})
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", nargs="+", required=True)
    parser.add_argument("--vocab-size", type=int, default=8192)
    parser.add_argument("--out")
    parser.add_argument("--worker-threads", type=int)
    args = parser.parse_args()
    if args.worker_threads:
        print(json.dumps(measure(args, args.worker_threads)))
        return
    results = []
    for threads in (1, 2):
        env = dict(os.environ, RAYON_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="true")
        output = subprocess.run([sys.executable, __file__, "--corpus", *args.corpus, "--vocab-size",
                                 str(args.vocab_size), "--worker-threads", str(threads)],
                                env=env, check=True, capture_output=True, text=True).stdout
        results += json.loads(output.strip().splitlines()[-1])
    for r in results:
        print(f"{r['name']:34} {r['shape']:26} {r['seconds']:9.3f} s")
    if args.out:
        json.dump(results, open(args.out, "w"), indent=1)


if __name__ == "__main__":
    main()
