/* json.c - a strict JSON scanner: one value at a time, every byte's file
 * offset known for messages.  See json.h. */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool js_fail(struct js *j, size_t at, const char *fmt, ...)
{
	char msg[180];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	err_set(j->e, "%s: %s %llu: %s", j->name, j->part, (unsigned long long)(j->base + at), msg);
	return false;
}

/* A byte fit for a message. */
static const char *shown_byte(char buf[8], const struct js *j)
{
	if (j->i >= j->n)
		return "the end";
	uint8_t c = j->p[j->i];
	if (c >= 32 && c < 127)
		snprintf(buf, 8, "'%c'", c);
	else
		snprintf(buf, 8, "0x%02x", c);
	return buf;
}

void js_ws(struct js *j)
{
	while (j->i < j->n && (j->p[j->i] == ' ' || j->p[j->i] == '\t' || j->p[j->i] == '\n' || j->p[j->i] == '\r'))
		j->i++;
}

bool js_peek(struct js *j, char c)
{
	js_ws(j);
	return j->i < j->n && j->p[j->i] == (uint8_t)c;
}

bool js_expect(struct js *j, char c, const char *what)
{
	char b[8];
	js_ws(j);
	if (j->i < j->n && j->p[j->i] == (uint8_t)c) {
		j->i++;
		return true;
	}
	return js_fail(j, j->i, "expected %s, found %s", what, shown_byte(b, j));
}

int js_next(struct js *j, bool *first, char close, const char *what)
{
	if (*first) {
		*first = false;
		if (!js_peek(j, close))
			return 1;
	} else if (js_peek(j, ',')) {
		j->i++;
		return 1;
	}
	return js_expect(j, close, what) ? 0 : -1;
}

int js_member(struct js *j, bool *first, struct jstr *key, size_t *at, const char *what)
{
	int r = js_next(j, first, '}', what);
	if (r <= 0)
		return r;
	js_ws(j);
	if (at)
		*at = j->i;
	return js_string(j, key) && js_expect(j, ':', "':'") ? 1 : -1;
}

static void jstr_put(struct jstr *s, const void *p, size_t n)
{
	if (s->len + n + 1 > s->cap) {
		s->cap = (s->len + n + 1) * 2;
		s->s = xrealloc(s->s, s->cap);
	}
	memcpy(s->s + s->len, p, n);
	s->len += n;
	s->s[s->len] = 0;
}

static void jstr_utf8(struct jstr *s, uint32_t cp)
{
	uint8_t b[4];
	size_t n;
	if (cp < 0x80)
		b[0] = (uint8_t)cp, n = 1;
	else if (cp < 0x800)
		b[0] = (uint8_t)(0xc0 | cp >> 6), b[1] = (uint8_t)(0x80 | (cp & 0x3f)), n = 2;
	else if (cp < 0x10000)
		b[0] = (uint8_t)(0xe0 | cp >> 12), b[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f)),
		b[2] = (uint8_t)(0x80 | (cp & 0x3f)), n = 3;
	else
		b[0] = (uint8_t)(0xf0 | cp >> 18), b[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f)),
		b[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f)), b[3] = (uint8_t)(0x80 | (cp & 0x3f)), n = 4;
	if (cp == 0)
		s->nul = true;
	jstr_put(s, b, n);
}

/* Length of the well-formed UTF-8 sequence at p (n bytes left), or 0. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
	uint32_t cp;
	size_t len;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t k = 1; k < len; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[k] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

static int hex4(const uint8_t *p)
{
	int v = 0;
	for (int k = 0; k < 4; k++) {
		int c = p[k], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/* A string into *s (reset first); out may be NULL to only check it. */
