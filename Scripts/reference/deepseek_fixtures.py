#!/usr/bin/env python3
"""Fixtures for one MLA layer (DeepSeek-V2) and one DeepSeek-V3 MoE gate, written from the papers.

Independent of the Swift code: every formula below is read off the papers, not off our files.

MLA, DeepSeek-V2 (arXiv 2405.04434), section 2.1, equations 9-19 (the full formulas are in its
appendix C):
    c_KV = W_DKV h_t                      latent, d_c wide (eq. 9)
    k_C  = W_UK c_KV,  v_C = W_UV c_KV    (eqs. 10-11)
    c_Q  = W_DQ h_t,   q_C = W_UQ c_Q     (eqs. 12-13; without query compression c_Q = h_t)
    q_R  = RoPE(W_QR c_Q)                 per head, d_R wide (eq. 14)
    k_R  = RoPE(W_KR h_t)                 one key shared by all heads (eq. 15)
    q_i = [q_C,i ; q_R,i],  k_i = [k_C,i ; k_R]                           (eqs. 16-17)
    o_i = sum_j softmax_j(q_i . k_j / sqrt(d_h + d_R)) v_C,j,  u = W_O [o_1 ; ... ; o_H]  (18-19)
  plus the paper's remark below its architecture ("we also employ additional RMSNorm layers after
  the compressed latent vectors"): c_KV and c_Q pass through an RMSNorm with a learned weight.
  The paper's other remark, "multiply additional scaling factors at the width bottlenecks", is not
  reproduced here or in the Swift layer (see Notebooks-md/mla.md).
  RoPE: the papers do not fix which dimensions pair; this uses rotate-half (dimension i with
  i + d_R/2, angle m * base^(-2i/d_R)), the pairing of our TensorCore and of HF Llama; DeepSeek's
  own inference code pairs neighbours (2i, 2i+1) (documented in the note).

DeepSeek-V3 gate (arXiv 2412.19437), section 2.1.2, equations 12-16:
    s_i = sigmoid(u_t . e_i)                                        (eq. 15)
    chosen = TopK over i of (s_i + b_i)   (b only chooses: section 2.1.2, "auxiliary-loss-free")
    g_i = s_i / sum over chosen s_j for chosen i, 0 otherwise        (eqs. 13-14)
    h'_t = sum_shared FFN_s(u_t) + sum_i g_i FFN_i(u_t)              (eq. 12, residual left out)
  FFN is SwiGLU: W_2 (silu(W_1 x) * W_3 x). V3's route_scale (2.5 in the 671B model) is 1 here.

Everything is computed in float64 from float32-rounded inputs, gradients by autograd.
Run: .venv-bench/bin/python Scripts/reference/deepseek_fixtures.py  (torch 2.13.0+cpu)
Writes Tests/MLATests/Fixtures/mla_reference.json and Tests/MoETests/Fixtures/v3_gate_reference.json.
"""
import json
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
GENERATOR = "Scripts/reference/deepseek_fixtures.py (torch %s, float64)" % torch.__version__


def rounded(t):
    """A float32 value held in float64, so both sides start from the same numbers."""
    return t.to(torch.float32).to(torch.float64)


def stored(t):
    return {"shape": list(t.shape), "data": [float(x) for x in t.detach().to(torch.float32).reshape(-1).tolist()]}


def rms_norm(x, weight, eps):
    return x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + eps) * weight


