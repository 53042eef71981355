#!/usr/bin/env python3
"""Reference for tests/lm-chat.t: a three-turn greedy chat run by
transformers, and the ids that apply_chat_template gives for the whole
conversation (no generation prompt), written as
tests/fixtures/sample/chat3.json:

  python3 tests/ref/chat_state.py models/smollm2-135m-instruct-q4_1.gguf \\
    > tests/fixtures/sample/chat3.json

Each reply is greedy (do_sample=False), at most MAX_NEW tokens, cut at the
end-of-turn token and decoded without special tokens: what lm-chat
--temperature 0 -n MAX_NEW does.  The tokenizer, its chat template and the
weights come from the GGUF file itself."""
import json
import os
import sys

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

# Short messages and replies: every greedy choice here is one where
# lm-step (with its quantized activations) and transformers (float32) agree
# on SmolLM2 Q4_1, so the test can compare whole conversations; other
# prompts tried had near-ties (best-vs-second logit gaps under 0.2) that
# flip.
USER = ["Hi", "How are you?", "Goodbye"]
MAX_NEW = 8


def ids_of(x):
    if torch.is_tensor(x):
        return x
    return x["input_ids"]


def main():
    path = os.path.realpath(sys.argv[1])
    d, f = os.path.dirname(path), os.path.basename(path)
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32)
    messages = []
    for u in USER:
        messages.append({"role": "user", "content": u})
        prompt = ids_of(tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt"))
        out = model.generate(prompt, max_new_tokens=MAX_NEW, do_sample=False)[0][prompt.shape[1]:].tolist()
        if tok.eos_token_id in out:
            out = out[:out.index(tok.eos_token_id)]
        messages.append({"role": "assistant", "content": tok.decode(out, skip_special_tokens=True)})
    ids = tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=False)
    if not isinstance(ids, list):
        ids = ids["input_ids"]
    json.dump({"model": f, "max_new": MAX_NEW, "messages": messages, "ids": ids}, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
