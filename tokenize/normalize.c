/* normalize.c - NFC: full canonical decomposition, canonical ordering,
 * canonical composition (Unicode Standard Annex #15). */
#include "normalize.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "unicode.h"

/* Hangul syllables are composed and decomposed by arithmetic (UAX #15). */
enum { S_BASE = 0xac00, L_BASE = 0x1100, V_BASE = 0x1161, T_BASE = 0x11a7, L_COUNT = 19, V_COUNT = 21,
       T_COUNT = 28, N_COUNT = V_COUNT * T_COUNT, S_COUNT = L_COUNT * N_COUNT };

static unsigned ccc_of(uint32_t cp)
{
	unsigned lo = 0, hi = norm_n_ccc;
	if (cp < 0x300)
		return 0;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (cp < norm_ccc[mid].first)
			hi = mid;
		else if (cp > norm_ccc[mid].last)
			lo = mid + 1;
		else
			return norm_ccc[mid].ccc;
	}
	return 0;
}

static const struct norm_decomp *decomp_of(uint32_t cp)
{
	unsigned lo = 0, hi = norm_n_decomp;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (cp < norm_decomp[mid].cp)
			hi = mid;
		else if (cp > norm_decomp[mid].cp)
			lo = mid + 1;
		else
			return &norm_decomp[mid];
	}
	return NULL;
}

static uint32_t compose(uint32_t a, uint32_t b)
{
	if (a >= L_BASE && a < L_BASE + L_COUNT && b >= V_BASE && b < V_BASE + V_COUNT)
		return S_BASE + ((a - L_BASE) * V_COUNT + (b - V_BASE)) * T_COUNT;
	if (a >= S_BASE && a < S_BASE + S_COUNT && (a - S_BASE) % T_COUNT == 0 && b > T_BASE &&
	    b < T_BASE + T_COUNT)
		return a + (b - T_BASE);
	unsigned lo = 0, hi = norm_n_comp;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		const struct norm_comp *c = &norm_comp[mid];
		if (a < c->a || (a == c->a && b < c->b))
			hi = mid;
		else if (a > c->a || b > c->b)
			lo = mid + 1;
		else
			return c->cp;
	}
	return 0;
}

struct cpbuf {
	uint32_t *v;
	size_t n, cap;
};

static void put(struct cpbuf *b, uint32_t cp)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 256;
		b->v = xreallocarray(b->v, b->cap, sizeof *b->v);
	}
	b->v[b->n++] = cp;
}

static void decompose(struct cpbuf *b, uint32_t cp)
{
	if (cp >= S_BASE && cp < S_BASE + S_COUNT) {
		uint32_t s = cp - S_BASE;
		put(b, L_BASE + s / N_COUNT);
		put(b, V_BASE + (s % N_COUNT) / T_COUNT);
		if (s % T_COUNT)
			put(b, T_BASE + s % T_COUNT);
		return;
	}
	const struct norm_decomp *d = cp >= 0xc0 ? decomp_of(cp) : NULL;
	if (!d) {
		put(b, cp);
		return;
	}
	decompose(b, d->d0);
	if (d->d1)
		decompose(b, d->d1);
}

char *nfc(const char *s, size_t n, size_t *out_len)
{
	const unsigned char *u = (const unsigned char *)s;
	struct cpbuf b = {0};
	size_t i;

	/* text below U+0300 is already NFC unless a mark follows: check the
	 * cheap way first */
	for (i = 0; i < n && u[i] < 0xcc; i++)
		;
	if (i == n) {
		char *copy = xmalloc(n + 1);
		memcpy(copy, s, n);
		copy[n] = 0;
		*out_len = n;
		return copy;
	}
	for (i = 0; i < n;) {
		uint32_t cp;
		i += (size_t)utf8_decode(u + i, &cp);
		decompose(&b, cp);
	}
	/* canonical ordering: stable sort of each run of non-starters */
	for (i = 1; i < b.n; i++) {
		unsigned c = ccc_of(b.v[i]);
		for (size_t j = i; c && j > 0 && ccc_of(b.v[j - 1]) > c; j--) {
			uint32_t t = b.v[j];
			b.v[j] = b.v[j - 1];
			b.v[j - 1] = t;
		}
	}
	/* composition: a character that is not blocked from the last starter
	 * (nothing between them, or the one before it has a lower, non-zero
	 * class: the run is in canonical order) and composes with it replaces
	 * the starter */
	size_t o = 0, starter = 0;
	bool have_starter = false;
	unsigned last_ccc = 0;  /* class of the last character kept after the starter */
	for (i = 0; i < b.n; i++) {
		uint32_t cp = b.v[i], comp;
		unsigned c = ccc_of(cp);
		if (have_starter && (o == starter + 1 || (last_ccc != 0 && last_ccc < c)) &&
		    (comp = compose(b.v[starter], cp)) != 0) {
			b.v[starter] = comp;
			continue;
		}
		if (c == 0) {
			starter = o;
			have_starter = true;
		}
		last_ccc = c;
		b.v[o++] = cp;
	}
	char *out = xmalloc(4 * o + 1);
	size_t len = 0;
	for (i = 0; i < o; i++)
		len += (size_t)utf8_encode(b.v[i], out + len);
	out[len] = 0;
	free(b.v);
	*out_len = len;
	return out;
}
