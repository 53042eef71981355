/* jreq.c - see jreq.h. */
#include "jreq.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


bool jreq_fail(struct jreq *r, const char *param, const char *fmt, ...)
{
	if (r->failed)
		return false;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err.msg, sizeof r->err.msg, fmt, ap);
	va_end(ap);
	snprintf(r->param, sizeof r->param, "%s", param ? param : "");
	r->failed = true;
	return false;
}

bool jreq_parse(struct jreq *r, const char *body, size_t len)
{
	memset(r, 0, sizeof *r);
	r->root = jv_null();
	if (len > (1u << 30))
		return jreq_fail(r, NULL, "the body is larger than 1 GiB");
	if (len == 0)
		return jreq_fail(r, NULL, "the body is empty: a JSON object was expected");
	jv v = jv_parse_sized(body, (int)len);
	if (!jv_is_valid(v)) {
		jv msg = jv_invalid_get_msg(v);
		const char *m = jv_get_kind(msg) == JV_KIND_STRING ? jv_string_value(msg) : "parse error";
		/* jq quotes the whole input after the position: leave that out */
		const char *quote = strstr(m, " (while parsing");
		jreq_fail(r, NULL, "the body is not valid JSON: %.*s", quote ? (int)(quote - m) : 160, m);
		jv_free(msg);
		return false;
	}
	if (jv_get_kind(v) != JV_KIND_OBJECT) {
		jreq_fail(r, NULL, "the body must be a JSON object, not %s", jv_kind_name(jv_get_kind(v)));
		jv_free(v);
		return false;
	}
	r->root = v;
	return true;
}

void jreq_free(struct jreq *r)
{
	jv_free(r->root);
	r->root = jv_null();
}

jv jreq_get(jv obj, const char *key)
{
	if (jv_get_kind(obj) != JV_KIND_OBJECT)
		return jv_null();
	jv v = jv_object_get(jv_copy(obj), jv_string(key));
	if (!jv_is_valid(v)) {
		jv_free(v);
		return jv_null();
	}
	return v;
}

/* The value of key when it is of the kind wanted (1, in *out; a boolean
 * is JV_KIND_TRUE or JV_KIND_FALSE), absent or null (0), or of another
 * kind (-1, the error recorded: "name: must be WHAT, not KIND"). */
static int typed(struct jreq *r, jv obj, const char *key, const char *name, jv_kind want, const char *what, jv *out,
		 bool *present)
{
	if (present)
		*present = false;
	*out = jreq_get(obj, key);
	jv_kind k = jv_get_kind(*out);
	if (k == JV_KIND_NULL) {
		jv_free(*out);
		return 0;
	}
	if (k == want || (want == JV_KIND_TRUE && k == JV_KIND_FALSE)) {
		if (present)
			*present = true;
		return 1;
	}
	jv_free(*out);
	jreq_fail(r, name, "%s: must be %s, not %s", name, what, jv_kind_name(k));
	return -1;
}

bool jreq_bool(struct jreq *r, jv obj, const char *key, const char *name, bool *out, bool *present)
{
	jv v;
	int t = typed(r, obj, key, name, JV_KIND_TRUE, "a boolean", &v, present);
	if (t <= 0)
		return t == 0;
	*out = jv_get_kind(v) == JV_KIND_TRUE;
	jv_free(v);
	return true;
}

bool jreq_num(struct jreq *r, jv obj, const char *key, const char *name, double min, double max, double *out,
	      bool *present)
{
	jv v;
	int t = typed(r, obj, key, name, JV_KIND_NUMBER, "a number", &v, present);
	if (t <= 0)
		return t == 0;
	double x = jv_number_value(v);
	jv_free(v);
	if (!(x >= min && x <= max)) {
		if (present)
			*present = false;
		return jreq_fail(r, name, "%s: must be a number from %g to %g", name, min, max);
	}
	*out = x;
	return true;
}

bool jreq_int(struct jreq *r, jv obj, const char *key, const char *name, long long min, long long max,
	      long long *out, bool *present)
{
	jv v;
	int t = typed(r, obj, key, name, JV_KIND_NUMBER, "an integer", &v, present);
	if (t <= 0)
		return t == 0;
	double x = jv_number_value(v);
	jv_free(v);
	if (x != floor(x) || !(x >= (double)min && x <= (double)max)) {
		if (present)
			*present = false;
		return jreq_fail(r, name, "%s: must be an integer from %lld to %lld", name, min, max);
	}
	*out = (long long)x;
	return true;
}

bool jreq_str(struct jreq *r, jv obj, const char *key, const char *name, char **out, bool *present)
{
	jv v;
	int t = typed(r, obj, key, name, JV_KIND_STRING, "a string", &v, present);
	if (t <= 0)
		return t == 0;
	int len = jv_string_length_bytes(jv_copy(v));
	const char *s = jv_string_value(v);
	if (memchr(s, 0, (size_t)len)) {
		jv_free(v);
		if (present)
			*present = false;
		return jreq_fail(r, name, "%s: must not contain a NUL character", name);
	}
	char *c = xmalloc((size_t)len + 1);
	memcpy(c, s, (size_t)len);
	c[len] = 0;
	jv_free(v);
	free(*out);
	*out = c;
	return true;
}
