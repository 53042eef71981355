#include "detok.h"

#include <stdlib.h>
#include <string.h>

#include "unicode.h"

void detok_init(struct detok *d, const struct vocab *v, bool special)
{
	memset(d, 0, sizeof *d);
	d->v = v;
	d->special = special;
	d->at_start = true;
}

static void append(struct detok *d, const char *s, size_t n)
{
	if (d->n + n > d->cap) {
		d->cap = 2 * (d->n + n) + 64;
		d->b = xrealloc(d->b, d->cap);
	}
	memcpy(d->b + d->n, s, n);
	d->n += n;
}

/* The open run of byte tokens ends: keep its bytes if they are valid UTF-8
 * as a whole, else put one U+FFFD in place of each. */
static void close_run(struct detok *d)
{
	size_t bad = 0, len, k = d->run;
	char *s;

	if (!k)
		return;
	s = utf8_repair(d->b + d->n - k, k, &len, &bad);
	free(s);
	d->run = 0;
	if (!bad)
		return;
	d->n -= k;
	while (k--)
		append(d, "\xef\xbf\xbd", 3);
}

void detok_push(struct detok *d, int32_t id)
{
	const struct vocab *v = d->v;
	size_t n;
	const char *s;

	if (!d->special && vocab_is_special(v, id))
		return;  /* skipped tokens do not end a run: Hugging Face drops them first */
	s = vocab_piece(v, id, &n);
	if (d->at_start && v->kind == VOCAB_SPM && v->add_space_prefix && n && s[0] == ' ')
		s++, n--;
	d->at_start = false;
	if (v->kind == VOCAB_SPM && v->byte_fallback && v->type[id] == TOKEN_BYTE && n == 1) {
		append(d, s, 1);
		d->run++;
		return;
	}
	close_run(d);
	append(d, s, n);
}

void detok_reset(struct detok *d)
{
	close_run(d);
	d->at_start = true;
}

const char *detok_take(struct detok *d, bool at_end, size_t *len)
{
	size_t n;

	if (at_end)
		close_run(d);
	n = d->n - d->run;
	if (!at_end)
		n = utf8_complete_prefix((const unsigned char *)d->b, n);
	free(d->out);
	d->out = utf8_repair(d->b, n, len, NULL);
	if (n)  /* d->b is NULL before the first byte */
		memmove(d->b, d->b + n, d->n - n);
	d->n -= n;
	return d->out;
}

void detok_free(struct detok *d)
{
	free(d->b);
	free(d->out);
	memset(d, 0, sizeof *d);
}
