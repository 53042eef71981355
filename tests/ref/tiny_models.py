#!/usr/bin/env python3
"""Reference logits for the tiny random-weight models of test-forward, one
or more per architecture lm-step runs.

The weights come from a splitmix64 stream that tests/unit/test-forward.c
replicates in C: both sides draw the same numbers in the same order, in the
Hugging Face layout (rows = output features).  The C side writes GGUF files
from them as llama.cpp's converter would: Q and K rows of every head
permuted for `llama` (doc/formats.md "RoPE"), norm weights stored as 1 + w
for Gemma.  Here they go as they are into transformers' model class.
Every drawn value is k/512 * 2^-s with |k| <= 512, exact in float16 as in
float32, so the F16 models have exactly the weights of the reference.

Usage: python3 tests/ref/tiny_models.py > tests/fixtures/fwd/tiny-logits.txt
"""
import sys

import torch
import transformers

M64 = (1 << 64) - 1

# name, arch, vocab, embd, layers, heads, kv heads, ff, ctx, tied, type, rope base, seed, extra
MODELS = [
    ("tiny-f32-gqa-tied", "llama", 96, 64, 2, 4, 2, 128, 64, True, "F32", 10000.0, 1, {}),
    ("tiny-f16-mqa-untied", "llama", 96, 64, 2, 4, 1, 128, 64, False, "F16", 10000.0, 2, {}),
    ("tiny-f32-llama3-untied", "llama", 96, 64, 2, 4, 4, 128, 64, False, "F32", 500000.0, 3, {"llama3": True}),
    ("tiny-qwen2-f32-gqa-untied", "qwen2", 96, 64, 2, 4, 2, 128, 64, False, "F32", 1000000.0, 11, {}),
    ("tiny-qwen2-f16-tied", "qwen2", 96, 64, 2, 4, 1, 128, 64, True, "F16", 10000.0, 12, {}),
    # Mistral: llama with a window of 7 positions, shorter than the prompt
    ("tiny-mistral-f32-window", "llama", 96, 64, 2, 4, 2, 128, 64, False, "F32", 10000.0, 21, {"window": 7}),
    # Gemma 3: six layers (five local, one global), heads of 96 and 256
    ("tiny-gemma3-f32-hd96", "gemma3", 96, 64, 6, 2, 1, 128, 64, True, "F32", 1000000.0, 31,
     {"head_dim": 96, "window": 8}),
    ("tiny-gemma3-f16-hd256-untied", "gemma3", 96, 64, 6, 2, 2, 128, 64, False, "F16", 1000000.0, 32,
     {"head_dim": 256, "window": 5}),
    # Phi-3: fused matrices, partial RoPE; long and short factors past a context of 8
    ("tiny-phi3-f32-longrope", "phi3", 96, 64, 2, 4, 2, 128, 64, False, "F32", 10000.0, 51, {"n_rot": 8, "orig": 8}),
    ("tiny-phi3-f16-partial-tied", "phi3", 96, 64, 2, 4, 4, 128, 64, True, "F16", 10000.0, 52, {"n_rot": 12}),
    # Granite: the four multipliers; with and without biases
    ("tiny-granite-f32-tied", "granite", 96, 64, 2, 4, 2, 128, 64, True, "F32", 10000.0, 41, {}),
    ("tiny-granite-f16-bias-untied", "granite", 96, 64, 2, 4, 1, 128, 64, False, "F16", 10000.0, 42, {"bias": True}),
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


def matrix(rng, rows, cols, s=None):
    s = scale(cols) if s is None else s
    return torch.tensor([[rng.unit() * s for _ in range(cols)] for _ in range(rows)], dtype=torch.float32)


def vector(rng, n, s):
    return torch.tensor([rng.unit() * s for _ in range(n)], dtype=torch.float32)


def norm(rng, n):
    """A norm's weights as GGUF holds them."""
    return torch.tensor([1.0 + 0.25 * rng.unit() for _ in range(n)], dtype=torch.float32)


def config(spec):
    name, arch, V, E, L, H, KV, FF, ctx, tied, _, base, seed, extra = spec
    common = dict(vocab_size=V, hidden_size=E, intermediate_size=FF, num_hidden_layers=L,
                  num_attention_heads=H, num_key_value_heads=KV, max_position_embeddings=ctx,
                  tie_word_embeddings=tied)
    rope = {"rope_type": "default", "rope_theta": base}
    if arch == "llama" and extra.get("window"):
        return transformers.MistralConfig(**common, rms_norm_eps=1e-5, rope_parameters=rope,
                                          sliding_window=extra["window"], hidden_act="silu")
    if arch == "llama":
        if extra.get("llama3"):
            rope = {"rope_type": "llama3", "rope_theta": base, **LLAMA3}
        return transformers.LlamaConfig(**common, rms_norm_eps=1e-5, rope_parameters=rope, attention_bias=False,
                                         mlp_bias=False, hidden_act="silu")
    if arch == "phi3":
        hd = E // H
        rope = {"rope_type": "default", "rope_theta": base, "partial_rotary_factor": extra["n_rot"] / hd}
        if extra.get("orig"):
            half = extra["n_rot"] // 2
            rope.update(rope_type="longrope", original_max_position_embeddings=extra["orig"],
                        short_factor=[1.0 + 0.25 * i for i in range(half)], long_factor=[2.0 + i for i in range(half)])
        return transformers.Phi3Config(**common, rms_norm_eps=1e-6, rope_parameters=rope, sliding_window=None,
                                       partial_rotary_factor=extra["n_rot"] / hd,
                                       original_max_position_embeddings=extra.get("orig", ctx), hidden_act="silu",
                                       pad_token_id=0, bos_token_id=1, eos_token_id=2)
    if arch == "granite":
        return transformers.GraniteConfig(
            **common, rms_norm_eps=1e-6, rope_parameters=rope, embedding_multiplier=4.0, residual_multiplier=0.25,
            attention_multiplier=0.0625, logits_scaling=2.0, attention_bias=extra.get("bias", False),
            mlp_bias=extra.get("bias", False), hidden_act="silu")
    if arch == "gemma3":
        hd = extra["head_dim"]
        return transformers.Gemma3TextConfig(
            **common, head_dim=hd, rms_norm_eps=1e-6, query_pre_attn_scalar=hd, sliding_window=extra["window"],
            layer_types=["full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(L)],
            rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": base},
                             "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}},
            hidden_activation="gelu_pytorch_tanh", final_logit_softcapping=None, attn_logit_softcapping=None)
    if arch == "qwen2":
        return transformers.Qwen2Config(**common, rms_norm_eps=1e-6, rope_parameters=rope, use_sliding_window=False,
                                        hidden_act="silu")
    raise ValueError(arch)


def build(spec):
    """The model of spec with its weights drawn in test-forward's order."""
    name, arch, V, E, L, H, KV, FF, ctx, tied, _, base, seed, extra = spec
    cfg = config(spec)
    cfg._attn_implementation = "eager"
    model = transformers.AutoModelForCausalLM.from_config(cfg).float().eval()
    hd = extra.get("head_dim", E // H)
    gemma = arch == "gemma3"
    # Gemma's RMSNorm multiplies by 1 + w: w is what GGUF holds minus 1
    hfnorm = (lambda n: norm(rng, n) - 1.0) if gemma else (lambda n: norm(rng, n))
    rng = Rng(seed)
    sd = {"model.embed_tokens.weight": matrix(rng, V, E, 1.0)}
    for l in range(L):
        p = f"model.layers.{l}."
        sd[p + "input_layernorm.weight"] = hfnorm(E)
        bias = arch == "qwen2" or extra.get("bias")
        for proj, rows in (("q", H * hd), ("k", KV * hd), ("v", KV * hd)):
            sd[p + f"self_attn.{proj}_proj.weight"] = matrix(rng, rows, E)
            if bias:
                sd[p + f"self_attn.{proj}_proj.bias"] = vector(rng, rows, 0.25)
        if gemma:
            sd[p + "self_attn.q_norm.weight"] = hfnorm(hd)
            sd[p + "self_attn.k_norm.weight"] = hfnorm(hd)
        sd[p + "self_attn.o_proj.weight"] = matrix(rng, E, H * hd)
        if extra.get("bias"):
            sd[p + "self_attn.o_proj.bias"] = vector(rng, E, 0.25)
        if gemma:
            sd[p + "post_attention_layernorm.weight"] = hfnorm(E)
            sd[p + "pre_feedforward_layernorm.weight"] = hfnorm(E)
        else:
            sd[p + "post_attention_layernorm.weight"] = hfnorm(E)
        for proj, rows, cols in (("gate", FF, E), ("up", FF, E), ("down", E, FF)):
            sd[p + f"mlp.{proj}_proj.weight"] = matrix(rng, rows, cols)
            if extra.get("bias"):
                sd[p + f"mlp.{proj}_proj.bias"] = vector(rng, rows, 0.25)
        if arch == "phi3":  # Q, K, V in one matrix, gate and up in one
            sd[p + "self_attn.qkv_proj.weight"] = torch.cat([sd.pop(p + f"self_attn.{x}_proj.weight") for x in "qkv"])
            sd[p + "mlp.gate_up_proj.weight"] = torch.cat([sd.pop(p + f"mlp.{x}_proj.weight") for x in ("gate", "up")])
        if gemma:
            sd[p + "post_feedforward_layernorm.weight"] = hfnorm(E)
    sd["model.norm.weight"] = hfnorm(E)
    sd["lm_head.weight"] = sd["model.embed_tokens.weight"] if tied else matrix(rng, V, E)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected and all("rotary" in m for m in missing), (missing, unexpected)
    ids_rng = Rng(1000 + seed)
    ids = [ids_rng.next() % V for _ in range(N_IDS)]
    return model, ids


def main():
    out = sys.stdout
    out.write("# tiny model reference logits: tests/ref/tiny_models.py, transformers "
              + transformers.__version__ + "\n")
    for spec in MODELS:
        model, ids = build(spec)
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0]
        out.write(f"model {spec[0]}\n")
        out.write("ids " + " ".join(map(str, ids)) + "\n")
        for pos in range(len(ids)):
            out.write(f"logits {pos} " + " ".join(f"{v:.7g}" for v in logits[pos].tolist()) + "\n")
        orig = spec[13].get("orig")
        if orig:  # a context within the original one: the short factors
            with torch.no_grad():
                short = model(torch.tensor([ids[:orig]])).logits[0]
            for pos in range(orig):
                out.write(f"slogits {pos} " + " ".join(f"{v:.7g}" for v in short[pos].tolist()) + "\n")


if __name__ == "__main__":
    main()
