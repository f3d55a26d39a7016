#!/usr/bin/env python3
"""Golden-loss fixture for the nano transformer: the same architecture written in PyTorch
(RoPE rotate-half, RMSNorm pre-norm, SwiGLU, GQA, tied embeddings, QK-norm optional), seeded
weights, a fixed batch, and the losses of 5 AdamW steps with gradient clipping at 1.0
(weight decay 0.1 except norm gains). The Swift test loads the same weights by name and must
reproduce every loss. Two configs: GQA + RoPE + SwiGLU + RMSNorm, and MQA + QK-norm + z-loss.
Run: python3 Scripts/reference/nano_transformer_golden.py  (needs torch; the test never does)
Writes: Tests/NanoTransformerTests/Fixtures/golden_losses.json
"""
import json
import math
import pathlib

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)  # reference in float64; Swift runs float32
ROOT = pathlib.Path(__file__).resolve().parents[2]


def rms_norm(x, w, eps=1e-5):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w


def rope(x, base=10000.0):
    b, t, h, d = x.shape
    inv = 1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    ang = torch.arange(t, dtype=torch.float64)[:, None] * inv[None, :]
    emb = torch.cat([ang, ang], -1)
    cos, sin = emb.cos()[None, :, None, :], emb.sin()[None, :, None, :]
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def forward(p, cfg, ids):
    b, t = ids.shape
    h, kvh, d, L = cfg["heads"], cfg["kvHeads"], cfg["dModel"] // cfg["heads"], cfg["layers"]
    x = p["tok_embeddings.weight"][ids]
    mask = torch.full((t, t), float("-inf")).triu(1)
    for i in range(L):
        pre = f"blocks.{i}."
        a = rms_norm(x, p[pre + "attn_norm.weight"])
        q = (a @ p[pre + "attn.wq.weight"].T).view(b, t, h, d)
        k = (a @ p[pre + "attn.wk.weight"].T).view(b, t, kvh, d)
        v = (a @ p[pre + "attn.wv.weight"].T).view(b, t, kvh, d)
        if cfg["qkNorm"]:
            q = rms_norm(q, p[pre + "attn.q_norm.weight"])
            k = rms_norm(k, p[pre + "attn.k_norm.weight"])
        q, k = rope(q), rope(k)
        k = k.repeat_interleave(h // kvh, dim=2)
        v = v.repeat_interleave(h // kvh, dim=2)
        s = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(d) + mask
        o = torch.einsum("bhqk,bkhd->bqhd", s.softmax(-1), v).reshape(b, t, h * d)
        x = x + o @ p[pre + "attn.wo.weight"].T
        m = rms_norm(x, p[pre + "mlp_norm.weight"])
        g = F.silu(m @ p[pre + "mlp.w1.weight"].T) * (m @ p[pre + "mlp.w3.weight"].T)
        x = x + g @ p[pre + "mlp.w2.weight"].T
    x = rms_norm(x, p["norm.weight"])
    return x @ p["tok_embeddings.weight"].T


def case(name, cfg, seed):
    rng = np.random.default_rng(seed)
    C, L, V = cfg["dModel"], cfg["layers"], cfg["vocabSize"]
    d = C // cfg["heads"]
    hidden = (8 * C // 3 + 31) // 32 * 32
    shapes = {"tok_embeddings.weight": (V, C)}
    for i in range(L):
        pre = f"blocks.{i}."
        shapes.update({
            pre + "attn_norm.weight": (C,), pre + "attn.wq.weight": (cfg["heads"] * d, C),
            pre + "attn.wk.weight": (cfg["kvHeads"] * d, C), pre + "attn.wv.weight": (cfg["kvHeads"] * d, C),
            pre + "attn.wo.weight": (C, cfg["heads"] * d), pre + "mlp_norm.weight": (C,),
            pre + "mlp.w1.weight": (hidden, C), pre + "mlp.w3.weight": (hidden, C), pre + "mlp.w2.weight": (C, hidden),
        })
        if cfg["qkNorm"]:
            shapes.update({pre + "attn.q_norm.weight": (d,), pre + "attn.k_norm.weight": (d,)})
    shapes["norm.weight"] = (C,)
    init = {}
    for k, s in shapes.items():
        if "norm" in k:
            init[k] = (1 + 0.1 * rng.standard_normal(s)).astype(np.float32)
        else:
            init[k] = (0.05 * rng.standard_normal(s)).astype(np.float32)
    params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in init.items()}
    B, T = 3, 12
    ids = rng.integers(0, V, (B, T))
    targets = rng.integers(0, V, (B, T))
    targets[0, :2] = -1  # ignored positions
    decay = [v for k, v in params.items() if "norm" not in k]
    no_decay = [v for k, v in params.items() if "norm" in k]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=3e-3, betas=(0.9, 0.95), eps=1e-8)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        logits = forward(params, cfg, torch.tensor(ids))
        flat = logits.reshape(B * T, V)
        tgt = torch.tensor(targets.reshape(-1))
        ce = F.cross_entropy(flat, tgt, ignore_index=-1)
        loss = ce
        if cfg["zLoss"] > 0:
            keep = (tgt != -1).double()
            loss = ce + cfg["zLoss"] * ((torch.logsumexp(flat, -1) ** 2) * keep).sum() / keep.sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
        opt.step()
        losses.append(float(loss))
    return {
        "name": name, "config": cfg, "batch": B, "time": T,
        "ids": ids.reshape(-1).tolist(), "targets": targets.reshape(-1).tolist(),
        "weights": {k: {"shape": list(v.shape), "data": v.reshape(-1).tolist()} for k, v in init.items()},
        "losses": losses,
    }


cases = [
    case("gqa_rope_swiglu", {"vocabSize": 37, "dModel": 32, "layers": 2, "heads": 4, "kvHeads": 2,
                             "qkNorm": False, "zLoss": 0.0}, 1),
    case("mqa_qknorm_zloss", {"vocabSize": 29, "dModel": 24, "layers": 1, "heads": 3, "kvHeads": 1,
                              "qkNorm": True, "zLoss": 1e-2}, 2),
]
out = ROOT / "Tests/NanoTransformerTests/Fixtures/golden_losses.json"
out.write_text(json.dumps({"generator": f"torch {torch.__version__}", "cases": cases}))
print(f"wrote {out}: " + ", ".join(f"{c['name']} {[round(l, 4) for l in c['losses']]}" for c in cases))
