/* json.h - JSON in and out for lm-serve's routes.
 *
 * Out: a growing buffer (struct jw) that the routes write their answers
 * and stream events into; strings are escaped, and bytes that are not
 * valid UTF-8 (a token's piece can be half a character) become U+FFFD, so
 * that what goes out is always valid JSON.
 *
 * In: request bodies are parsed with libjq (jv), and the fields are read
 * through typed getters that fail with an error naming the field, in the
 * words of the OpenAI error shape ("temperature: must be a number between
 * 0 and 2"). */
#ifndef LMU_SERVE_JSON_H
#define LMU_SERVE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jv.h>

#include "err.h"

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

/* ---- reading ---- */

/* Where a request's fields are read from, and the first error met: its
 * message and the field it names (param, for the error object). */
struct jreq {
	jv root;            /* the parsed body (an object) */
	char param[64];     /* the field of the first error, "" if none */
	struct lmu_err err;
	bool failed;
};

/* Parse body[0..len) as a JSON object into r->root.  False (r->failed,
 * the message in r->err) when it is not JSON or not an object. */
bool jreq_parse(struct jreq *r, const char *body, size_t len);
void jreq_free(struct jreq *r);
/* Record an error about field param (the first one wins); returns false. */
bool jreq_fail(struct jreq *r, const char *param, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The value of key in obj (jv_null() when absent), a new reference. */
jv jreq_get(jv obj, const char *key);

/* Typed getters: absent or null leaves *out alone and returns true;
 * anything of another type or out of range records an error naming
 * name (the field's path, such as "stream_options.include_usage") and
 * returns false.  *present (may be NULL) says whether a value was given. */
bool jreq_bool(struct jreq *r, jv obj, const char *key, const char *name, bool *out, bool *present);
bool jreq_num(struct jreq *r, jv obj, const char *key, const char *name, double min, double max, double *out,
	      bool *present);
bool jreq_int(struct jreq *r, jv obj, const char *key, const char *name, long long min, long long max,
	      long long *out, bool *present);
/* A string (a malloc'd copy in *out, to free; no NUL byte allowed). */
bool jreq_str(struct jreq *r, jv obj, const char *key, const char *name, char **out, bool *present);

#endif
