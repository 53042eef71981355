/* jsonobj.h - constrained sampling for "any JSON object" (OpenAI's
 * response_format {"type": "json_object"}): the output is one JSON object
 * (RFC 8259, as strict as common/json.c: UTF-8 checked, surrogate escapes
 * in pairs, no control bytes in strings), then an end-of-generation id.
 *
 * A byte-level pushdown machine -- the nesting of objects and arrays is a
 * stack of at most JSONOBJ_MAX_DEPTH levels -- is run over the bytes each
 * token decodes to.  jsonobj_mask() sets the logit of every token that
 * cannot continue the output to -INFINITY; tokens with no bytes (control
 * tokens) are never allowed, end-of-generation ids only once the object
 * is closed, and then nothing else.  Limits that keep a model from
 * running on inside the grammar: at most JSONOBJ_MAX_WS bytes of white
 * space in one gap, JSONOBJ_MAX_DIGITS characters in one number.
 *
 * The allowed set depends only on the machine's state (with its stack),
 * so the sets of the last JSONOBJ_CACHE states are kept: inside a string
 * the state repeats, and a mask is then one pass over a bitset.
 *
 * Not thread-safe; one per generation. */
#ifndef LMU_JSONOBJ_H
#define LMU_JSONOBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSONOBJ_MAX_DEPTH 32
#define JSONOBJ_MAX_WS 64
#define JSONOBJ_MAX_DIGITS 40
#define JSONOBJ_CACHE 64

struct jsonobj;

/* A vocabulary of n tokens: piece[i] (len[i] bytes; 0 for control tokens)
 * is what token i decodes to, end[i] whether it ends a generation.  The
 * arrays are not copied: they must outlive the machine. */
struct jsonobj *jsonobj_new(uint32_t n, const char *const *piece, const uint32_t *len, const bool *end);
void jsonobj_free(struct jsonobj *c);

/* logits[n]: -INFINITY for every id that cannot come next. */
void jsonobj_mask(struct jsonobj *c, float *logits);
/* Advance over token id: 0, or -1 if it cannot come next (state unchanged). */
int jsonobj_accept(struct jsonobj *c, int32_t id);
/* Is the object closed (only an end-of-generation id may follow)? */
bool jsonobj_complete(const struct jsonobj *c);

#endif
