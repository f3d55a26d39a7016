#!/usr/bin/env python3
"""PyTorch twin of Benchmarks/RolloutBench: the same model (nano_transformer.py's, tiny shape),
prompts, sampling and timing rule, written the way a user would, as Hugging Face's generate does
it: each prompt repeated for its samples (num_return_sequences) and prefilled as one batch, then one
token per step for the whole batch against a KV cache of concatenated tensors, torch.multinomial on
softmax(logits / T), each token's log-prob gathered from log_softmax and kept.
Run: python rollout.py --threads 2 --out torch.json  (Scripts/bench-rollout)
"""
import time

import torch
import torch.nn.functional as F
from nano_transformer import NanoTransformer
from timing import timeit, twin_arguments, write_results  # Benchmarks/torch_twin/timing.py

SHAPE = "tiny d128 L4 H4 V512"
PROMPTS, SAMPLES, NEW, PROMPT_LENGTH = 32, 8, 48, 16
DECODE_LENGTH, WINDOWS = 2048, [128, 1024, 2016]


def main():
    args = twin_arguments()
    vocab, d, layers, heads = 512, 128, 4, 4
    model = NanoTransformer(vocab, d, layers, heads)
    prompts = torch.randint(0, vocab, (PROMPTS, PROMPT_LENGTH))
    results = []

    def rollout():
        ids = prompts.repeat_interleave(SAMPLES, dim=0)  # (256, 16)
        caches = [{} for _ in range(layers)]
        logits = model(ids, caches)[:, -1]
        tokens, logprobs = [], []
        for step in range(NEW):
            scaled = logits / 1.0
            token = torch.multinomial(F.softmax(scaled, -1), 1)  # (256, 1)
            logprobs.append(F.log_softmax(scaled, -1).gather(1, token))
            tokens.append(token)
            if step < NEW - 1:
                logits = model(token, caches)[:, -1]
        return torch.cat(tokens, 1), torch.cat(logprobs, 1)

    with torch.inference_mode():
        seconds = timeit(rollout, trials=5)
        results.append({"name": "rollout", "shape": f"{SHAPE} 32x8 prompts, 48 new", "seconds": seconds})
        print(f"{SHAPE}  rollout {seconds:.3f} s: {PROMPTS * SAMPLES * NEW / seconds:.0f} generated tokens/s")
        per_window = [[] for _ in WINDOWS]
        for _ in range(3):
            caches = [{} for _ in range(layers)]
            token = model(prompts[:1], caches)[:, -1:].argmax(-1)
            times = []
            for _ in range(DECODE_LENGTH - PROMPT_LENGTH):
                start = time.perf_counter()
                token = model(token, caches)[:, -1:].argmax(-1)
                times.append(time.perf_counter() - start)
            for w, length in enumerate(WINDOWS):
                start = length - PROMPT_LENGTH
                per_window[w].append(sorted(times[start:start + 32])[16])
        for w, length in enumerate(WINDOWS):
            per_token = sorted(per_window[w])[1]
            results.append({"name": f"decode_at_{length}", "shape": SHAPE, "seconds": per_token})
            print(f"{SHAPE}  decode at {length:4d} cached tokens: {per_token * 1e6:.1f} us per token")
    write_results(results, args.out)


if __name__ == "__main__":
    main()
