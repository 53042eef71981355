/* constrain.h - constrained sampling: keep a model's output inside the
 * JSON shape {"cmd": "<string>"}.
 *
 * A byte-level state machine for that shape (whitespace where JSON allows
 * it, at most CONSTRAIN_MAX_WS bytes per gap; string escapes \" \\ \/ \b
 * \f \n \r \t \uXXXX; UTF-8 checked; no raw control bytes; the string not
 * empty) is applied to a vocabulary given as the decoded bytes of each
 * token.  constraint_mask() sets the logit of every token whose bytes
 * cannot continue the output to -INFINITY; once the object is complete,
 * only the end-of-sequence token is left.  Tokens with no bytes (control
 * tokens) are never allowed.  The set of allowed tokens depends only on
 * the machine's state, so it is computed once per state and cached: a
 * mask is then one pass over a bitset.
 *
 * Not thread-safe; one constraint per generation. */
#ifndef LMU_CONSTRAIN_H
#define LMU_CONSTRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define CONSTRAIN_MAX_WS 16          /* whitespace bytes in one gap */
#define CONSTRAIN_MAX_VOCAB (1u << 22)
#define CONSTRAIN_MAX_PIECE 4096     /* bytes of one token */

struct constraint;

/* piece[i] (piece_len[i] bytes, not NUL-terminated) is what token i
 * decodes to; they are copied.  eos_id in [0, n_vocab).  NULL with e set
 * on bad arguments. */
struct constraint *constraint_new_json_cmd(const char *const *piece, const size_t *piece_len, uint32_t n_vocab,
					   int32_t eos_id, struct lmu_err *e);
/* logits[n_vocab]: -INFINITY for every id that cannot come next. */
void constraint_mask(const struct constraint *c, float *logits);
/* Advance over token id: 0, or -1 if id cannot come next (state unchanged). */
int constraint_accept(struct constraint *c, int32_t id);
/* Has the object been closed (only end-of-sequence may follow)? */
bool constraint_complete(const struct constraint *c);
/* Closing mode: from now on only tokens that bring the object strictly
 * closer to its end are allowed (no more whitespace, the string ends as
 * soon as a pending escape or UTF-8 character allows), so that it is
 * complete within CONSTRAIN_MAX_CLOSE tokens.  For a token limit: switch
 * it on when that many tokens are left; the command is then cut short
 * where it stands, so say so. */
#define CONSTRAIN_MAX_CLOSE 12
void constraint_set_closing(struct constraint *c, bool closing);
/* Back to the start (closing mode off), for a new generation with the
 * same vocabulary. */
void constraint_reset(struct constraint *c);
void constraint_free(struct constraint *c);

#endif
