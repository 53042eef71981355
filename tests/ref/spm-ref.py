#!/usr/bin/env python3
"""spm-ref.py - reference ids for a Llama-2-style SentencePiece vocabulary.

    python3 tests/ref/spm-ref.py [MODELS_DIR]      (run from the top directory)

No Llama 2 model is among the test models, so this makes a small one from
Gemma 3's vocabulary: <unk> <s> </s>, the 256 byte tokens, single
characters (below U+0600 and those of the corpus) and the 5000
best-scored longer tokens, with their scores, as a GGUF of architecture "llama"
(tokenizer.ggml.model "llama", add_space_prefix and add_bos_token true:
the dummy prefix and BOS of Llama 2).  transformers loads that GGUF
(LlamaTokenizer: Metaspace with prepend_scheme "first", merges rebuilt
from the scores) and gives the reference ids.  Writes into
tests/fixtures/tok/:
  spm-vocab.jsonl      one token per line: [text, score, type]; the unit
                       test writes the GGUF from it with common/gguf_write
  llama-spm.ids, llama-spm.random.ids   ids of corpus.txt / random.txt lines
  llama-spm-tokenizer.json.gz, llama-spm-tokenizer_config.json
                       the same tokenizer saved by Hugging Face (tokenizer.json
                       directory test: merges list, Metaspace)
"""
import gzip
import json
import os
import sys
import tempfile

import gguf
from transformers import AutoTokenizer

models = sys.argv[1] if len(sys.argv) > 1 else "models"
fx = "tests/fixtures/tok"
N_NORMAL = 5000

r = gguf.GGUFReader(os.path.join(models, "gemma-3-270m-q4_k_m.gguf"))
f = r.fields
tokens = [bytes(f["tokenizer.ggml.tokens"].parts[i]).decode("utf-8") for i in f["tokenizer.ggml.tokens"].data]
scores = [float(f["tokenizer.ggml.scores"].parts[i][0]) for i in f["tokenizer.ggml.scores"].data]
types = [int(f["tokenizer.ggml.token_type"].parts[i][0]) for i in f["tokenizer.ggml.token_type"].data]

vocab = [("<unk>", 0.0, 2), ("<s>", 0.0, 3), ("</s>", 0.0, 3)]
vocab += [(tokens[i], 0.0, 6) for i in range(len(tokens)) if types[i] == 6]
# the single characters below U+0600 and those of the corpus (the merges
# start from them), then the best-scored longer tokens
corpus_chars = set(open(f"{fx}/corpus.txt", encoding="utf-8", newline="").read())
single = [i for i in range(len(tokens)) if types[i] == 1 and len(tokens[i]) == 1 and
          (ord(tokens[i]) < 0x600 or tokens[i] in corpus_chars or tokens[i] == "\u2581")]
longer = sorted((i for i in range(len(tokens)) if types[i] == 1 and len(tokens[i]) > 1), key=lambda i: -scores[i])
vocab += [(tokens[i], scores[i], 1) for i in sorted(single + longer[:N_NORMAL])]

with open(f"{fx}/spm-vocab.jsonl", "w", encoding="utf-8") as out:
    for t in vocab:
        out.write(json.dumps(list(t), ensure_ascii=False) + "\n")

tmp = tempfile.mkdtemp()
w = gguf.GGUFWriter(os.path.join(tmp, "spm.gguf"), "llama")
w.add_context_length(2048)
w.add_embedding_length(64)
w.add_block_count(1)
w.add_feed_forward_length(128)
w.add_head_count(2)
w.add_layer_norm_rms_eps(1e-5)
w.add_tokenizer_model("llama")
w.add_tokenizer_pre("default")
w.add_token_list([t for t, _, _ in vocab])
w.add_token_scores([s for _, s, _ in vocab])
w.add_token_types([ty for _, _, ty in vocab])
w.add_bos_token_id(1)
w.add_eos_token_id(2)
w.add_unk_token_id(0)
w.add_add_bos_token(True)
w.add_add_space_prefix(True)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()

tok = AutoTokenizer.from_pretrained(tmp, gguf_file="spm.gguf")
back = tok.backend_tokenizer
back.encode_special_tokens = True
print(back.normalizer, back.pre_tokenizer)

corpus = open(f"{fx}/corpus.txt", encoding="utf-8", newline="").read().split("\n")[:-1]
random_lines = open(f"{fx}/random.txt", encoding="utf-8", newline="").read().split("\n")[:-1]
for name, lines in (("llama-spm", corpus), ("llama-spm.random", random_lines)):
    with open(f"{fx}/{name}.ids", "w") as out:
        for l in lines:
            out.write(" ".join(map(str, back.encode(l, add_special_tokens=True).ids)) + "\n")

with gzip.GzipFile(f"{fx}/llama-spm-tokenizer.json.gz", "wb", mtime=0) as out:
    out.write(back.to_str().encode("utf-8"))
with open(f"{fx}/llama-spm-tokenizer_config.json", "w") as out:
    json.dump({"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
               "unk_token": "<unk>"}, out, indent=1)
    out.write("\n")
print(len(vocab), "tokens")
