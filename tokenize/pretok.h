/* pretok.h - pre-tokenizers: split text into the pieces that byte-level
 * BPE merges within (doc/formats.md "Pre-tokenizers").  Hand-written matchers for the
 * regexes, which need look-ahead that POSIX regex lacks. */
#ifndef LMU_PRETOK_H
#define LMU_PRETOK_H

#include <stddef.h>
#include <stdint.h>

enum pretok {
	PRETOK_NONE,    /* SentencePiece: no split */
	PRETOK_GPT2,    /* [P-GPT2] */
	PRETOK_SMOLLM,  /* each \p{N} alone ([P-DIGIT]), then [P-GPT2] */
	PRETOK_LLAMA3,  /* [P-LLAMA3] */
	PRETOK_QWEN2,   /* [P-QWEN2] */
};

/* The pre-tokenizer for a tokenizer.ggml.pre value; -1 if unknown. */
int pretok_from_name(const char *pre);

/* A growable list of piece end offsets. */
struct pieces {
	uint32_t *end;
	size_t n, cap;
	/* scratch: code points and their byte offsets and classes */
	uint32_t *cp, *off;
	uint8_t *cls;
	size_t scap;
};

/* Split s[0..n) (valid UTF-8) into pieces; p->end[i] is the byte offset
 * where piece i ends (pieces are contiguous and cover s). */
void pretok_split(enum pretok kind, const char *s, size_t n, struct pieces *p);
void pieces_free(struct pieces *p);

#endif
