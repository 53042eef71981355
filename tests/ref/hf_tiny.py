#!/usr/bin/env python3
"""Tiny random models saved by transformers as model directories, for the
safetensors and config.json reader (tests/unit/test-hfdir.c).

For each model: transformers builds it from a config, the weights are drawn
from a splitmix64 stream that the C test replicates, and save_pretrained
writes the directory (sharded when max_shard_size is small).  The fixture
keeps, as text, everything the C test needs to write the same directory
byte for byte: config.json, the index, and each shard's header with the
sha256 of the whole shard (the C test fills the data from the stream and
checks the hash); then the reference logits of transformers run on the
model loaded back from that directory, in float32.

Weights: the tensors of all shards, sorted by name, each filled with
k/64 for 7-bit k from the stream (exact in float32, float16 and bfloat16),
scaled: embeddings 1, other matrices 2^-ceil(log4(columns)), norms
1 + v/2 (Gemma: v/2, its norms hold w of 1 + w), biases v/8.

Usage: python3 tests/ref/hf_tiny.py DIR   (writes DIR/NAME.txt per model;
       the fixtures live in tests/fixtures/hf/)
"""
import hashlib
import json
import os
import struct
import sys
import tempfile

import torch
import transformers

M64 = (1 << 64) - 1
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
        return ((self.next() >> 57) - 64) / 64.0


def col_scale(cols):
    k = 0
    while (1 << (2 * k)) < cols:
        k += 1
    return 2.0 ** -k


def fill(name, shape, rng, gemma):
    n = 1
    for d in shape:
        n *= d
    v = torch.tensor([rng.unit() for _ in range(n)], dtype=torch.float32).reshape(shape)
    if len(shape) == 1:
        if "norm" in name:
            return v / 2 if gemma else 1 + v / 2
        return v / 8
    if "embed_tokens" in name:
        return v
    return v * col_scale(shape[-1])


# name, class, config, dtype, max_shard_size (None: one file), seed
LLAMA = dict(vocab_size=96, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
             rms_norm_eps=1e-5, hidden_act="silu")
MODELS = [
    ("llama-f32-sharded", "LlamaForCausalLM",
     dict(LLAMA, tie_word_embeddings=False), torch.float32, "40KB", 1),
    ("llama-bf16-tied-llama3", "LlamaForCausalLM",
     dict(LLAMA, num_key_value_heads=1, tie_word_embeddings=True,
          rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, factor=8.0, low_freq_factor=1.0,
                               high_freq_factor=4.0, original_max_position_embeddings=16)),
     torch.bfloat16, None, 2),
    ("mistral-f16", "MistralForCausalLM",
     dict(LLAMA, num_key_value_heads=4, head_dim=16, sliding_window=None, tie_word_embeddings=False,
          rope_theta=1000000.0),
     torch.float16, "100KB", 3),
]


def text(out, name, data):
    out.write(f"text {name} {len(data)}\n")
    out.write(data.decode("utf-8"))
    out.write("\n")


def build(spec, out):
    name, cls, cfg_kw, dtype, shard, seed = spec
    arch = getattr(transformers, cls)
    config_cls = transformers.AutoConfig.for_model(arch.config_class.model_type).__class__
    cfg = config_cls(**cfg_kw)
    cfg._attn_implementation = "eager"
    model = arch(cfg).to(dtype).eval()
    gemma = "Gemma" in cls
    with tempfile.TemporaryDirectory() as d:
        kw = {"max_shard_size": shard} if shard else {}
        model.save_pretrained(d, **kw)
        # the names the files hold, sorted: the order the stream fills them
        from safetensors import safe_open
        files = sorted(f for f in os.listdir(d) if f.endswith(".safetensors"))
        names = []
        for f in files:
            with safe_open(os.path.join(d, f), "pt") as h:
                names += [(k, list(h.get_slice(k).get_shape())) for k in h.keys()]
        names.sort()
        rng = Rng(seed)
        params = dict(model.named_parameters(remove_duplicate=False))
        with torch.no_grad():
            for k, shape in names:
                params[k].copy_(fill(k, shape, rng, gemma).to(dtype))
        for f in os.listdir(d):
            os.remove(os.path.join(d, f))
        model.save_pretrained(d, **kw)

        out.write(f"model {name}\n")
        out.write(f"seed {seed}\n")
        out.write(f"# {cls}, {str(dtype).replace('torch.', '')}, transformers {transformers.__version__}\n")
        text(out, "config.json", open(os.path.join(d, "config.json"), "rb").read())
        if os.path.exists(os.path.join(d, "model.safetensors.index.json")):
            text(out, "model.safetensors.index.json", open(os.path.join(d, "model.safetensors.index.json"), "rb").read())
        for f in sorted(f for f in os.listdir(d) if f.endswith(".safetensors")):
            b = open(os.path.join(d, f), "rb").read()
            (n,) = struct.unpack("<Q", b[:8])
            out.write(f"shard {f} {hashlib.sha256(b).hexdigest()} {len(b)} {n}\n")
            out.write(b[8:8 + n].decode("utf-8"))
            out.write("\n")

        ref = transformers.AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32)
        ref.config._attn_implementation = "eager"
        ref.eval()
        ids_rng = Rng(1000 + seed)
        ids = [ids_rng.next() % cfg_kw["vocab_size"] for _ in range(N_IDS)]
        with torch.no_grad():
            logits = ref(torch.tensor([ids])).logits[0]
        out.write("ids " + " ".join(map(str, ids)) + "\n")
        for pos in range(len(ids)):
            out.write(f"logits {pos} " + " ".join(f"{v:.7g}" for v in logits[pos].tolist()) + "\n")


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    for spec in MODELS:
        with open(os.path.join(outdir, spec[0] + ".txt"), "w") as out:
            out.write(f"# tests/ref/hf_tiny.py: {spec[0]}\n")
            build(spec, out)


if __name__ == "__main__":
    main()
