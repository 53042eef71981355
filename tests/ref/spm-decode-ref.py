#!/usr/bin/env python3
"""spm-decode-ref.py - reference decodes of byte-token runs for tests/tok-decode.t.

    python3 tests/ref/spm-decode-ref.py [MODELS_DIR]   (run from the top directory)

Writes tests/fixtures/tok/gemma3.bytes.cases: 300 random token sequences
over the Gemma 3 vocabulary (fixed seed), mostly byte-fallback tokens
<0xNN> (valid UTF-8 characters, characters cut short, stray continuation
bytes, bytes that never start UTF-8, ASCII), mixed with ordinary and
control tokens; every third case has only whole characters.  Each line is three tab-separated fields:

    ids   hex of decode(ids, skip_special_tokens=True)   hex of decode(ids)

from transformers' GGUF loader (the tokenizers library's decoder:
Replace, ByteFallback, Fuse).  ByteFallback decodes each run of byte
tokens as UTF-8 when the whole run is valid and gives one U+FFFD per byte
token otherwise; the cases are chosen to find where a decoder differs.
No case decodes to a newline, so the test can run all cases through one
tok-decode, a newline token after each.
"""
import random
import sys

from transformers import AutoTokenizer

models = sys.argv[1] if len(sys.argv) > 1 else "models"
tok = AutoTokenizer.from_pretrained(models, gguf_file="gemma-3-270m-q4_k_m.gguf").backend_tokenizer
rng = random.Random(20261123)

byte_id = [tok.token_to_id("<0x%02X>" % b) for b in range(256)]
words = [tok.token_to_id(t) for t in ("Hello", "\u2581world", "\u2581the", "é", "\u2581", "ab", "\u2581caf")]
controls = [tok.token_to_id(t) for t in ("<bos>", "<eos>", "<end_of_turn>", "<start_of_turn>")]
assert None not in byte_id + words + controls


def char_bytes():
    """A valid UTF-8 character of 2 to 4 bytes (not a newline)."""
    lo, hi = rng.choice([(0x80, 0x7FF), (0x800, 0xD7FF), (0xE000, 0xFFFF), (0x10000, 0x10FFFF)])
    return list(chr(rng.randint(lo, hi)).encode("utf-8"))


def piece(clean):
    """Some tokens; clean: only whole characters, ASCII bytes and words."""
    r = rng.random()
    if clean and 0.30 <= r < 0.70:
        r = rng.choice([0.0, 0.75])
    if r < 0.30:
        return [byte_id[b] for b in char_bytes()]
    if r < 0.45:
        c = char_bytes()
        return [byte_id[b] for b in c[:rng.randint(1, len(c) - 1)]]
    if r < 0.60:
        return [byte_id[rng.randint(0x80, 0xBF)]]
    if r < 0.70:
        return [byte_id[rng.choice([0xC0, 0xC1] + list(range(0xF5, 0x100)))]]
    if r < 0.80:
        return [byte_id[rng.choice([b for b in range(0x20, 0x7F)] + [0x09])]]
    if r < 0.92:
        return [rng.choice(words)]
    return [rng.choice(controls)]


with open("tests/fixtures/tok/gemma3.bytes.cases", "w") as f:
    n = 0
    while n < 300:
        clean = n % 3 == 0
        ids = [i for _ in range(rng.randint(1, 8)) for i in piece(clean)]
        skip = tok.decode(ids, skip_special_tokens=True)
        keep = tok.decode(ids, skip_special_tokens=False)
        if "\n" in skip + keep or not skip:
            continue
        f.write("%s\t%s\t%s\n" % (" ".join(map(str, ids)), skip.encode().hex(), keep.encode().hex()))
        n += 1
