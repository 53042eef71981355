/* json.h - JSON in and out for lm-serve's routes.
 *
 * Out: a growing buffer (struct jw) that the routes write their answers
 * and stream events into; strings are escaped, and bytes that are not
 * valid UTF-8 (a token's piece can be half a character) become U+FFFD, so
 * that what goes out is always valid JSON.
 *
 * In: request bodies are read with jreq.h. */
#ifndef LMU_SERVE_JSON_H
#define LMU_SERVE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jreq.h"

/* ---- writing ---- */

struct jw {
	char *b;
	size_t n, cap;
};

void jw_reset(struct jw *w);
void jw_free(struct jw *w);
void jw_mem(struct jw *w, const void *p, size_t n);
void jw_raw(struct jw *w, const char *s);
void jw_printf(struct jw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string (with its quotes) of s[0..n). */
void jw_str(struct jw *w, const char *s, size_t n);
static inline void jw_cstr(struct jw *w, const char *s)
{
	jw_str(w, s, s ? __builtin_strlen(s) : 0);
}
/* "key": */
void jw_key(struct jw *w, const char *key);
/* A number as JSON writes it: integers exactly, others with enough
 * digits to read back the same double; NaN and infinities as null. */
void jw_num(struct jw *w, double x);
/* The bytes of s[0..n) as a JSON array of integers (OpenAI's "bytes"). */
void jw_bytes(struct jw *w, const char *s, size_t n);

#endif
