#!/usr/bin/env python3
"""Render every *.jinja template of a directory with transformers and with
our renderer, over the conversations of chat-fixtures.py, and print one
line of counts per template: match, both fail, only ours fails (a
construct we do not support), only transformers fails, MISMATCH (different
text: a bug).  Not run by make test (it needs transformers).

  python3 tests/ref/chat-sweep.py DIR [TEST_BINARY]

DIR can be, for example, the models/templates directory of a llama.cpp
checkout, which holds copies of many models' Hub templates.
"""
import glob
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("chat_fixtures", os.path.join(here, "chat-fixtures.py"))
fixtures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fixtures)

def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    tbin = sys.argv[2] if len(sys.argv) > 2 else "build/native/tests/test-chat"
    tmp = tempfile.mkdtemp()
    tpath, mpath = os.path.join(tmp, "t.txt"), os.path.join(tmp, "m.json")
    total = {}
    for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.jinja"))):
        tmpl = open(path, encoding="utf-8").read()
        open(tpath, "w", encoding="utf-8").write(tmpl)
        st = dict.fromkeys(["match", "both-fail", "ours-fails", "theirs-fails", "MISMATCH"], 0)
        example = ""
        for msgs in fixtures.CONVERSATIONS:
            json.dump(msgs, open(mpath, "w"))
            out = subprocess.run([tbin, "--render", tpath, mpath], capture_output=True, text=True)
            lines = out.stdout.split("\n")
            for agp in (0, 1):
                got = lines[agp] if agp < len(lines) and lines[agp] else "CRASH " + out.stderr[-200:]
                try:
                    text = fixtures.render(tmpl, msgs, bool(agp), "<s>", "</s>")
                    want = "OK " + text.replace("\\", "\\\\").replace("\n", "\\n")
                except Exception as e:
                    want = "ERR " + str(e)
                if got.startswith("ERR") and want.startswith("ERR"):
                    st["both-fail"] += 1
                elif got.startswith("ERR") or got.startswith("CRASH"):
                    st["ours-fails"] += 1
                    example = example or got[:120]
                elif want.startswith("ERR"):
                    st["theirs-fails"] += 1
                    example = example or "transformers: " + want[:120]
                elif got == want:
                    st["match"] += 1
                else:
                    st["MISMATCH"] += 1
                    example = "MISMATCH: got " + got[:80] + " want " + want[:80]
        for k, v in st.items():
            total[k] = total.get(k, 0) + v
        print(f"{os.path.basename(path)[:48]:50} " + " ".join(f"{k}={v}" for k, v in st.items()), example)
    print("total " + " ".join(f"{k}={v}" for k, v in total.items()))
    sys.exit(1 if total.get("MISMATCH") else 0)

if __name__ == "__main__":
    main()
