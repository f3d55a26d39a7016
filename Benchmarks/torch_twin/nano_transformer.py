#!/usr/bin/env python3
"""PyTorch twin of Benchmarks/NanoTransformerBench: the same architecture (RoPE, SwiGLU,
RMSNorm pre-norm, tied embeddings, MHA), configs, threads and timing rule, fp32 eager on CPU,
written the way a user would: nn.Linear, F.rms_norm, F.scaled_dot_product_attention, a KV cache
of concatenated tensors, torch.optim.AdamW and clip_grad_norm_.
Run: python nano_transformer.py --threads 2 --out torch.json  (Scripts/bench-nano-transformer)
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from timing import timeit, twin_arguments, write_results  # Benchmarks/torch_twin/timing.py

SHAPES = [("tiny", 128, 4, 4, 128, 16, 512), ("small", 256, 6, 8, 256, 8, 4096)]


def rope(x, positions, base=10000.0):
    """x (B, H, T, D); positions (T,) shared by the batch or (B, T) per row (packed sequences)."""
    d = x.shape[-1]
    inv = 1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    ang = positions[..., None].float() * inv
    emb = torch.cat([ang, ang], -1)
    emb = emb[None, None] if emb.dim() == 2 else emb[:, None]
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    return x * emb.cos() + torch.cat([-x2, x1], -1) * emb.sin()


class SwiGLU(nn.Module):
    def __init__(self, d, hidden):
        super().__init__()
        self.w13 = nn.Linear(d, 2 * hidden, bias=False)
        self.w2 = nn.Linear(hidden, d, bias=False)

    def forward(self, x):
        g, u = self.w13(x).chunk(2, -1)
        return self.w2(F.silu(g) * u)


class MoE(nn.Module):
    """DeepSeek-V3's MoE layer as its reference code and HF's DeepseekV3MoE write it: sigmoid
    affinities, top-k over affinities + bias, the chosen gates normalised, a loop over the experts
    that gathers each one's tokens and scatter-adds its gated output, plus the shared expert."""

    def __init__(self, d, experts, top_k, hidden, shared):
        super().__init__()
        self.top_k = top_k
        self.router = nn.Linear(d, experts, bias=False)
        self.register_buffer("bias", torch.zeros(experts))
        self.experts = nn.ModuleList(SwiGLU(d, hidden) for _ in range(experts))
        self.shared = SwiGLU(d, shared * hidden) if shared else None

    def forward(self, x):
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        scores = self.router(x).sigmoid()
        chosen = (scores + self.bias).topk(self.top_k, -1).indices
        gates = scores.gather(1, chosen)
        gates = gates / gates.sum(-1, keepdim=True)
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):
            token, slot = torch.where(chosen == e)
            if token.numel():
                out.index_add_(0, token, expert(x[token]) * gates[token, slot, None])
        if self.shared is not None:
            out = out + self.shared(x)
        return out.view(shape)


class Block(nn.Module):
    def __init__(self, d, heads, moe=None):
        """moe: (experts, top_k, expert hidden, shared experts) for an MoE MLP, None for dense."""
        super().__init__()
        self.heads = heads
        hidden = (8 * d // 3 + 31) // 32 * 32
        self.attn_norm = nn.Parameter(torch.ones(d))
        self.mlp_norm = nn.Parameter(torch.ones(d))
        self.wqkv = nn.Linear(d, 3 * d, bias=False)
        self.wo = nn.Linear(d, d, bias=False)
        self.mlp = MoE(d, *moe) if moe else SwiGLU(d, hidden)

    def forward(self, x, positions, cache=None, mask=None):
        """mask: a boolean (B, 1, T, T) attention mask instead of the causal one (packed SFT rows)."""
        b, t, d = x.shape
        h = self.heads
        a = F.rms_norm(x, (d,), self.attn_norm, 1e-5)
        q, k, v = self.wqkv(a).view(b, t, 3, h, d // h).permute(2, 0, 3, 1, 4)
        q, k = rope(q, positions), rope(k, positions)
        if cache is not None:
            if "k" in cache:
                k = torch.cat([cache["k"], k], 2)
                v = torch.cat([cache["v"], v], 2)
            cache["k"], cache["v"] = k, v
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=mask is None and t > 1)
        x = x + self.wo(o.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(F.rms_norm(x, (d,), self.mlp_norm, 1e-5))


class NanoTransformer(nn.Module):
    def __init__(self, vocab, d, layers, heads, moe=None):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList(Block(d, heads, moe) for _ in range(layers))
        self.norm = nn.Parameter(torch.ones(d))

    def forward(self, ids, caches=None):
        start = caches[0].get("k").shape[2] if caches and "k" in caches[0] else 0
        positions = torch.arange(start, start + ids.shape[1])
        x = self.embed(ids)
        for i, block in enumerate(self.blocks):
            x = block(x, positions, caches[i] if caches else None)
        return F.rms_norm(x, (x.shape[-1],), self.norm, 1e-5) @ self.embed.weight.T


def main():
    args = twin_arguments()
    results = []
    for name, d, layers, heads, context, batch, vocab in SHAPES:
        shape = f"{name} d{d} L{layers} H{heads} T{context} B{batch} V{vocab}"
        model = NanoTransformer(vocab, d, layers, heads)
        decay = [p for n, p in model.named_parameters() if "norm" not in n]
        no_decay = [p for n, p in model.named_parameters() if "norm" in n]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
        ids = torch.randint(0, vocab, (batch, context))
        targets = torch.randint(0, vocab, (batch * context,))

        def train_step():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(ids).view(-1, vocab), targets).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()

        step = timeit(train_step)
        results.append({"name": "train_step", "shape": shape, "seconds": step})
        prompt = ids[:1, : context // 2]
        decode = context // 2
        with torch.inference_mode():
            prefill = timeit(lambda: model(prompt, [{} for _ in range(layers)]))
            per_token = []
            for _ in range(8):
                caches = [{} for _ in range(layers)]
                token = model(prompt, caches)[:, -1:].argmax(-1)
                start = time.perf_counter()
                for _ in range(decode):
                    token = model(token, caches)[:, -1:].argmax(-1)
                per_token.append((time.perf_counter() - start) / decode)
            decode_time = sorted(per_token[1:])[3]
        results.append({"name": "prefill", "shape": shape, "seconds": prefill})
        results.append({"name": "decode_token", "shape": shape, "seconds": decode_time})
        print(f"{shape}  train {batch * context / step:8.0f} tokens/s  prefill {prompt.shape[1] / prefill:8.0f} "
              f"tokens/s  decode {1 / decode_time:8.0f} tokens/s")
    write_results(results, args.out)


if __name__ == "__main__":
    main()
