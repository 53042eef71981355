#!/usr/bin/env python3
"""tok-ref.py - reference token ids for tests/tok-encode.t, from Hugging Face.

    python3 tests/ref/tok-ref.py [MODELS_DIR]      (run from the top directory)

Writes into tests/fixtures/tok/:
  NAME.ids          one line of ids per corpus line, special tokens as text
  NAME.special.ids  the same with special tokens parsed (tok-encode --special)
  NAME.all.ids      the whole corpus file as one text (newlines included)
  random.txt / NAME.random.ids   300 random lines from an alphabet of the
                    tricky parts (fixed seed)
  invalid.txt / NAME.invalid.ids   lines with ill-formed UTF-8 (decoded
                    with errors="replace" first, as text reaching a Python
                    tokenizer has been)
  smollm2-tokenizer.json.gz, smollm2-tokenizer_config.json, pre-*.json
                    the tokenizer.json directory fixture and its variants

References:
  gemma3    transformers' GGUF loader (AutoTokenizer.from_pretrained(dir,
            gguf_file=...)), as is.
  qwen2.5-coder   transformers' GGUF loader with the NFC normalizer that
            Qwen2.5's own tokenizer.json has and the GGUF does not keep.
  smollm2   transformers' GGUF loader gives the vocabulary and merges, but
            it does not know the "smollm" pre-tokenizer and falls back to
            plain GPT-2 splitting; SmolLM2's own tokenizer.json splits every
            digit first (Digits(individual_digits) + ByteLevel), as llama.cpp's
            "smollm" does.  So the backend is given that pre-tokenizer and
            saved as a tokenizer.json, which is both the reference and the
            directory fixture.  The script prints where the plain loader
            differs.
  smollm2-llama3 / -qwen2 / -gpt2   the same vocabulary with the Llama 3,
            Qwen2 and GPT-2 pre-tokenizers (tokenizer.json variants), to test
            those splitters against the tokenizers library; smollm2-qwen2-nfc
            adds Qwen2's NFC normalizer.
"""
import gzip
import json
import os
import random
import sys

from tokenizers import Regex, Tokenizer, pre_tokenizers
from transformers import AutoTokenizer

models = sys.argv[1] if len(sys.argv) > 1 else "models"
fx = "tests/fixtures/tok"
corpus_bytes = open(f"{fx}/corpus.txt", "rb").read()
corpus = corpus_bytes.decode("utf-8")
lines = corpus.split("\n")[:-1]  # split on \n only: \r, U+2028, U+0085 stay inside lines

INVALID = [
    b"abc\xffdef",
    b"\xc0\x80 overlong NUL",
    b"\xed\xa0\x80 surrogate",
    b"cut \xe2\x82",
    b"\xe2\x82 cut then text",
    b"\xf4\x90\x80\x80 beyond U+10FFFF",
    b"\xf0\x9f\x98 three of four",
    b"\x80\x80\x80 lone continuations",
    b"ok \xc3\xa9 then \xc3",
]

LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
          r"\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
         r"\s*[\r\n]+|\s+(?!\S)|\s+")


def write_ids(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(" ".join(map(str, r)) + "\n")


def encode(tok, text, special):
    tok.encode_special_tokens = not special
    return tok.encode(text, add_special_tokens=True).ids


# random.txt: lines drawn from an alphabet of the tricky parts (contractions,
# digits, marks, odd spaces, bytes without a token, special-token and
# added-token text, U+2581 ...), fixed seed
ALPHABET = list("aAbBzZ  \t\t\r'sStTrReEvVmMlLdD0123456789.,;:!?-_()[]{}<>|/\\\"$%&*+=~^@#") + [
    "é", "e\u0301", "ñ", "ß", "ſ", "日", "本", "😀", "👍🏽", "\u200d", "\u00a0", "\u3000", "\u2028", "\u0085",
    "١", "Ⅻ", "½", "▁", "\x00", "\x1d", "\x7f", "<|im_start|>", "<|im_end|>", "<bos>", "<start_of_turn>",
    "</font>", " </", "> ", "<table>", "\n\n", "  ", "'re", "'LL", "ǅ", "𝔘", "\ufeff"]
rng = random.Random(20261123)
random_lines = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40))).replace("\n", " ")
                for _ in range(300)]
with open(f"{fx}/random.txt", "w", encoding="utf-8", newline="\n") as f:
    f.write("\n".join(random_lines) + "\n")


