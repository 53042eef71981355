/* tokenizer.h - text to token ids for the vocabularies of common/vocab.h:
 * byte-level BPE (GPT-2 family) and SentencePiece-style BPE (Llama 2,
 * Gemma), with added/special tokens matched first.  doc/formats.md
 * "Byte-level BPE", "SentencePiece BPE". */
#ifndef LMU_TOKENIZER_H
#define LMU_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "vocab.h"

struct tokenizer;

struct ids {
	int32_t *v;
	size_t n, cap;
};

static inline void ids_push(struct ids *a, int32_t id)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? 2 * a->cap : 256;
		a->v = xreallocarray(a->v, a->cap, sizeof *a->v);
	}
	a->v[a->n++] = id;
}

/* Open the tokenizer of MODEL (what -m names: a GGUF file, a directory
 * with tokenizer.json or a .gguf); dies with a message on failure. */
struct tokenizer *tokenizer_open(const char *model);
/* The same over a vocabulary the caller loaded (it stays the caller's);
 * false with a message if its pre-tokenizer is not implemented. */
struct tokenizer *tokenizer_new(const struct vocab *v, struct lmu_err *e);
void tokenizer_free(struct tokenizer *t);
const struct vocab *tokenizer_vocab(const struct tokenizer *t);

/* Append the ids of text[0..len) to out.  The text must be valid UTF-8
 * (see utf8_repair).  special: match control tokens written in the text
 * (else they are plain text); user-defined added tokens always match.
 * BOS/EOS are not added here: see vocab add_bos/add_eos. */
void tokenizer_encode(struct tokenizer *t, const char *text, size_t len, bool special, struct ids *out);

#endif
