#!/usr/bin/env python3
"""Measure lm-step against transformers on a model of tests/ref/model_ref.py:
full logits at every position of the greedy fixture's sequences (prompt +
reference continuation), mean and max |dlogit|, top-1 agreement.  Not a
test (it needs torch); prints figures for the report.

Usage: python3 tests/ref/model_compare.py KEY [models/] [bin/lm-step] [N_SEQUENCES] [LM-STEP OPTION...]
  e.g. ... smollm2 models bin/lm-step 20 --quant-act
"""
import os
import struct
import subprocess
import sys

import numpy as np
import torch
from transformers import AutoModelForCausalLM

from model_ref import MODELS


def frames(data):
    off = 0
    while off < len(data):
        magic, ver, nv, tok, pos = struct.unpack_from("<4sIIiQ", data, off)
        assert magic == b"\x89LGT" and ver == 1
        yield pos, np.frombuffer(data, dtype="<f4", count=nv, offset=off + 24)
        off += 24 + 4 * nv


def main():
    key = sys.argv[1] if len(sys.argv) > 1 else "smollm2"
    models = sys.argv[2] if len(sys.argv) > 2 else "models"
    lm_step = sys.argv[3] if len(sys.argv) > 3 else "bin/lm-step"
    limit = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
    extra = sys.argv[5:]
    GGUF = MODELS[key][0]
    fix = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "fwd", f"{key}-greedy.txt")
    seqs = {}
    for line in open(fix):
        f = line.split()
        if f and f[0] in "pg" and len(f[0]) == 1:
            seqs.setdefault(int(f[1]), []).extend(map(int, f[2:]))
    torch.set_num_threads(2)
    model = AutoModelForCausalLM.from_pretrained(models, gguf_file=GGUF, dtype=torch.float32).eval()
    diffs, agree, total, worst = [], 0, 0, (0, None)
    for k in sorted(seqs)[:limit]:
        ids = seqs[k]
        out = subprocess.run([lm_step, "-m", os.path.join(models, GGUF), "--all-logits"] + extra,
                             input=(" ".join(map(str, ids)) + "\n").encode(), capture_output=True, check=True).stdout
        ours = np.stack([l for _, l in frames(out)])
        with torch.no_grad():
            ref = model(torch.tensor([ids])).logits[0].numpy()
        d = np.abs(ours - ref)
        diffs.append(d.mean(axis=1))
        per_pos = d.max(axis=1)
        if per_pos.max() > worst[0]:
            worst = (float(per_pos.max()), (k, int(per_pos.argmax())))
        agree += int((ours.argmax(1) == ref.argmax(1)).sum())
        total += len(ids)
        print(f"seq {k}: {len(ids)} positions, mean |d| {d.mean():.3g}, max |d| {d.max():.3g}, "
              f"top-1 {int((ours.argmax(1) == ref.argmax(1)).sum())}/{len(ids)}")
    print(f"all: mean |dlogit| {np.concatenate(diffs).mean():.3g}, max |dlogit| {worst[0]:.3g} at {worst[1]}, "
          f"top-1 agreement {agree}/{total} = {100 * agree / total:.2f}%")


if __name__ == "__main__":
    main()
