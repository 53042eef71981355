/* json.h - a strict JSON scanner (RFC 8259): one value at a time, without
 * building it, every byte's file offset known for messages.  The readers
 * that must not trust libjq with hostile text use it: libjq keeps the last
 * of two equal keys, rounds integers past 2^53, and (1.6) leaks on some
 * malformed input.  The safetensors reader reads its headers with it;
 * json_valid checks text before libjq parses it. */
#ifndef LMU_JSON_H
#define LMU_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct js {
	const uint8_t *p;
	size_t n, i;
	uint64_t base;        /* file offset of p[0] */
	const char *name;     /* the file, for messages */
	const char *part;     /* "header byte", "byte" */
	struct lmu_err *e;
};

/* A decoded string: bytes and length; nul when it holds U+0000. */
struct jstr {
	char *s;
	size_t len, cap;
	bool nul;
};

#define JS_MAX_DEPTH 64

/* Fill j->e with "NAME: PART OFFSET: message" (OFFSET = base + at); false. */
bool js_fail(struct js *j, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Skip white space. */
void js_ws(struct js *j);
/* After white space, is the next byte c?  (It is not taken.) */
bool js_peek(struct js *j, char c);
/* Take c after white space, or fail naming what was expected. */
bool js_expect(struct js *j, char c, const char *what);
/* The elements of an array or object whose opening bracket is taken, one
 * call before each: nothing is read before the first (*first, then
 * cleared), a ',' before the others.  1: an element follows; 0: the
 * closing bracket close was taken instead; -1: neither, and `what` names
 * what was expected ("',' or ']' in the shape").  Used as
 *	for (bool first = true; (r = js_next(j, &first, ']', what)) > 0;)
 *		... one element ...
 *	if (r < 0) ... */
int js_next(struct js *j, bool *first, char close, const char *what);
/* js_next() for an object, then the member's key into *key, where it
 * starts into *at (unless at is NULL), and the ':' after it: the value is
 * next when it returns 1. */
int js_member(struct js *j, bool *first, struct jstr *key, size_t *at, const char *what);
/* A string into *s (reset first), or only checked when s is NULL. */
bool js_string(struct js *j, struct jstr *s);
/* A whole number without sign, fraction or exponent, at most 2^64 - 1. */
bool js_uint(struct js *j, uint64_t *v, const char *what);
/* Any value, checked and skipped; depth counts the enclosing arrays and objects. */
bool js_skip(struct js *j, int depth);
/* Only white space after the value. */
bool js_end(struct js *j);

/* p[0..n) is one JSON value with only white space around it. */
bool json_valid(const char *p, size_t n);

#endif
