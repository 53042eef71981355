#!/usr/bin/env python3
"""Check the hand-written expectations of test_semantics() in
tests/unit/test-chat.c against transformers' renderer, so that the C test
asserts Jinja's behaviour and not our idea of it.  Each entry is rendered
with messages = [{"role": "user", "content": " hi "}], the generation
prompt on, bos "<s>", eos "</s>".  Not run by make test.

  python3 tests/ref/chat-semantics.py
"""
import ast
import re
import sys

from transformers.utils.chat_template_utils import render_jinja_template

def c_string(lits):
    # adjacent C string literals; their escapes are Python's for these tests
    return "".join(ast.literal_eval(x) for x in re.findall(r'"(?:[^"\\]|\\.)*"', lits))

src = open('tests/unit/test-chat.c').read()
blk = src[src.index('} t[] = {', src.index('test_semantics')):]
blk = blk[:blk.index('\n\t};')]

pairs = re.findall(r'\{((?:"(?:[^"\\]|\\.)*"\s*)+),\s*((?:"(?:[^"\\]|\\.)*"\s*)+)\}', blk)
bad = 0
for i,(a,b) in enumerate(pairs):
    t, w = c_string(a), c_string(b)
    try:
        out = render_jinja_template(conversations=[[{"role":"user","content":" hi "}]],chat_template=t,add_generation_prompt=True,bos_token="<s>",eos_token="</s>")[0][0]
    except Exception as e:
        out = 'ERR ' + str(e)
    if out != w:
        print(i, repr(out), 'want', repr(w))
        bad += 1
print(len(pairs), 'checked', bad, 'differ')
sys.exit(1 if bad else 0)
