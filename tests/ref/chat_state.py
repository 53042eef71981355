#!/usr/bin/env python3
"""Reference for tests/lm-chat.t: the ids that transformers'
apply_chat_template gives for a whole conversation (no generation prompt),
written with the conversation as tests/fixtures/sample/chat3.json.

The conversation is the one lm-chat holds after the test's three turns
(greedy replies), saved by its !save command:

  printf 'What is the capital of France?\\nAnd of Italy?\\nThank you!\\n!save conv.json\\n' |
    lm-chat -m models/smollm2-135m-instruct-q4_1.gguf -t 2 --temperature 0 -n 12
  python3 tests/ref/chat_state.py models/smollm2-135m-instruct-q4_1.gguf conv.json \\
    > tests/fixtures/sample/chat3.json

The tokenizer and its chat template come from the GGUF file itself
(transformers reads tokenizer.ggml.* and tokenizer.chat_template)."""
import json
import os
import sys

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
from transformers import AutoTokenizer  # noqa: E402


def main():
    model, conv = sys.argv[1], sys.argv[2]
    path = os.path.realpath(model)
    tok = AutoTokenizer.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path))
    with open(conv) as f:
        messages = json.load(f)
    ids = tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=False)
    if not isinstance(ids, list):
        ids = ids["input_ids"]
    json.dump({"model": os.path.basename(model), "messages": messages, "ids": ids}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