def rope(x, positions, base):
    """x (B, T, H, d): rotate-half pairing, angle m * base^(-2i/d)."""
    d = x.shape[-1]
    half = d // 2
    theta = base ** (-2.0 * torch.arange(half, dtype=torch.float64) / d)
    angle = positions.to(torch.float64)[:, None] * theta[None, :]  # (T, d/2)
    cos, sin = torch.cos(angle)[None, :, None, :], torch.sin(angle)[None, :, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def mla_case(gen, query_latent):
    B, T, C, H, dh, dr, dc, eps, base = 2, 7, 16, 2, 8, 4, 6, 1e-5, 10000.0

    def weight(rows, cols):
        return rounded(torch.randn(rows, cols, generator=gen, dtype=torch.float64) / cols**0.5)

    def norm_weight(n):
        return rounded(1 + 0.3 * torch.randn(n, generator=gen, dtype=torch.float64))

    p = {}
    if query_latent:
        p["w_dq.weight"] = weight(query_latent, C)
        p["q_norm.weight"] = norm_weight(query_latent)
    q_in = query_latent or C
    p["w_uq.weight"] = weight(H * dh, q_in)
    p["w_qr.weight"] = weight(H * dr, q_in)
    p["w_dkv.weight"] = weight(dc, C)
    p["kv_norm.weight"] = norm_weight(dc)
    p["w_uk.weight"] = weight(H * dh, dc)
    p["w_uv.weight"] = weight(H * dh, dc)
    p["w_kr.weight"] = weight(dr, C)
    p["wo.weight"] = weight(C, H * dh)
    h = rounded(torch.randn(B, T, C, generator=gen, dtype=torch.float64))
    probe = rounded(torch.randn(B, T, C, generator=gen, dtype=torch.float64))
    for t in list(p.values()) + [h]:
        t.requires_grad_(True)
    positions = torch.arange(T)

    c_kv = rms_norm(h @ p["w_dkv.weight"].T, p["kv_norm.weight"], eps)  # (B, T, d_c)
    k_c = (c_kv @ p["w_uk.weight"].T).reshape(B, T, H, dh)
    v_c = (c_kv @ p["w_uv.weight"].T).reshape(B, T, H, dh)
    c_q = rms_norm(h @ p["w_dq.weight"].T, p["q_norm.weight"], eps) if query_latent else h
    q_c = (c_q @ p["w_uq.weight"].T).reshape(B, T, H, dh)
    q_r = rope((c_q @ p["w_qr.weight"].T).reshape(B, T, H, dr), positions, base)
    k_r = rope((h @ p["w_kr.weight"].T).reshape(B, T, 1, dr), positions, base)
    q = torch.cat([q_c, q_r], dim=-1)  # (B, T, H, d_h + d_R)
    k = torch.cat([k_c, k_r.expand(B, T, H, dr)], dim=-1)
    scores = torch.einsum("bihd,bjhd->bhij", q, k) / (dh + dr) ** 0.5
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    weights = scores.masked_fill(~causal, float("-inf")).softmax(dim=-1)
    o = torch.einsum("bhij,bjhd->bihd", weights, v_c).reshape(B, T, H * dh)
    out = o @ p["wo.weight"].T
    (out * probe).sum().backward()

    tensors = {"h": stored(h), "probe": stored(probe), "out": stored(out), "grad.h": stored(h.grad)}
    for name, t in p.items():
        tensors[name] = stored(t)
        tensors["grad." + name] = stored(t.grad)
    params = {"batch": B, "time": T, "dModel": C, "heads": H, "headDim": dh, "ropeDim": dr, "latentDim": dc,
              "queryLatentDim": query_latent, "normEps": eps, "ropeBase": base}
    return {"tensors": tensors, "params": params}


def v3_gate_case(gen):
    N, C, E, K, F, S = 6, 8, 4, 2, 5, 1
    h = rounded(torch.randn(N, C, generator=gen, dtype=torch.float64))
    router = rounded(torch.randn(E, C, generator=gen, dtype=torch.float64) / C**0.5)
    # A bias large enough to change some choices: the gate must still use the unbiased s.
    bias = rounded(torch.tensor([0.05, 0.0, -0.05, 0.02], dtype=torch.float64))
    p = {"router.weight": router}
    for e in range(E):
        p["experts.%d.w1.weight" % e] = rounded(torch.randn(F, C, generator=gen, dtype=torch.float64) / C**0.5)
        p["experts.%d.w3.weight" % e] = rounded(torch.randn(F, C, generator=gen, dtype=torch.float64) / C**0.5)
        p["experts.%d.w2.weight" % e] = rounded(torch.randn(C, F, generator=gen, dtype=torch.float64) / F**0.5)
    p["shared.w1.weight"] = rounded(torch.randn(S * F, C, generator=gen, dtype=torch.float64) / C**0.5)
    p["shared.w3.weight"] = rounded(torch.randn(S * F, C, generator=gen, dtype=torch.float64) / C**0.5)
    p["shared.w2.weight"] = rounded(torch.randn(C, S * F, generator=gen, dtype=torch.float64) / (S * F) ** 0.5)
    probe = rounded(torch.randn(N, C, generator=gen, dtype=torch.float64))
    for t in list(p.values()) + [h]:
        t.requires_grad_(True)

    def ffn(prefix, x):
        return (torch.nn.functional.silu(x @ p[prefix + ".w1.weight"].T) * (x @ p[prefix + ".w3.weight"].T)) @ p[
            prefix + ".w2.weight"].T

    s = torch.sigmoid(h @ router.T)  # (N, E)
    chosen = (s + bias).detach().topk(K, dim=-1).indices  # (N, K), best first
    unbiased = s.detach().topk(K, dim=-1).indices
    assert not torch.equal(chosen.sort(dim=-1).values, unbiased.sort(dim=-1).values), "bias changes no choice"
    assert set(chosen.reshape(-1).tolist()) == set(range(E)), "an expert nobody chose has no gradient to check"
    picked = s.gather(1, chosen)
    gates = picked / picked.sum(dim=-1, keepdim=True)  # (N, K)
    out = ffn("shared", h)
    for slot in range(K):
        for e in range(E):
            mask = (chosen[:, slot] == e).to(torch.float64)[:, None]
            out = out + mask * gates[:, slot : slot + 1] * ffn("experts.%d" % e, h)
    (out * probe).sum().backward()

    tensors = {"h": stored(h), "probe": stored(probe), "bias": stored(bias), "gates": stored(gates),
               "chosen": stored(chosen.to(torch.float64)), "out": stored(out), "grad.h": stored(h.grad)}
    for name, t in p.items():
        tensors[name] = stored(t)
        tensors["grad." + name] = stored(t.grad)
    params = {"tokens": N, "dModel": C, "experts": E, "topK": K, "expertHidden": F, "sharedExperts": S,
              "routeScale": 1.0}
    return {"tensors": tensors, "params": params}


def write(path, cases):
    with open(os.path.join(HERE, path), "w") as f:
        json.dump({"generator": GENERATOR, "cases": cases}, f)
        f.write("\n")


if __name__ == "__main__":
    gen = torch.Generator().manual_seed(2405)
    write("../../Tests/MLATests/Fixtures/mla_reference.json",
          {"no-query-latent": mla_case(gen, 0), "query-latent": mla_case(gen, 5)})
    write("../../Tests/MoETests/Fixtures/v3_gate_reference.json", {"v3-gate": v3_gate_case(gen)})
