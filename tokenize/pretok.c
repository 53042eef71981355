#include "pretok.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "unicode.h"

int pretok_from_name(const char *pre)
{
	static const struct {
		const char *name;
		enum pretok kind;
	} names[] = {
		{"gpt-2", PRETOK_GPT2}, {"phi-2", PRETOK_GPT2}, {"mpt", PRETOK_GPT2}, {"olmo", PRETOK_GPT2},
		{"roberta-bpe", PRETOK_GPT2},
		{"smollm", PRETOK_SMOLLM}, {"starcoder", PRETOK_SMOLLM}, {"refact", PRETOK_SMOLLM},
		{"codeshell", PRETOK_SMOLLM},
		{"llama3", PRETOK_LLAMA3}, {"llama-v3", PRETOK_LLAMA3}, {"llama-bpe", PRETOK_LLAMA3},
		{"falcon3", PRETOK_LLAMA3}, {"falcon-h1", PRETOK_LLAMA3}, {"pixtral", PRETOK_LLAMA3},
		{"midm-2.0", PRETOK_LLAMA3}, {"lfm2", PRETOK_LLAMA3}, {"dbrx", PRETOK_LLAMA3},
		{"smaug-bpe", PRETOK_LLAMA3},
		{"qwen2", PRETOK_QWEN2}, {"deepseek-r1-qwen", PRETOK_QWEN2}, {"kormo", PRETOK_QWEN2},
		{"megrez", PRETOK_QWEN2}, {"stablelm2", PRETOK_QWEN2},
	};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (strcmp(pre, names[i].name) == 0)
			return (int)names[i].kind;
	return -1;
}

/* Class bits used by the matchers, on top of the Unicode ones. */
#define IS_L(c) ((c) & UC_L)
#define IS_N(c) ((c) & UC_N)
#define IS_WS(c) ((c) & UC_SPACE)
#define IS_OTHER(c) (!((c) & (UC_L | UC_N | UC_SPACE)))  /* [^\s\p{L}\p{N}] */

static void push(struct pieces *p, uint32_t end)
{
	if (p->n && p->end[p->n - 1] == end)
		return;
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 256;
		p->end = xreallocarray(p->end, p->cap, sizeof *p->end);
	}
	p->end[p->n++] = end;
}

static uint32_t lower_ascii(uint32_t c)
{
	return c >= 'A' && c <= 'Z' ? c | 0x20 : c;
}

/* Length of a contraction 's 't 're 've 'm 'll 'd at i (0 if none);
 * fold: case-insensitive, as (?i:...) does in the Llama 3 pattern, where
 * U+017F (long s) folds to s. */
static size_t contraction(const uint32_t *cp, size_t i, size_t n, int fold)
{
	if (cp[i] != '\'' || i + 1 >= n)
		return 0;
	uint32_t a = cp[i + 1], b = i + 2 < n ? cp[i + 2] : 0;
	if (fold) {
		a = a == 0x17f ? 's' : lower_ascii(a);
		b = b == 0x17f ? 's' : lower_ascii(b);
	}
	if (a == 's' || a == 't' || a == 'm' || a == 'd')
		return 2;
	if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
		return 3;
	return 0;
}

/* Whitespace run at i: \s+(?!\S) then \s+ (both patterns end so). */
static size_t ws_run(const uint8_t *cls, size_t i, size_t n)
{
	size_t e = i;
	while (e < n && IS_WS(cls[e]))
		e++;
	if (e == n || e - i == 1)
		return e - i;
	return e - i - 1;  /* leave the last space to the next piece */
}

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static size_t match_gpt2(const uint32_t *cp, const uint8_t *cls, size_t i, size_t n)
{
	size_t k = contraction(cp, i, n, 0), t, e;
	if (k)
		return k;
	t = cp[i] == ' ' && i + 1 < n ? i + 1 : i;
	e = t;
	if (IS_L(cls[t]))
		while (e < n && IS_L(cls[e]))
			e++;
	else if (IS_N(cls[t]))
		while (e < n && IS_N(cls[e]))
			e++;
	else if (IS_OTHER(cls[t]))
		while (e < n && IS_OTHER(cls[e]))
			e++;
	if (e > t)
		return e - i;
	return ws_run(cls, i, n);
}

/* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * (Qwen2: \p{N} instead of \p{N}{1,3}: max_digits 1) */
static size_t match_llama3(const uint32_t *cp, const uint8_t *cls, size_t i, size_t n, size_t max_digits)
{
	size_t k = contraction(cp, i, n, 1), t, e;
	if (k)
		return k;
	/* [^\r\n\p{L}\p{N}]?\p{L}+ */
	t = i;
	if (!IS_L(cls[i]) && !IS_N(cls[i]) && cp[i] != '\r' && cp[i] != '\n' && i + 1 < n && IS_L(cls[i + 1]))
		t = i + 1;
	if (IS_L(cls[t])) {
		e = t;
		while (e < n && IS_L(cls[e]))
			e++;
		return e - i;
	}
	if (IS_N(cls[i])) {
		e = i;
		while (e < n && e - i < max_digits && IS_N(cls[e]))
			e++;
		return e - i;
	}
	/*  ?[^\s\p{L}\p{N}]+[\r\n]* */
	t = cp[i] == ' ' && i + 1 < n ? i + 1 : i;
	if (IS_OTHER(cls[t])) {
		e = t;
		while (e < n && IS_OTHER(cls[e]))
			e++;
		while (e < n && (cp[e] == '\r' || cp[e] == '\n'))
			e++;
		return e - i;
	}
	/* \s*[\r\n]+ : up to the last line break of the whitespace run */
	e = i;
	size_t last_nl = n;
	while (e < n && IS_WS(cls[e])) {
		if (cp[e] == '\r' || cp[e] == '\n')
			last_nl = e;
		e++;
	}
	if (last_nl < n)
		return last_nl + 1 - i;
	return ws_run(cls, i, n);
}

static void split_range(enum pretok kind, const uint32_t *cp, const uint8_t *cls, const uint32_t *off, size_t a,
			size_t b, struct pieces *p)
{
	size_t i = a;
	while (i < b) {
		size_t len;
		switch (kind) {
		case PRETOK_LLAMA3: len = match_llama3(cp + a, cls + a, i - a, b - a, 3); break;
		case PRETOK_QWEN2: len = match_llama3(cp + a, cls + a, i - a, b - a, 1); break;
		default: len = match_gpt2(cp + a, cls + a, i - a, b - a); break;
		}
		if (len == 0)
			len = 1;
		i += len;
		push(p, off[i]);
	}
}

void pretok_split(enum pretok kind, const char *s, size_t n, struct pieces *p)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t m = 0;

	p->n = 0;
	if (n == 0)
		return;
	if (kind == PRETOK_NONE) {
		push(p, (uint32_t)n);
		return;
	}
	if (n + 1 > p->scap) {
		p->scap = n + 1;
		p->cp = xreallocarray(p->cp, p->scap, sizeof *p->cp);
		p->off = xreallocarray(p->off, p->scap, sizeof *p->off);
		p->cls = xreallocarray(p->cls, p->scap, sizeof *p->cls);
	}
	for (size_t i = 0; i < n;) {
		uint32_t c;
		int len = utf8_decode(u + i, &c);
		p->cp[m] = c;
		p->off[m] = (uint32_t)i;
		p->cls[m] = (uint8_t)uc_flags(c);
		m++;
		i += (size_t)len;
	}
	p->off[m] = (uint32_t)n;
	if (kind == PRETOK_SMOLLM) {
		/* Digits(individual_digits): every number character is its own
		 * piece, and the GPT-2 pattern splits what lies between */
		size_t a = 0;
		for (size_t i = 0; i <= m; i++) {
			if (i == m || IS_N(p->cls[i])) {
				split_range(PRETOK_GPT2, p->cp, p->cls, p->off, a, i, p);
				if (i < m)
					push(p, p->off[i + 1]);
				a = i + 1;
			}
		}
		return;
	}
	split_range(kind, p->cp, p->cls, p->off, 0, m, p);
}

void pieces_free(struct pieces *p)
{
	free(p->end);
	free(p->cp);
	free(p->off);
	free(p->cls);
	memset(p, 0, sizeof *p);
}
