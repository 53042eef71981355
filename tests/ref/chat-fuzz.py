#!/usr/bin/env python3
"""Differential fuzzing of the chat-template renderer against transformers.

Generates random templates from the constructs chat templates use (tags
with every whitespace-control marker, loops, conditionals, sets, filters,
tests, methods, slices), renders each with transformers' own renderer and
with ours (build/VARIANT/tests/test-chat --render), and reports every
difference.  Our renderer may refuse a template that transformers renders
(an unsupported construct: reported, not a mismatch), but must never
render different text.  Not run by make test (it needs transformers).

  python3 tests/ref/chat-fuzz.py [SEED] [TEST_BINARY]
"""
import json
import os
import random
import subprocess
import sys
import tempfile
from transformers.utils.chat_template_utils import render_jinja_template as R

BIN = sys.argv[2] if len(sys.argv) > 2 else "build/native/tests/test-chat"
TMP = tempfile.mkdtemp()
random.seed(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
EXPRS = ["messages[0].content", "messages[-1]['role']", "m.content", "m.role", "loop.index", "loop.index0",
 "loop.first", "loop.last", "loop.length", "loop.revindex", "1", "2.5", "-3", "'s'", '"d\\n"', "none", "true",
 "false", "x", "ns.v", "messages|length", "messages[1:]|length", "m.content|trim", "m.content|upper",
 "(m.content ~ '!')", "m.content.strip()", "m.content.split()", "m.content.split(' ')|join('_')",
 "m.role == 'user'", "m.role != 'system'", "m.content is string", "m.content is defined", "m.nothing is defined",
 "m.content|length > 3", "'a' in m.content", "m.role in ['user', 'assistant']", "x is none", "not loop.first",
 "[1, 2, 3][loop.index0 % 3]", "{'k': m.role}['k']", "(1, 2)", "[m.role, loop.index]", "m|tojson",
 "messages|map(attribute='role')|list", "messages|selectattr('role','equalto','user')|list|length",
 "m.content[:3]", "m.content[::-1]", "m.content[1]", "7 // 2", "7 % 3", "2 ** 5", "1 / 4", "3 - 5", "x + 1",
 "m.content.startswith('W')", "m.content.replace('o', '0')", "m['role'] | title", "m.content | list | length", "messages|map(attribute='content')|join('|')", "(m.content ~ ' ')|trim", "bos_token", "eos_token",
 "add_generation_prompt", "tools", "loop.previtem.role if loop.previtem is defined else '-'", "range(3)|list",
 "m.content|default('D')", "undefined_v|default('U')", "m.content if loop.first else m.role", "loop.cycle('a','b')",
 "{'a': 1, 'b': [1, 'x']}", "m.content.lower().endswith('?')", "m.content|wordcount", "mc(m.role)", "mc(x, b=loop.index)", "mc is defined"]
TEXTS = ["", " ", "\n", "  \n  ", "txt", "A\n", "\t-\n", " ", "\n\n"]
def expr():
    e = random.choice(EXPRS)
    r = random.random()
    if r < 0.15: e = f"{e} ~ {random.choice(EXPRS)}"
    elif r < 0.25: e = f"({e}) and ({random.choice(EXPRS)})"
    elif r < 0.3: e = f"{e} or {random.choice(EXPRS)}"
    return e
def ws(): return random.choice(["", "-", "", "+"])
def blk(depth):
    out = []
    for _ in range(random.randint(1, 4)):
        r = random.random()
        l, rr = ws(), ws()
        if rr == "+": rr = ""
        if r < 0.3: out.append(random.choice(TEXTS))
        elif r < 0.6: out.append("{{%s %s %s}}" % (random.choice(["", "-"]), expr(), random.choice(["", "-"])))
        elif r < 0.7 and depth < 3:
            out.append("{%%%s if %s %s%%}%s{%%%s else %s%%}%s{%%%s endif %s%%}" % (l, expr(), rr, blk(depth+1), ws(), ws().replace('+',''), blk(depth+1), ws(), ws().replace('+','')))
        elif r < 0.8 and depth < 2:
            out.append("{%%%s for m in messages%s %s%%}%s{%%%s endfor %s%%}" % (l, random.choice(["", " if m.role != 'system'", "[1:]"]), rr, blk(depth+1), ws(), ws().replace('+','')))
        elif r < 0.87: out.append("{%%%s set x = %s %s%%}" % (l, expr(), rr))
        elif r < 0.93: out.append("{%%%s set ns.v = %s %s%%}" % (l, expr(), rr))
        elif r < 0.96: out.append("{#%s c %s#}" % (random.choice(["", "-"]), random.choice(["", "-"])))
        elif r < 0.98:
            out.append("{%%%s raw %s%%}%s{{ x }}%s{%%%s endraw %s%%}" % (random.choice(["", "-"]), random.choice(["", "-"]),
                       random.choice(TEXTS), random.choice(TEXTS), ws(), random.choice(["", "-", "+"])))
        else:
            out.append("{%%%s filter %s %s%%}%s{%%%s endfilter %s%%}" % (l, random.choice(["upper", "trim", "length", "replace('t', 'T') | lower"]),
                       rr, blk(depth + 1) if depth < 3 else "x", ws(), ws().replace('+', '')))
    return "".join(out)
msgs = [{"role": "system", "content": " Sys prompt \n"}, {"role": "user", "content": "Hello world?"},
        {"role": "assistant", "content": "Wo\nrld"}, {"role": "user", "content": "é ü"}]
json.dump(msgs, open(os.path.join(TMP, "m.json"), "w"))
N = 300
def top():
    b = blk(1)
    if random.random() < 0.7:
        b = "{%% for m in messages %s%%}%s{%% endfor %%}" % (random.choice(["", "-"]), b)
    mac = ""
    if random.random() < 0.3:
        mac = "{%%%s macro mc(a, b='B') %s%%}%s{{ a }}{{ b }}{%% set x = a %%}%s{%%%s endmacro %s%%}" % (
            ws(), ws().replace('+', ''), random.choice(TEXTS), random.choice(TEXTS), ws(), ws().replace('+', ''))
    return "{% set ns = namespace(v=0) %}{% set x = 5 %}" + mac + b + random.choice(["", "\n", "\n\n"])
tmpls = [top() for _ in range(N)]
open(os.path.join(TMP, "t.txt"), "w").write("\x1e".join(tmpls))
out = subprocess.run([BIN, "--render", os.path.join(TMP, "t.txt"), os.path.join(TMP, "m.json")], capture_output=True, text=True)
lines = out.stdout.split("\n")
if out.returncode: print("CRASH", out.stderr[-3000:]); sys.exit(1)
bad = agree_err = ours_err = 0
for i, t in enumerate(tmpls):
    for agp in (0, 1):
        got = lines[2 * i + agp]
        try:
            want = "OK " + R(conversations=[msgs], chat_template=t, add_generation_prompt=bool(agp), bos_token="<s>", eos_token="</s>")[0][0].replace("\\", "\\\\").replace("\n", "\\n")
        except Exception as e:
            want = "ERR " + type(e).__name__ + ": " + str(e)
        if want.startswith("ERR") and got.startswith("ERR"): agree_err += 1; continue
        if got.startswith("ERR") and not want.startswith("ERR"): ours_err += 1; 
        if got != want and not (got.startswith("ERR") and not want.startswith("ERR")):
            bad += 1
            if bad <= 5: print("MISMATCH\n T:", repr(t), "\n agp", agp, "\n got ", got[:300], "\n want", want[:300])
        elif got.startswith("ERR") and ours_err <= 5: print("OURS-ONLY-ERR", got[:200], "| T:", repr(t)[:300])
print(f"templates {N}x2: mismatches {bad}, both error {agree_err}, only ours errors {ours_err}")
sys.exit(1 if bad else 0)
