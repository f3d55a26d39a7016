#!/usr/bin/env python3
"""PyTorch twin of Benchmarks/TensorCoreBench: the same ops, shapes, threads and timing rule
(median of 7 trials, each long enough to last 50 ms), fp32 eager on CPU.
Run: python tensorcore_ops.py --threads 2 --out torch.json  (Scripts/bench-tensorcore does this)
"""

import torch
import torch.nn.functional as F
from timing import timeit, twin_arguments, write_results  # Benchmarks/torch_twin/timing.py


def forward_backward(inputs, op):
    upstream = torch.randn(op().shape)

    def step():
        for x in inputs:
            x.grad = None
        op().backward(upstream)

    return step


def rope(x, cos, sin):
    d = x.shape[-1]
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


def main():
    args = twin_arguments()
    results = []

    def report(name, shape, seconds, flops=None):
        gflops = flops / seconds / 1e9 if flops else None
        results.append({"name": name, "shape": shape, "seconds": seconds, "gflops": gflops})
        rate = f"{gflops:7.1f} GFLOP/s" if gflops else ""
        print(f"{name:24}{shape:30}{seconds * 1e6:10.1f} us  {rate}")

    with torch.no_grad():
        for n in (256, 512, 1024):
            a, b = torch.randn(n, n), torch.randn(n, n)
            flops = 2.0 * n**3
            report("matmul", f"{n}x{n}x{n}", timeit(lambda: a @ b), flops)
            report("matmul Bᵀ", f"{n}x{n}x{n}", timeit(lambda: a @ b.T), flops)
        for in_features, out_features in ((128, 128), (128, 352), (352, 128), (128, 512)):
            rows = 2048
            x, w = torch.randn(rows, in_features), torch.randn(out_features, in_features)
            g = torch.randn(rows, out_features)
            flops = 2.0 * rows * in_features * out_features
            shape = f"{rows}x{in_features}->{out_features}"
            report("linear x Wᵀ", shape, timeit(lambda: x @ w.T), flops)
            report("linear g W", shape, timeit(lambda: g @ w), flops)
            report("linear gᵀ x", shape, timeit(lambda: g.T @ x), flops)

    configs = [("tiny", 16, 128, 4, 32, 128, 512), ("small", 8, 256, 8, 32, 256, 4096)]
    for name, B, T, H, D, C, V in configs:
        attn_shape = f"{name} B{B} T{T} H{H} D{D}"
        q = torch.randn(B, T, H, D, requires_grad=True)
        k = torch.randn(B, T, H, D, requires_grad=True)
        v = torch.randn(B, T, H, D, requires_grad=True)
        flops = 2.0 * B * H * T * T * D * 0.5 * 6

        def sdpa(q, k, v):
            out = F.scaled_dot_product_attention(
                q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True, enable_gqa=True
            )
            return out.transpose(1, 2)

        report("attention fwd+bwd", attn_shape, timeit(forward_backward([q, k, v], lambda: sdpa(q, k, v))), flops)
        kg = torch.randn(B, T, H // 4, D, requires_grad=True)
        vg = torch.randn(B, T, H // 4, D, requires_grad=True)
        report(
            "attention GQA fwd+bwd",
            attn_shape + f" KV{H // 4}",
            timeit(forward_backward([q, kg, vg], lambda: sdpa(q, kg, vg))),
            flops,
        )
        rows = B * T
        x = torch.randn(rows, C, requires_grad=True)
        g = torch.ones(C, requires_grad=True)
        beta = torch.zeros(C, requires_grad=True)
        shape = f"{name} {rows}x{C}"
        report("rmsnorm fwd+bwd", shape, timeit(forward_backward([x, g], lambda: F.rms_norm(x, (C,), g, 1e-5))))
        report(
            "layernorm fwd+bwd",
            shape,
            timeit(forward_backward([x, g, beta], lambda: F.layer_norm(x, (C,), g, beta, 1e-5))),
        )
        inv = 1.0 / (10000 ** (torch.arange(0, D, 2).float() / D))
        ang = torch.arange(T).float()[:, None] * inv[None, :]
        emb = torch.cat([ang, ang], dim=-1)
        cos, sin = emb.cos()[None, :, None, :], emb.sin()[None, :, None, :]
        report("rope fwd+bwd", attn_shape, timeit(forward_backward([q], lambda: rope(q, cos, sin))))
        hidden = C * 8 // 3
        a1 = torch.randn(rows, hidden, requires_grad=True)
        a3 = torch.randn(rows, hidden, requires_grad=True)
        report(
            "swiglu fwd+bwd", f"{name} {rows}x{hidden}", timeit(forward_backward([a1, a3], lambda: F.silu(a1) * a3))
        )

        def swiglu_forward():
            with torch.no_grad():
                F.silu(a1) * a3

        report("swiglu fwd", f"{name} {rows}x{hidden}", timeit(swiglu_forward))
        logits = torch.randn(rows, V, requires_grad=True)
        targets = torch.randint(0, V, (rows,))
        report(
            "cross-entropy fwd+bwd",
            f"{name} {rows}x{V}",
            timeit(forward_backward([logits], lambda: F.cross_entropy(logits, targets))),
        )

    write_results(results, args.out)


if __name__ == "__main__":
    main()
