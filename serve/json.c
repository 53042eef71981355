/* json.c - see json.h. */
#include "json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unicode.h"

/* ---- writing ---- */

static void grow(struct jw *w, size_t more)
{
	if (w->n + more + 1 <= w->cap)
		return;
	size_t cap = w->cap ? w->cap : 256;
	while (cap < w->n + more + 1)
		cap *= 2;
	w->b = xrealloc(w->b, cap);
	w->cap = cap;
}

void jw_reset(struct jw *w)
{
	w->n = 0;
	if (w->b)
		w->b[0] = 0;
}

void jw_free(struct jw *w)
{
	free(w->b);
	*w = (struct jw){0};
}

void jw_mem(struct jw *w, const void *p, size_t n)
{
	grow(w, n);
	memcpy(w->b + w->n, p, n);
	w->n += n;
	w->b[w->n] = 0;
}

void jw_raw(struct jw *w, const char *s)
{
	jw_mem(w, s, strlen(s));
}

void jw_printf(struct jw *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (k < 0)
		die("jw_printf: bad format");
	grow(w, (size_t)k);
	va_start(ap, fmt);
	vsnprintf(w->b + w->n, (size_t)k + 1, fmt, ap);
	va_end(ap);
	w->n += (size_t)k;
}

void jw_str(struct jw *w, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	grow(w, n + 2);
	w->b[w->n++] = '"';
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		if (c >= 0x80) {
			int k = utf8_valid_len(p + i, n - i);
			if (k > 0) {
				jw_mem(w, p + i, (size_t)k);
				i += (size_t)k;
			} else {
				jw_mem(w, "\xef\xbf\xbd", 3);  /* U+FFFD */
				i++;
			}
			continue;
		}
		i++;
		switch (c) {
		case '"': jw_mem(w, "\\\"", 2); break;
		case '\\': jw_mem(w, "\\\\", 2); break;
		case '\n': jw_mem(w, "\\n", 2); break;
		case '\r': jw_mem(w, "\\r", 2); break;
		case '\t': jw_mem(w, "\\t", 2); break;
		default:
			if (c < 0x20 || c == 0x7f) {
				char esc[8];
				snprintf(esc, sizeof esc, "\\u%04x", c);
				jw_mem(w, esc, 6);
			} else {
				grow(w, 1);
				w->b[w->n++] = (char)c;
			}
		}
	}
	grow(w, 1);
	w->b[w->n++] = '"';
	w->b[w->n] = 0;
}

void jw_key(struct jw *w, const char *key)
{
	jw_cstr(w, key);
	jw_mem(w, ":", 1);
}

void jw_num(struct jw *w, double x)
{
	char buf[40];
	if (!isfinite(x)) {
		jw_raw(w, "null");
		return;
	}
	if (x == floor(x) && fabs(x) < 1e15) {
		jw_printf(w, "%.0f", x);
		return;
	}
	/* the shortest form that reads back as the same double */
	for (int prec = 6; prec <= 17; prec++) {
		snprintf(buf, sizeof buf, "%.*g", prec, x);
		if (strtod(buf, NULL) == x)
			break;
	}
	jw_raw(w, buf);
}

void jw_bytes(struct jw *w, const char *s, size_t n)
{
	jw_mem(w, "[", 1);
	for (size_t i = 0; i < n; i++)
		jw_printf(w, i ? ",%u" : "%u", (unsigned char)s[i]);
	jw_mem(w, "]", 1);
}

/* ---- reading ---- */

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

/* The value of key, or false when it is absent or null (nothing to do). */
static bool value(jv obj, const char *key, jv *out)
{
	*out = jreq_get(obj, key);
	if (jv_get_kind(*out) == JV_KIND_NULL) {
		jv_free(*out);
		return false;
	}
	return true;
}

bool jreq_bool(struct jreq *r, jv obj, const char *key, const char *name, bool *out, bool *present)
{
	jv v;
	if (present)
		*present = false;
	if (!value(obj, key, &v))
		return true;
	jv_kind k = jv_get_kind(v);
	jv_free(v);
	if (k != JV_KIND_TRUE && k != JV_KIND_FALSE)
		return jreq_fail(r, name, "%s: must be a boolean, not %s", name, jv_kind_name(k));
	*out = k == JV_KIND_TRUE;
	if (present)
		*present = true;
	return true;
}

bool jreq_num(struct jreq *r, jv obj, const char *key, const char *name, double min, double max, double *out,
	      bool *present)
{
	jv v;
	if (present)
		*present = false;
	if (!value(obj, key, &v))
		return true;
	if (jv_get_kind(v) != JV_KIND_NUMBER) {
		jv_kind k = jv_get_kind(v);
		jv_free(v);
		return jreq_fail(r, name, "%s: must be a number, not %s", name, jv_kind_name(k));
	}
	double x = jv_number_value(v);
	jv_free(v);
	if (!(x >= min && x <= max))
		return jreq_fail(r, name, "%s: must be a number from %g to %g", name, min, max);
	*out = x;
	if (present)
		*present = true;
	return true;
}

bool jreq_int(struct jreq *r, jv obj, const char *key, const char *name, long long min, long long max,
	      long long *out, bool *present)
{
	jv v;
	if (present)
		*present = false;
	if (!value(obj, key, &v))
		return true;
	if (jv_get_kind(v) != JV_KIND_NUMBER) {
		jv_kind k = jv_get_kind(v);
		jv_free(v);
		return jreq_fail(r, name, "%s: must be an integer, not %s", name, jv_kind_name(k));
	}
	double x = jv_number_value(v);
	jv_free(v);
	if (x != floor(x) || !(x >= (double)min && x <= (double)max))
		return jreq_fail(r, name, "%s: must be an integer from %lld to %lld", name, min, max);
	*out = (long long)x;
	if (present)
		*present = true;
	return true;
}

bool jreq_str(struct jreq *r, jv obj, const char *key, const char *name, char **out, bool *present)
{
	jv v;
	if (present)
		*present = false;
	if (!value(obj, key, &v))
		return true;
	if (jv_get_kind(v) != JV_KIND_STRING) {
		jv_kind k = jv_get_kind(v);
		jv_free(v);
		return jreq_fail(r, name, "%s: must be a string, not %s", name, jv_kind_name(k));
	}
	int len = jv_string_length_bytes(jv_copy(v));
	const char *s = jv_string_value(v);
	if (memchr(s, 0, (size_t)len)) {
		jv_free(v);
		return jreq_fail(r, name, "%s: must not contain a NUL character", name);
	}
	char *c = xmalloc((size_t)len + 1);
	memcpy(c, s, (size_t)len);
	c[len] = 0;
	jv_free(v);
	free(*out);
	*out = c;
	if (present)
		*present = true;
	return true;
}
