#!/usr/bin/env python3
"""Reference fixtures for the tensor core's fused kernels and numerically delicate ops.

Computed with PyTorch (float64, then stored as float32) from seeded numpy inputs. Each case stores
inputs, outputs and the input gradients of L = sum(output * w) for a random w.
Run: python3 Scripts/reference/tensorcore_fixtures.py  (needs torch; the Swift tests never do)
Writes: Tests/TensorCoreTests/Fixtures/tensorcore_reference.json
"""
import json
import math
import pathlib

import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(20261129)
cases = {}


def t(a):
    return torch.tensor(np.asarray(a, dtype=np.float32), dtype=torch.float64, requires_grad=True)


def store(name, tensors, params=None):
    cases[name] = {
        "tensors": {
            k: {"shape": list(v.shape), "data": [float(x) for x in np.asarray(v, dtype=np.float32).ravel()]}
            for k, v in tensors.items()
        },
        "params": params or {},
    }


def with_grads(name, inputs, fn, params=None, extra=None):
    """inputs: dict of numpy arrays; fn(**torch tensors) -> output tensor."""
    tensors = {k: t(v) for k, v in inputs.items()}
    out = fn(**tensors)
    w = rng.standard_normal(out.shape).astype(np.float32)
    (out * torch.tensor(w, dtype=torch.float64)).sum().backward()
    record = {k: v for k, v in inputs.items()}
    record["out"] = out.detach().numpy()
    record["w"] = w
    for k, v in tensors.items():
        record["d" + k] = v.grad.numpy()
    record.update(extra or {})
    store(name, record, params)


def randn(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def gqa_reference(q, k, v, mask):
    # q: (B, Tq, H, D); k, v: (B, Tk, KVH, D); mask additive (Tq, Tk).
    h, kvh = q.shape[2], k.shape[2]
    kk = k.repeat_interleave(h // kvh, dim=2)
    vv = v.repeat_interleave(h // kvh, dim=2)
    out = F.scaled_dot_product_attention(
        q.transpose(1, 2), kk.transpose(1, 2), vv.transpose(1, 2), attn_mask=mask
    )
    return out.transpose(1, 2)


def causal_mask(tq, tk):
    # Query i sits at absolute position tk - tq + i (bottom-right aligned, as in KV-cache decoding).
    m = np.zeros((tq, tk))
    for i in range(tq):
        m[i, tk - tq + i + 1 :] = -np.inf
    return torch.tensor(m)


# Attention: causal GQA (B2 T5 H4 KV2 D8), a decode step against a longer cache, additive mask.
B, T, H, KV, D = 2, 5, 4, 2, 8
with_grads(
    "attention_gqa_causal",
    {"q": randn(B, T, H, D), "k": randn(B, T, KV, D), "v": randn(B, T, KV, D)},
    lambda q, k, v: gqa_reference(q, k, v, causal_mask(T, T)),
)
with_grads(
    "attention_decode",
    {"q": randn(2, 2, 4, 8), "k": randn(2, 7, 1, 8), "v": randn(2, 7, 1, 8)},
    lambda q, k, v: gqa_reference(q, k, v, causal_mask(2, 7)),
)
mask = np.where(rng.random((4, 6)) < 0.3, -1e9, 0.0).astype(np.float32)
mask[:, 0] = 0
with_grads(
    "attention_mask",
    {"q": randn(1, 4, 2, 4), "k": randn(1, 6, 2, 4), "v": randn(1, 6, 2, 4)},
    lambda q, k, v: gqa_reference(q, k, v, torch.tensor(mask, dtype=torch.float64)),
    extra={"mask": mask},
)

# Norms.
with_grads(
    "rms_norm",
    {"x": randn(3, 4, 16), "weight": 1 + 0.1 * randn(16)},
    lambda x, weight: F.rms_norm(x, (16,), weight=weight, eps=1e-5),
    {"eps": 1e-5},
)
with_grads(
    "layer_norm",
    {"x": 3 * randn(6, 10) + 1, "weight": 1 + 0.1 * randn(10), "bias": 0.1 * randn(10)},
    lambda x, weight, bias: F.layer_norm(x, (10,), weight=weight, bias=bias, eps=1e-5),
    {"eps": 1e-5},
)


# RoPE, rotate-half pairing (dimension i with i + D/2), HF Llama's apply_rotary_pos_emb.
def rope_reference(x, positions, base):
    d = x.shape[-1]
    inv = 1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    ang = torch.tensor(positions, dtype=torch.float64)[:, None] * inv[None, :]
    emb = torch.cat([ang, ang], dim=-1)  # (T, D)
    cos, sin = emb.cos()[None, :, None, :], emb.sin()[None, :, None, :]
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    rotated = torch.cat([-x2, x1], dim=-1)
    return x * cos + rotated * sin


positions = [3, 4, 5, 6, 7]
with_grads(
    "rope",
    {"x": randn(2, 5, 3, 8)},
    lambda x: rope_reference(x, positions, 10000.0),
    {"base": 10000.0, "positions": positions},
)

# Cross-entropy with an ignored row, mean over counted rows.
targets = [3, 0, 10, -100, 7, 1]
with_grads(
    "cross_entropy",
    {"logits": 4 * randn(6, 11)},
    lambda logits: F.cross_entropy(logits, torch.tensor(targets), ignore_index=-100).reshape(1),
    {"targets": targets},
)

# SwiGLU gate.
with_grads("swiglu", {"gate": 3 * randn(4, 9), "up": randn(4, 9)}, lambda gate, up: F.silu(gate) * up)

# Numerically delicate elementwise ops on wide ranges.
wide = np.array([-120, -30, -5, -1, -1e-3, 0, 1e-3, 1, 5, 30, 120], dtype=np.float32)
with_grads("softplus", {"x": wide}, lambda x: F.softplus(x))
with_grads("log_sigmoid", {"x": wide}, lambda x: F.logsigmoid(x))
with_grads("gelu", {"x": wide / 10}, lambda x: F.gelu(x))
big = np.array([[1000.0, 999.0, -1000.0, 0.5], [-3, 2, 1, 0], [88, 89, 90, -90]], dtype=np.float32)
with_grads("log_softmax_large", {"x": big}, lambda x: F.log_softmax(x, dim=-1))
with_grads("logsumexp_large", {"x": big}, lambda x: torch.logsumexp(x, dim=-1))

out = pathlib.Path(__file__).resolve().parents[2] / "Tests/TensorCoreTests/Fixtures/tensorcore_reference.json"
out.write_text(json.dumps({"generator": f"torch {torch.__version__}", "cases": cases}, indent=None))
print(f"wrote {out} ({len(cases)} cases)")
