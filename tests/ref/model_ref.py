#!/usr/bin/env python3
"""Reference fixtures for lm-step on the real models of `make model` and
`make model-large`.

transformers loads the same GGUF file dequantized to float32 and gives, for
the model KEY (see MODELS):
  tests/fixtures/fwd/KEY-greedy.txt  20 prompts (token ids), the greedy
      32-token continuation of each, and for every position of prompt +
      continuation the reference's best id and its margin over the second;
  tests/fixtures/fwd/KEY-ppl.txt     the ids of a text of about 2 KB and the
      reference perplexity over it.
Lines:  p K ids...  prompt K            g K ids...  its greedy continuation
        t K ids...  best id per position  m K x...  top-1 minus top-2 logit
        ids ...     (ppl file) the text   ppl X nll Y positions N
For the models marked long, the last prompt is a text of more than 700
tokens (beyond Gemma 3's 512-position window).

Usage: python3 tests/ref/model_ref.py KEY [models/ [OUTDIR]]   (minutes per model;
       OUTDIR defaults to tests/fixtures/fwd)
"""
import os
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

# key: GGUF file, long last prompt
MODELS = {
    "smollm2": ("smollm2-135m-instruct-q4_1.gguf", False),
    "qwen2.5-coder-0.5b": ("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", True),
    "qwen2.5-coder-1.5b": ("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", True),
    "gemma3-270m": ("gemma-3-270m-q4_k_m.gguf", True),
}
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


LONG = TEXT + """
Consider how such a toolkit is tested. A tokenizer is checked against the
reference library on a corpus of awkward text: accents, emoji, runs of
spaces, tabs, numbers of every length, code in several languages and words
from scripts that are not Latin. A model runner is checked against the
reference implementation on random models small enough to write out by
hand, and then on real weights, position by position, comparing the
scores of every token in the vocabulary. A sampler is checked by its
statistics: draw many times from a known distribution and see that the
counts agree with it. Each of these tests is cheap to run and fails loudly
when a change breaks something, which is what lets the programs change
quickly without fear.

Long inputs deserve their own tests. Some models do not look at the whole
past at every layer: a local layer sees only the most recent few hundred
positions, and only the global layers see everything. An implementation
that forgets the window gives the same answers as the reference for short
prompts and quietly different ones for long prompts, which is the worst
kind of bug, because nothing crashes and the text still reads well. The
only way to catch it is to feed a prompt longer than the window and
compare the scores at the far end, where the difference shows.

Memory matters too. A cache that keeps the keys and values of every past
position grows with the length of the conversation, layer by layer. For a
local layer most of that memory is wasted, since the layer will never look
that far back again; a ring of the window's size is enough. Saving such a
cache to a file and loading it again must give exactly the scores that an
uninterrupted run gives, or a chat that is resumed tomorrow will not be the
chat that was paused today. Small programs that keep these promises, and
tests that hold them to it, are the whole point of the exercise.
"""


def main():
    key = sys.argv[1] if len(sys.argv) > 1 else "smollm2"
    models = sys.argv[2] if len(sys.argv) > 2 else "models"
    gguf, long_prompt = MODELS[key]
    fix = sys.argv[3] if len(sys.argv) > 3 else \
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "fwd")
    # REF_THREADS=1 on a busy machine: threads that wait for each other at
    # every barrier lose more than the second one gains
    torch.set_num_threads(int(os.environ.get("REF_THREADS", "2")))
    tok = AutoTokenizer.from_pretrained(models, gguf_file=gguf)
    model = AutoModelForCausalLM.from_pretrained(models, gguf_file=gguf, dtype=torch.float32).eval()

    # the Gemma 3 GGUF has no template: Google's (tests/fixtures/chat/gemma3.jinja)
    tmpl = None
    if tok.chat_template is None:
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "chat",
                               "gemma3.jinja")) as f:
            tmpl = f.read()
    prompts = [tok.apply_chat_template([{"role": "user", "content": c}], add_generation_prompt=True,
                                       chat_template=tmpl) for c in CHAT]
    prompts = [p if isinstance(p, list) else p["input_ids"] for p in prompts]
    raw = RAW[:-1] + [LONG] if long_prompt else RAW
    prompts += [tok(r, add_special_tokens=False)["input_ids"] for r in raw]

    with open(os.path.join(fix, f"{key}-greedy.txt"), "w") as out:
        out.write(f"# {gguf} greedy references: tests/ref/model_ref.py {key}, "
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
            print(k, len(ids), repr(tok.decode(new)), file=sys.stderr)

    ids = tok(TEXT, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()
    nll = torch.nn.functional.cross_entropy(logits[:-1], torch.tensor(ids[1:]), reduction="mean").item()
    with open(os.path.join(fix, f"{key}-ppl.txt"), "w") as out:
        out.write(f"# {gguf} perplexity reference: tests/ref/model_ref.py {key}, "
                  f"{len(TEXT)} bytes of text\n")
        out.write("ids " + " ".join(map(str, ids)) + "\n")
        out.write(f"ppl {torch.exp(torch.tensor(nll)).item():.6f} nll {nll:.6f} positions {len(ids) - 1}\n")
    print("ppl", torch.exp(torch.tensor(nll)).item(), len(ids), file=sys.stderr)


if __name__ == "__main__":
    main()
