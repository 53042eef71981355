#!/usr/bin/env python3
"""Reference blocks for the weight quantizers (tests/unit/test-quantize.c):
rows of 256 floats quantized to Q8_0, Q4_0, Q4_1 and Q4_K by llama.cpp's
own llama-quantize (the build of tests/bench/build-llama-cpp.sh).

The rows go into the feed-forward matrices of a one-layer llama GGUF
written with the gguf package; `llama-quantize --pure` writes every matrix
in the type asked for; the blocks of those rows are read back.

usage: tests/ref/quantize-ref.py LLAMA_QUANTIZE > tests/fixtures/quantize.txt

Output: "row I v1 ... v256" (float32 values, exact), then for each type
"TYPE I HEX" (the row's blocks as llama.cpp wrote them)."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import gguf

E = 256


def rows():
    rng = np.random.default_rng(20261206)
    r = [rng.standard_normal(E) * 0.02 for _ in range(6)]      # like real weights
    r.append(np.zeros(E))                                       # all zero
    r.append(np.full(E, 0.5))                                   # constant
    r.append(rng.uniform(0, 1, E))                              # all positive
    r.append(-rng.uniform(0.1, 1, E))                           # all negative
    x = rng.standard_normal(E) * 0.01
    x[77] = 3.0                                                 # one outlier
    r.append(x)
    r.append(rng.standard_normal(E) * 1e-7)                     # scales below f16's normal range
    r.append(rng.standard_t(2, E) * 0.05)                       # heavy tails
    x = rng.standard_normal(E) * 0.03
    x[64:96] = 0                                                # a zero sub-block
    r.append(x)
    x = rng.standard_normal(E) * 0.02
    x[::32] = -0.2                                              # ties of the largest magnitude
    x[5] = 0.2
    r.append(x)
    r.append(np.round(rng.standard_normal(E) * 8) / 16)         # values on a coarse grid
    return np.array(r, dtype=np.float32)


def main():
    quantize = sys.argv[1]
    data = rows()
    n = data.shape[0]
    out = sys.stdout
    out.write("# made by tests/ref/quantize-ref.py with llama.cpp's llama-quantize --pure\n")
    for i, row in enumerate(data):
        out.write(f"row {i} " + " ".join(repr(float(v)) for v in row) + "\n")
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "in.gguf")
        w = gguf.GGUFWriter(src, "llama")
        w.add_context_length(64)
        w.add_embedding_length(E)
        w.add_block_count(1)
        w.add_feed_forward_length(n)
        w.add_head_count(1)
        w.add_head_count_kv(1)
        w.add_layer_norm_rms_eps(1e-5)
        rng = np.random.default_rng(1)
        other = lambda *s: (rng.standard_normal(s) * 0.02).astype(np.float32)
        w.add_tensor("token_embd.weight", other(8, E))
        w.add_tensor("output_norm.weight", np.ones(E, np.float32))
        w.add_tensor("blk.0.attn_norm.weight", np.ones(E, np.float32))
        w.add_tensor("blk.0.ffn_norm.weight", np.ones(E, np.float32))
        for t in ("attn_q", "attn_k", "attn_v", "attn_output"):
            w.add_tensor(f"blk.0.{t}.weight", other(E, E))
        w.add_tensor("blk.0.ffn_gate.weight", data)
        w.add_tensor("blk.0.ffn_up.weight", data)
        w.add_tensor("blk.0.ffn_down.weight", other(E, n))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        for qt in ("Q8_0", "Q4_0", "Q4_1", "Q4_K"):
            dst = os.path.join(d, qt + ".gguf")
            subprocess.run([quantize, "--pure", src, dst, qt], check=True, capture_output=True)
            t = next(t for t in gguf.GGUFReader(dst).tensors if t.name == "blk.0.ffn_gate.weight")
            assert t.tensor_type.name == qt, t.tensor_type.name
            raw = np.asarray(t.data).view(np.uint8).reshape(n, -1)
            for i in range(n):
                out.write(f"{qt} {i} {raw[i].tobytes().hex()}\n")


if __name__ == "__main__":
    main()
