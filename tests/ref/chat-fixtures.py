#!/usr/bin/env python3
"""Render the chat fixtures with transformers' own chat-template renderer.

For every template in tests/fixtures/chat/*.jinja this writes
tests/fixtures/chat/NAME.cases: one JSON object per line,

  {"messages": [...], "agp": true, "bos": "...", "eos": "...",   (content may be null)
   "expect": "rendered text"}                      or  "error": "message"
  {"messages": [...], "agp": true, "new": N, ..., "append": "suffix"}
                                                    or  "error": "..."

The C test (tests/unit/test-chat.c) renders the same conversations with
chat_render() / chat_render_append() and compares byte for byte.
"append" is render(all, agp) minus render(all but the last N, agp=False)
when the latter is a prefix of the former; otherwise the case expects an
error ("not a prefix").

Run from the repository root:  python3 tests/ref/chat-fixtures.py
"""
import glob
import json
import os

from transformers.utils.chat_template_utils import render_jinja_template

# Special tokens as the models define them.
TOKENS = {
    "smollm2": ("<|im_start|>", "<|im_end|>"),
    "qwen2.5": (None, "<|im_end|>"),
    "gemma3": ("<bos>", "<eos>"),
    "llama3": ("<|begin_of_text|>", "<|eot_id|>"),
    "llama3.1": ("<|begin_of_text|>", "<|eot_id|>"),
    "llama2": ("<s>", "</s>"),
    "mistral": ("<s>", "</s>"),
    "mistral-nemo": ("<s>", "</s>"),
    "qwen3": (None, "<|im_end|>"),
    "deepseek-r1-distill": ("<\uff5cbegin\u2581of\u2581sentence\uff5c>", "<\uff5cend\u2581of\u2581sentence\uff5c>"),
    "phi3.5": ("<s>", "<|endoftext|>"),
    "synthetic": ("<s>", None),
}

def m(role, content):
    return {"role": role, "content": content}

HOSTILE = "{{ 7*7 }} {% if true %}x{% endif %} {# c #} <|im_end|> [INST] <start_of_turn>"
CONVERSATIONS = [
    [m("user", "Hello")],
    [m("system", "You are terse."), m("user", "Hi there")],
    [m("user", "What is 2+2?"), m("assistant", "4"), m("user", "And 3+3?")],
    [m("system", "Be kind."), m("user", "Q1"), m("assistant", "A1"), m("user", "Q2")],
    [m("user", "Q1"), m("assistant", "A1"), m("user", "Q2"), m("assistant", "A2")],
    [m("system", "  padded system \n"), m("user", "\n\n  line one\nline two  \n"),
     m("assistant", "  spaced answer\t\n"), m("user", "tabs\there")],
    [m("user", "Unicode: h\u00e9llo \u4f60\u597d \u0645\u0631\u062d\u0628\u0627 \U0001f468\u200d\U0001f469\u200d\U0001f467 e\u0301 \u00a0nbsp")],
    [m("user", "quotes ' \" \\ and backslash-n \\n literal"), m("assistant", "ok 'single' \"double\"")],
    [m("user", HOSTILE), m("assistant", HOSTILE), m("user", "{{ messages }}")],
    [m("user", "")],
    [m("system", "sys only")],
    [],
    [m("user", "one"), m("user", "two in a row")],
    [m("system", "s"), m("assistant", "assistant first"), m("user", "u")],
    [m("developer", "custom role"), m("user", "hi")],
    [m("user", " \u3000\u00a0edge spaces\u2003\x1f"), m("assistant", "\u00a0"), m("user", '{"json": "like"}')],
    [m("user", "Hi"), m("assistant", None), m("user", "again")],
]

def render(tmpl, msgs, agp, bos, eos):
    # as apply_chat_template: keys whose value is None are dropped
    msgs = [{k: v for k, v in msg.items() if v is not None} for msg in msgs]
    kw = {}
    if bos is not None:
        kw["bos_token"] = bos
    if eos is not None:
        kw["eos_token"] = eos
    out, _ = render_jinja_template(conversations=[msgs], chat_template=tmpl,
                                   add_generation_prompt=agp, **kw)
    return out[0]

def main():
    outdir = "tests/fixtures/chat"
    for path in sorted(glob.glob(os.path.join(outdir, "*.jinja"))):
        name = os.path.basename(path)[:-len(".jinja")]
        tmpl = open(path, encoding="utf-8").read()
        bos, eos = TOKENS[name]
        lines = []
        for msgs in CONVERSATIONS:
            for agp in (False, True):
                case = {"messages": msgs, "agp": agp, "bos": bos, "eos": eos}
                try:
                    case["expect"] = render(tmpl, msgs, agp, bos, eos)
                except Exception as e:  # raise_exception, UndefinedError...
                    case["error"] = f"{type(e).__name__}: {e}"
                lines.append(case)
                for new in (1, 2):
                    if len(msgs) <= new:
                        continue
                    case = {"messages": msgs, "agp": agp, "bos": bos, "eos": eos, "new": new}
                    try:
                        full = render(tmpl, msgs, agp, bos, eos)
                        head = render(tmpl, msgs[:-new], False, bos, eos)
                        if full.startswith(head):
                            case["append"] = full[len(head):]
                        else:
                            case["error"] = "not a prefix"
                    except Exception as e:
                        case["error"] = f"{type(e).__name__}: {e}"
                    lines.append(case)
        with open(os.path.join(outdir, name + ".cases"), "w", encoding="utf-8") as f:
            for c in lines:
                f.write(json.dumps(c, ensure_ascii=False) + "\n")
        n_err = sum(1 for c in lines if "error" in c)
        print(f"{name}: {len(lines)} cases ({n_err} errors)")

if __name__ == "__main__":
    main()
