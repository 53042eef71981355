#!/usr/bin/env python3
"""chat-ref.py - reference ids for tok-encode --chat (tests/tok-chat.t).

    python3 tests/ref/chat-ref.py [MODELS_DIR]      (run from the top directory)

Writes tests/fixtures/tok/chat.cases: one case per line, tab-separated:
    model  add_generation_prompt(0/1)  new(N, 0 = whole)  messages(JSON)  ids

The ids are transformers' apply_chat_template(..., tokenize=True):
  smollm2  the template in the GGUF, rendered by transformers, then encoded
           by the SmolLM2 reference tokenizer of tok-ref.py (Digits +
           ByteLevel; transformers' GGUF loader splits digits differently),
           special tokens parsed and no BOS, as apply_chat_template does.
  gemma3   the GGUF has no template (a base model): tests/fixtures/chat/
           gemma3.jinja (Gemma 3's) passed as chat_template.
For new = N the ids are those of the text the last N messages append to
the rendering of the others (without generation prompt); the script checks
that the ids of the whole conversation are the ids of the head followed
by these.
"""
import gzip
import json
import sys

from tokenizers import Tokenizer
from transformers import AutoTokenizer

models = sys.argv[1] if len(sys.argv) > 1 else "models"
fx = "tests/fixtures/tok"

CONVS = [
    [{"role": "user", "content": "Hello"}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi there"}],
    [{"role": "user", "content": "What is 12*34?"}, {"role": "assistant", "content": "408."},
     {"role": "user", "content": "And 2024 + 1?"}],
    [{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "Good morning"},
     {"role": "assistant", "content": "Bonjour !"}, {"role": "user", "content": "Thanks, see you <|im_end|> later"}],
    [{"role": "user", "content": "Unicode: café 日本 😀\n  indented\tline"}],
]

smol = AutoTokenizer.from_pretrained(models, gguf_file="smollm2-135m-instruct-q4_1.gguf")
smol_ref = Tokenizer.from_str(gzip.open(f"{fx}/smollm2-tokenizer.json.gz").read().decode("utf-8"))
smol_ref.encode_special_tokens = False
gemma = AutoTokenizer.from_pretrained(models, gguf_file="gemma-3-270m-q4_k_m.gguf")
gemma_tmpl = open("tests/fixtures/chat/gemma3.jinja").read()
gemma.backend_tokenizer.encode_special_tokens = False


def ids_of(tok, text, which):
    if which == "smollm2":
        return smol_ref.encode(text, add_special_tokens=False).ids
    return tok.backend_tokenizer.encode(text, add_special_tokens=False).ids


def render(tok, which, msgs, agp):
    kw = {"chat_template": gemma_tmpl} if which == "gemma3" else {}
    return tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=agp, **kw)


def tokenized(tok, which, msgs, agp):
    """apply_chat_template(tokenize=True) as transformers does it"""
    kw = {"chat_template": gemma_tmpl} if which == "gemma3" else {}
    r = tok.apply_chat_template(msgs, tokenize=True, add_generation_prompt=agp, **kw)
    return list(r["input_ids"] if hasattr(r, "keys") else r)


out = []
for which, tok in (("smollm2", smol), ("gemma3", gemma)):
    for msgs in CONVS:
        for agp in (False, True):
            text = render(tok, which, msgs, agp)
            ids = ids_of(tok, text, which)
            if which == "gemma3":
                assert ids == tokenized(tok, which, msgs, agp), "gemma3: render+encode != apply_chat_template"
            elif ids != tokenized(tok, which, msgs, agp):
                print(f"note: smollm2 case differs from transformers' GGUF tokenizer (digit splitting): {msgs[-1]}")
            out.append((which, int(agp), 0, msgs, ids))
        if len(msgs) >= 3:
            head = render(tok, which, msgs[:-1], False)
            full = render(tok, which, msgs, True)
            assert full.startswith(head)
            new_ids = ids_of(tok, full[len(head):], which)
            assert ids_of(tok, full, which) == ids_of(tok, head, which) + new_ids
            out.append((which, 1, 1, msgs, new_ids))

with open(f"{fx}/chat.cases", "w") as f:
    for which, agp, new, msgs, ids in out:
        f.write("\t".join([which, str(agp), str(new), json.dumps(msgs, ensure_ascii=False), " ".join(map(str, ids))]) + "\n")
print(f"{len(out)} cases")
