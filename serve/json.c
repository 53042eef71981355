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
