#!/usr/bin/env python3
"""Reference logits for the tiny random-weight llama models of test-forward.

The weights come from a splitmix64 stream that tests/unit/test-forward.c
replicates in C: both sides draw the same numbers in the same order, in the
Hugging Face layout (rows = output features).  The C side writes GGUF files
from them, permuting the Q and K rows of every head as the llama converter
does (doc/formats.md "RoPE"); here they go as they are into transformers'
LlamaForCausalLM, which uses the split-halves RoPE.  Every drawn value is
k/512 * 2^-s with |k| <= 512, exact in float16 as in float32, so the F16
model has exactly the weights of the reference.

Usage: python3 tests/ref/tiny_llama.py > tests/fixtures/fwd/tiny-logits.txt
"""
import sys

import torch
from transformers import LlamaConfig, LlamaForCausalLM

M64 = (1 << 64) - 1

# name, vocab, embd, layers, heads, kv heads, ff, ctx, tied, type, rope base, llama3 rope, seed
MODELS = [
    ("tiny-f32-gqa-tied", 96, 64, 2, 4, 2, 128, 64, True, "F32", 10000.0, False, 1),
    ("tiny-f16-mqa-untied", 96, 64, 2, 4, 1, 128, 64, False, "F16", 10000.0, False, 2),
    ("tiny-f32-llama3-untied", 96, 64, 2, 4, 4, 128, 64, False, "F32", 500000.0, True, 3),
]
LLAMA3 = dict(factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0, original_max_position_embeddings=16)
N_IDS = 24


class Rng:
    def __init__(self, seed):
        self.s = seed & M64

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & M64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def unit(self):
        """(k - 512) / 512 for a 10-bit k: in [-1, 1), exact in float16."""
        return ((self.next() >> 54) - 512) / 512.0


def scale(n_in):
    k = 0
    while (1 << (2 * k)) < n_in:
        k += 1
    return 2.0 ** -k


def matrix(rng, rows, cols):
    s = scale(cols)
    return torch.tensor([[rng.unit() * s for _ in range(cols)] for _ in range(rows)], dtype=torch.float32)


def norm(rng, n):
    return torch.tensor([1.0 + 0.25 * rng.unit() for _ in range(n)], dtype=torch.float32)


def build(spec):
    name, V, E, L, H, KV, FF, ctx, tied, _, base, llama3, seed = spec
    hd = E // H
    rope = {"rope_type": "default", "rope_theta": base}
    if llama3:
        rope = {"rope_type": "llama3", "rope_theta": base, **LLAMA3}
    cfg = LlamaConfig(vocab_size=V, hidden_size=E, intermediate_size=FF, num_hidden_layers=L,
                      num_attention_heads=H, num_key_value_heads=KV, max_position_embeddings=ctx,
                      rms_norm_eps=1e-5, tie_word_embeddings=tied, rope_parameters=rope,
                      attention_bias=False, mlp_bias=False, hidden_act="silu")
    cfg._attn_implementation = "eager"
    model = LlamaForCausalLM(cfg).float().eval()
    rng = Rng(seed)
    sd = {"model.embed_tokens.weight": matrix(rng, V, E) / scale(E)}  # embeddings: scale 1
    for l in range(L):
        p = f"model.layers.{l}."
        sd[p + "input_layernorm.weight"] = norm(rng, E)
        sd[p + "self_attn.q_proj.weight"] = matrix(rng, H * hd, E)
        sd[p + "self_attn.k_proj.weight"] = matrix(rng, KV * hd, E)
        sd[p + "self_attn.v_proj.weight"] = matrix(rng, KV * hd, E)
        sd[p + "self_attn.o_proj.weight"] = matrix(rng, E, H * hd)
        sd[p + "post_attention_layernorm.weight"] = norm(rng, E)
        sd[p + "mlp.gate_proj.weight"] = matrix(rng, FF, E)
        sd[p + "mlp.up_proj.weight"] = matrix(rng, FF, E)
        sd[p + "mlp.down_proj.weight"] = matrix(rng, E, FF)
    sd["model.norm.weight"] = norm(rng, E)
    if not tied:
        sd["lm_head.weight"] = matrix(rng, V, E)
    else:
        sd["lm_head.weight"] = sd["model.embed_tokens.weight"]
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected and all("rotary" in m for m in missing), (missing, unexpected)
    ids_rng = Rng(1000 + seed)
    ids = [ids_rng.next() % V for _ in range(N_IDS)]
    return model, ids


def main():
    out = sys.stdout
    out.write("# tiny llama reference logits: tests/ref/tiny_llama.py, transformers "
              + __import__("transformers").__version__ + "\n")
    for spec in MODELS:
        model, ids = build(spec)
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0]
        out.write(f"model {spec[0]}\n")
        out.write("ids " + " ".join(map(str, ids)) + "\n")
        for pos in range(len(ids)):
            out.write(f"logits {pos} " + " ".join(f"{v:.7g}" for v in logits[pos].tolist()) + "\n")


if __name__ == "__main__":
    main()
