#!/usr/bin/env python3
"""Fixtures for the Interop package: our exports read by the tools users take them to.

1. A tiny model of ours is trained for 40 steps by the nano-transformer experiment (GQA,
   head_dim 16 != hidden/heads, untied head, RoPE base 5000 with linear position scale 0.5) and
   its checkpoint is committed as Fixtures/tiny.ckpt.h5. `lab export` writes it as a Hugging Face
   folder and as GGUF (float32 and float16).
2. transformers (LlamaForCausalLM, float32) loads the folder and computes logits for fixed ids;
   its tokenizer (PreTrainedTokenizerFast from tokenizer.json) encodes a probe text.
3. The gguf package (llama.cpp's gguf-py) reads both GGUF files: every metadata key and value, and
   each tensor's name, shape, type and SHA-256 of its float32 values in row-major order. Each
   tensor is also checked here against the Hugging Face export's (q and k after llama.cpp's own
   RoPE permutation, see permute() below).
4. If llama-cpp-python imports, llama.cpp computes logits for the same ids from the float32 GGUF.
5. A tiny random Llama made by transformers with a tokenizer trained by HF tokenizers (its ids in
   HF's order, not ours) is saved as Fixtures/hf-random/ with its logits and probe encoding:
   `lab import` must reproduce both.

The Swift tests check the bytes they export now against the SHA-256 of the files read here, so
a change to the export shows up as a fixture to regenerate, never as a silent mismatch.

Run (from the repository root, after `swift build -c release --product lab --product nano-transformer`):
  .venv-bench/bin/python Scripts/reference/interop_fixtures.py
  (torch 2.13.0+cpu, transformers, safetensors, gguf, tokenizers; llama-cpp-python optional)
"""
import hashlib
from importlib import metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
FIXTURES = os.path.join(ROOT, "Tests/InteropTests/Fixtures")
RELEASE = os.path.join(ROOT, ".build/release")
PROBE = "To be, or not to be: that is the question.\n  Whether 'tis nobler in the mind<|end|> 42 times!"
IDS = [5, 77, 120, 3, 260, 281, 14, 199, 42, 250, 9, 33, 101, 290, 64, 17]


def sha(a):
    return hashlib.sha256(np.ascontiguousarray(a, dtype=np.float32).tobytes()).hexdigest()


def file_sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run(*args):
    subprocess.run(args, check=True, cwd=ROOT)


def hf_logits(folder, ids):
    from transformers import LlamaForCausalLM
    model = LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].numpy()


