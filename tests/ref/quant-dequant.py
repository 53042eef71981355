#!/usr/bin/env python3
"""Reference values for test-quant: a few slices of rows of real tensors,
dequantized by the python gguf package (gguf.quants.dequantize).

usage: tests/ref/quant-dequant.py MODELS_DIR > tests/fixtures/quant-dequant.txt

Output: one line per slice, "FILE TENSOR TYPE ROW START COUNT v1 v2 ...",
values as the shortest repr of the float32 value."""
import importlib.metadata
import sys

import numpy as np
import gguf
from gguf.quants import dequantize

# (file, tensor, row, first element, count): every type of the two test
# models, slices that cross sub-block boundaries and reach the sub-blocks
# whose scales use the packed high bits (Q4_K j >= 4).
SLICES = [
    ("smollm2-135m-instruct-q4_1.gguf", "token_embd.weight", 1234, 0, 32),
    ("smollm2-135m-instruct-q4_1.gguf", "blk.0.ffn_down.weight", 5, 32, 64),
    ("gemma-3-270m-q4_k_m.gguf", "token_embd.weight", 100, 16, 32),
    ("gemma-3-270m-q4_k_m.gguf", "blk.0.attn_k.weight", 3, 0, 64),
    ("gemma-3-270m-q4_k_m.gguf", "blk.0.attn_output.weight", 2, 96, 128),
    ("gemma-3-270m-q4_k_m.gguf", "blk.0.ffn_down.weight", 1, 120, 128),
]

def main():
    d = sys.argv[1]
    readers = {}
    print("# made by tests/ref/quant-dequant.py with gguf", importlib.metadata.version("gguf"))
    for f, name, row, start, count in SLICES:
        r = readers.setdefault(f, gguf.GGUFReader(f"{d}/{f}"))
        t = next(t for t in r.tensors if t.name == name)
        vals = dequantize(t.data[row:row + 1], t.tensor_type).reshape(-1)
        vals = vals.astype(np.float32)[start:start + count]
        print(f, name, t.tensor_type.name, row, start, count,
              " ".join(repr(float(v)) for v in vals))

main()
