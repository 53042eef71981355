#!/usr/bin/env python3
"""Model directories made by transformers from the test models' GGUF files,
for tests/hf-real.t and tests/bench/hf-bench.sh (`make hfdirs`).

For each model: from_pretrained(gguf_file=...) dequantizes the GGUF, and
save_pretrained writes OUT/NAME-f32 and OUT/NAME-bf16 with the tokenizer
(the same weights as the GGUF, and those weights rounded to bfloat16).
Then OUT/NAME-ref/: transformers' own logits on one prompt, as lm-logits(5)
frames, for the float32 model (f32.bin) and the bfloat16 one computed in
bfloat16 (bf16.bin), and the prompt's ids (ids.txt): how far bfloat16
moves transformers itself.

These directories are large (SmolLM2 0.8 GB, Gemma 3 270M 1.6 GB,
Qwen2.5-Coder-0.5B 3 GB for both types) and never committed; existing
ones are kept.  Needs torch and transformers (not in tests/requirements.txt:
CI does not make them, and the tests that need them say so and skip).

usage: tests/ref/make-hfdirs.py MODELS_DIR OUT_DIR [NAME...]
"""
import os
import struct
import sys

import torch
import transformers

MODELS = {
    "smollm2": "smollm2-135m-instruct-q4_1.gguf",
    "qwen2.5-coder-0.5b": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    "gemma-3-270m": "gemma-3-270m-q4_k_m.gguf",
}
PROMPT = "The Unix philosophy: write programs that do one thing and do it well. Write programs to"


def frames(path, ids, logits):
    with open(path, "wb") as f:
        for pos, (tok, row) in enumerate(zip(ids, logits)):
            row = row.float().numpy().astype("<f4")
            f.write(b"\x89LGT" + struct.pack("<IIiQ", 1, row.shape[0], tok, pos))
            f.write(row.tobytes())


def plain(models, gguf, dtype):
    """The GGUF as a model transformers can save (it marks GGUF loads quantized)."""
    m = transformers.AutoModelForCausalLM.from_pretrained(models, gguf_file=gguf, dtype=torch.float32)
    cfg = m.config
    if hasattr(cfg, "quantization_config"):
        del cfg.quantization_config
    p = transformers.AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    missing, unexpected = p.load_state_dict(m.state_dict(), strict=False)
    assert not unexpected and all("rotary" in k or "lm_head" in k for k in missing), (missing, unexpected)
    if "lm_head.weight" in missing:
        p.tie_weights()
    return p.to(dtype).eval()


def main():
    models, out = sys.argv[1], sys.argv[2]
    names = sys.argv[3:] or list(MODELS)
    os.makedirs(out, exist_ok=True)
    for name in names:
        gguf = MODELS[name]
        tok = None
        for dt in ("f32", "bf16"):
            d = os.path.join(out, f"{name}-{dt}")
            if os.path.exists(os.path.join(d, "config.json")):
                continue
            dtype = torch.float32 if dt == "f32" else torch.bfloat16
            m = plain(models, gguf, dtype)
            m.save_pretrained(d)
            tok = tok or transformers.AutoTokenizer.from_pretrained(models, gguf_file=gguf)
            tok.save_pretrained(d)
            print(f"make-hfdirs: {d}", file=sys.stderr)
        ref = os.path.join(out, f"{name}-ref")
        if os.path.exists(os.path.join(ref, "bf16.bin")):
            continue
        os.makedirs(ref, exist_ok=True)
        tok = transformers.AutoTokenizer.from_pretrained(os.path.join(out, f"{name}-f32"))
        ids = tok(PROMPT, add_special_tokens=False)["input_ids"]
        with open(os.path.join(ref, "ids.txt"), "w") as f:
            f.write(" ".join(map(str, ids)) + "\n")
        for dt, dtype in (("f32", torch.float32), ("bf16", torch.bfloat16)):
            m = transformers.AutoModelForCausalLM.from_pretrained(os.path.join(out, f"{name}-{dt}"), dtype=dtype)
            m.eval()
            with torch.no_grad():
                logits = m(torch.tensor([ids])).logits[0]
            frames(os.path.join(ref, f"{dt}.bin"), ids, logits)
        print(f"make-hfdirs: {ref}", file=sys.stderr)


if __name__ == "__main__":
    main()