def fixtures(name, tok):
    write_ids(f"{fx}/{name}.ids", [encode(tok, l, False) for l in lines])
    write_ids(f"{fx}/{name}.special.ids", [encode(tok, l, True) for l in lines])
    write_ids(f"{fx}/{name}.all.ids", [encode(tok, corpus, False)])
    write_ids(f"{fx}/{name}.random.ids", [encode(tok, l, False) for l in random_lines])
    bad = [b.decode("utf-8", "replace") for b in INVALID]
    write_ids(f"{fx}/{name}.invalid.ids", [encode(tok, l, False) for l in bad])
    # decode(encode(x)) == x where the tokenizer is lossless
    lossless = sum(tok.decode(encode(tok, l, False), skip_special_tokens=False).removeprefix("<bos>") == l
                   for l in lines)
    print(f"{name}: {len(lines)} lines, HF round trip exact on {lossless}")


with open(f"{fx}/invalid.txt", "wb") as f:
    f.write(b"\n".join(INVALID) + b"\n")

# Gemma 3: transformers' GGUF loader as is
gemma = AutoTokenizer.from_pretrained(models, gguf_file="gemma-3-270m-q4_k_m.gguf").backend_tokenizer
fixtures("gemma3", gemma)

# Qwen2.5: transformers' GGUF loader gives the vocabulary, the merges and
# Qwen2's split, but not the NFC normalizer of Qwen2.5's own tokenizer.json
# (nor does llama.cpp apply one); the reference adds it back
qwen = AutoTokenizer.from_pretrained(models, gguf_file="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf").backend_tokenizer
qspec = json.loads(qwen.to_str())
assert qspec["normalizer"] is None and qspec["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] == QWEN2
qspec["normalizer"] = {"type": "NFC"}
qwen_nfc = Tokenizer.from_str(json.dumps(qspec))
fixtures("qwen2.5-coder", qwen_nfc)
qwen.encode_special_tokens = qwen_nfc.encode_special_tokens = True
diff = sum(qwen.encode(l).ids != qwen_nfc.encode(l).ids for l in lines + random_lines)
print(f"qwen2.5-coder: transformers' GGUF loader (no NFC) differs on {diff} of {len(lines) + len(random_lines)} lines")

# SmolLM2 with its own pre-tokenizer
plain = AutoTokenizer.from_pretrained(models, gguf_file="smollm2-135m-instruct-q4_1.gguf").backend_tokenizer
spec = json.loads(plain.to_str())
smollm_pre = {"type": "Sequence", "pretokenizers": [
    {"type": "Digits", "individual_digits": True},
    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}
spec["pre_tokenizer"] = smollm_pre
smollm = Tokenizer.from_str(json.dumps(spec))
fixtures("smollm2", smollm)
plain.encode_special_tokens = True
smollm.encode_special_tokens = True
diff = sum(plain.encode(l).ids != smollm.encode(l).ids for l in lines)
print(f"smollm2: transformers' GGUF loader (GPT-2 splitting) differs from Digits+ByteLevel on {diff} lines")

# the directory fixture: pre_tokenizer on line 2 and normalizer on line 3,
# so that tests can swap them
rest = {k: v for k, v in spec.items() if k not in ("pre_tokenizer", "normalizer")}
body = json.dumps(rest, ensure_ascii=False, separators=(",", ":"))
text = ("{\n" + '"pre_tokenizer":' + json.dumps(smollm_pre) + ",\n" + '"normalizer":' +
        json.dumps(spec.get("normalizer")) + ",\n" + body[1:] + "\n")
with gzip.GzipFile(f"{fx}/smollm2-tokenizer.json.gz", "wb", mtime=0) as f:
    f.write(text.encode("utf-8"))
with open(f"{fx}/smollm2-tokenizer_config.json", "w") as f:
    json.dump({"add_bos_token": False, "add_eos_token": False, "bos_token": "<|im_start|>",
               "eos_token": "<|im_end|>", "unk_token": "<|endoftext|>", "pad_token": "<|im_end|>"}, f, indent=1)
    f.write("\n")

variants = {
    "llama3": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": LLAMA3}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
    "qwen2": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": QWEN2}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
    "gpt2": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
}
for vname, pre in variants.items():
    with open(f"{fx}/pre-{vname}.json", "w") as f:
        f.write(json.dumps(pre) + "\n")
    spec["pre_tokenizer"] = pre
    fixtures(f"smollm2-{vname}", Tokenizer.from_str(json.dumps(spec)))
# Qwen2's tokenizer.json also puts the text in NFC first
spec["pre_tokenizer"] = variants["qwen2"]
spec["normalizer"] = {"type": "NFC"}
fixtures("smollm2-qwen2-nfc", Tokenizer.from_str(json.dumps(spec)))
