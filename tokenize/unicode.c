#include "unicode.h"

#include <stdbool.h>
#include <string.h>

#include "err.h"

/* The Basic Multilingual Plane gets a direct table built on first use;
 * the rest is a binary search over the generated ranges. */
static uint8_t bmp[0x10000];
static bool bmp_ready;

static unsigned lookup(uint32_t cp)
{
	unsigned lo = 0, hi = uc_n_ranges;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (cp < uc_ranges[mid].first)
			hi = mid;
		else if (cp > uc_ranges[mid].last)
			lo = mid + 1;
		else
			return uc_ranges[mid].flags;
	}
	return UC_C;
}

static void init_bmp(void)
{
	memset(bmp, UC_C, sizeof bmp);
	for (unsigned i = 0; i < uc_n_ranges && uc_ranges[i].first < 0x10000; i++)
		for (uint32_t c = uc_ranges[i].first; c <= uc_ranges[i].last && c < 0x10000; c++)
			bmp[c] = uc_ranges[i].flags;
	bmp_ready = true;
}

unsigned uc_flags(uint32_t cp)
{
	if (cp < 0x10000) {
		if (!bmp_ready)
			init_bmp();
		return bmp[cp];
	}
	return lookup(cp);
}

/* Valid second bytes depend on the lead byte (Unicode table 3-7). */
static int second_ok(unsigned char lead, unsigned char b)
{
	switch (lead) {
	case 0xe0: return b >= 0xa0 && b <= 0xbf;
	case 0xed: return b >= 0x80 && b <= 0x9f;
	case 0xf0: return b >= 0x90 && b <= 0xbf;
	case 0xf4: return b >= 0x80 && b <= 0x8f;
	default: return b >= 0x80 && b <= 0xbf;
	}
}

static int lead_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0;
}

/* Length of the maximal subpart at s: how many bytes start a valid
 * sequence (k < need means ill-formed or cut short after k bytes). */
static int subpart(const unsigned char *s, size_t n, int *need)
{
	int len = lead_len(s[0]);
	*need = len;
	if (len <= 1)
		return len;
	if (n < 2 || !second_ok(s[0], s[1]))
		return 1;
	int k = 2;
	while (k < len && (size_t)k < n && (s[k] & 0xc0) == 0x80)
		k++;
	return k;
}

int utf8_valid_len(const unsigned char *s, size_t n)
{
	int need, k;
	if (n == 0)
		return 0;
	k = subpart(s, n, &need);
	return k == need ? k : 0;
}

size_t utf8_complete_prefix(const unsigned char *s, size_t n)
{
	/* look back at most 3 bytes for a lead byte whose sequence is cut */
	for (size_t back = 1; back <= 3 && back <= n; back++) {
		unsigned char c = s[n - back];
		if ((c & 0xc0) == 0x80)
			continue;
		int need = lead_len(c);
		if (need > (int)back) {
			int k, nd;
			k = subpart(s + n - back, back, &nd);
			if (k == (int)back)  /* a valid start, only cut short */
				return n - back;
		}
		break;
	}
	return n;
}

char *utf8_repair(const char *src, size_t n, size_t *out_len, size_t *n_bad)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0, bad = 0;
	char *out;

	/* fast path: most input is valid */
	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		int k = utf8_valid_len(s + i, n - i);
		if (!k)
			break;
		i += (size_t)k;
	}
	if (n > (((size_t)-1) - 1) / 3)
		die("input too large");
	out = xmalloc(i == n ? n + 1 : 3 * n + 1);
	if (i)
		memcpy(out, s, i);  /* s may be NULL when the input is empty */
	o = i;
	while (i < n) {
		int need, k = subpart(s + i, n - i, &need);
		if (k == need && k > 0) {
			memcpy(out + o, s + i, (size_t)k);
			o += (size_t)k;
			i += (size_t)k;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i += k > 0 ? (size_t)k : 1;
			bad++;
		}
	}
	out[o] = 0;
	*out_len = o;
	if (n_bad)
		*n_bad = bad;
	return out;
}

int utf8_encode(uint32_t cp, char *buf)
{
	unsigned char *b = (unsigned char *)buf;
	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | cp >> 6);
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | cp >> 12);
		b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	b[0] = (unsigned char)(0xf0 | cp >> 18);
	b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	b[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}
