/* chat_jinja.c - a Jinja2 subset for chat templates (see chat.h).
 *
 * Three stages, as in Jinja itself: a lexer that cuts the template into
 * text and tag tokens and applies whitespace control (trim_blocks,
 * lstrip_blocks, "-" and "+" markers), a recursive-descent parser that
 * builds a tree, and a tree-walking evaluator with Python semantics for
 * the values a chat template handles (None, bool, int, float, str, list,
 * dict, namespace).
 *
 * All memory of one render lives in an arena freed at the end; errors
 * longjmp back to the entry point, so the deep code paths stay simple and
 * nothing leaks.  Every limit (depth, steps, output, memory) fails with a
 * message; nothing is silently truncated. */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat.h"

/* ------------------------------------------------------------------ */
/* Context, arena, errors                                              */

struct chunk {
	struct chunk *next;
	size_t size, used;
	max_align_t data[];
};

enum tt { T_TEXT, T_VBEGIN, T_VEND, T_BBEGIN, T_BEND, T_NAME, T_STR, T_INT, T_FLOAT, T_OP, T_EOF };

struct tok {
	enum tt t;
	size_t pos;           /* byte offset in the (normalised) template */
	const char *s;        /* text, name, decoded string, operator */
	size_t n;
	long long i;
	double f;
};

struct J {
	const char *src; /* normalised template */
	size_t srclen;
	jmp_buf jb;
	struct lmu_err *e;
	struct chunk *chunks;
	size_t mem;
	long steps;
	int depth;
	struct tok *toks; /* (ntok) */
	size_t ntok, tcap, tp;
	struct val **small_ints; /* (SMALL_INTS) shared values of 0..SMALL_INTS-1 */
	char *out; /* malloc'd result being built (outlen, outcap) */
	size_t outlen, outcap;
};

static void fail(struct J *j, size_t pos, const char *fmt, ...) __attribute__((noreturn, format(printf, 3, 4)));

static void fail(struct J *j, size_t pos, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (pos == (size_t)-1 || !j->src) {
		err_set(j->e, "chat template: %s", msg);
	} else {
		int line = 1, col = 1;
		for (size_t i = 0; i < pos && i < j->srclen; i++) {
			if (j->src[i] == '\n') {
				line++;
				col = 1;
			} else if (((unsigned char)j->src[i] & 0xC0) != 0x80) {
				col++;
			}
		}
		err_set(j->e, "chat template line %d col %d: %s", line, col, msg);
	}
	longjmp(j->jb, 1);
}

