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
1 + v/2 (Gemma: v/2, its norms hold w of 1 + w), biases v (as large as the
products they are added to, so that a bias in the wrong place shows).

Usage: python3 tests/ref/hf_tiny.py DIR [NAME...]   (writes DIR/NAME.txt per
       model, or only the ones named; the fixtures live in tests/fixtures/hf/)
"""
import hashlib
import json
import os
import struct
import sys
import tempfile

import torch
import transformers

import tiny_models  # the same stream and scales as the GGUF fixtures

N_IDS = 24


class Rng(tiny_models.Rng):
    """tiny_models' splitmix64 stream, with values of 7 bits."""

    def unit(self):
        return ((self.next() >> 57) - 64) / 64.0


col_scale = tiny_models.scale


def fill(name, shape, rng, gemma):
    n = 1
    for d in shape:
        n *= d
    v = torch.tensor([rng.unit() for _ in range(n)], dtype=torch.float32).reshape(shape)
    if len(shape) == 1:
        if "norm" in name:
            return v / 2 if gemma else 1 + v / 2
        return v
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
    ("qwen2-f32-sharded", "Qwen2ForCausalLM",
     dict(LLAMA, rms_norm_eps=1e-6, tie_word_embeddings=False, rope_theta=1000000.0, use_sliding_window=False),
     torch.float32, "60KB", 4),
    # 7 layers: five local (a window of 8, shorter than the 24 ids), one
    # global, one local; query_pre_attn_scalar = head_dim, as GGUF gemma3 has it
    ("gemma3-bf16-window", "Gemma3ForCausalLM",
     dict(vocab_size=96, hidden_size=64, intermediate_size=128, num_hidden_layers=7, num_attention_heads=4,
          num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=16, sliding_window=8,
          max_position_embeddings=64, rms_norm_eps=1e-6, tie_word_embeddings=True),
     torch.bfloat16, "60KB", 5),
    # the text model inside a multimodal one (a tiny SigLIP beside it, whose
    # tensors are not read); 7 layers, one global with a RoPE base of its own
    ("gemma3-mm-f32-sharded", "Gemma3ForConditionalGeneration",
     dict(text_config=dict(vocab_size=96, hidden_size=64, intermediate_size=128, num_hidden_layers=7,
                           num_attention_heads=4, num_key_value_heads=2, head_dim=32, query_pre_attn_scalar=32,
                           sliding_window=6, max_position_embeddings=64, rms_norm_eps=1e-6),
          vision_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                             image_size=28, patch_size=14),
          mm_tokens_per_image=4),
     torch.float32, "120KB", 6),
    # Mistral's window on every layer (8, shorter than the 24 ids)
    ("mistral-bf16-window", "MistralForCausalLM",
     dict(LLAMA, sliding_window=8, tie_word_embeddings=False, rope_theta=1000000.0),
     torch.bfloat16, None, 7),
    # Phi-3: fused QKV and gate/up, RoPE on half of each head, LongRoPE whose
    # long factors apply past an original context of 8
    ("phi3-f32-longrope", "Phi3ForCausalLM",
     dict(LLAMA, rms_norm_eps=1e-6, tie_word_embeddings=False, sliding_window=None, original_max_position_embeddings=8,
          pad_token_id=0, bos_token_id=1, eos_token_id=2,
          rope_parameters=dict(rope_type="longrope", rope_theta=10000.0, partial_rotary_factor=0.5,
                               original_max_position_embeddings=8,
                               short_factor=[1.0 + 0.25 * i for i in range(4)],
                               long_factor=[2.0 + i for i in range(4)])),
     torch.float32, "60KB", 8),
    ("phi3-f16-tied", "Phi3ForCausalLM",
     dict(LLAMA, num_key_value_heads=4, rms_norm_eps=1e-6, tie_word_embeddings=True, sliding_window=None,
          pad_token_id=0, bos_token_id=1, eos_token_id=2,
          rope_parameters=dict(rope_type="default", rope_theta=10000.0, partial_rotary_factor=0.75)),
     torch.float16, None, 9),
    # Granite: the four multipliers, biases on every projection
    ("granite-f16-bias-sharded", "GraniteForCausalLM",
     dict(LLAMA, rms_norm_eps=1e-6, tie_word_embeddings=False, embedding_multiplier=4.0, residual_multiplier=0.25,
          attention_multiplier=0.0625, logits_scaling=2.0, attention_bias=True, mlp_bias=True),
     torch.float16, "50KB", 10),
    ("granite-bf16-tied", "GraniteForCausalLM",
     dict(LLAMA, rms_norm_eps=1e-6, tie_word_embeddings=True, embedding_multiplier=12.0, residual_multiplier=0.22,
          attention_multiplier=0.015625, logits_scaling=8.0),
     torch.bfloat16, None, 11),
]


def param_name(saved, params):
    """The parameter a saved tensor is: transformers 5 saves a multimodal
    Gemma 3 under the names of transformers 4 (language_model.model.*)."""
    for n in (saved, "model." + saved, saved.replace("language_model.model.", "model.language_model.", 1),
              saved.replace("language_model.lm_head.", "lm_head.", 1)):
        if n in params:
            return n
    raise KeyError(saved)


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
                params[param_name(k, params)].copy_(fill(k, shape, rng, gemma).to(dtype))
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
        vocab = cfg_kw.get("text_config", cfg_kw)["vocab_size"]
        ids = [ids_rng.next() % vocab for _ in range(N_IDS)]
        with torch.no_grad():
            logits = ref(torch.tensor([ids])).logits[0]
        out.write("ids " + " ".join(map(str, ids)) + "\n")
        for pos in range(len(ids)):
            out.write(f"logits {pos} " + " ".join(f"{v:.7g}" for v in logits[pos].tolist()) + "\n")


def main():
    outdir = sys.argv[1]
    only = sys.argv[2:]
    os.makedirs(outdir, exist_ok=True)
    for spec in MODELS:
        if only and spec[0] not in only:
            continue
        with open(os.path.join(outdir, spec[0] + ".txt"), "w") as out:
            out.write(f"# tests/ref/hf_tiny.py: {spec[0]}\n")
            build(spec, out)


if __name__ == "__main__":
    main()
