/* constrain.h - constrained sampling: keep a model's output inside a
 * language given as a byte-level state machine.  schema.h gives the
 * machines lmutils uses: a subset of JSON Schema, any JSON object, and
 * nl2sh's {"cmd": "<string>"}.
 *
 * The vocabulary is given as the decoded bytes of each token.  A token is
 * allowed in a state if the machine takes all its bytes; tokens with no
 * bytes (control tokens) never are, and the end-of-sequence token is
 * allowed exactly where the output may end.  The set of allowed tokens
 * depends only on the state, so it is computed once per state and cached
 * (a mask is then one pass over a bitset).  Computing it runs the machine
 * over the tokens in sorted order, so that the bytes a token shares with
 * the one before it are not run again, and every token that shares a
 * refused prefix is skipped.
 *
 * A token budget: every state has a distance, the fewest bytes that
 * complete the output (0: it may end here).  Given the tokens still
 * allowed, the mask never lets the distance exceed what the budget can
 * pay (a token is at least a byte), and when the distance reaches the
 * budget only tokens that shorten it are left (closing mode: no more
 * whitespace, a string ends as soon as it may), so the output is complete
 * when the budget is spent.  That needs a single-byte token for each byte
 * of the shortest completions, which byte-level vocabularies have; the
 * output is then cut short where it stood, so say so (constraint_closed).
 *
 * Not thread-safe: one constraint per generation; a constraint_vocab may
 * be shared by any number of them. */
#ifndef LMU_CONSTRAIN_H
#define LMU_CONSTRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "vocab.h"

#define CONSTRAIN_MAX_VOCAB (1u << 22)
#define CONSTRAIN_MAX_PIECE 4096     /* bytes of one token */

/* A byte-level machine.  A state is a buffer of state_size bytes; only
 * its first len() bytes identify it (they are copied, compared and hashed),
 * so a machine keeps the rest of the buffer out of it. */
struct byte_machine {
	const void *ctx;
	size_t state_size;
	void (*start)(const void *ctx, void *st);
	/* b appended to the output: false if it cannot come next (st is then
	 * undefined) */
	bool (*step)(const void *ctx, void *st, unsigned char b);
	size_t (*len)(const void *ctx, const void *st);
	/* the fewest bytes that complete the output from st; 0: it may end
	 * here.  Every state the machine reaches has one: a byte that lowers
	 * it by one. */
	uint32_t (*distance)(const void *ctx, const void *st);
};

/* The vocabulary, indexed for masks: piece[i] (piece_len[i] bytes, not
 * NUL-terminated) is what token i decodes to; they are copied.  eos_id in
 * [0, n_vocab).  NULL with e set on bad arguments. */
struct constraint_vocab;
struct constraint_vocab *constraint_vocab_new(const char *const *piece, const size_t *piece_len, uint32_t n_vocab,
					      int32_t eos_id, struct lmu_err *e);
/* The same for a model's vocabulary: each token stands for the bytes it
 * decodes to, special tokens for nothing; the end of sequence is its eos
 * id (an error if it has none). */
struct constraint_vocab *constraint_vocab_of(const struct vocab *v, struct lmu_err *e);
uint32_t constraint_vocab_size(const struct constraint_vocab *cv);
void constraint_vocab_free(struct constraint_vocab *cv);

/* A generation under machine m over vocabulary cv (both must outlive it),
 * at the machine's start. */
struct constraint;
struct constraint *constraint_new(const struct constraint_vocab *cv, const struct byte_machine *m);
/* logits[n_vocab]: -INFINITY for every id that cannot come next, given
 * that at most left tokens, this one included, may still be emitted and
 * the output must then be complete (left < 0: no limit). */
void constraint_mask(struct constraint *c, float *logits, long long left);
/* The same into out[n] from logits[n], which are left as they are; n is
 * at least the vocabulary's size, and the ids from there on (a padded
 * output layer: no text) are -INFINITY too.  Returns out. */
float *constraint_mask_copy(struct constraint *c, const float *logits, uint32_t n, long long left, float *out);
/* Did the last mask have to close the output early (closing mode, with
 * more to write than the budget allows)? */
bool constraint_closed(const struct constraint *c);
/* Advance over token id: 0, or -1 if the machine cannot take it (state
 * unchanged).  The end-of-sequence id is taken where the output may end,
 * and changes nothing. */
int constraint_accept(struct constraint *c, int32_t id);
/* Is the output complete, with only end-of-sequence left to follow? */
bool constraint_complete(const struct constraint *c);
/* The fewest bytes that complete the output from here (0: it may end). */
uint32_t constraint_distance(const struct constraint *c);
/* Back to the start, for a new generation. */
void constraint_reset(struct constraint *c);
void constraint_free(struct constraint *c);

#endif