def permute(w, n_head):
    """llama.cpp's convert_hf_to_gguf.py LlamaModel.permute: rotate-half rows to interleaved."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def read_gguf(path, hf_tensors, config):
    from gguf import GGUFReader
    from gguf.constants import GGUFValueType
    reader = GGUFReader(path)
    metadata = {}
    for field in reader.fields.values():
        if field.name.startswith("GGUF."):
            continue
        kind = field.types[0]
        if kind == GGUFValueType.ARRAY:
            if field.types[1] == GGUFValueType.STRING:
                value = [bytes(field.parts[i]).decode("utf-8") for i in field.data]
            else:
                value = [int(field.parts[i][0]) for i in field.data]
        elif kind == GGUFValueType.STRING:
            value = bytes(field.parts[field.data[0]]).decode("utf-8")
        elif kind == GGUFValueType.FLOAT32:
            value = float(field.parts[field.data[0]][0])
        elif kind == GGUFValueType.BOOL:
            value = bool(field.parts[field.data[0]][0])
        else:
            value = int(field.parts[field.data[0]][0])
        metadata[field.name] = {"type": kind.name, "value": value}
    names = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}
    parts = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
             "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
             "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
    tensors = []
    for t in reader.tensors:
        values = np.asarray(t.data, dtype=np.float32).reshape([int(n) for n in reversed(t.shape)])
        stem = t.name[: -len(".weight")]
        if stem.startswith("blk."):
            _, layer, part = stem.split(".", 2)
            hf = f"model.layers.{layer}.{parts[part]}.weight"
        else:
            hf = names[stem] + ".weight"
        expected = hf_tensors[hf]
        if stem.endswith("attn_q"):
            expected = permute(expected, config["num_attention_heads"])
        elif stem.endswith("attn_k"):
            expected = permute(expected, config["num_key_value_heads"])
        if t.tensor_type.name == "F16":
            expected = expected.astype(np.float16).astype(np.float32)
        assert np.array_equal(values, expected), f"{path}: {t.name} differs from {hf}"
        tensors.append({"name": t.name, "shape": list(values.shape), "type": t.tensor_type.name, "sha256": sha(values)})
    return metadata, tensors


def llama_cpp_version():
    try:
        return metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError:
        return "absent"


def llama_cpp_logits(path, ids):
    try:
        from llama_cpp import Llama
    except ImportError:
        return None
    # Keys and values cached in float32 (llama.cpp caches float16 by default: about 3e-3 off here).
    llm = Llama(model_path=path, n_ctx=32, n_batch=32, logits_all=True, n_threads=1, type_k=0, type_v=0,
                verbose=False)
    llm.eval(ids)
    return np.array(llm.scores[: len(ids)], dtype=np.float32)


def export_fixture(work):
    run(os.path.join(RELEASE, "nano-transformer"), "--ablation", "base", "--out", os.path.join(work, "runs"),
        "--steps", "40", "--set", "model.dModel=32", "--set", "model.layers=2", "--set", "model.heads=4",
        "--set", "model.kvHeads=2", "--set", "model.headDim=16", "--set", "model.tiedEmbeddings=false",
        "--set", "model.ropeBase=5000", "--set", "model.ropePositionScale=0.5", "--set", "model.contextLength=32",
        "--set", "tokenizerVocab=300", "--set", "batchSize=4", "--set", "contextEvaluation=false",
        "--set", "inferenceBenchmark=false", "--set", "evalEvery=20", "--threads", "1")
    checkpoint = os.path.join(FIXTURES, "tiny.ckpt.h5")
    shutil.copy(os.path.join(work, "runs/nano-transformer/base/seed-0.ckpt.h5"), checkpoint)
    lab = os.path.join(RELEASE, "lab")
    hf = os.path.join(work, "hf")
    run(lab, "export", checkpoint, "--format", "hf", hf)
    run(lab, "export", checkpoint, "--format", "gguf", os.path.join(work, "tiny.gguf"))
    run(lab, "export", checkpoint, "--format", "gguf", "--f16", os.path.join(work, "tiny-f16.gguf"))

    from safetensors.numpy import load_file
    from transformers import PreTrainedTokenizerFast
    config = json.load(open(os.path.join(hf, "config.json")))
    hf_tensors = load_file(os.path.join(hf, "model.safetensors"))
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=os.path.join(hf, "tokenizer.json"))
    out = {
        "ids": IDS,
        "safetensors_sha256": file_sha(os.path.join(hf, "model.safetensors")),
        "tokenizer_json_sha256": file_sha(os.path.join(hf, "tokenizer.json")),
        "transformers_logits": hf_logits(hf, IDS).reshape(-1).tolist(),
        "probe_ids": tokenizer(PROBE)["input_ids"],
    }
    for name in ["tiny.gguf", "tiny-f16.gguf"]:
        path = os.path.join(work, name)
        metadata, tensors = read_gguf(path, hf_tensors, config)
        out[name] = {"sha256": file_sha(path), "metadata": metadata, "tensors": tensors}
    cpp = llama_cpp_logits(os.path.join(work, "tiny.gguf"), IDS)
    out["llama_cpp_logits"] = None if cpp is None else cpp.reshape(-1).tolist()
    return out


def import_fixture():
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    folder = os.path.join(FIXTURES, "hf-random")
    shutil.rmtree(folder, ignore_errors=True)
    text = open(os.path.join(ROOT, "Data/sample/english-tempest.txt")).read() if os.path.exists(
        os.path.join(ROOT, "Data/sample/english-tempest.txt")) else PROBE * 50
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<|end|>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([text], trainer)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                         rms_norm_eps=1e-6, tie_word_embeddings=True, rope_theta=10000.0, initializer_range=0.2,
                         bos_token_id=None, eos_token_id=tok.token_to_id("<|end|>"), pad_token_id=None)
    model = LlamaForCausalLM(config).eval()
    model.save_pretrained(folder, safe_serialization=True)
    tok.save(os.path.join(folder, "tokenizer.json"))
    for extra in ["generation_config.json"]:
        if os.path.exists(os.path.join(folder, extra)):
            os.remove(os.path.join(folder, extra))
    fast = PreTrainedTokenizerFast(tokenizer_file=os.path.join(folder, "tokenizer.json"))
    probe_ids = fast(PROBE)["input_ids"]
    ids = probe_ids[:16]
    return {"vocab_size": config.vocab_size, "ids": ids, "probe_ids": probe_ids,
            "transformers_logits": hf_logits(folder, ids).reshape(-1).tolist()}


def main():
    import gguf
    import transformers
    os.makedirs(FIXTURES, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        fixture = {
            "generator": f"Scripts/reference/interop_fixtures.py (torch {torch.__version__}, transformers "
                         f"{transformers.__version__}, gguf {metadata.version('gguf')}, llama-cpp-python "
                         f"{llama_cpp_version()})",
            "probe": PROBE,
            "export": export_fixture(work),
            "import": import_fixture(),
        }
    with open(os.path.join(FIXTURES, "interop.json"), "w") as f:
        json.dump(fixture, f)
    print("llama.cpp logits:", "yes" if fixture["export"]["llama_cpp_logits"] else "no (llama-cpp-python not importable)")


if __name__ == "__main__":
    sys.exit(main())
