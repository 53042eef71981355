/* jreq.h - the fields of a JSON request body (an OpenAI-shaped request,
 * a setting), read through typed getters that fail with an error naming
 * the field, in the words of the OpenAI error shape: the message
 * ("temperature: must be a number from 0 to 2") and the field it names
 * (its "param").  The first error is kept (a later one changes nothing),
 * so that a reader can chain the getters with &&. */
#ifndef LMU_JREQ_H
#define LMU_JREQ_H

#include <stdbool.h>
#include <stddef.h>

#include <jv.h>

#include "err.h"

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
