/* gen.c - see gen.h. */
#include "gen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

struct gen {
	struct sampler s;
	const struct vocab *v;
	long long max_tokens, emitted;
	bool ignore_eos;
	/* stop strings, and the decoded text of the last few tokens: enough
	 * to see one that spans tokens, since at most (longest - 1) bytes are
	 * kept between tokens, so a match always involves the newest one */
	char *stop[GEN_MAX_STOPS];
	size_t stop_len[GEN_MAX_STOPS];
	int n_stop;
	size_t keep;
	char *buf;
	size_t len, cap;
};

struct gen *gen_new(const struct gen_params *p, const struct vocab *v)
{
	struct gen *g = xcalloc(1, sizeof *g);

	if (p->n_stop && !v)
		die("stop strings need the model's vocabulary");
	if (p->n_stop < 0 || p->n_stop > GEN_MAX_STOPS)
		die("at most %d stop strings", GEN_MAX_STOPS);
	sampler_init(&g->s, &p->sampler);
	g->v = v;
	g->max_tokens = p->max_tokens;
	g->ignore_eos = p->ignore_eos;
	for (int i = 0; i < p->n_stop; i++) {
		size_t len = strlen(p->stop[i]);
		if (len == 0 || len > GEN_MAX_STOP_LEN)
			die("a stop string must have 1 to %d bytes", GEN_MAX_STOP_LEN);
		g->stop[i] = xstrdup(p->stop[i]);
		g->stop_len[i] = len;
		if (len - 1 > g->keep)
			g->keep = len - 1;
	}
	g->n_stop = p->n_stop;
	return g;
}

void gen_free(struct gen *g)
{
	if (!g)
		return;
	sampler_free(&g->s);
	for (int i = 0; i < g->n_stop; i++)
		free(g->stop[i]);
	free(g->buf);
	free(g);
}

void gen_prompt(struct gen *g, const int32_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sampler_accept(&g->s, ids[i]);
}

/* Does the text so far, with piece appended, contain a stop string? */
static bool stop_seen(struct gen *g, const char *piece, size_t len)
{
	if (g->n_stop == 0)
		return false;
	if (g->len + len > g->cap) {
		g->cap = g->len + len;
		g->buf = xrealloc(g->buf, g->cap);
	}
	memcpy(g->buf + g->len, piece, len);
	g->len += len;
	for (int i = 0; i < g->n_stop; i++)
		if (memmem(g->buf, g->len, g->stop[i], g->stop_len[i]))
			return true;
	if (g->len > g->keep) {
		memmove(g->buf, g->buf + g->len - g->keep, g->keep);
		g->len = g->keep;
	}
	return false;
}

int gen_next(struct gen *g, const float *scores, uint32_t n, int32_t *id)
{
	return gen_next_top(g, scores, n, NULL, 0, -INFINITY, id);
}

int gen_next_top(struct gen *g, const float *scores, uint32_t n, const uint32_t *ids, uint32_t k, double rest,
		 int32_t *id)
{
	*id = -1;
	if (g->max_tokens && g->emitted >= g->max_tokens)
		return GEN_LENGTH;
	*id = sampler_sample_top(&g->s, scores, n, ids, k, rest);
	if (*id < 0)
		return -1;
	bool known = g->v && (uint32_t)*id < g->v->n;
	if (known && g->v->eog[*id] && !g->ignore_eos)
		return GEN_EOG;
	if (known && !vocab_is_special(g->v, *id)) {
		size_t len;
		const char *piece = vocab_piece(g->v, *id, &len);
		if (stop_seen(g, piece, len))
			return GEN_STOP;
	}
	sampler_accept(&g->s, *id);
	g->emitted++;
	return g->max_tokens && g->emitted == g->max_tokens ? GEN_LAST : GEN_TOKEN;
}

long long gen_emitted(const struct gen *g)
{
	return g->emitted;
}

long long gen_left(const struct gen *g)
{
	return g->max_tokens ? g->max_tokens - g->emitted : -1;
}

struct sampler *gen_sampler(struct gen *g)
{
	return &g->s;
}
