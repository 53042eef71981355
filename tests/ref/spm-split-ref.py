#!/usr/bin/env python3
"""spm-split-ref.py - reference ids for a SentencePiece-style tokenizer.json
in the form transformers 5 saves Gemma 3's: a normalizer that replaces
spaces with U+2581, a pre-tokenizer that splits at spaces (of which none
are left), byte-fallback BPE, no dummy prefix.

    python3 tests/ref/spm-split-ref.py      (run from the top directory)

The vocabulary and merges are those of llama-spm-tokenizer.json.gz (see
spm-ref.py); only the normalizer and pre-tokenizer change, as
tests/tok-encode.t changes them.  Hugging Face tokenizers gives the ids of
the corpus lines, with the BOS of its post-processor (as llama-spm.ids):
tests/fixtures/tok/spm-split.ids.
"""
import gzip
import json

from tokenizers import Tokenizer

fx = "tests/fixtures/tok"
t = json.load(gzip.open(f"{fx}/llama-spm-tokenizer.json.gz"))
assert t["normalizer"] is None and t["pre_tokenizer"]["type"] == "Metaspace"
t["normalizer"] = {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}
t["pre_tokenizer"] = {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious", "invert": False}
tok = Tokenizer.from_str(json.dumps(t))
tok.encode_special_tokens = True  # special tokens' text is text, as tok-encode without --special has it
lines = open(f"{fx}/corpus.txt", encoding="utf-8", newline="").read().split("\n")[:-1]
with open(f"{fx}/spm-split.ids", "w") as out:
    for line in lines:
        out.write(" ".join(str(i) for i in tok.encode(line).ids) + "\n")
