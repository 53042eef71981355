/* detok.h - token ids back to text, streamed: the text Hugging Face's
 * decode gives for the whole sequence, released as soon as no later token
 * can change it (tok-decode(1); doc/formats.md "Byte-level BPE" and
 * "SentencePiece BPE").
 *
 * Byte-level BPE: the tokens' bytes are read as UTF-8 with one U+FFFD per
 * maximal ill-formed subsequence; an incomplete character at the end waits
 * for the tokens that complete it.  SentencePiece with byte fallback: each
 * run of byte tokens (<0xNN>) is its UTF-8 text when the whole run is
 * valid, else one U+FFFD per byte token; a run at the end waits for the
 * token that ends it, since one more byte can spoil the whole run. */
#ifndef LMU_DETOK_H
#define LMU_DETOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vocab.h"

struct detok {
	const struct vocab *v;
	bool special;    /* keep control tokens (their text), else skip them */
	bool at_start;   /* SPM dummy prefix: the first space is dropped */
	char *b;         /* (n) bytes decoded, not yet released */
	size_t n, cap;
	size_t run;      /* SPM: the last run bytes of b are an open run of byte tokens */
	char *out;       /* what detok_take returned last */
};

void detok_init(struct detok *d, const struct vocab *v, bool special);
/* Add one token (an id of the vocabulary). */
void detok_push(struct detok *d, int32_t id);
/* A new sequence: what is pending is final, and a new dummy prefix. */
void detok_reset(struct detok *d);
/* The text that is final now (all of it when at_end), valid UTF-8; *len
 * gets its length.  Valid until the next call on d. */
const char *detok_take(struct detok *d, bool at_end, size_t *len);
void detok_free(struct detok *d);

#endif