bool js_string(struct js *j, struct jstr *s)
{
	struct jstr scratch = {0};
	size_t start;
	bool ok = false;

	if (!s)
		s = &scratch;
	s->len = 0;
	s->nul = false;
	jstr_put(s, "", 0);
	if (!js_expect(j, '"', "a string"))
		goto out;
	start = j->i - 1;
	for (;;) {
		if (j->i >= j->n) {
			js_fail(j, start, "string not closed before the end");
			goto out;
		}
		uint8_t c = j->p[j->i];
		if (c == '"') {
			j->i++;
			break;
		}
		if (c < 0x20) {
			js_fail(j, j->i, "control byte 0x%02x inside a string (must be escaped)", c);
			goto out;
		}
		if (c != '\\') {
			size_t run = j->i;
			while (run < j->n && j->p[run] >= 0x20 && j->p[run] < 0x80 && j->p[run] != '"' && j->p[run] != '\\')
				run++;
			if (run > j->i) {
				jstr_put(s, j->p + j->i, run - j->i);
				j->i = run;
				continue;
			}
			size_t len = utf8_len(j->p + j->i, j->n - j->i);
			if (!len) {
				js_fail(j, j->i, "invalid UTF-8 (byte 0x%02x)", c);
				goto out;
			}
			jstr_put(s, j->p + j->i, len);
			j->i += len;
			continue;
		}
		if (j->i + 1 >= j->n) {
			js_fail(j, j->i, "string not closed before the end");
			goto out;
		}
		uint8_t x = j->p[j->i + 1];
		const char *simple = strchr("\"\\/bfnrt", x);
		if (x && simple) {
			static const char map[] = "\"\\/\b\f\n\r\t";
			jstr_put(s, &map[simple - "\"\\/bfnrt"], 1);
			j->i += 2;
			continue;
		}
		if (x != 'u') {
			js_fail(j, j->i, "unknown escape '\\%c'", x >= 32 && x < 127 ? x : '?');
			goto out;
		}
		int hi = j->i + 6 <= j->n ? hex4(j->p + j->i + 2) : -1;
		if (hi < 0) {
			js_fail(j, j->i, "\\u not followed by 4 hex digits");
			goto out;
		}
		uint32_t cp = (uint32_t)hi;
		if (hi >= 0xdc00 && hi <= 0xdfff) {
			js_fail(j, j->i, "lone low surrogate \\u%04x", hi);
			goto out;
		}
		if (hi >= 0xd800 && hi <= 0xdbff) {
			int lo = j->i + 12 <= j->n && j->p[j->i + 6] == '\\' && j->p[j->i + 7] == 'u' ? hex4(j->p + j->i + 8) : -1;
			if (lo < 0xdc00 || lo > 0xdfff) {
				js_fail(j, j->i, "high surrogate \\u%04x without its low half", hi);
				goto out;
			}
			cp = 0x10000 + (((uint32_t)hi - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
			j->i += 6;
		}
		jstr_utf8(s, cp);
		j->i += 6;
	}
	ok = true;
out:
	free(scratch.s);
	return ok;
}

/* A non-negative integer without sign, fraction or exponent. */
bool js_uint(struct js *j, uint64_t *v, const char *what)
{
	char b[8];
	size_t start;
	js_ws(j);
	start = j->i;
	if (j->i >= j->n || j->p[j->i] < '0' || j->p[j->i] > '9') {
		if (j->i < j->n && j->p[j->i] == '-')
			return js_fail(j, start, "%s is negative", what);
		return js_fail(j, start, "expected %s (a whole number), found %s", what, shown_byte(b, j));
	}
	*v = 0;
	while (j->i < j->n && j->p[j->i] >= '0' && j->p[j->i] <= '9') {
		unsigned d = j->p[j->i] - '0';
		if (*v == 0 && j->i > start)
			return js_fail(j, start, "%s has a leading zero", what);
		if (*v > (UINT64_MAX - d) / 10)
			return js_fail(j, start, "%s is over 2^64", what);
		*v = *v * 10 + d;
		j->i++;
	}
	if (j->i < j->n && (j->p[j->i] == '.' || j->p[j->i] == 'e' || j->p[j->i] == 'E'))
		return js_fail(j, start, "%s is not a whole number", what);
	return true;
}

/* Any value, checked and skipped. */
bool js_skip(struct js *j, int depth)
{
	char b[8];
	js_ws(j);
	if (depth > JS_MAX_DEPTH)
		return js_fail(j, j->i, "nested deeper than %d levels", JS_MAX_DEPTH);
	if (j->i >= j->n)
		return js_fail(j, j->i, "expected a value, found the end");
	uint8_t c = j->p[j->i];
	if (c == '"')
		return js_string(j, NULL);
	if (c == '{' || c == '[') {
		bool first = true;
		int r;
		j->i++;
		while ((r = js_next(j, &first, c == '{' ? '}' : ']', c == '{' ? "',' or '}'" : "',' or ']'")) > 0)
			if ((c == '{' && (!js_string(j, NULL) || !js_expect(j, ':', "':'"))) || !js_skip(j, depth + 1))
				return false;
		return r == 0;
	}
	static const char *const words[] = {"true", "false", "null"};
	for (int k = 0; k < 3; k++) {
		size_t len = strlen(words[k]);
		if (j->n - j->i >= len && memcmp(j->p + j->i, words[k], len) == 0) {
			j->i += len;
			return true;
		}
	}
	/* a number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
	size_t start = j->i, i = j->i;
	if (i < j->n && j->p[i] == '-')
		i++;
	if (i < j->n && j->p[i] == '0')
		i++;
	else if (i < j->n && j->p[i] >= '1' && j->p[i] <= '9')
		while (i < j->n && j->p[i] >= '0' && j->p[i] <= '9')
			i++;
	else
		return js_fail(j, start, "expected a value, found %s", shown_byte(b, j));
	if (i < j->n && j->p[i] == '.') {
		size_t d = ++i;
		while (i < j->n && j->p[i] >= '0' && j->p[i] <= '9')
			i++;
		if (i == d)
			return js_fail(j, start, "malformed number");
	}
	if (i < j->n && (j->p[i] == 'e' || j->p[i] == 'E')) {
		i++;
		if (i < j->n && (j->p[i] == '+' || j->p[i] == '-'))
			i++;
		size_t d = i;
		while (i < j->n && j->p[i] >= '0' && j->p[i] <= '9')
			i++;
		if (i == d)
			return js_fail(j, start, "malformed number");
	}
	j->i = i;
	return true;
}

/* After the top-level value: only whitespace. */
bool js_end(struct js *j)
{
	char b[8];
	js_ws(j);
	if (j->i < j->n)
		return js_fail(j, j->i, "%s after the end of the JSON object", shown_byte(b, j));
	return true;
}


bool json_valid(const char *p, size_t n)
{
	struct lmu_err e;
	struct js j = {.p = (const uint8_t *)p, .n = n, .name = "", .part = "byte", .e = &e};
	return js_skip(&j, 0) && js_end(&j);
}
