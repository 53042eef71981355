#!/usr/bin/env python3
"""Reference fixtures for lm-step on SmolLM2-135M-Instruct Q4_1.

transformers loads the same GGUF file dequantized to float32 and gives:
  tests/fixtures/fwd/smollm2-greedy.txt  20 prompts (token ids), the greedy
      32-token continuation of each, and for every position of prompt +
      continuation the reference's best id and its margin over the second;
  tests/fixtures/fwd/smollm2-ppl.txt     the ids of a text of a few KB and
      the reference perplexity over it.
Lines:  p K ids...  prompt K            g K ids...  its greedy continuation
        t K ids...  best id per position  m K x...  top-1 minus top-2 logit
        ids ...     (ppl file) the text   ppl X nll Y positions N

Usage: python3 tests/ref/smollm2_ref.py [models/]   (about a minute)
"""
import os
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

GGUF = "smollm2-135m-instruct-q4_1.gguf"
N_NEW = 32

CHAT = [
    "Write a haiku about pipes.",
    "What is the capital of France?",
    "Explain recursion to a five-year-old.",
    "List three prime numbers greater than 100.",
    "Translate 'good morning' into Spanish and German.",
    "How do I list all files in a directory with ls, including hidden ones?",
    "Give me a shell command that counts the lines in every .c file.",
    "What is 17 times 23?",
    "Summarize the plot of Romeo and Juliet in two sentences.",
    "Why is the sky blue?",
]
RAW = [
    "The quick brown fox",
    "Once upon a time, in a small village by the sea,",
    "def fibonacci(n):\n    ",
    "#include <stdio.h>\n\nint main(void)\n{\n",
    "1, 2, 3, 5, 8, 13,",
    "Le chat est assis sur",
    "The three laws of thermodynamics are",
    "<html>\n<head>\n<title>",
    "In 1969, Apollo 11",
    "SELECT name, count(*) FROM users",
]

TEXT = """\
A pipeline is a sequence of processes chained together by their standard
streams, so that the output of each process feeds directly as input to the
next one. The concept was invented by Douglas McIlroy for the Unix operating
system, whose shells provide a syntax for it with the vertical bar. Each
program in a pipeline does one small job and does it well; the power of the
system comes from the way the pieces combine. A program that sorts lines does
not need to know where they came from, and a program that counts words does
not need to know who will read the count.

The idea shaped a whole style of software. Tools read text, write text, and
say nothing when all goes well. Errors go to a separate stream so that they
do not pollute the data. Exit statuses tell the shell whether a step failed.
Because every stage runs at once, a pipeline starts producing output before
its input has ended, and memory use stays small even for very large files.

Language models can be run the same way. One program turns text into token
numbers, another turns token numbers into scores for the next token, a third
picks a token from the scores, and a fourth turns tokens back into text. The
loop closes through a named pipe: the chosen token goes back to the model as
its next input. Each stage can be tested alone against a reference, replaced
by a better one, or inspected with ordinary tools such as head, grep and awk.
When something goes wrong, the stream between two stages shows exactly where.

Careful programs check every number they read, reject what they do not
understand with a clear message, and never crash on hostile input. They flush
their output as soon as a unit of work is done, so that the next stage can act
on it at once, and they treat a closed pipe as a normal end rather than an
error. These habits are old, but they are what make small tools dependable
enough to build larger systems from. The same discipline that made a word
counter trustworthy in the nineteen seventies makes a token sampler
trustworthy today: a documented format, a strict reader, and tests that
compare each piece with an independent implementation.
"""


def main():
    models = sys.argv[1] if len(sys.argv) > 1 else "models"
    fix = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "fwd")
    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(models, gguf_file=GGUF)
    model = AutoModelForCausalLM.from_pretrained(models, gguf_file=GGUF, dtype=torch.float32).eval()

    prompts = [tok.apply_chat_template([{"role": "user", "content": c}], add_generation_prompt=True)
               for c in CHAT]
    prompts = [p if isinstance(p, list) else p["input_ids"] for p in prompts]
    prompts += [tok(r, add_special_tokens=False)["input_ids"] for r in RAW]

    with open(os.path.join(fix, "smollm2-greedy.txt"), "w") as out:
        out.write(f"# SmolLM2-135M-Instruct Q4_1 greedy references: tests/ref/smollm2_ref.py, "
                  f"transformers {__import__('transformers').__version__}, float32\n")
        for k, ids in enumerate(prompts):
            with torch.no_grad():
                o = model(torch.tensor([ids]), use_cache=True)
                past, logits = o.past_key_values, o.logits[0, -1]
                new = []
                for _ in range(N_NEW):
                    nxt = int(torch.argmax(logits))
                    new.append(nxt)
                    o = model(torch.tensor([[nxt]]), past_key_values=past, use_cache=True)
                    past, logits = o.past_key_values, o.logits[0, -1]
                full = model(torch.tensor([ids + new])).logits[0]
            top = torch.topk(full, 2, dim=-1)
            out.write(f"p {k} " + " ".join(map(str, ids)) + "\n")
            out.write(f"g {k} " + " ".join(map(str, new)) + "\n")
            out.write(f"t {k} " + " ".join(str(int(i)) for i in top.indices[:, 0]) + "\n")
            out.write(f"m {k} " + " ".join(f"{float(a - b):.4f}" for a, b in top.values) + "\n")
            print(k, repr(tok.decode(new)), file=sys.stderr)

    ids = tok(TEXT, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()
    nll = torch.nn.functional.cross_entropy(logits[:-1], torch.tensor(ids[1:]), reduction="mean").item()
    with open(os.path.join(fix, "smollm2-ppl.txt"), "w") as out:
        out.write(f"# SmolLM2-135M-Instruct Q4_1 perplexity reference: tests/ref/smollm2_ref.py, "
                  f"{len(TEXT)} bytes of text\n")
        out.write("ids " + " ".join(map(str, ids)) + "\n")
        out.write(f"ppl {torch.exp(torch.tensor(nll)).item():.6f} nll {nll:.6f} positions {len(ids) - 1}\n")
    print("ppl", torch.exp(torch.tensor(nll)).item(), len(ids), file=sys.stderr)


if __name__ == "__main__":
    main()