static void *alloc(struct J *j, size_t n)
{
	if (n > CHAT_MAX_MEMORY)
		fail(j, (size_t)-1, "template needs more than %u MiB of working memory", CHAT_MAX_MEMORY >> 20);
	n = (n + 15) & ~(size_t)15;
	struct chunk *c = j->chunks;
	if (!c || c->size - c->used < n) {
		size_t size = n > 65536 ? n : 65536;
		if (j->mem + size > CHAT_MAX_MEMORY)
			fail(j, (size_t)-1, "template needs more than %u MiB of working memory", CHAT_MAX_MEMORY >> 20);
		c = xmalloc(sizeof *c + size);
		c->size = size;
		c->used = 0;
		c->next = j->chunks;
		j->chunks = c;
		j->mem += size;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

static void arena_free(struct J *j)
{
	while (j->chunks) {
		struct chunk *c = j->chunks;
		j->chunks = c->next;
		free(c);
	}
}

static char *dupn(struct J *j, const char *s, size_t n)
{
	char *p = alloc(j, n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

/* A growable array of pointers in the arena. */
struct vec {
	void **v;
	size_t n, cap;
};

static void vpush(struct J *j, struct vec *a, void *p)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		void **v = alloc(j, cap * sizeof *v);
		if (a->n)
			memcpy(v, a->v, a->n * sizeof *v);
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = p;
}

/* A growable byte string in the arena. */
struct sbuf {
	char *s;
	size_t n, cap;
};

static void sput(struct J *j, struct sbuf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		while (cap < b->n + n + 1)
			cap *= 2;
		if (cap > CHAT_MAX_MEMORY)
			fail(j, (size_t)-1, "string longer than %u MiB", CHAT_MAX_MEMORY >> 20);
		char *p = alloc(j, cap);
		if (b->n)
			memcpy(p, b->s, b->n);
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = 0;
}

static void sputs(struct J *j, struct sbuf *b, const char *s) { sput(j, b, s, strlen(s)); }

static void step(struct J *j, size_t pos)
{
	if (++j->steps > CHAT_MAX_STEPS)
		fail(j, pos, "template takes more than %ld evaluation steps", (long)CHAT_MAX_STEPS);
}

/* ------------------------------------------------------------------ */
/* UTF-8 and Python string helpers                                     */

/* Decode one code point at s[i]; invalid bytes decode as themselves
 * (one byte each) so that nothing is lost. */
static size_t u8dec(const char *s, size_t n, size_t i, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)s + i;
	size_t left = n - i;
	if (u[0] < 0x80) {
		*cp = u[0];
		return 1;
	}
	size_t len = u[0] >= 0xF0 ? 4 : u[0] >= 0xE0 ? 3 : u[0] >= 0xC0 ? 2 : 1;
	if (len == 1 || len > left) {
		*cp = 0xDC00 + u[0];
		return 1;
	}
	uint32_t c = u[0] & (0x7F >> len);
	for (size_t k = 1; k < len; k++) {
		if ((u[k] & 0xC0) != 0x80) {
			*cp = 0xDC00 + u[0];
			return 1;
		}
		c = c << 6 | (u[k] & 0x3F);
	}
	*cp = c;
	return len;
}

/* Python's str.isspace(). */
static int py_space(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
	       c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
	       c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Byte ranges of s without leading (how & 1) / trailing (how & 2)
 * characters: Python whitespace, or the code points of chars[0..nc). */
static void py_strip(const char *s, size_t n, int how, const char *chars, size_t nc, size_t *b, size_t *e)
{
	size_t i = 0, first = n, last = 0;
	while (i < n) {
		uint32_t c;
		size_t l = u8dec(s, n, i, &c);
		int strip;
		if (chars) {
			strip = 0;
			for (size_t k = 0; k < nc;) {
				uint32_t d;
				k += u8dec(chars, nc, k, &d);
				if (d == c)
					strip = 1;
			}
		} else {
			strip = py_space(c);
		}
		if (!strip) {
			if (first == n)
				first = i;
			last = i + l;
		}
		i += l;
	}
	if (first == n) { /* every character strippable: any strip empties it */
		*b = *e = 0;
		return;
	}
	*b = (how & 1) ? first : 0;
	*e = (how & 2) ? last : n;
}

static size_t cp_count(const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; k++) {
		uint32_t c;
		i += u8dec(s, n, i, &c);
	}
	return k;
}

/* Byte offset of code point index k (k <= count). */
static size_t cp_offset(const char *s, size_t n, size_t k)
{
	size_t i = 0;
	while (k-- && i < n) {
		uint32_t c;
		i += u8dec(s, n, i, &c);
	}
	return i;
}

static int is_ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	return 1;
}

static void put_utf8(struct J *j, struct sbuf *b, uint32_t c)
{
	char u[4];
	size_t n;
	if (c >= 0xDC80 && c <= 0xDCFF) { /* a raw byte kept by u8dec */
		u[0] = (char)(c - 0xDC00);
		n = 1;
	} else if (c < 0x80) {
		u[0] = (char)c, n = 1;
	} else if (c < 0x800) {
		u[0] = (char)(0xC0 | c >> 6), u[1] = (char)(0x80 | (c & 0x3F)), n = 2;
	} else if (c < 0x10000) {
		u[0] = (char)(0xE0 | c >> 12), u[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		u[2] = (char)(0x80 | (c & 0x3F)), n = 3;
	} else {
		u[0] = (char)(0xF0 | c >> 18), u[1] = (char)(0x80 | ((c >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((c >> 6) & 0x3F)), u[3] = (char)(0x80 | (c & 0x3F)), n = 4;
	}
	sput(j, b, u, n);
}

/* ------------------------------------------------------------------ */
/* Lexer                                                               */

static struct tok *emit(struct J *j, enum tt t, size_t pos)
{
	if (j->ntok == j->tcap) {
		size_t cap = j->tcap ? j->tcap * 2 : 256;
		struct tok *v = alloc(j, cap * sizeof *v);
		if (j->ntok)
			memcpy(v, j->toks, j->ntok * sizeof *v);
		j->toks = v;
		j->tcap = cap;
	}
	struct tok *k = &j->toks[j->ntok++];
	memset(k, 0, sizeof *k);
	k->t = t;
	k->pos = pos;
	return k;
}

/* Length of the Python whitespace character at s[i], 0 if none. */
static size_t space_at(const char *s, size_t n, size_t i)
{
	uint32_t c;
	size_t l = u8dec(s, n, i, &c);
	return py_space(c) ? l : 0;
}

/* Skip whitespace after a "-" end marker; tell whether the last skipped
 * character was a newline (Jinja's "line_starting"). */
static size_t skip_space(const char *s, size_t n, size_t p, int *nl)
{
	size_t l;
	while (p < n && (l = space_at(s, n, p))) {
		*nl = s[p] == '\n';
		p += l;
	}
	return p;
}

/* Decode a string literal body the way Jinja does (Python's
 * unicode-escape on the raw text, non-ASCII kept as is). */
static void lex_string(struct J *j, struct tok *k, const char *s, size_t n, size_t pos)
{
	struct sbuf b = {0};
	sput(j, &b, "", 0);
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\') {
			sput(j, &b, s + i, 1);
			continue;
		}
		if (++i >= n)
			fail(j, pos, "string literal ends with a backslash");
		char c = s[i];
		const char *simple = strchr("\\'\"abfnrtv\n", c);
		if (simple && c) {
			static const char to[] = "\\'\"\a\b\f\n\r\t\v";
			if (c != '\n') /* backslash-newline: a line continuation */
				sput(j, &b, &to[simple - "\\'\"abfnrtv\n"], 1);
		} else if (c >= '0' && c <= '7') {
			uint32_t v = 0;
			for (int d = 0; d < 3 && i < n && s[i] >= '0' && s[i] <= '7'; d++, i++)
				v = v * 8 + (uint32_t)(s[i] - '0');
			i--;
			put_utf8(j, &b, v);
		} else if (c == 'x' || c == 'u' || c == 'U') {
			int digits = c == 'x' ? 2 : c == 'u' ? 4 : 8;
			uint32_t v = 0;
			for (int d = 0; d < digits; d++) {
				char h = ++i < n ? s[i] : 0;
				int x = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
				      : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
				if (x < 0)
					fail(j, pos, "truncated \\%c escape in string literal", c);
				v = v * 16 + (uint32_t)x;
			}
			if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
				fail(j, pos, "escape \\%c%0*X is not a valid character", c, digits, (unsigned)v);
			put_utf8(j, &b, v);
		} else if (c == 'N') {
			fail(j, pos, "\\N{...} escapes are not supported");
		} else { /* unknown escapes stay as they are */
			sput(j, &b, s + i - 1, 2);
		}
	}
	k->s = b.s;
	k->n = b.n;
}

static const char *const ops2[] = {"//", "**", "==", "!=", "<=", ">="};

/* Tokens inside a tag, up to its end marker.  Returns the offset after
 * the end marker; *strip_after tells whether it was "-%}"/"-}}", *keep
 * whether it was "+%}". */
static size_t lex_tag(struct J *j, size_t p, size_t start, int block, int *strip_after, int *keep)
{
	const char *s = j->src;
	size_t n = j->srclen;
	int depth = 0;
	for (;;) {
		while (p < n && strchr(" \t\n\r\f\v", s[p]))
			p++;
		if (p >= n)
			fail(j, start, "unterminated %s tag", block ? "{% ... %}" : "{{ ... }}");
		if (depth == 0) {
			const char *end = block ? "%}" : "}}";
			if (s[p] == '-' && p + 2 < n && !memcmp(s + p + 1, end, 2)) {
				*strip_after = 1;
				emit(j, block ? T_BEND : T_VEND, p);
				return p + 3;
			}
			if (block && s[p] == '+' && p + 2 < n && !memcmp(s + p + 1, end, 2)) {
				*keep = 1;
				emit(j, T_BEND, p);
				return p + 3;
			}
			if (p + 1 < n && !memcmp(s + p, end, 2)) {
				emit(j, block ? T_BEND : T_VEND, p);
				return p + 2;
			}
		}
		char c = s[p];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
			size_t q = p;
			while (q < n && ((s[q] >= 'a' && s[q] <= 'z') || (s[q] >= 'A' && s[q] <= 'Z') ||
			                 (s[q] >= '0' && s[q] <= '9') || s[q] == '_'))
				q++;
			struct tok *k = emit(j, T_NAME, p);
			k->s = s + p;
			k->n = q - p;
			p = q;
		} else if (c >= '0' && c <= '9') {
			size_t q = p;
			char buf[64];
			size_t bn = 0;
			int isfloat = 0;
			while (q < n && ((s[q] >= '0' && s[q] <= '9') || s[q] == '_'))
				q++;
			if (q + 1 < n && s[q] == '.' && s[q + 1] >= '0' && s[q + 1] <= '9') {
				isfloat = 1;
				q++;
				while (q < n && ((s[q] >= '0' && s[q] <= '9') || s[q] == '_'))
					q++;
			}
			if (q < n && (s[q] == 'e' || s[q] == 'E')) {
				size_t r = q + 1;
				if (r < n && (s[r] == '+' || s[r] == '-'))
					r++;
				if (r < n && s[r] >= '0' && s[r] <= '9') {
					isfloat = 1;
					q = r;
					while (q < n && s[q] >= '0' && s[q] <= '9')
						q++;
				}
			}
			for (size_t i = p; i < q; i++)
				if (s[i] != '_' && bn < sizeof buf - 1)
					buf[bn++] = s[i];
			buf[bn] = 0;
			if (q - p >= sizeof buf - 1)
				fail(j, p, "number literal too long");
			struct tok *k = emit(j, isfloat ? T_FLOAT : T_INT, p);
			if (isfloat) {
				k->f = strtod(buf, NULL);
			} else {
				char *e;
				errno = 0;
				k->i = strtoll(buf, &e, 10);
				if (errno)
					fail(j, p, "integer literal %s out of range", buf);
			}
			p = q;
		} else if (c == '\'' || c == '"') {
			size_t q = p + 1;
			while (q < n && s[q] != c) {
				if (s[q] == '\\')
					q++;
				q++;
			}
			if (q >= n)
				fail(j, p, "unterminated string literal");
			struct tok *k = emit(j, T_STR, p);
			lex_string(j, k, s + p + 1, q - p - 1, p);
			p = q + 1;
		} else {
			struct tok *k = emit(j, T_OP, p);
			k->s = s + p;
			k->n = 1;
			for (size_t i = 0; i < sizeof ops2 / sizeof *ops2; i++)
				if (p + 1 < n && !memcmp(s + p, ops2[i], 2))
					k->n = 2;
			if (k->n == 1 && !strchr("+-/*%~[](){}<>=.:|,", c))
				fail(j, p, "unexpected character '%c' in tag", c);
			if (strchr("([{", c))
				depth++;
			else if (strchr(")]}", c) && depth > 0)
				depth--;
			p += k->n;
		}
	}
}

/* Emit the text s[p..q) that precedes a tag of the given kind ('{', '%',
 * '#') and whitespace marker: "-" strips the whitespace before the tag;
 * otherwise, for block and comment tags not marked "+", spaces and tabs
 * between the start of the line and the tag go (lstrip_blocks). */
static void emit_text(struct J *j, size_t p, size_t q, char kind, char mod, int line_starting)
{
	const char *s = j->src;
	size_t te = q;
	if (kind && mod == '-') {
		size_t b, e;
		py_strip(s + p, q - p, 2, NULL, 0, &b, &e);
		te = p + e;
	} else if (kind && kind != '{' && mod != '+') {
		size_t l = q;
		while (l > p && s[l - 1] != '\n')
			l--;
		if (l > p || line_starting) {
			size_t i = l;
			while (i < q && space_at(s, j->srclen, i))
				i += space_at(s, j->srclen, i);
			if (i == q && l < q)
				te = l;
		}
	}
	if (te > p) {
		struct tok *k = emit(j, T_TEXT, p);
		k->s = s + p;
		k->n = te - p;
	}
}

/* At s[i], "STR" after optional spaces; returns the offset after it, or 0. */
static size_t word_at(const char *s, size_t n, size_t i, const char *w)
{
	while (i < n && strchr(" \t\n\r\f\v", s[i]))
		i++;
	size_t l = strlen(w);
	return i + l <= n && !memcmp(s + i, w, l) ? i + l : 0;
}

/* The end of a block tag at s[i] after optional spaces: "-%}" (*mark '-'),
 * "+%}" ('+') or "%}" (0); returns the offset after it, or 0. */
static size_t block_end_at(const char *s, size_t n, size_t i, char *mark)
{
	size_t e;
	*mark = 0;
	if ((e = word_at(s, n, i, "-%}")) || (e = word_at(s, n, i, "+%}"))) {
		*mark = s[e - 3];
		return e;
	}
	return word_at(s, n, i, "%}");
}

/* {% raw %}...{% endraw %}: the text in between is kept as it is.  As in
 * Jinja, "{% raw -%}" strips the whitespace after it but "{% raw %}" does
 * not eat a newline.  Returns the offset after the endraw tag, 0 if the
 * tag at q is not a raw tag. */
static size_t lex_raw(struct J *j, size_t q, size_t body, int *line_starting)
{
	const char *s = j->src;
	size_t n = j->srclen, p = word_at(s, n, body, "raw"), e;
	char mark;
	if (!p || (p < n && !strchr(" \t\n\r\f\v-%", s[p])) || !(e = block_end_at(s, n, p, &mark)) || mark == '+')
		return 0;
	*line_starting = 0;
	if (mark == '-')
		e = skip_space(s, n, e, line_starting);
	for (size_t i = e; i + 1 < n; i++) {
		if (s[i] != '{' || s[i + 1] != '%')
			continue;
		char mod = i + 2 < n ? s[i + 2] : 0;
		size_t k = word_at(s, n, i + 2 + (mod == '-' || mod == '+'), "endraw"), end;
		if (!k || !(end = block_end_at(s, n, k, &mark)))
			continue;
		emit_text(j, e, i, '%', mod, *line_starting);
		*line_starting = 0;
		if (mark == '-')
			end = skip_space(s, n, end, line_starting);
		else if (!mark && end < n && s[end] == '\n') {
			end++;
			*line_starting = 1;
		}
		return end;
	}
	fail(j, q, "unterminated {%% raw %%} block: missing {%% endraw %%}");
}

/* Cut the template into tokens.  Whitespace control as in Jinja with
 * trim_blocks and lstrip_blocks: "{%-"/"{{-" strip the whitespace before
 * the tag, "-%}"/"-}}" the whitespace after it; a block or comment tag
 * eats the one newline right after it ("+%}" keeps it), and spaces or
 * tabs between the start of a line and a block or comment tag go away
 * ("{%+" keeps them). */
static void lex(struct J *j)
{
	const char *s = j->src;
	size_t n = j->srclen, p = 0;
	int line_starting = 1;
	while (p < n) {
		size_t q = p;
		while (q + 1 < n && !(s[q] == '{' && (s[q + 1] == '{' || s[q + 1] == '%' || s[q + 1] == '#')))
			q++;
		if (q + 1 >= n)
			q = n;
		char kind = q < n ? s[q + 1] : 0;
		char mod = q + 2 < n ? s[q + 2] : 0;
		emit_text(j, p, q, kind, mod, line_starting);
		if (q >= n)
			break;
		size_t body = q + 2 + (mod == '-' || mod == '+');
		int strip_after = 0, keep = 0;
		if (kind == '%' && (p = lex_raw(j, q, body, &line_starting)))
			continue;
		if (kind == '#') {
			const char *e = NULL;
			for (size_t i = body; i + 1 < n; i++)
				if (s[i] == '#' && s[i + 1] == '}') {
					e = s + i;
					break;
				}
			if (!e)
				fail(j, q, "unterminated comment");
			size_t ep = (size_t)(e - s);
			if (ep > body && s[ep - 1] == '-')
				strip_after = 1;
			else if (ep > body && s[ep - 1] == '+')
				keep = 1;
			p = ep + 2;
		} else {
			emit(j, kind == '%' ? T_BBEGIN : T_VBEGIN, q);
			p = lex_tag(j, body, q, kind == '%', &strip_after, &keep);
		}
		line_starting = 0;
		if (strip_after) {
			p = skip_space(s, n, p, &line_starting);
		} else if (kind != '{' && !keep && p < n && s[p] == '\n') {
			p++;
			line_starting = 1;
		}
	}
	emit(j, T_EOF, n);
}

/* ------------------------------------------------------------------ */
/* Values                                                              */

enum vt { V_UNDEF, V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_LIST, V_DICT, V_NS, V_LOOP, V_FUNC, V_METHOD, V_MACRO };

struct dict {
	struct vec keys, vals; /* struct val * each */
};

struct loopst;
struct node;
struct scope;

struct val {
	enum vt t;
	bool b;
	long long i;
	double f;
	const char *s; /* V_STR bytes (s, n); V_FUNC/V_METHOD name; V_UNDEF name hint */
	size_t n;
	struct val **items; /* V_LIST (items, len) */
	size_t len;
	int kind;           /* V_LIST: what Python type it stands for (L_*) */
	struct dict *d;        /* V_DICT, V_NS */
	struct loopst *loop;   /* V_LOOP */
	struct val *self;      /* V_METHOD receiver */
	struct node *macro;    /* V_MACRO definition */
	struct scope *mscope;  /* V_MACRO: the scope it was defined in */
};

/* Python types that a V_LIST stands for: they print, compare and measure
 * differently.  Generators (map, select, reverse...) and views
 * (dict.items(), range()) only iterate here; printing them, which in
 * Python gives "<generator object ...>", is an error. */
enum { L_LIST, L_TUPLE, L_ITER, L_VIEW };

struct loopst {
	struct val **items;
	size_t len, idx;
};

static struct val v_none = {.t = V_NONE}, v_true = {.t = V_BOOL, .b = true}, v_false = {.t = V_BOOL, .b = false};

static struct val *mkval(struct J *j, enum vt t)
{
	struct val *v = alloc(j, sizeof *v);
	memset(v, 0, sizeof *v);
	v->t = t;
	return v;
}

static struct val *mkundef(struct J *j, const char *hint, size_t n)
{
	struct val *v = mkval(j, V_UNDEF);
	v->s = hint;
	v->n = n;
	return v;
}

static struct val *mkbool(bool b) { return b ? &v_true : &v_false; }

/* Values are never modified once made, so small integers (loop
 * counters, range() items) are made once per render. */
#define SMALL_INTS 4096

static struct val *mkint(struct J *j, long long i)
{
	if (i >= 0 && i < SMALL_INTS) {
		if (!j->small_ints) {
			j->small_ints = alloc(j, SMALL_INTS * sizeof *j->small_ints);
			memset(j->small_ints, 0, SMALL_INTS * sizeof *j->small_ints);
		}
		if (j->small_ints[i])
			return j->small_ints[i];
	}
	struct val *v = mkval(j, V_INT);
	v->i = i;
	if (i >= 0 && i < SMALL_INTS)
		j->small_ints[i] = v;
	return v;
}

static struct val *mkfloat(struct J *j, double f)
{
	struct val *v = mkval(j, V_FLOAT);
	v->f = f;
	return v;
}

static struct val *mkstr(struct J *j, const char *s, size_t n)
{
	struct val *v = mkval(j, V_STR);
	v->s = s;
	v->n = n;
	return v;
}

static struct val *mkstrc(struct J *j, const char *s) { return mkstr(j, s, strlen(s)); }

static struct val *mklist(struct J *j, struct val **items, size_t len)
{
	struct val *v = mkval(j, V_LIST);
	v->items = items;
	v->len = len;
	return v;
}

static struct val *mkseq(struct J *j, struct val **items, size_t len, int kind)
{
	struct val *v = mklist(j, items, len);
	v->kind = kind;
	return v;
}

static struct val *mkdict(struct J *j, enum vt t)
{
	struct val *v = mkval(j, t);
	v->d = alloc(j, sizeof *v->d);
	memset(v->d, 0, sizeof *v->d);
	return v;
}

static const char *tname(const struct val *v)
{
	static const char *const names[] = {"undefined", "none", "bool", "int", "float", "str", "list",
	                                    "dict", "namespace", "loop", "function", "method", "macro"};
	return names[v->t];
}

/* ------------------------------------------------------------------ */
/* Syntax tree and parser                                              */

enum nk {
	/* expressions */
	N_CONST, N_NAME, N_ATTR, N_ITEM, N_SLICE, N_CALL, N_FILTER, N_TEST, N_NOT, N_NEG, N_POS,
	N_BIN, N_CMP, N_AND, N_OR, N_COND, N_LIST, N_DICT, N_CONCAT,
	/* statements */
	S_TEXT, S_OUT, S_IF, S_FOR, S_SET, S_SETATTR, S_SETBLOCK, S_BREAK, S_CONTINUE, S_BLOCK, S_MACRO,
	S_FILTERBLOCK
};

struct node {
	enum nk k;
	size_t pos;
	const char *name; /* name, attribute, filter, test, operator */
	size_t nlen;
	struct val *cv;     /* N_CONST */
	struct node *a, *b, *c;
	struct vec args;    /* struct node *: arguments, items, operands */
	struct vec kwn;     /* const char * keyword names (NUL-terminated) */
	struct vec kwv;     /* struct node * keyword values */
	struct vec ops;     /* const char * comparison operators */
	bool neg;           /* "is not" */
	struct vec body, els; /* statements */
	struct vec targets;   /* const char * names bound by for / set */
};

static struct node *mknode(struct J *j, enum nk k, size_t pos)
{
	struct node *x = alloc(j, sizeof *x);
	memset(x, 0, sizeof *x);
	x->k = k;
	x->pos = pos;
	return x;
}

static struct tok *cur(struct J *j) { return &j->toks[j->tp]; }
static struct tok *nexttok(struct J *j) { return &j->toks[j->tp < j->ntok - 1 ? j->tp++ : j->tp]; }

static int is_op(struct tok *k, const char *op)
{
	return k->t == T_OP && k->n == strlen(op) && !memcmp(k->s, op, k->n);
}

static int is_name(struct tok *k, const char *name)
{
	return k->t == T_NAME && k->n == strlen(name) && !memcmp(k->s, name, k->n);
}

static const char *tokdesc(struct J *j, struct tok *k)
{
	switch (k->t) {
	case T_EOF: return "end of template";
	case T_VEND: return "'}}'";
	case T_BEND: return "'%}'";
	case T_TEXT: return "text";
	case T_STR: return "a string";
	case T_INT:
	case T_FLOAT: return "a number";
	default: {
		char *d = alloc(j, k->n + 3);
		snprintf(d, k->n + 3, "'%.*s'", (int)k->n, k->s);
		return d;
	}
	}
}

static void expect_op(struct J *j, const char *op)
{
	if (!is_op(cur(j), op))
		fail(j, cur(j)->pos, "expected '%s', found %s", op, tokdesc(j, cur(j)));
	nexttok(j);
}

static const char *expect_name(struct J *j)
{
	struct tok *k = cur(j);
	if (k->t != T_NAME)
		fail(j, k->pos, "expected a name, found %s", tokdesc(j, k));
	nexttok(j);
	return dupn(j, k->s, k->n);
}

static void enter(struct J *j, size_t pos)
{
	if (++j->depth > CHAT_MAX_DEPTH)
		fail(j, pos, "nested more than %d levels deep", CHAT_MAX_DEPTH);
}

static struct node *parse_expr(struct J *j, int condexpr);

/* "(" args ")" for calls, filters and tests: positional, then name=value. */
static void parse_args(struct J *j, struct node *x)
{
	expect_op(j, "(");
	while (!is_op(cur(j), ")")) {
		if (x->args.n + x->kwn.n)
			expect_op(j, ",");
		if (is_op(cur(j), ")"))
			break;
		if (is_op(cur(j), "*") || is_op(cur(j), "**"))
			fail(j, cur(j)->pos, "*args and **kwargs in calls are not supported");
		if (cur(j)->t == T_NAME && j->tp + 1 < j->ntok && is_op(&j->toks[j->tp + 1], "=")) {
			vpush(j, &x->kwn, (void *)expect_name(j));
			nexttok(j);
			vpush(j, &x->kwv, parse_expr(j, 1));
		} else {
			if (x->kwn.n)
				fail(j, cur(j)->pos, "positional argument after a keyword argument");
			vpush(j, &x->args, parse_expr(j, 1));
		}
	}
	nexttok(j);
}

static struct node *parse_primary(struct J *j)
{
	struct tok *k = cur(j);
	struct node *x;
	enter(j, k->pos);
	if (k->t == T_NAME) {
		nexttok(j);
		x = mknode(j, N_CONST, k->pos);
		if (is_name(k, "true") || is_name(k, "True"))
			x->cv = &v_true;
		else if (is_name(k, "false") || is_name(k, "False"))
			x->cv = &v_false;
		else if (is_name(k, "none") || is_name(k, "None"))
			x->cv = &v_none;
		else {
			x->k = N_NAME;
			x->name = dupn(j, k->s, k->n);
			x->nlen = k->n;
		}
	} else if (k->t == T_STR) {
		/* adjacent string literals concatenate */
		struct sbuf b = {0};
		sput(j, &b, "", 0);
		while (cur(j)->t == T_STR) {
			sput(j, &b, cur(j)->s, cur(j)->n);
			nexttok(j);
		}
		x = mknode(j, N_CONST, k->pos);
		x->cv = mkstr(j, b.s, b.n);
	} else if (k->t == T_INT || k->t == T_FLOAT) {
		nexttok(j);
		x = mknode(j, N_CONST, k->pos);
		x->cv = k->t == T_INT ? mkint(j, k->i) : mkfloat(j, k->f);
	} else if (is_op(k, "(")) {
		nexttok(j);
		if (is_op(cur(j), ")")) {
			nexttok(j);
			x = mknode(j, N_LIST, k->pos); /* the empty tuple */
			x->neg = true;
		} else {
			x = parse_expr(j, 1);
			if (is_op(cur(j), ",")) { /* a tuple: a list for our purposes */
				struct node *t = mknode(j, N_LIST, k->pos);
				t->neg = true; /* a tuple */
				vpush(j, &t->args, x);
				while (is_op(cur(j), ",")) {
					nexttok(j);
					if (is_op(cur(j), ")"))
						break;
					vpush(j, &t->args, parse_expr(j, 1));
				}
				x = t;
			}
			expect_op(j, ")");
		}
	} else if (is_op(k, "[")) {
		nexttok(j);
		x = mknode(j, N_LIST, k->pos);
		while (!is_op(cur(j), "]")) {
			if (x->args.n)
				expect_op(j, ",");
			if (is_op(cur(j), "]"))
				break;
			vpush(j, &x->args, parse_expr(j, 1));
		}
		nexttok(j);
	} else if (is_op(k, "{")) {
		nexttok(j);
		x = mknode(j, N_DICT, k->pos);
		while (!is_op(cur(j), "}")) {
			if (x->args.n)
				expect_op(j, ",");
			if (is_op(cur(j), "}"))
				break;
			vpush(j, &x->args, parse_expr(j, 1));
			expect_op(j, ":");
			vpush(j, &x->args, parse_expr(j, 1));
		}
		nexttok(j);
	} else {
		fail(j, k->pos, "unexpected %s in expression", tokdesc(j, k));
	}
	j->depth--;
	return x;
}

/* x[...]: an index or a slice a:b:c (each part optional). */
static struct node *parse_subscript(struct J *j, struct node *obj)
{
	size_t pos = cur(j)->pos;
	expect_op(j, "[");
	struct node *parts[3] = {0};
	int colons = 0;
	for (;;) {
		if (is_op(cur(j), "]"))
			break;
		if (is_op(cur(j), ":")) {
			if (++colons > 2)
				fail(j, cur(j)->pos, "too many ':' in slice");
			nexttok(j);
			continue;
		}
		if (parts[colons])
			fail(j, cur(j)->pos, "expected ':' or ']' in subscript");
		parts[colons] = parse_expr(j, 1);
	}
	nexttok(j);
	struct node *x;
	if (colons == 0) {
		if (!parts[0])
			fail(j, pos, "empty subscript");
		x = mknode(j, N_ITEM, pos);
		x->b = parts[0];
	} else {
		x = mknode(j, N_SLICE, pos);
		vpush(j, &x->args, parts[0]);
		vpush(j, &x->args, parts[1]);
		vpush(j, &x->args, parts[2]);
	}
	x->a = obj;
	return x;
}

static struct node *parse_postfix(struct J *j, struct node *x)
{
	for (;;) {
		struct tok *k = cur(j);
		if (is_op(k, ".")) {
			nexttok(j);
			struct tok *a = cur(j);
			if (a->t == T_INT) {
				nexttok(j);
				struct node *y = mknode(j, N_ITEM, a->pos);
				y->a = x;
				y->b = mknode(j, N_CONST, a->pos);
				y->b->cv = mkint(j, a->i);
				x = y;
				continue;
			}
			struct node *y = mknode(j, N_ATTR, k->pos);
			y->a = x;
			y->name = expect_name(j);
			y->nlen = strlen(y->name);
			x = y;
		} else if (is_op(k, "[")) {
			x = parse_subscript(j, x);
		} else if (is_op(k, "(")) {
			struct node *y = mknode(j, N_CALL, k->pos);
			y->a = x;
			parse_args(j, y);
			x = y;
		} else {
			return x;
		}
	}
}

/* "| name(args)" filters, "is [not] name [arg]" tests, and calls. */
static struct node *parse_filters(struct J *j, struct node *x)
{
	for (;;) {
		struct tok *k = cur(j);
		if (is_op(k, "|")) {
			nexttok(j);
			struct node *y = mknode(j, N_FILTER, cur(j)->pos);
			y->a = x;
			y->name = expect_name(j);
			while (is_op(cur(j), ".")) { /* dotted filter names */
				nexttok(j);
				fail(j, cur(j)->pos, "dotted filter names are not supported");
			}
			if (is_op(cur(j), "("))
				parse_args(j, y);
			x = y;
		} else if (is_name(k, "is")) {
			nexttok(j);
			struct node *y = mknode(j, N_TEST, cur(j)->pos);
			y->a = x;
			if (is_name(cur(j), "not")) {
				nexttok(j);
				y->neg = true;
			}
			/* none/true/false are tests too, though they lex as names */
			y->name = expect_name(j);
			if (is_op(cur(j), "(")) {
				parse_args(j, y);
			} else {
				/* one argument without parentheses, as Jinja allows:
				 * "is divisibleby 3", "is sameas false" */
				struct tok *a = cur(j);
				int arg = a->t == T_STR || a->t == T_INT || a->t == T_FLOAT || is_op(a, "[") ||
				          is_op(a, "{") ||
				          (a->t == T_NAME && !is_name(a, "else") && !is_name(a, "or") && !is_name(a, "and"));
				if (is_name(a, "is"))
					fail(j, a->pos, "tests cannot be chained with 'is'");
				if (arg)
					vpush(j, &y->args, parse_postfix(j, parse_primary(j)));
			}
			x = y;
		} else if (is_op(k, "(")) {
			struct node *y = mknode(j, N_CALL, k->pos);
			y->a = x;
			parse_args(j, y);
			x = y;
		} else {
			return x;
		}
	}
}

static struct node *parse_unary(struct J *j, int with_filter)
{
	struct tok *k = cur(j);
	struct node *x;
	enter(j, k->pos);
	if (is_op(k, "-") || is_op(k, "+")) {
		nexttok(j);
		x = mknode(j, is_op(k, "-") ? N_NEG : N_POS, k->pos);
		x->a = parse_unary(j, 0);
	} else {
		x = parse_postfix(j, parse_primary(j));
	}
	if (with_filter)
		x = parse_filters(j, x);
	j->depth--;
	return x;
}

static struct node *binop(struct J *j, struct tok *k, struct node *a, struct node *b)
{
	struct node *x = mknode(j, N_BIN, k->pos);
	x->name = dupn(j, k->s, k->n);
	x->a = a;
	x->b = b;
	return x;
}

static struct node *parse_pow(struct J *j)
{
	struct node *x = parse_unary(j, 1);
	while (is_op(cur(j), "**")) {
		struct tok *k = nexttok(j);
		x = binop(j, k, x, parse_unary(j, 1));
	}
	return x;
}

static struct node *parse_math2(struct J *j)
{
	struct node *x = parse_pow(j);
	while (is_op(cur(j), "*") || is_op(cur(j), "/") || is_op(cur(j), "//") || is_op(cur(j), "%")) {
		struct tok *k = nexttok(j);
		x = binop(j, k, x, parse_pow(j));
	}
	return x;
}

static struct node *parse_concat(struct J *j)
{
	struct node *x = parse_math2(j);
	if (!is_op(cur(j), "~"))
		return x;
	struct node *c = mknode(j, N_CONCAT, cur(j)->pos);
	vpush(j, &c->args, x);
	while (is_op(cur(j), "~")) {
		nexttok(j);
		vpush(j, &c->args, parse_math2(j));
	}
	return c;
}

static struct node *parse_math1(struct J *j)
{
	struct node *x = parse_concat(j);
	while (is_op(cur(j), "+") || is_op(cur(j), "-")) {
		struct tok *k = nexttok(j);
		x = binop(j, k, x, parse_concat(j));
	}
	return x;
}

static struct node *parse_compare(struct J *j)
{
	struct node *x = parse_math1(j);
	struct node *c = NULL;
	for (;;) {
		struct tok *k = cur(j);
		const char *op = NULL;
		if (is_op(k, "==") || is_op(k, "!=") || is_op(k, "<") || is_op(k, ">") || is_op(k, "<=") ||
		    is_op(k, ">=")) {
			op = dupn(j, k->s, k->n);
			nexttok(j);
		} else if (is_name(k, "in")) {
			op = "in";
			nexttok(j);
		} else if (is_name(k, "not") && j->tp + 1 < j->ntok && is_name(&j->toks[j->tp + 1], "in")) {
			op = "notin";
			nexttok(j);
			nexttok(j);
		} else {
			break;
		}
		if (!c) {
			c = mknode(j, N_CMP, k->pos);
			vpush(j, &c->args, x);
		}
		vpush(j, &c->ops, (void *)op);
		vpush(j, &c->args, parse_math1(j));
	}
	return c ? c : x;
}

static struct node *parse_not(struct J *j)
{
	if (is_name(cur(j), "not")) {
		struct tok *k = nexttok(j);
		enter(j, k->pos);
		struct node *x = mknode(j, N_NOT, k->pos);
		x->a = parse_not(j);
		j->depth--;
		return x;
	}
	return parse_compare(j);
}

/* operand (word operand)*, left-associative, as nodes of kind */
static struct node *parse_chain(struct J *j, const char *word, enum nk kind, struct node *(*operand)(struct J *))
{
	struct node *x = operand(j);
	while (is_name(cur(j), word)) {
		struct tok *k = nexttok(j);
		struct node *y = mknode(j, kind, k->pos);
		y->a = x;
		y->b = operand(j);
		x = y;
	}
	return x;
}

static struct node *parse_and(struct J *j)
{
	return parse_chain(j, "and", N_AND, parse_not);
}

static struct node *parse_or(struct J *j)
{
	return parse_chain(j, "or", N_OR, parse_and);
}

/* expr ["if" cond ["else" expr]] when condexpr. */
static struct node *parse_expr(struct J *j, int condexpr)
{
	enter(j, cur(j)->pos);
	struct node *x = parse_or(j);
	while (condexpr && is_name(cur(j), "if")) {
		struct tok *k = nexttok(j);
		struct node *y = mknode(j, N_COND, k->pos);
		y->a = x;
		y->b = parse_or(j);
		if (is_name(cur(j), "else")) {
			nexttok(j);
			y->c = parse_expr(j, 1);
		}
		x = y;
	}
	j->depth--;
	return x;
}

static void end_block(struct J *j)
{
	if (cur(j)->t != T_BEND)
		fail(j, cur(j)->pos, "expected '%%}', found %s", tokdesc(j, cur(j)));
	nexttok(j);
}

/* Statements up to a block tag whose keyword is one of ends (NULL-ended
 * list); returns that keyword's token, positioned after the keyword. */
static struct tok *parse_body(struct J *j, struct vec *body, const char *const *ends, size_t open_pos,
                              const char *what);

static void parse_if(struct J *j, struct node *x)
{
	static const char *const ends[] = {"elif", "else", "endif", NULL};
	x->a = parse_expr(j, 0); /* Jinja takes no "a if b else c" here */
	end_block(j);
	struct tok *k = parse_body(j, &x->body, ends, x->pos, "if");
	if (is_name(k, "elif")) {
		struct node *y = mknode(j, S_IF, k->pos);
		parse_if(j, y);
		vpush(j, &x->els, y);
		return;
	}
	if (is_name(k, "else")) {
		static const char *const ends2[] = {"endif", NULL};
		end_block(j);
		parse_body(j, &x->els, ends2, x->pos, "if");
	}
	end_block(j);
}

static void parse_targets(struct J *j, struct node *x)
{
	do {
		if (x->targets.n)
			nexttok(j);
		vpush(j, &x->targets, (void *)expect_name(j));
	} while (is_op(cur(j), ","));
}

static struct node *parse_stmt(struct J *j)
{
	struct tok *k = cur(j);
	if (k->t != T_NAME)
		fail(j, k->pos, "expected a statement keyword, found %s", tokdesc(j, k));
	nexttok(j);
	struct node *x;
	if (is_name(k, "if")) {
		x = mknode(j, S_IF, k->pos);
		parse_if(j, x);
	} else if (is_name(k, "for")) {
		static const char *const ends[] = {"else", "endfor", NULL};
		static const char *const ends2[] = {"endfor", NULL};
		x = mknode(j, S_FOR, k->pos);
		parse_targets(j, x);
		if (!is_name(cur(j), "in"))
			fail(j, cur(j)->pos, "expected 'in' in for loop, found %s", tokdesc(j, cur(j)));
		nexttok(j);
		x->a = parse_expr(j, 0);
		if (is_name(cur(j), "if")) {
			nexttok(j);
			x->b = parse_expr(j, 0);
		}
		if (is_name(cur(j), "recursive"))
			fail(j, cur(j)->pos, "recursive loops are not supported");
		end_block(j);
		struct tok *e = parse_body(j, &x->body, ends, k->pos, "for");
		if (is_name(e, "else")) {
			end_block(j);
			parse_body(j, &x->els, ends2, k->pos, "for");
		}
		end_block(j);
	} else if (is_name(k, "set")) {
		x = mknode(j, S_SET, k->pos);
		const char *first = expect_name(j);
		if (is_op(cur(j), ".")) { /* namespace attribute */
			nexttok(j);
			x->k = S_SETATTR;
			x->name = first;
			vpush(j, &x->targets, (void *)expect_name(j));
			expect_op(j, "=");
			x->a = parse_expr(j, 1);
		} else {
			vpush(j, &x->targets, (void *)first);
			while (is_op(cur(j), ",")) {
				nexttok(j);
				vpush(j, &x->targets, (void *)expect_name(j));
			}
			if (is_op(cur(j), "=")) {
				nexttok(j);
				x->a = parse_expr(j, 1);
				if (is_op(cur(j), ",")) { /* set a, b = x, y */
					struct node *t = mknode(j, N_LIST, x->a->pos);
					t->neg = true; /* a tuple */
					vpush(j, &t->args, x->a);
					while (is_op(cur(j), ",")) {
						nexttok(j);
						vpush(j, &t->args, parse_expr(j, 1));
					}
					x->a = t;
				}
			} else {
				static const char *const ends[] = {"endset", NULL};
				if (x->targets.n != 1)
					fail(j, k->pos, "a block set takes one name");
				x->k = S_SETBLOCK;
				if (is_op(cur(j), "|")) { /* {% set x | filter %} */
					x->a = parse_filters(j, mknode(j, N_CONST, cur(j)->pos));
					for (struct node *f = x->a; f->k != N_CONST; f = f->a)
						if (f->k != N_FILTER)
							fail(j, f->pos, "only filters may follow a block set");
				}
				end_block(j);
				parse_body(j, &x->body, ends, k->pos, "set");
			}
		}
		end_block(j);
	} else if (is_name(k, "break") || is_name(k, "continue")) {
		x = mknode(j, is_name(k, "break") ? S_BREAK : S_CONTINUE, k->pos);
		end_block(j);
	} else if (is_name(k, "macro")) {
		/* {% macro name(a, b=default) %}...{% endmacro %} */
		static const char *const ends[] = {"endmacro", NULL};
		x = mknode(j, S_MACRO, k->pos);
		x->name = expect_name(j);
		expect_op(j, "(");
		while (!is_op(cur(j), ")")) {
			if (x->targets.n)
				expect_op(j, ",");
			vpush(j, &x->targets, (void *)expect_name(j));
			struct node *def = NULL;
			if (is_op(cur(j), "=")) {
				nexttok(j);
				def = parse_expr(j, 1);
			} else if (x->args.n && x->args.v[x->args.n - 1]) {
				fail(j, cur(j)->pos, "macro parameter without a default after one with a default");
			}
			vpush(j, &x->args, def);
		}
		nexttok(j);
		end_block(j);
		parse_body(j, &x->body, ends, k->pos, "macro");
		end_block(j);
	} else if (is_name(k, "filter")) {
		/* {% filter name(args) | name2 %}...{% endfilter %} */
		static const char *const ends[] = {"endfilter", NULL};
		x = mknode(j, S_FILTERBLOCK, k->pos);
		struct node *f = mknode(j, N_FILTER, cur(j)->pos);
		f->a = mknode(j, N_CONST, k->pos);
		f->name = expect_name(j);
		if (is_op(cur(j), "("))
			parse_args(j, f);
		x->a = parse_filters(j, f);
		for (struct node *g = x->a; g->k != N_CONST; g = g->a)
			if (g->k != N_FILTER)
				fail(j, g->pos, "only filters may follow a filter block");
		end_block(j);
		parse_body(j, &x->body, ends, k->pos, "filter");
		end_block(j);
	} else if (is_name(k, "generation")) {
		/* transformers' marker for assistant tokens: renders its body */
		static const char *const ends[] = {"endgeneration", NULL};
		x = mknode(j, S_BLOCK, k->pos);
		end_block(j);
		parse_body(j, &x->body, ends, k->pos, "generation");
		end_block(j);
	} else {
		fail(j, k->pos, "unsupported statement '%.*s'", (int)k->n, k->s);
	}
	return x;
}

static struct tok *parse_body(struct J *j, struct vec *body, const char *const *ends, size_t open_pos,
                              const char *what)
{
	enter(j, open_pos);
	for (;;) {
		struct tok *k = cur(j);
		if (k->t == T_EOF) {
			if (ends)
				fail(j, open_pos, "unclosed '%s' block: missing 'end%s'", what, what);
			j->depth--;
			return k;
		}
		if (k->t == T_TEXT) {
			struct node *x = mknode(j, S_TEXT, k->pos);
			x->name = k->s;
			x->nlen = k->n;
			vpush(j, body, x);
			nexttok(j);
		} else if (k->t == T_VBEGIN) {
			nexttok(j);
			struct node *x = mknode(j, S_OUT, k->pos);
			x->a = parse_expr(j, 1);
			if (cur(j)->t != T_VEND)
				fail(j, cur(j)->pos, "expected '}}', found %s", tokdesc(j, cur(j)));
			nexttok(j);
			vpush(j, body, x);
		} else if (k->t == T_BBEGIN) {
			nexttok(j);
			struct tok *kw = cur(j);
			if (kw->t == T_NAME) {
				for (const char *const *e = ends; e && *e; e++)
					if (is_name(kw, *e)) {
						nexttok(j);
						j->depth--;
						return kw;
					}
				static const char *const closers[] = {"endif", "endfor", "endset", "elif", "else",
				                                      "endgeneration", "endmacro", "endraw", "endfilter", NULL};
				for (const char *const *e = closers; *e; e++)
					if (is_name(kw, *e))
						fail(j, kw->pos, "unexpected '%s'%s%s", *e, ends ? " inside " : "",
						     ends ? what : "");
			}
			vpush(j, body, parse_stmt(j));
		} else {
			fail(j, k->pos, "unexpected %s", tokdesc(j, k));
		}
	}
}

/* ------------------------------------------------------------------ */
/* Conversions                                                         */

/* Python's repr() of a float ("0.5", "5.0", "1e+20", "inf"). */
static void float_repr(double x, char *buf, size_t size)
{
	if (isnan(x)) {
		snprintf(buf, size, "nan");
		return;
	}
	if (isinf(x)) {
		snprintf(buf, size, x < 0 ? "-inf" : "inf");
		return;
	}
	char e[40];
	int prec;
	for (prec = 1; prec <= 17; prec++) { /* shortest digits that round-trip */
		snprintf(e, sizeof e, "%.*e", prec - 1, x);
		if (strtod(e, NULL) == x)
			break;
	}
	/* e = [-]d[.ddd]e[+-]XX */
	char digits[20];
	int nd = 0, neg = e[0] == '-';
	const char *p = e + neg;
	for (; *p && *p != 'e'; p++)
		if (*p != '.')
			digits[nd++] = *p;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = 0;
	int exp = atoi(p + 1);
	char *o = buf;
	size_t left = size;
#define PUT(...) do { int w_ = snprintf(o, left, __VA_ARGS__); o += w_; left -= (size_t)w_; } while (0)
	if (neg)
		PUT("-");
	if (exp < -4 || exp >= 16) {
		PUT("%c", digits[0]);
		if (nd > 1)
			PUT(".%s", digits + 1);
		PUT("e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
	} else if (exp < 0) {
		PUT("0.");
		for (int k = 0; k < -exp - 1; k++)
			PUT("0");
		PUT("%s", digits);
	} else {
		for (int k = 0; k <= exp; k++)
			PUT("%c", k < nd ? digits[k] : '0');
		PUT(".");
		if (nd > exp + 1)
			PUT("%s", digits + exp + 1);
		else
			PUT("0");
	}
#undef PUT
}

static void str_into(struct J *j, struct sbuf *b, struct val *v, size_t pos);

/* Python's repr() of a str; only ASCII text (Python escapes some
 * non-ASCII characters by Unicode category, which we do not carry). */
static void repr_str(struct J *j, struct sbuf *b, const char *s, size_t n, size_t pos)
{
	if (!is_ascii(s, n))
		fail(j, pos, "printing a list or dict holding non-ASCII text is not supported");
	char q = memchr(s, '\'', n) && !memchr(s, '"', n) ? '"' : '\'';
	sput(j, b, &q, 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char t[8];
		if (c == '\\' || c == (unsigned char)q) {
			t[0] = '\\', t[1] = (char)c;
			sput(j, b, t, 2);
		} else if (c == '\n') {
			sputs(j, b, "\\n");
		} else if (c == '\r') {
			sputs(j, b, "\\r");
		} else if (c == '\t') {
			sputs(j, b, "\\t");
		} else if (c < 0x20 || c == 0x7F) {
			snprintf(t, sizeof t, "\\x%02x", c);
			sputs(j, b, t);
		} else {
			sput(j, b, s + i, 1);
		}
	}
	sput(j, b, &q, 1);
}

static void repr_into(struct J *j, struct sbuf *b, struct val *v, size_t pos)
{
	if (v->t == V_STR)
		repr_str(j, b, v->s, v->n, pos);
	else
		str_into(j, b, v, pos);
}

/* Python's str() of a value, as {{ }} prints it. */
static void str_into(struct J *j, struct sbuf *b, struct val *v, size_t pos)
{
	char buf[64];
	if (++j->depth > CHAT_MAX_DEPTH * 4)
		fail(j, pos, "value nested too deeply to print");
	switch (v->t) {
	case V_UNDEF: break;
	case V_NONE: sputs(j, b, "None"); break;
	case V_BOOL: sputs(j, b, v->b ? "True" : "False"); break;
	case V_INT:
		snprintf(buf, sizeof buf, "%lld", v->i);
		sputs(j, b, buf);
		break;
	case V_FLOAT:
		float_repr(v->f, buf, sizeof buf);
		sputs(j, b, buf);
		break;
	case V_STR: sput(j, b, v->s, v->n); break;
	case V_LIST:
		if (v->kind == L_ITER || v->kind == L_VIEW)
			fail(j, pos, "printing a generator or view (the result of map, select, reverse, items, range...) "
			             "is not supported: add '| list'");
		sputs(j, b, v->kind == L_TUPLE ? "(" : "[");
		for (size_t i = 0; i < v->len; i++) {
			if (i)
				sputs(j, b, ", ");
			step(j, pos);
			repr_into(j, b, v->items[i], pos);
		}
		sputs(j, b, v->kind == L_TUPLE ? (v->len == 1 ? ",)" : ")") : "]");
		break;
	case V_DICT:
		sputs(j, b, "{");
		for (size_t i = 0; i < v->d->keys.n; i++) {
			if (i)
				sputs(j, b, ", ");
			step(j, pos);
			repr_into(j, b, v->d->keys.v[i], pos);
			sputs(j, b, ": ");
			repr_into(j, b, v->d->vals.v[i], pos);
		}
		sputs(j, b, "}");
		break;
	default: fail(j, pos, "cannot print a %s", tname(v));
	}
	j->depth--;
}

static struct val *to_str(struct J *j, struct val *v, size_t pos)
{
	if (v->t == V_STR)
		return v;
	struct sbuf b = {0};
	sput(j, &b, "", 0);
	str_into(j, &b, v, pos);
	return mkstr(j, b.s, b.n);
}

/* json.dumps(v, ensure_ascii=False, indent=indent, sort_keys=sort),
 * the tojson filter transformers installs. */
static void json_into(struct J *j, struct sbuf *b, struct val *v, int indent, int level, int sort, size_t pos)
{
	step(j, pos);
	if (level > CHAT_MAX_DEPTH)
		fail(j, pos, "tojson: value nested too deeply");
	char buf[64];
	switch (v->t) {
	case V_NONE: sputs(j, b, "null"); return;
	case V_BOOL: sputs(j, b, v->b ? "true" : "false"); return;
	case V_INT:
	case V_FLOAT:
		if (v->t == V_FLOAT && isnan(v->f))
			snprintf(buf, sizeof buf, "NaN");
		else if (v->t == V_FLOAT && isinf(v->f))
			snprintf(buf, sizeof buf, v->f < 0 ? "-Infinity" : "Infinity");
		else if (v->t == V_FLOAT)
			float_repr(v->f, buf, sizeof buf);
		else
			snprintf(buf, sizeof buf, "%lld", v->i);
		sputs(j, b, buf);
		return;
	case V_STR:
		sputs(j, b, "\"");
		for (size_t i = 0; i < v->n; i++) {
			unsigned char c = (unsigned char)v->s[i];
			const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
			                : c == '\t' ? "\\t" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
			if (esc) {
				sputs(j, b, esc);
			} else if (c < 0x20) {
				snprintf(buf, sizeof buf, "\\u%04x", c);
				sputs(j, b, buf);
			} else {
				sput(j, b, v->s + i, 1);
			}
		}
		sputs(j, b, "\"");
		return;
	case V_LIST:
	case V_DICT: {
		int isdict = v->t == V_DICT;
		if (!isdict && (v->kind == L_ITER || v->kind == L_VIEW))
			fail(j, pos, "tojson: a generator or view is not JSON serializable");
		size_t n = isdict ? v->d->keys.n : v->len;
		sputs(j, b, isdict ? "{" : "[");
		if (n == 0) {
			sputs(j, b, isdict ? "}" : "]");
			return;
		}
		size_t *order = alloc(j, n * sizeof *order);
		for (size_t i = 0; i < n; i++)
			order[i] = i;
		if (isdict) {
			for (size_t i = 0; i < n; i++)
				if (((struct val *)v->d->keys.v[i])->t != V_STR)
					fail(j, pos, "tojson: only string keys are supported");
			if (sort) /* insertion sort by key bytes (= code point order) */
				for (size_t i = 1; i < n; i++)
					for (size_t k = i; k > 0; k--) {
						struct val *x = v->d->keys.v[order[k - 1]], *y = v->d->keys.v[order[k]];
						size_t m = x->n < y->n ? x->n : y->n;
						int c = memcmp(x->s, y->s, m);
						if (c < 0 || (c == 0 && x->n <= y->n))
							break;
						size_t t = order[k];
						order[k] = order[k - 1];
						order[k - 1] = t;
					}
		}
		for (size_t i = 0; i < n; i++) {
			if (i)
				sputs(j, b, indent >= 0 ? "," : ", ");
			if (indent >= 0) {
				sputs(j, b, "\n");
				for (int k = 0; k < indent * (level + 1); k++)
					sputs(j, b, " ");
			}
			if (isdict) {
				json_into(j, b, v->d->keys.v[order[i]], indent, level + 1, sort, pos);
				sputs(j, b, ": ");
				json_into(j, b, v->d->vals.v[order[i]], indent, level + 1, sort, pos);
			} else {
				json_into(j, b, v->items[i], indent, level + 1, sort, pos);
			}
		}
		if (indent >= 0) {
			sputs(j, b, "\n");
			for (int k = 0; k < indent * level; k++)
				sputs(j, b, " ");
		}
		sputs(j, b, isdict ? "}" : "]");
		return;
	}
	default: fail(j, pos, "tojson: a %s is not JSON serializable", tname(v));
	}
}

static bool truthy(struct val *v)
{
	switch (v->t) {
	case V_UNDEF:
	case V_NONE: return false;
	case V_BOOL: return v->b;
	case V_INT: return v->i != 0;
	case V_FLOAT: return v->f != 0;
	case V_STR: return v->n != 0;
	case V_LIST: return v->kind == L_ITER || v->len != 0; /* a generator is always true */
	case V_DICT: return v->d->keys.n != 0;
	default: return true;
	}
}

static int is_num(struct val *v) { return v->t == V_INT || v->t == V_FLOAT || v->t == V_BOOL; }
static double num(struct val *v) { return v->t == V_FLOAT ? v->f : v->t == V_INT ? (double)v->i : v->b; }
static long long inum(struct val *v) { return v->t == V_INT ? v->i : v->b; }

/* Python ==. */
static bool equal_in(struct J *j, struct val *a, struct val *b, size_t pos);

static bool equal(struct J *j, struct val *a, struct val *b, size_t pos)
{
	if (++j->depth > CHAT_MAX_DEPTH * 4)
		fail(j, pos, "values nested too deeply to compare");
	bool r = equal_in(j, a, b, pos);
	j->depth--;
	return r;
}

static bool equal_in(struct J *j, struct val *a, struct val *b, size_t pos)
{
	step(j, pos);
	if (is_num(a) && is_num(b)) {
		if (a->t != V_FLOAT && b->t != V_FLOAT)
			return inum(a) == inum(b);
		return num(a) == num(b);
	}
	if (a->t != b->t)
		return false;
	switch (a->t) {
	case V_UNDEF:
	case V_NONE: return true;
	case V_STR: return a->n == b->n && !memcmp(a->s, b->s, a->n);
	case V_LIST:
		if (a->kind != b->kind || a->kind == L_ITER || a->kind == L_VIEW)
			return a == b && a->kind == b->kind;
		if (a->len != b->len)
			return false;
		for (size_t i = 0; i < a->len; i++)
			if (!equal(j, a->items[i], b->items[i], pos))
				return false;
		return true;
	case V_DICT:
		if (a->d->keys.n != b->d->keys.n)
			return false;
		for (size_t i = 0; i < a->d->keys.n; i++) {
			size_t k;
			for (k = 0; k < b->d->keys.n; k++)
				if (equal(j, a->d->keys.v[i], b->d->keys.v[k], pos))
					break;
			if (k == b->d->keys.n || !equal(j, a->d->vals.v[i], b->d->vals.v[k], pos))
				return false;
		}
		return true;
	default: return a == b;
	}
}

/* Python <, <=, >, >= on numbers and strings: -1, 0, 1. */
static int order(struct J *j, struct val *a, struct val *b, const char *op, size_t pos)
{
	if (is_num(a) && is_num(b)) {
		double x = num(a), y = num(b);
		if (a->t != V_FLOAT && b->t != V_FLOAT)
			return inum(a) < inum(b) ? -1 : inum(a) > inum(b);
		return x < y ? -1 : x > y;
	}
	if (a->t == V_STR && b->t == V_STR) {
		size_t m = a->n < b->n ? a->n : b->n;
		int c = memcmp(a->s, b->s, m);
		return c ? (c < 0 ? -1 : 1) : a->n < b->n ? -1 : a->n > b->n;
	}
	fail(j, pos, "'%s' not supported between %s and %s", op, tname(a), tname(b));
}

static struct val *dict_get(struct J *j, struct val *d, struct val *key, size_t pos)
{
	for (size_t i = 0; i < d->d->keys.n; i++)
		if (equal(j, d->d->keys.v[i], key, pos))
			return d->d->vals.v[i];
	return NULL;
}

static struct val *dict_gets(struct J *j, struct val *d, const char *key)
{
	struct val k = {.t = V_STR, .s = key, .n = strlen(key)};
	return dict_get(j, d, &k, 0);
}

static void dict_set(struct J *j, struct val *d, struct val *key, struct val *v, size_t pos)
{
	for (size_t i = 0; i < d->d->keys.n; i++)
		if (equal(j, d->d->keys.v[i], key, pos)) {
			d->d->vals.v[i] = v;
			return;
		}
	vpush(j, &d->d->keys, key);
	vpush(j, &d->d->vals, v);
}

/* Items of an iterable value, as a for loop sees them. */
static struct val **iter_items(struct J *j, struct val *v, size_t *n, size_t pos)
{
	switch (v->t) {
	case V_UNDEF: *n = 0; return NULL;
	case V_LIST: *n = v->len; return v->items;
	case V_DICT: *n = v->d->keys.n; return (struct val **)v->d->keys.v;
	case V_STR: {
		size_t k = cp_count(v->s, v->n), i = 0;
		struct val **items = alloc(j, (k ? k : 1) * sizeof *items);
		for (size_t c = 0; c < k; c++) {
			uint32_t cp;
			size_t l = u8dec(v->s, v->n, i, &cp);
			items[c] = mkstr(j, v->s + i, l);
			i += l;
		}
		*n = k;
		return items;
	}
	default: fail(j, pos, "a %s is not iterable", tname(v));
	}
}

/* ------------------------------------------------------------------ */
/* Scopes                                                              */

struct scope {
	struct scope *up;
	struct vec names; /* const char * */
	struct vec vals;  /* struct val * */
};

static struct val *lookup(struct scope *sc, const char *name)
{
	for (; sc; sc = sc->up)
		for (size_t i = sc->names.n; i-- > 0;)
			if (!strcmp(sc->names.v[i], name))
				return sc->vals.v[i];
	return NULL;
}

static void assign(struct J *j, struct scope *sc, const char *name, struct val *v)
{
	for (size_t i = 0; i < sc->names.n; i++)
		if (!strcmp(sc->names.v[i], name)) {
			sc->vals.v[i] = v;
			return;
		}
	vpush(j, &sc->names, (void *)name);
	vpush(j, &sc->vals, v);
}

/* ------------------------------------------------------------------ */
/* Attributes, items, slices                                           */

static const char *const str_methods[] = {"strip", "lstrip", "rstrip", "startswith", "endswith", "split",
                                          "upper", "lower", "title", "capitalize", "replace", NULL};
static const char *const dict_methods[] = {"get", "items", "keys", "values", NULL};

static int in_list(const char *const *l, const char *s)
{
	for (; *l; l++)
		if (!strcmp(*l, s))
			return 1;
	return 0;
}

static struct val *method(struct J *j, struct val *self, const char *name)
{
	struct val *m = mkval(j, V_METHOD);
	m->self = self;
	m->s = name;
	m->n = strlen(name);
	return m;
}

static struct val *loop_attr(struct J *j, struct loopst *l, const char *name, struct val *self)
{
	size_t i = l->idx, n = l->len;
	if (!strcmp(name, "index")) return mkint(j, (long long)i + 1);
	if (!strcmp(name, "index0")) return mkint(j, (long long)i);
	if (!strcmp(name, "revindex")) return mkint(j, (long long)(n - i));
	if (!strcmp(name, "revindex0")) return mkint(j, (long long)(n - i - 1));
	if (!strcmp(name, "first")) return mkbool(i == 0);
	if (!strcmp(name, "last")) return mkbool(i + 1 == n);
	if (!strcmp(name, "length")) return mkint(j, (long long)n);
	if (!strcmp(name, "depth")) return mkint(j, 1);
	if (!strcmp(name, "depth0")) return mkint(j, 0);
	if (!strcmp(name, "previtem")) return i > 0 ? l->items[i - 1] : mkundef(j, "previtem", 8);
	if (!strcmp(name, "nextitem")) return i + 1 < n ? l->items[i + 1] : mkundef(j, "nextitem", 8);
	if (!strcmp(name, "cycle")) return method(j, self, "cycle");
	return mkundef(j, name, strlen(name));
}

/* obj.name: Jinja tries the attribute, then the item. */
static struct val *get_attr(struct J *j, struct val *obj, const char *name, size_t pos)
{
	switch (obj->t) {
	case V_UNDEF:
		fail(j, pos, "cannot read '%s' of an undefined value%s%.*s", name, obj->n ? " " : "", (int)obj->n,
		     obj->s ? obj->s : "");
	case V_DICT:
		if (in_list(dict_methods, name))
			return method(j, obj, name);
		/* fall through */
	case V_NS: {
		struct val *v = dict_gets(j, obj, name);
		return v ? v : mkundef(j, name, strlen(name));
	}
	case V_STR:
		if (in_list(str_methods, name))
			return method(j, obj, name);
		break;
	case V_LOOP: return loop_attr(j, obj->loop, name, obj);
	default: break;
	}
	return mkundef(j, name, strlen(name));
}

/* Python's index normalisation; -1 when out of range. */
static long long norm_index(long long i, size_t n)
{
	if (i < 0)
		i += (long long)n;
	return i < 0 || i >= (long long)n ? -1 : i;
}

/* obj[key]: the item, then the attribute. */
static struct val *get_item(struct J *j, struct val *obj, struct val *key, size_t pos)
{
	switch (obj->t) {
	case V_UNDEF: {
		struct val *k = to_str(j, key, pos);
		fail(j, pos, "cannot read [%.*s] of an undefined value%s%.*s", (int)k->n, k->s, obj->n ? " " : "",
		     (int)obj->n, obj->s ? obj->s : "");
	}
	case V_LIST:
		if (obj->kind == L_ITER || obj->kind == L_VIEW)
			fail(j, pos, "indexing a generator or view is not supported: add '| list'");
		if (key->t == V_INT || key->t == V_BOOL) {
			long long i = norm_index(inum(key), obj->len);
			return i < 0 ? mkundef(j, "list item", 9) : obj->items[i];
		}
		break;
	case V_STR:
		if (key->t == V_INT || key->t == V_BOOL) {
			size_t k = cp_count(obj->s, obj->n);
			long long i = norm_index(inum(key), k);
			if (i < 0)
				return mkundef(j, "string item", 11);
			size_t b = cp_offset(obj->s, obj->n, (size_t)i), e = cp_offset(obj->s, obj->n, (size_t)i + 1);
			return mkstr(j, obj->s + b, e - b);
		}
		break;
	case V_DICT:
	case V_NS: {
		struct val *v = dict_get(j, obj, key, pos);
		if (v)
			return v;
		break;
	}
	default: break;
	}
	if (key->t == V_STR)
		return get_attr(j, obj, dupn(j, key->s, key->n), pos);
	return mkundef(j, "item", 4);
}

/* obj[a:b:c] on a list or string, Python semantics. */
static struct val *get_slice(struct J *j, struct val *obj, struct val *sv[3], size_t pos)
{
	long long idx[3];
	int given[3];
	for (int k = 0; k < 3; k++) {
		given[k] = sv[k] && sv[k]->t != V_NONE;
		if (given[k] && sv[k]->t != V_INT && sv[k]->t != V_BOOL)
			fail(j, pos, "slice indices must be integers, not %s", tname(sv[k]));
		idx[k] = given[k] ? inum(sv[k]) : 0;
	}
	long long st = given[2] ? idx[2] : 1;
	if (st == 0)
		fail(j, pos, "slice step cannot be zero");
	size_t len;
	if (obj->t == V_LIST && (obj->kind == L_ITER || obj->kind == L_VIEW))
		fail(j, pos, "slicing a generator or view is not supported: add '| list'");
	if (obj->t == V_LIST)
		len = obj->len;
	else if (obj->t == V_STR)
		len = cp_count(obj->s, obj->n);
	else if (obj->t == V_UNDEF)
		fail(j, pos, "cannot slice an undefined value");
	else
		fail(j, pos, "cannot slice a %s", tname(obj));
	long long n = (long long)len, lo, hi;
	if (st > 0) {
		lo = given[0] ? idx[0] : 0;
		hi = given[1] ? idx[1] : n;
		if (lo < 0) lo = lo + n < 0 ? 0 : lo + n;
		if (hi < 0) hi = hi + n < 0 ? 0 : hi + n;
		if (lo > n) lo = n;
		if (hi > n) hi = n;
	} else {
		lo = given[0] ? idx[0] : n - 1;
		hi = given[1] ? idx[1] : -1 - n; /* "before the start" */
		if (lo < 0) lo = lo + n < 0 ? -1 : lo + n;
		if (hi < 0) hi = hi + n < 0 ? -1 : hi + n;
		if (lo >= n) lo = n - 1;
		if (hi >= n) hi = n - 1;
	}
	/* the number of items, computed without overflow for any step */
	unsigned long long cnt = 0;
	if (st > 0 && lo < hi)
		cnt = ((unsigned long long)(hi - lo) - 1) / (unsigned long long)st + 1;
	else if (st < 0 && lo > hi)
		cnt = ((unsigned long long)(lo - hi) - 1) / (0ULL - (unsigned long long)st) + 1;
	if (obj->t == V_LIST) {
		struct val **items = alloc(j, (size_t)(cnt ? cnt : 1) * sizeof *items);
		for (unsigned long long k = 0; k < cnt; k++)
			items[k] = obj->items[lo + (long long)k * st];
		return mkseq(j, items, (size_t)cnt, obj->kind);
	}
	size_t *off = alloc(j, (len + 1) * sizeof *off);
	for (size_t c = 0, i = 0; c <= len; c++) {
		off[c] = i;
		if (c < len) {
			uint32_t cp;
			i += u8dec(obj->s, obj->n, i, &cp);
		}
	}
	struct sbuf b = {0};
	sput(j, &b, "", 0);
	for (unsigned long long k = 0; k < cnt; k++) {
		long long i = lo + (long long)k * st;
		sput(j, &b, obj->s + off[i], off[i + 1] - off[i]);
	}
	return mkstr(j, b.s, b.n);
}

/* ------------------------------------------------------------------ */
/* Calls, filters, tests                                               */

struct args {
	struct val **pos;
	size_t npos;
	const char **kwn;
	struct val **kwv;
	size_t nkw;
};

/* Argument i (positional) or name (keyword), NULL if not given. */
static struct val *arg(struct args *a, size_t i, const char *name)
{
	if (i < a->npos)
		return a->pos[i];
	for (size_t k = 0; k < a->nkw; k++)
		if (name && !strcmp(a->kwn[k], name))
			return a->kwv[k];
	return NULL;
}

static void check_args(struct J *j, struct args *a, size_t maxpos, const char *const *names, const char *what,
                       size_t pos)
{
	if (a->npos > maxpos)
		fail(j, pos, "%s takes at most %zu positional arguments, got %zu", what, maxpos, a->npos);
	for (size_t k = 0; k < a->nkw; k++)
		if (!names || !in_list(names, a->kwn[k]))
			fail(j, pos, "%s got an unexpected keyword argument '%s'", what, a->kwn[k]);
}

static struct val *want_str(struct J *j, struct val *v, const char *what, size_t pos)
{
	if (!v || v->t != V_STR)
		fail(j, pos, "%s needs a string, got %s", what, v ? tname(v) : "nothing");
	return v;
}

static struct val *str_case(struct J *j, struct val *v, const char *how, size_t pos)
{
	if (!is_ascii(v->s, v->n))
		fail(j, pos, "%s of non-ASCII text is not supported", how[0] == 'j' ? "title" : how);
	char *s = dupn(j, v->s, v->n);
	int word_start = 1;
	for (size_t i = 0; i < v->n; i++) {
		char c = s[i];
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		if (!strcmp(how, "upper") && c >= 'a' && c <= 'z')
			s[i] = (char)(c - 32);
		else if (!strcmp(how, "lower") && c >= 'A' && c <= 'Z')
			s[i] = (char)(c + 32);
		else if (!strcmp(how, "title") || !strcmp(how, "capitalize") || !strcmp(how, "jtitle")) {
			int up = how[0] != 'c' ? word_start : i == 0;
			if (up && c >= 'a' && c <= 'z')
				s[i] = (char)(c - 32);
			else if (!up && c >= 'A' && c <= 'Z')
				s[i] = (char)(c + 32);
		}
		/* str.title() starts a word after any non-letter; Jinja's title
		 * filter only after "-", whitespace and "({[<" */
		word_start = how[0] == 'j' ? c && strchr("-({[< \t\n\r\f\v\x1c\x1d\x1e\x1f", c) != NULL : !alpha;
	}
	return mkstr(j, s, v->n);
}

static struct val *do_strip(struct J *j, struct val *s, struct val *chars, int how, size_t pos)
{
	size_t b, e;
	if (chars && chars->t != V_NONE) {
		want_str(j, chars, "strip characters", pos);
		py_strip(s->s, s->n, how, chars->s, chars->n, &b, &e);
	} else {
		py_strip(s->s, s->n, how, NULL, 0, &b, &e);
	}
	return mkstr(j, s->s + b, e - b);
}

static struct val *do_split(struct J *j, struct val *s, struct val *sep, struct val *maxv, size_t pos)
{
	long long max = maxv && maxv->t != V_NONE ? inum(maxv) : -1;
	struct vec out = {0};
	if (!sep || sep->t == V_NONE) { /* runs of whitespace, no empty parts */
		size_t i = 0;
		for (;;) {
			while (i < s->n && space_at(s->s, s->n, i))
				i += space_at(s->s, s->n, i);
			if (i >= s->n)
				break;
			if (max >= 0 && (long long)out.n == max) { /* the rest, trailing spaces kept */
				vpush(j, &out, mkstr(j, s->s + i, s->n - i));
				break;
			}
			size_t k = i;
			while (k < s->n && !space_at(s->s, s->n, k)) {
				uint32_t c;
				k += u8dec(s->s, s->n, k, &c);
			}
			vpush(j, &out, mkstr(j, s->s + i, k - i));
			i = k;
		}
	} else {
		want_str(j, sep, "split separator", pos);
		if (sep->n == 0)
			fail(j, pos, "split: empty separator");
		size_t i = 0;
		for (;;) {
			const char *hit = NULL;
			if (max < 0 || (long long)out.n < max)
				hit = memmem(s->s + i, s->n - i, sep->s, sep->n);
			if (!hit) {
				vpush(j, &out, mkstr(j, s->s + i, s->n - i));
				break;
			}
			vpush(j, &out, mkstr(j, s->s + i, (size_t)(hit - (s->s + i))));
			i = (size_t)(hit - s->s) + sep->n;
		}
	}
	return mklist(j, (struct val **)out.v, out.n);
}

static struct val *do_replace(struct J *j, struct val *s, struct val *old, struct val *new, struct val *cnt,
                              size_t pos)
{
	want_str(j, old, "replace", pos);
	want_str(j, new, "replace", pos);
	long long max = cnt && cnt->t != V_NONE ? inum(cnt) : -1;
	struct sbuf b = {0};
	sput(j, &b, "", 0);
	size_t i = 0;
	long long done = 0;
	if (old->n == 0) { /* Python inserts between every character */
		size_t k = cp_count(s->s, s->n);
		for (size_t c = 0; c <= k; c++) {
			if (max < 0 || done < max) {
				sput(j, &b, new->s, new->n);
				done++;
			}
			if (c < k) {
				uint32_t cp;
				size_t l = u8dec(s->s, s->n, i, &cp);
				sput(j, &b, s->s + i, l);
				i += l;
			}
			step(j, pos);
		}
		return mkstr(j, b.s, b.n);
	}
	for (;;) {
		const char *hit = (max < 0 || done < max) ? memmem(s->s + i, s->n - i, old->s, old->n) : NULL;
		if (!hit) {
			sput(j, &b, s->s + i, s->n - i);
			break;
		}
		sput(j, &b, s->s + i, (size_t)(hit - (s->s + i)));
		sput(j, &b, new->s, new->n);
		i = (size_t)(hit - s->s) + old->n;
		done++;
		step(j, pos);
	}
	return mkstr(j, b.s, b.n);
}

static bool starts_ends(struct J *j, struct val *s, struct val *x, int ends, size_t pos)
{
	if (x && x->t == V_LIST) { /* a tuple of prefixes */
		for (size_t i = 0; i < x->len; i++)
			if (starts_ends(j, s, x->items[i], ends, pos))
				return true;
		return false;
	}
	want_str(j, x, ends ? "endswith" : "startswith", pos);
	if (x->n > s->n)
		return false;
	return !memcmp(s->s + (ends ? s->n - x->n : 0), x->s, x->n);
}

static struct val *call_method(struct J *j, struct val *m, struct args *a, size_t pos)
{
	struct val *self = m->self;
	const char *name = m->s;
	if (self->t == V_STR) {
		if (!strcmp(name, "strip") || !strcmp(name, "lstrip") || !strcmp(name, "rstrip")) {
			check_args(j, a, 1, NULL, name, pos);
			return do_strip(j, self, arg(a, 0, NULL), name[0] == 's' ? 3 : name[0] == 'l' ? 1 : 2, pos);
		}
		if (!strcmp(name, "startswith") || !strcmp(name, "endswith")) {
			check_args(j, a, 1, NULL, name, pos);
			return mkbool(starts_ends(j, self, arg(a, 0, NULL), name[0] == 'e', pos));
		}
		if (!strcmp(name, "split")) {
			static const char *const kw[] = {"sep", "maxsplit", NULL};
			check_args(j, a, 2, kw, name, pos);
			return do_split(j, self, arg(a, 0, "sep"), arg(a, 1, "maxsplit"), pos);
		}
		if (!strcmp(name, "replace")) {
			check_args(j, a, 3, NULL, name, pos);
			return do_replace(j, self, arg(a, 0, NULL), arg(a, 1, NULL), arg(a, 2, NULL), pos);
		}
		check_args(j, a, 0, NULL, name, pos);
		return str_case(j, self, name, pos);
	}
	if (self->t == V_DICT) {
		if (!strcmp(name, "get")) {
			check_args(j, a, 2, NULL, name, pos);
			struct val *k = arg(a, 0, NULL), *d = arg(a, 1, NULL);
			if (!k)
				fail(j, pos, "get() needs a key");
			struct val *v = dict_get(j, self, k, pos);
			return v ? v : d ? d : &v_none;
		}
		check_args(j, a, 0, NULL, name, pos);
		size_t n = self->d->keys.n;
		struct val **items = alloc(j, (n ? n : 1) * sizeof *items);
		for (size_t i = 0; i < n; i++) {
			if (!strcmp(name, "keys")) {
				items[i] = self->d->keys.v[i];
			} else if (!strcmp(name, "values")) {
				items[i] = self->d->vals.v[i];
			} else {
				struct val **kv = alloc(j, 2 * sizeof *kv);
				kv[0] = self->d->keys.v[i];
				kv[1] = self->d->vals.v[i];
				items[i] = mkseq(j, kv, 2, L_TUPLE);
			}
		}
		return mkseq(j, items, n, L_VIEW);
	}
	if (self->t == V_LOOP) { /* loop.cycle(a, b, ...) */
		if (a->npos == 0)
			fail(j, pos, "loop.cycle() needs at least one argument");
		return a->pos[self->loop->idx % a->npos];
	}
	fail(j, pos, "unsupported method '%s'", name);
}

static struct val *call_func(struct J *j, struct val *f, struct args *a, size_t pos)
{
	const char *name = f->s;
	if (!strcmp(name, "raise_exception")) {
		struct val *m = a->npos ? to_str(j, a->pos[0], pos) : mkstrc(j, "");
		fail(j, pos, "template error: %.*s", (int)m->n, m->s);
	}
	if (!strcmp(name, "namespace") || !strcmp(name, "dict")) {
		struct val *ns = mkdict(j, name[0] == 'n' ? V_NS : V_DICT);
		for (size_t i = 0; i < a->npos; i++) {
			if (a->pos[i]->t != V_DICT)
				fail(j, pos, "%s() takes keyword arguments or a dict", name);
			for (size_t k = 0; k < a->pos[i]->d->keys.n; k++)
				dict_set(j, ns, a->pos[i]->d->keys.v[k], a->pos[i]->d->vals.v[k], pos);
		}
		for (size_t k = 0; k < a->nkw; k++)
			dict_set(j, ns, mkstrc(j, a->kwn[k]), a->kwv[k], pos);
		return ns;
	}
	if (!strcmp(name, "range")) {
		check_args(j, a, 3, NULL, name, pos);
		long long v[3] = {0, 0, 1};
		if (a->npos == 0)
			fail(j, pos, "range() needs an argument");
		for (size_t i = 0; i < a->npos; i++) {
			if (a->pos[i]->t != V_INT && a->pos[i]->t != V_BOOL)
				fail(j, pos, "range() needs integers, got %s", tname(a->pos[i]));
		}
		if (a->npos == 1)
			v[1] = inum(a->pos[0]);
		else
			for (size_t i = 0; i < a->npos; i++)
				v[i] = inum(a->pos[i]);
		if (v[2] == 0)
			fail(j, pos, "range() step must not be zero");
		unsigned long long ucnt = 0; /* computed without overflow */
		if (v[2] > 0 && v[1] > v[0])
			ucnt = ((unsigned long long)v[1] - (unsigned long long)v[0] - 1) / (unsigned long long)v[2] + 1;
		else if (v[2] < 0 && v[1] < v[0])
			ucnt = ((unsigned long long)v[0] - (unsigned long long)v[1] - 1) / (0ULL - (unsigned long long)v[2]) + 1;
		if (ucnt > (unsigned long long)(CHAT_MAX_STEPS - j->steps))
			fail(j, pos, "range() of %llu items is too large", ucnt);
		long long cnt = (long long)ucnt;
		struct val **items = alloc(j, (size_t)(cnt ? cnt : 1) * sizeof *items);
		for (long long i = 0; i < cnt; i++)
			items[i] = mkint(j, v[0] + i * v[2]);
		j->steps += cnt;
		return mkseq(j, items, (size_t)cnt, L_VIEW);
	}
	if (!strcmp(name, "strftime_now")) {
		check_args(j, a, 1, NULL, name, pos);
		struct val *fmt = want_str(j, arg(a, 0, NULL), "strftime_now", pos);
		char buf[256];
		time_t t = time(NULL);
		struct tm tm;
		localtime_r(&t, &tm);
		/* in the C locale, as Python's strftime (which never sets LC_TIME)
		 * gives "26 Jul 2024" whatever the user's locale */
		locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
		if (c == (locale_t)0)
			fail(j, pos, "strftime_now: no C locale");
		size_t n = strftime_l(buf, sizeof buf, dupn(j, fmt->s, fmt->n), &tm, c);
		freelocale(c);
		if (n == 0 && fmt->n)
			fail(j, pos, "strftime_now: empty or too long result for '%.*s'", (int)fmt->n, fmt->s);
		return mkstr(j, dupn(j, buf, n), n);
	}
	fail(j, pos, "unsupported function '%s'", name);
}

static struct val *call_macro(struct J *j, struct val *m, struct args *a, size_t pos);

static struct val *call(struct J *j, struct val *f, struct args *a, size_t pos)
{
	if (f->t == V_MACRO)
		return call_macro(j, f, a, pos);
	if (f->t == V_METHOD)
		return call_method(j, f, a, pos);
	if (f->t == V_FUNC)
		return call_func(j, f, a, pos);
	if (f->t == V_UNDEF)
		fail(j, pos, "'%.*s' is undefined and cannot be called", (int)f->n, f->s ? f->s : "value");
	fail(j, pos, "a %s is not callable", tname(f));
}

static bool apply_test(struct J *j, const char *name, struct val *v, struct args *a, size_t pos);
static struct val *apply_filter(struct J *j, const char *name, struct val *v, struct args *a, size_t pos);

/* The select/reject/selectattr/rejectattr family. */
static struct val *filter_select(struct J *j, const char *name, struct val *v, struct args *a, size_t pos)
{
	int attr = strstr(name, "attr") != NULL, keep = name[0] == 's';
	size_t n;
	if (!truthy(v)) /* Jinja yields nothing for a false value, none included */
		return mkseq(j, NULL, 0, L_ITER);
	struct val **items = iter_items(j, v, &n, pos);
	struct vec out = {0};
	size_t first = 0;
	const char *aname = NULL;
	if (attr) {
		struct val *an = want_str(j, arg(a, 0, NULL), name, pos);
		aname = dupn(j, an->s, an->n);
		first = 1;
	}
	struct val *tn = a->npos > first ? want_str(j, a->pos[first], name, pos) : NULL;
	struct args ta = {a->pos + first + 1, a->npos > first + 1 ? a->npos - first - 1 : 0, NULL, NULL, 0};
	for (size_t i = 0; i < n; i++) {
		struct val *x = attr ? get_attr(j, items[i], aname, pos) : items[i];
		bool r = tn ? apply_test(j, dupn(j, tn->s, tn->n), x, &ta, pos) : truthy(x);
		if (r == keep)
			vpush(j, &out, items[i]);
	}
	return mkseq(j, (struct val **)out.v, out.n, L_ITER);
}

static struct val *apply_filter(struct J *j, const char *name, struct val *v, struct args *a, size_t pos)
{
	step(j, pos);
	if (!strcmp(name, "trim")) {
		check_args(j, a, 1, (const char *const[]){"chars", NULL}, name, pos);
		return do_strip(j, to_str(j, v, pos), arg(a, 0, "chars"), 3, pos);
	}
	if (!strcmp(name, "length") || !strcmp(name, "count")) {
		check_args(j, a, 0, NULL, name, pos);
		switch (v->t) {
		case V_UNDEF: return mkint(j, 0);
		case V_STR: return mkint(j, (long long)cp_count(v->s, v->n));
		case V_LIST:
			if (v->kind == L_ITER)
				fail(j, pos, "a generator (the result of map, select, reverse...) has no length: add '| list'");
			return mkint(j, (long long)v->len);
		case V_DICT: return mkint(j, (long long)v->d->keys.n);
		default: fail(j, pos, "a %s has no length", tname(v));
		}
	}
	if (!strcmp(name, "upper") || !strcmp(name, "lower") || !strcmp(name, "title") ||
	    !strcmp(name, "capitalize")) {
		check_args(j, a, 0, NULL, name, pos);
		return str_case(j, to_str(j, v, pos), !strcmp(name, "title") ? "jtitle" : name, pos);
	}
	if (!strcmp(name, "default") || !strcmp(name, "d")) {
		check_args(j, a, 2, (const char *const[]){"default_value", "boolean", NULL}, name, pos);
		struct val *d = arg(a, 0, "default_value"), *boolean = arg(a, 1, "boolean");
		if (v->t == V_UNDEF || (boolean && truthy(boolean) && !truthy(v)))
			return d ? d : mkstrc(j, "");
		return v;
	}
	if (!strcmp(name, "first") || !strcmp(name, "last")) {
		check_args(j, a, 0, NULL, name, pos);
		size_t n;
		struct val **items = iter_items(j, v, &n, pos);
		if (name[0] == 'l' && v->t == V_LIST && v->kind == L_ITER)
			fail(j, pos, "last of a generator is not supported: add '| list'");
		if (n == 0)
			return mkundef(j, name, strlen(name));
		return items[name[0] == 'f' ? 0 : n - 1];
	}
	if (!strcmp(name, "join")) {
		check_args(j, a, 2, (const char *const[]){"d", "attribute", NULL}, name, pos);
		struct val *sep = arg(a, 0, "d"), *attr = arg(a, 1, "attribute");
		sep = sep ? to_str(j, sep, pos) : mkstrc(j, "");
		size_t n;
		struct val **items = iter_items(j, v, &n, pos);
		struct sbuf b = {0};
		sput(j, &b, "", 0);
		for (size_t i = 0; i < n; i++) {
			struct val *x = items[i];
			if (attr)
				x = get_attr(j, x, dupn(j, to_str(j, attr, pos)->s, to_str(j, attr, pos)->n), pos);
			if (i)
				sput(j, &b, sep->s, sep->n);
			str_into(j, &b, x, pos);
		}
		return mkstr(j, b.s, b.n);
	}
	if (!strcmp(name, "list")) {
		check_args(j, a, 0, NULL, name, pos);
		size_t n;
		struct val **items = iter_items(j, v, &n, pos);
		return mkseq(j, items, n, L_LIST);
	}
	if (!strcmp(name, "items")) {
		check_args(j, a, 0, NULL, name, pos);
		if (v->t == V_UNDEF)
			return mkseq(j, NULL, 0, L_ITER);
		if (v->t != V_DICT)
			fail(j, pos, "items needs a dict, got %s", tname(v));
		struct val m = {.t = V_METHOD, .self = v, .s = "items"};
		struct args none = {0};
		struct val *r = call_method(j, &m, &none, pos);
		r->kind = L_ITER;
		return r;
	}
	if (!strcmp(name, "tojson")) {
		static const char *const kw[] = {"ensure_ascii", "indent", "separators", "sort_keys", NULL};
		check_args(j, a, 4, kw, name, pos);
		struct val *ea = arg(a, 0, "ensure_ascii"), *ind = arg(a, 1, "indent");
		struct val *sep = arg(a, 2, "separators"), *sort = arg(a, 3, "sort_keys");
		if (ea && truthy(ea))
			fail(j, pos, "tojson(ensure_ascii=True) is not supported");
		if (sep && sep->t != V_NONE)
			fail(j, pos, "tojson(separators=...) is not supported");
		int indent = -1;
		if (ind && ind->t != V_NONE) {
			if (ind->t != V_INT || ind->i < 0 || ind->i > 64)
				fail(j, pos, "tojson: indent must be an integer 0..64");
			indent = (int)ind->i;
		}
		struct sbuf b = {0};
		sput(j, &b, "", 0);
		json_into(j, &b, v, indent, 0, sort && truthy(sort), pos);
		return mkstr(j, b.s, b.n);
	}
	if (!strcmp(name, "string")) {
		check_args(j, a, 0, NULL, name, pos);
		return to_str(j, v, pos);
	}
	if (!strcmp(name, "safe")) {
		check_args(j, a, 0, NULL, name, pos);
		return v;
	}
	if (!strcmp(name, "int") || !strcmp(name, "float")) {
		check_args(j, a, 1, (const char *const[]){"default", NULL}, name, pos);
		struct val *d = arg(a, 0, "default");
		int isint = name[0] == 'i';
		if (isint && v->t == V_FLOAT && !(v->f > -9.2e18 && v->f < 9.2e18))
			fail(j, pos, "int: %g does not fit an integer", v->f);
		if (is_num(v))
			return isint ? mkint(j, v->t == V_FLOAT ? (long long)v->f : inum(v)) : mkfloat(j, num(v));
		if (v->t == V_STR) {
			char *s = dupn(j, v->s, v->n), *e;
			errno = 0;
			if (isint) {
				long long x = strtoll(s, &e, 10);
				if (!errno && e != s && !*e)
					return mkint(j, x);
			} else {
				double x = strtod(s, &e);
				if (e != s && !*e)
					return mkfloat(j, x);
			}
		}
		return d ? d : isint ? mkint(j, 0) : mkfloat(j, 0);
	}
	if (!strcmp(name, "abs")) {
		check_args(j, a, 0, NULL, name, pos);
		if (v->t == V_FLOAT)
			return mkfloat(j, fabs(v->f));
		if (v->t == V_INT && v->i != LLONG_MIN)
			return mkint(j, v->i < 0 ? -v->i : v->i);
		fail(j, pos, "abs needs a number, got %s", tname(v));
	}
	if (!strcmp(name, "replace")) {
		check_args(j, a, 3, NULL, name, pos);
		return do_replace(j, to_str(j, v, pos), arg(a, 0, NULL), arg(a, 1, NULL), arg(a, 2, NULL), pos);
	}
	if (!strcmp(name, "reverse")) {
		check_args(j, a, 0, NULL, name, pos);
		size_t n;
		struct val **items = iter_items(j, v, &n, pos);
		struct val **r = alloc(j, (n ? n : 1) * sizeof *r);
		for (size_t i = 0; i < n; i++)
			r[i] = items[n - 1 - i];
		if (v->t != V_STR)
			return mkseq(j, r, n, L_ITER);
		struct sbuf b = {0};
		sput(j, &b, "", 0);
		for (size_t i = 0; i < n; i++)
			sput(j, &b, r[i]->s, r[i]->n);
		return mkstr(j, b.s, b.n);
	}
	if (!strcmp(name, "dictsort") || !strcmp(name, "sort")) {
		static const char *const kw[] = {"case_sensitive", "by", "reverse", "attribute", NULL};
		int dict = name[0] == 'd';
		check_args(j, a, 3, kw, name, pos);
		/* dictsort(case_sensitive, by, reverse); sort(reverse, case_sensitive, attribute) */
		struct val *cs = dict ? arg(a, 0, "case_sensitive") : arg(a, 1, "case_sensitive");
		struct val *rev = dict ? arg(a, 2, "reverse") : arg(a, 0, "reverse");
		struct val *by = dict ? arg(a, 1, "by") : NULL, *attr = dict ? NULL : arg(a, 2, "attribute");
		int byval = by && by->t == V_STR && by->n == 5 && !memcmp(by->s, "value", 5);
		if (by && !byval && !(by->t == V_STR && by->n == 3 && !memcmp(by->s, "key", 3)))
			fail(j, pos, "dictsort: by must be 'key' or 'value'");
		struct val **items;
		size_t n;
		if (dict) {
			if (v->t != V_DICT)
				fail(j, pos, "dictsort needs a dict, got %s", tname(v));
			struct val m = {.t = V_METHOD, .self = v, .s = "items"};
			struct args none = {0};
			struct val *l = call_method(j, &m, &none, pos);
			items = l->items;
			n = l->len;
		} else {
			struct val **src = iter_items(j, v, &n, pos);
			items = alloc(j, (n ? n : 1) * sizeof *items);
			if (n)
				memcpy(items, src, n * sizeof *items);
		}
		struct val **keys = alloc(j, (n ? n : 1) * sizeof *keys);
		for (size_t i = 0; i < n; i++) {
			struct val *k = dict ? items[i]->items[byval] : items[i];
			if (attr)
				k = get_attr(j, k, dupn(j, to_str(j, attr, pos)->s, to_str(j, attr, pos)->n), pos);
			if (k->t == V_STR && !(cs && truthy(cs)))
				k = str_case(j, k, "lower", pos);
			keys[i] = k;
		}
		int desc = rev && truthy(rev);
		for (size_t i = 1; i < n; i++) /* stable insertion sort, like Python's sorted() */
			for (size_t k = i; k > 0; k--) {
				step(j, pos);
				int c = order(j, keys[k - 1], keys[k], "<", pos);
				if (desc ? c >= 0 : c <= 0)
					break;
				struct val *t = keys[k];
				keys[k] = keys[k - 1];
				keys[k - 1] = t;
				t = items[k];
				items[k] = items[k - 1];
				items[k - 1] = t;
			}
		return mkseq(j, items, n, L_LIST);
	}
	if (!strcmp(name, "select") || !strcmp(name, "reject") || !strcmp(name, "selectattr") ||
	    !strcmp(name, "rejectattr")) {
		check_args(j, a, 16, NULL, name, pos);
		return filter_select(j, name, v, a, pos);
	}
	if (!strcmp(name, "map")) {
		size_t n;
		if (!truthy(v)) /* as select: nothing for a false value */
			return mkseq(j, NULL, 0, L_ITER);
		struct val **items = iter_items(j, v, &n, pos);
		struct val **r = alloc(j, (n ? n : 1) * sizeof *r);
		struct val *attr = arg(a, 99, "attribute");
		if (attr) {
			check_args(j, a, 0, (const char *const[]){"attribute", "default", NULL}, name, pos);
			struct val *d = arg(a, 99, "default");
			const char *an = dupn(j, to_str(j, attr, pos)->s, to_str(j, attr, pos)->n);
			for (size_t i = 0; i < n; i++) {
				r[i] = get_attr(j, items[i], an, pos);
				if (r[i]->t == V_UNDEF && d)
					r[i] = d;
			}
		} else {
			struct val *fn = want_str(j, arg(a, 0, NULL), "map", pos);
			struct args fa = {a->pos + 1, a->npos - 1, a->kwn, a->kwv, a->nkw};
			for (size_t i = 0; i < n; i++)
				r[i] = apply_filter(j, dupn(j, fn->s, fn->n), items[i], &fa, pos);
		}
		return mkseq(j, r, n, L_ITER);
	}
	fail(j, pos, "unsupported filter '%s'", name);
}

static bool apply_test(struct J *j, const char *name, struct val *v, struct args *a, size_t pos)
{
	static const char *const unary[] = {"defined", "undefined", "none", "boolean", "true", "false", "integer",
	                                    "float", "number", "string", "mapping", "iterable", "sequence",
	                                    "callable", "lower", "upper", "even", "odd", NULL};
	step(j, pos);
	struct val *x = arg(a, 0, NULL);
	if (in_list(unary, name) && (a->npos || a->nkw))
		fail(j, pos, "test '%s' takes no argument", name);
	if (!strcmp(name, "defined")) return v->t != V_UNDEF;
	if (!strcmp(name, "undefined")) return v->t == V_UNDEF;
	if (!strcmp(name, "none")) return v->t == V_NONE;
	if (!strcmp(name, "boolean")) return v->t == V_BOOL;
	if (!strcmp(name, "true")) return v->t == V_BOOL && v->b;
	if (!strcmp(name, "false")) return v->t == V_BOOL && !v->b;
	if (!strcmp(name, "integer")) return v->t == V_INT;
	if (!strcmp(name, "float")) return v->t == V_FLOAT;
	if (!strcmp(name, "number")) return is_num(v);
	if (!strcmp(name, "string")) return v->t == V_STR;
	if (!strcmp(name, "mapping")) return v->t == V_DICT;
	if (!strcmp(name, "iterable")) return v->t == V_STR || v->t == V_LIST || v->t == V_DICT || v->t == V_UNDEF;
	if (!strcmp(name, "sequence"))
		return v->t == V_STR || v->t == V_DICT || v->t == V_UNDEF || (v->t == V_LIST && v->kind != L_ITER);
	if (!strcmp(name, "callable")) return v->t == V_FUNC || v->t == V_METHOD;
	if (!strcmp(name, "lower") || !strcmp(name, "upper")) {
		if (v->t != V_STR)
			fail(j, pos, "test '%s' needs a string", name);
		/* str.islower(): no cased character of the other case, and one at least */
		int cased = 0;
		for (size_t i = 0; i < v->n; i++)
			if ((v->s[i] >= 'a' && v->s[i] <= 'z') || (v->s[i] >= 'A' && v->s[i] <= 'Z'))
				cased = 1;
		return cased && equal(j, v, str_case(j, v, name, pos), pos);
	}
	if (!strcmp(name, "even") || !strcmp(name, "odd") || !strcmp(name, "divisibleby")) {
		if (v->t != V_INT && v->t != V_BOOL)
			fail(j, pos, "test '%s' needs an integer, got %s", name, tname(v));
		long long d = 2;
		if (name[0] == 'd') {
			if (!x || (x->t != V_INT && x->t != V_BOOL) || inum(x) == 0)
				fail(j, pos, "divisibleby needs a non-zero integer");
			d = inum(x);
		}
		long long r = d == -1 ? 0 : inum(v) % d; /* LLONG_MIN % -1 is undefined in C */
		return name[0] == 'o' ? r != 0 : r == 0;
	}
	if (!x)
		fail(j, pos, "unsupported test '%s'", name);
	if (!strcmp(name, "equalto") || !strcmp(name, "eq") || !strcmp(name, "=="))
		return equal(j, v, x, pos);
	if (!strcmp(name, "sameas")) { /* Python "is": exact for the singletons */
		if ((v->t == V_NONE || v->t == V_BOOL) && (x->t == V_NONE || x->t == V_BOOL))
			return v->t == x->t && v->b == x->b;
		if (v->t == V_UNDEF || x->t == V_UNDEF || v == x)
			return v == x;
		fail(j, pos, "'sameas' is only supported with none, true and false");
	}
	if (!strcmp(name, "ne") || !strcmp(name, "!=")) return !equal(j, v, x, pos);
	if (!strcmp(name, "lt") || !strcmp(name, "lessthan")) return order(j, v, x, "<", pos) < 0;
	if (!strcmp(name, "le")) return order(j, v, x, "<=", pos) <= 0;
	if (!strcmp(name, "gt") || !strcmp(name, "greaterthan")) return order(j, v, x, ">", pos) > 0;
	if (!strcmp(name, "ge")) return order(j, v, x, ">=", pos) >= 0;
	if (!strcmp(name, "in")) {
		size_t n;
		if (x->t == V_STR) {
			want_str(j, v, "in", pos);
			return memmem(x->s, x->n, v->s, v->n) != NULL || v->n == 0;
		}
		struct val **items = iter_items(j, x, &n, pos);
		for (size_t i = 0; i < n; i++)
			if (equal(j, v, items[i], pos))
				return true;
		return false;
	}
	fail(j, pos, "unsupported test '%s'", name);
}

/* ------------------------------------------------------------------ */
/* Evaluation                                                          */

static struct val *eval(struct J *j, struct scope *sc, struct node *x);

static void eval_args(struct J *j, struct scope *sc, struct node *x, struct args *a, struct val *first)
{
	size_t extra = first != NULL;
	a->npos = x->args.n + extra;
	a->pos = alloc(j, (a->npos + 1) * sizeof *a->pos);
	if (first)
		a->pos[0] = first;
	for (size_t i = 0; i < x->args.n; i++)
		a->pos[i + extra] = eval(j, sc, x->args.v[i]);
	a->nkw = x->kwn.n;
	a->kwn = (const char **)x->kwn.v;
	a->kwv = alloc(j, (a->nkw + 1) * sizeof *a->kwv);
	for (size_t i = 0; i < a->nkw; i++)
		a->kwv[i] = eval(j, sc, x->kwv.v[i]);
}

static void no_undef(struct J *j, struct val *v, const char *op, size_t pos)
{
	if (v->t == V_UNDEF)
		fail(j, pos, "'%.*s' is undefined (in '%s')", (int)v->n, v->s ? v->s : "value", op);
}

static struct val *arith(struct J *j, const char *op, struct val *a, struct val *b, size_t pos)
{
	no_undef(j, a, op, pos);
	no_undef(j, b, op, pos);
	if (!strcmp(op, "+")) {
		if (a->t == V_STR && b->t == V_STR) {
			if (a->n + b->n > CHAT_MAX_OUTPUT)
				fail(j, pos, "string longer than %u bytes", CHAT_MAX_OUTPUT);
			char *s = alloc(j, a->n + b->n + 1);
			memcpy(s, a->s, a->n);
			memcpy(s + a->n, b->s, b->n);
			s[a->n + b->n] = 0;
			return mkstr(j, s, a->n + b->n);
		}
		if (a->t == V_LIST && b->t == V_LIST && a->kind == b->kind && (a->kind == L_LIST || a->kind == L_TUPLE)) {
			struct val **items = alloc(j, (a->len + b->len + 1) * sizeof *items);
			if (a->len)
				memcpy(items, a->items, a->len * sizeof *items);
			if (b->len)
				memcpy(items + a->len, b->items, b->len * sizeof *items);
			return mkseq(j, items, a->len + b->len, a->kind);
		}
	}
	if (!strcmp(op, "*") && ((a->t == V_STR && (b->t == V_INT || b->t == V_BOOL)) ||
	                         (b->t == V_STR && (a->t == V_INT || a->t == V_BOOL)))) {
		struct val *s = a->t == V_STR ? a : b;
		long long k = inum(a->t == V_STR ? b : a);
		if (k <= 0 || s->n == 0)
			return mkstrc(j, "");
		if ((unsigned long long)k > CHAT_MAX_OUTPUT / s->n)
			fail(j, pos, "string repetition longer than %u bytes", CHAT_MAX_OUTPUT);
		struct sbuf r = {0};
		for (long long i = 0; i < k; i++)
			sput(j, &r, s->s, s->n);
		return mkstr(j, r.s, r.n);
	}
	if (!is_num(a) || !is_num(b))
		fail(j, pos, "unsupported operand types for %s: %s and %s", op, tname(a), tname(b));
	int fl = a->t == V_FLOAT || b->t == V_FLOAT;
	if (!strcmp(op, "/")) {
		if (num(b) == 0)
			fail(j, pos, "division by zero");
		return mkfloat(j, num(a) / num(b));
	}
	if (fl) {
		double x = num(a), y = num(b);
		switch (op[0]) {
		case '+': return mkfloat(j, x + y);
		case '-': return mkfloat(j, x - y);
		case '*': return mkfloat(j, op[1] ? pow(x, y) : x * y);
		default:
			if (y == 0)
				fail(j, pos, "float modulo or division by zero");
			if (op[0] == '%') {
				double r = fmod(x, y);
				if (r != 0 && ((r < 0) != (y < 0)))
					r += y;
				return mkfloat(j, r);
			}
			return mkfloat(j, floor(x / y));
		}
	}
	long long x = inum(a), y = inum(b), r = 0;
	int ovf = 0;
	switch (op[0]) {
	case '+': ovf = __builtin_add_overflow(x, y, &r); break;
	case '-': ovf = __builtin_sub_overflow(x, y, &r); break;
	case '*':
		if (op[1]) { /* ** */
			if (y < 0)
				return mkfloat(j, pow((double)x, (double)y));
			r = 1;
			for (long long i = 0; i < y && !ovf; i++) {
				ovf = __builtin_mul_overflow(r, x, &r);
				if (r == 0 || r == 1)
					break;
				step(j, pos);
			}
		} else {
			ovf = __builtin_mul_overflow(x, y, &r);
		}
		break;
	default: /* % and // with Python's floor semantics */
		if (y == 0)
			fail(j, pos, "integer division or modulo by zero");
		if (x == LLONG_MIN && y == -1) {
			ovf = 1;
			break;
		}
		r = op[0] == '%' ? x % y : x / y;
		if (op[0] == '%' && r != 0 && ((r < 0) != (y < 0)))
			r += y;
		else if (op[0] == '/' && (x % y != 0) && ((x < 0) != (y < 0)))
			r -= 1;
	}
	if (ovf)
		fail(j, pos, "integer overflow in '%s'", op);
	return mkint(j, r);
}

static bool contains(struct J *j, struct val *item, struct val *c, size_t pos)
{
	struct args a = {&c, 1, NULL, NULL, 0};
	if (c->t != V_STR && c->t != V_LIST && c->t != V_DICT && c->t != V_UNDEF)
		fail(j, pos, "'in' needs a string, list or dict on the right, got %s", tname(c));
	if (c->t == V_STR && item->t != V_STR)
		fail(j, pos, "'in <string>' needs a string on the left, got %s", tname(item));
	return apply_test(j, "in", item, &a, pos);
}

static struct val *eval(struct J *j, struct scope *sc, struct node *x)
{
	step(j, x->pos);
	if (++j->depth > CHAT_MAX_DEPTH * 4)
		fail(j, x->pos, "expression nested too deeply");
	struct val *r = NULL;
	struct args a;
	switch (x->k) {
	case N_CONST: r = x->cv; break;
	case N_NAME:
		r = lookup(sc, x->name);
		if (!r)
			r = mkundef(j, x->name, x->nlen);
		break;
	case N_ATTR: r = get_attr(j, eval(j, sc, x->a), x->name, x->pos); break;
	case N_ITEM: {
		struct val *o = eval(j, sc, x->a);
		r = get_item(j, o, eval(j, sc, x->b), x->pos);
		break;
	}
	case N_SLICE: {
		struct val *o = eval(j, sc, x->a), *sv[3];
		for (int k = 0; k < 3; k++)
			sv[k] = x->args.v[k] ? eval(j, sc, x->args.v[k]) : NULL;
		r = get_slice(j, o, sv, x->pos);
		break;
	}
	case N_CALL: {
		struct val *f = eval(j, sc, x->a);
		eval_args(j, sc, x, &a, NULL);
		r = call(j, f, &a, x->pos);
		break;
	}
	case N_FILTER: {
		struct val *v = eval(j, sc, x->a);
		eval_args(j, sc, x, &a, NULL);
		r = apply_filter(j, x->name, v, &a, x->pos);
		break;
	}
	case N_TEST: {
		struct val *v = eval(j, sc, x->a);
		eval_args(j, sc, x, &a, NULL);
		r = mkbool(apply_test(j, x->name, v, &a, x->pos) != x->neg);
		break;
	}
	case N_NOT: r = mkbool(!truthy(eval(j, sc, x->a))); break;
	case N_NEG:
	case N_POS: {
		struct val *v = eval(j, sc, x->a);
		no_undef(j, v, x->k == N_NEG ? "-" : "+", x->pos);
		if (v->t == V_FLOAT)
			r = mkfloat(j, x->k == N_NEG ? -v->f : v->f);
		else if ((v->t == V_INT || v->t == V_BOOL) && inum(v) != LLONG_MIN)
			r = mkint(j, x->k == N_NEG ? -inum(v) : inum(v));
		else
			fail(j, x->pos, "bad operand type for unary %s: %s", x->k == N_NEG ? "-" : "+", tname(v));
		break;
	}
	case N_BIN: {
		struct val *l = eval(j, sc, x->a);
		r = arith(j, x->name, l, eval(j, sc, x->b), x->pos);
		break;
	}
	case N_CONCAT: {
		struct sbuf b = {0};
		sput(j, &b, "", 0);
		for (size_t i = 0; i < x->args.n; i++) {
			str_into(j, &b, eval(j, sc, x->args.v[i]), x->pos);
			if (b.n > CHAT_MAX_OUTPUT)
				fail(j, x->pos, "string longer than %u bytes", CHAT_MAX_OUTPUT);
		}
		r = mkstr(j, b.s, b.n);
		break;
	}
	case N_CMP: {
		struct val *l = eval(j, sc, x->args.v[0]);
		bool ok = true;
		for (size_t i = 0; i < x->ops.n && ok; i++) {
			struct val *rv = eval(j, sc, x->args.v[i + 1]);
			const char *op = x->ops.v[i];
			if (!strcmp(op, "=="))
				ok = equal(j, l, rv, x->pos);
			else if (!strcmp(op, "!="))
				ok = !equal(j, l, rv, x->pos);
			else if (!strcmp(op, "in"))
				ok = contains(j, l, rv, x->pos);
			else if (!strcmp(op, "notin"))
				ok = !contains(j, l, rv, x->pos);
			else {
				no_undef(j, l, op, x->pos);
				no_undef(j, rv, op, x->pos);
				int c = order(j, l, rv, op, x->pos);
				ok = op[0] == '<' ? (op[1] ? c <= 0 : c < 0) : (op[1] ? c >= 0 : c > 0);
			}
			l = rv;
		}
		r = mkbool(ok);
		break;
	}
	case N_AND: {
		struct val *l = eval(j, sc, x->a);
		r = truthy(l) ? eval(j, sc, x->b) : l;
		break;
	}
	case N_OR: {
		struct val *l = eval(j, sc, x->a);
		r = truthy(l) ? l : eval(j, sc, x->b);
		break;
	}
	case N_COND:
		if (truthy(eval(j, sc, x->b)))
			r = eval(j, sc, x->a);
		else
			r = x->c ? eval(j, sc, x->c) : mkundef(j, "else branch", 11);
		break;
	case N_LIST: {
		struct val **items = alloc(j, (x->args.n + 1) * sizeof *items);
		for (size_t i = 0; i < x->args.n; i++)
			items[i] = eval(j, sc, x->args.v[i]);
		r = mkseq(j, items, x->args.n, x->neg ? L_TUPLE : L_LIST);
		break;
	}
	case N_DICT: {
		r = mkdict(j, V_DICT);
		for (size_t i = 0; i + 1 < x->args.n; i += 2) {
			struct val *k = eval(j, sc, x->args.v[i]);
			if (k->t == V_LIST || k->t == V_DICT || k->t == V_UNDEF)
				fail(j, x->pos, "unhashable dict key: %s", tname(k));
			dict_set(j, r, k, eval(j, sc, x->args.v[i + 1]), x->pos);
		}
		break;
	}
	default: fail(j, x->pos, "internal error: statement used as expression");
	}
	j->depth--;
	return r;
}

static void out(struct J *j, const char *s, size_t n, size_t pos)
{
	if (j->outlen + n > CHAT_MAX_OUTPUT)
		fail(j, pos, "rendered text exceeds %u bytes", CHAT_MAX_OUTPUT);
	if (j->outlen + n + 1 > j->outcap) {
		size_t cap = j->outcap ? j->outcap : 4096;
		while (cap < j->outlen + n + 1)
			cap *= 2;
		j->out = xrealloc(j->out, cap);
		j->outcap = cap;
	}
	memcpy(j->out + j->outlen, s, n);
	j->outlen += n;
	j->out[j->outlen] = 0;
}

enum flow { F_NORMAL, F_BREAK, F_CONTINUE };

static enum flow exec(struct J *j, struct scope *sc, struct vec *body, struct sbuf *capture);

/* Bind a for/set target list to a value (unpacking when several). */
static void bind(struct J *j, struct scope *sc, struct vec *targets, struct val *v, size_t pos)
{
	if (targets->n == 1) {
		assign(j, sc, targets->v[0], v);
		return;
	}
	size_t n;
	struct val **items = iter_items(j, v, &n, pos);
	if (n != targets->n)
		fail(j, pos, "cannot unpack %zu values into %zu names", n, targets->n);
	for (size_t i = 0; i < n; i++)
		assign(j, sc, targets->v[i], items[i]);
}

static enum flow exec_for(struct J *j, struct scope *sc, struct node *x, struct sbuf *capture)
{
	size_t n;
	struct val *seq = eval(j, sc, x->a);
	struct val **items = iter_items(j, seq, &n, x->pos);
	if (x->b) { /* {% for x in xs if cond %}: filter first, loop over the rest */
		struct vec kept = {0};
		struct scope s = {.up = sc};
		for (size_t i = 0; i < n; i++) {
			s.names.n = s.vals.n = 0;
			bind(j, &s, &x->targets, items[i], x->pos);
			if (truthy(eval(j, &s, x->b)))
				vpush(j, &kept, items[i]);
		}
		items = (struct val **)kept.v;
		n = kept.n;
	}
	if (n == 0)
		return exec(j, sc, &x->els, capture);
	struct loopst *l = alloc(j, sizeof *l);
	l->items = items;
	l->len = n;
	struct val *lv = mkval(j, V_LOOP);
	lv->loop = l;
	struct scope *s = alloc(j, sizeof *s); /* in the arena: a macro may keep it */
	memset(s, 0, sizeof *s);
	s->up = sc;
	for (size_t i = 0; i < n; i++) {
		/* each iteration starts with an empty scope: Jinja does not carry
		 * assignments from one iteration to the next or out of the loop */
		s->names.n = s->vals.n = 0;
		l->idx = i;
		bind(j, s, &x->targets, items[i], x->pos);
		assign(j, s, "loop", lv);
		if (exec(j, s, &x->body, capture) == F_BREAK)
			break;
	}
	return F_NORMAL;
}

/* The scope of a block body (block set, filter, generation): like a
 * function body in Jinja, its assignments do not leak out.  In the arena,
 * since a macro defined inside may keep it. */
static struct scope *inner_scope(struct J *j, struct scope *sc)
{
	struct scope *s = alloc(j, sizeof *s);
	memset(s, 0, sizeof *s);
	s->up = sc;
	return s;
}

static enum flow exec(struct J *j, struct scope *sc, struct vec *body, struct sbuf *capture)
{
	if (++j->depth > CHAT_MAX_DEPTH * 4)
		fail(j, (size_t)-1, "statements nested too deeply");
	enum flow f = F_NORMAL;
	for (size_t i = 0; i < body->n && f == F_NORMAL; i++) {
		struct node *x = body->v[i];
		step(j, x->pos);
		switch (x->k) {
		case S_TEXT:
		case S_OUT: {
			const char *s = x->name;
			size_t n = x->nlen;
			if (x->k == S_OUT) {
				struct val *v = to_str(j, eval(j, sc, x->a), x->pos);
				s = v->s;
				n = v->n;
			}
			if (capture) {
				sput(j, capture, s, n);
				if (capture->n > CHAT_MAX_OUTPUT)
					fail(j, x->pos, "captured text exceeds %u bytes", CHAT_MAX_OUTPUT);
			} else {
				out(j, s, n, x->pos);
			}
			break;
		}
		case S_IF:
			f = exec(j, sc, truthy(eval(j, sc, x->a)) ? &x->body : &x->els, capture);
			break;
		case S_FOR: f = exec_for(j, sc, x, capture); break;
		case S_SET: bind(j, sc, &x->targets, eval(j, sc, x->a), x->pos); break;
		case S_SETATTR: {
			struct val *ns = lookup(sc, x->name);
			if (!ns || ns->t != V_NS)
				fail(j, x->pos, "can only assign attributes of a namespace(), and '%s' is %s", x->name,
				     ns ? tname(ns) : "undefined");
			dict_set(j, ns, mkstrc(j, x->targets.v[0]), eval(j, sc, x->a), x->pos);
			break;
		}
		case S_SETBLOCK:
		case S_FILTERBLOCK: {
			struct sbuf b = {0};
			sput(j, &b, "", 0);
			f = exec(j, inner_scope(j, sc), &x->body, &b);
			struct val *v = mkstr(j, b.s, b.n);
			if (x->a) { /* filters applied to the captured text, innermost first */
				struct vec chain = {0};
				for (struct node *fx = x->a; fx->k == N_FILTER; fx = fx->a)
					vpush(j, &chain, fx);
				for (size_t k = chain.n; k-- > 0;) {
					struct args a;
					eval_args(j, sc, chain.v[k], &a, NULL);
					v = apply_filter(j, ((struct node *)chain.v[k])->name, v, &a, x->pos);
				}
			}
			if (x->k == S_SETBLOCK) {
				assign(j, sc, x->targets.v[0], v);
				break;
			}
			if (v->t != V_STR) /* Jinja joins it as is: a TypeError */
				fail(j, x->pos, "a filter block must give a string, this one gives a %s", tname(v));
			if (capture)
				sput(j, capture, v->s, v->n);
			else
				out(j, v->s, v->n, x->pos);
			break;
		}
		case S_BREAK: f = F_BREAK; break;
		case S_CONTINUE: f = F_CONTINUE; break;
		case S_BLOCK: f = exec(j, inner_scope(j, sc), &x->body, capture); break;
		case S_MACRO: {
			struct val *m = mkval(j, V_MACRO);
			m->macro = x;
			m->mscope = sc;
			m->s = x->name;
			m->n = strlen(x->name);
			assign(j, sc, x->name, m);
			break;
		}
		default: fail(j, x->pos, "internal error: expression used as statement");
		}
	}
	j->depth--;
	return f;
}

/* A macro call: parameters from the arguments or their defaults (missing
 * ones undefined), the body rendered into a string. */
static struct val *call_macro(struct J *j, struct val *m, struct args *a, size_t pos)
{
	struct node *x = m->macro;
	if (a->npos > x->targets.n)
		fail(j, pos, "macro '%s' takes at most %zu arguments, got %zu", x->name, x->targets.n, a->npos);
	struct scope *s = alloc(j, sizeof *s);
	memset(s, 0, sizeof *s);
	s->up = m->mscope;
	for (size_t k = 0; k < a->nkw; k++) {
		size_t i;
		for (i = 0; i < x->targets.n; i++)
			if (!strcmp(x->targets.v[i], a->kwn[k]))
				break;
		if (i == x->targets.n)
			fail(j, pos, "macro '%s' has no parameter '%s'", x->name, a->kwn[k]);
		if (i < a->npos)
			fail(j, pos, "macro '%s' got two values for '%s'", x->name, a->kwn[k]);
	}
	for (size_t i = 0; i < x->targets.n; i++) {
		struct val *v = i < a->npos ? a->pos[i] : arg(a, (size_t)-1, x->targets.v[i]);
		if (!v)
			v = x->args.v[i] ? eval(j, s, x->args.v[i]) : mkundef(j, x->targets.v[i], strlen(x->targets.v[i]));
		assign(j, s, x->targets.v[i], v);
	}
	struct sbuf b = {0};
	sput(j, &b, "", 0);
	if (exec(j, s, &x->body, &b) != F_NORMAL)
		fail(j, pos, "'break' or 'continue' outside a loop in macro '%s'", x->name);
	return mkstr(j, b.s, b.n);
}

/* ------------------------------------------------------------------ */
/* Entry points                                                        */

/* Normalise newlines the way Jinja does (\r\n and \r become \n) and drop
 * one trailing newline (keep_trailing_newline is off). */
static void load(struct J *j, const char *tmpl)
{
	size_t n = strlen(tmpl), k = 0;
	char *s = alloc(j, n + 1);
	for (size_t i = 0; i < n; i++) {
		if (tmpl[i] == '\r') {
			s[k++] = '\n';
			if (i + 1 < n && tmpl[i + 1] == '\n')
				i++;
		} else {
			s[k++] = tmpl[i];
		}
	}
	if (k && s[k - 1] == '\n')
		k--;
	s[k] = 0;
	j->src = s;
	j->srclen = k;
}

static struct vec *parse(struct J *j, const char *tmpl)
{
	load(j, tmpl);
	lex(j);
	struct vec *body = alloc(j, sizeof *body);
	memset(body, 0, sizeof *body);
	parse_body(j, body, NULL, 0, "template");
	return body;
}

int chat_template_check(const char *tmpl, struct lmu_err *e)
{
	struct J j = {.e = e};
	volatile int rc = 0;
	if (!tmpl) {
		err_set(e, "chat template: no template");
		return -1;
	}
	if (setjmp(j.jb))
		rc = -1;
	else
		parse(&j, tmpl);
	arena_free(&j);
	return rc;
}

static struct val *func(struct J *j, const char *name)
{
	struct val *f = mkval(j, V_FUNC);
	f->s = name;
	f->n = strlen(name);
	return f;
}

char *chat_render(const char *tmpl, const struct chat_msg *msgs, size_t n_msgs, bool add_generation_prompt,
                  const char *bos_token, const char *eos_token, struct lmu_err *e)
{
	struct J j = {.e = e};
	char *result = NULL;
	if (!tmpl) {
		err_set(e, "chat template: no template");
		return NULL;
	}
	if (setjmp(j.jb)) {
		free(j.out);
		arena_free(&j);
		return NULL;
	}
	struct vec *body = parse(&j, tmpl);
	struct scope globals = {0}, top = {.up = &globals}; /* live until the end of the render */
	struct val **items = alloc(&j, (n_msgs + 1) * sizeof *items);
	for (size_t i = 0; i < n_msgs; i++) {
		struct val *m = mkdict(&j, V_DICT);
		if (!msgs[i].role)
			fail(&j, (size_t)-1, "message %zu has no role", i);
		dict_set(&j, m, mkstrc(&j, "role"), mkstrc(&j, msgs[i].role), 0);
		/* apply_chat_template drops None values: no content, no key */
		if (msgs[i].content)
			dict_set(&j, m, mkstrc(&j, "content"), mkstrc(&j, msgs[i].content), 0);
		items[i] = m;
	}
	assign(&j, &globals, "messages", mklist(&j, items, n_msgs));
	assign(&j, &globals, "add_generation_prompt", mkbool(add_generation_prompt));
	if (bos_token)
		assign(&j, &globals, "bos_token", mkstrc(&j, bos_token));
	if (eos_token)
		assign(&j, &globals, "eos_token", mkstrc(&j, eos_token));
	assign(&j, &globals, "tools", &v_none);
	assign(&j, &globals, "documents", &v_none);
	static const char *const funcs[] = {"raise_exception", "namespace", "range", "dict", "strftime_now", NULL};
	for (const char *const *f = funcs; *f; f++)
		assign(&j, &globals, *f, func(&j, *f));
	j.depth = 0;
	out(&j, "", 0, 0); /* an empty render is "", not NULL */
	if (exec(&j, &top, body, NULL) != F_NORMAL)
		fail(&j, (size_t)-1, "'break' or 'continue' outside a loop");
	result = j.out;
	arena_free(&j);
	return result;
}
