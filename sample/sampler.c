/* sampler.c - see sampler.h for the order of the steps and why. */
#include "sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "vec8.h"

void sampler_defaults(struct sampler_params *p)
{
	p->temperature = 0.8;
	p->top_k = 40;
	p->top_p = 0.95;
	p->min_p = 0.05;
	p->repeat_penalty = 1.1;
	p->presence_penalty = 0.0;
	p->frequency_penalty = 0.0;
	p->repeat_last_n = 64;
	p->seed = 0;
}

void sampler_params_take(struct sampler_params *dst, const struct sampler_params *src, unsigned bits)
{
	if (bits & SP_TEMPERATURE)
		dst->temperature = src->temperature;
	if (bits & SP_TOP_K)
		dst->top_k = src->top_k;
	if (bits & SP_TOP_P)
		dst->top_p = src->top_p;
	if (bits & SP_MIN_P)
		dst->min_p = src->min_p;
	if (bits & SP_REPEAT_PENALTY)
		dst->repeat_penalty = src->repeat_penalty;
	if (bits & SP_PRESENCE_PENALTY)
		dst->presence_penalty = src->presence_penalty;
	if (bits & SP_FREQUENCY_PENALTY)
		dst->frequency_penalty = src->frequency_penalty;
	if (bits & SP_REPEAT_LAST_N)
		dst->repeat_last_n = src->repeat_last_n;
}

/* ---- the generator: splitmix64 to spread the seed, xoshiro256** to draw ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t next_u64(uint64_t s[4])
{
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

double sampler_uniform(struct sampler *s)
{
	return (double)(next_u64(s->rng) >> 11) * 0x1.0p-53;
}

void sampler_init(struct sampler *s, const struct sampler_params *p)
{
	uint64_t x = p->seed;

	memset(s, 0, sizeof *s);
	s->par = *p;
	for (int i = 0; i < 4; i++)
		s->rng[i] = splitmix64(&x);
	if (p->repeat_last_n > 0) {
		s->hist_cap = (size_t)p->repeat_last_n;
		s->hist = xreallocarray(NULL, s->hist_cap, sizeof *s->hist);
	}
}

void sampler_free(struct sampler *s)
{
	free(s->hist);
	free(s->count);
	free(s->mark);
	free(s->cand);
	memset(s, 0, sizeof *s);
}

/* ---- the window of recent ids ---- */

static bool penalties_on(const struct sampler_params *p)
{
	return p->repeat_last_n != 0 &&
	       (p->repeat_penalty != 1.0 || p->presence_penalty != 0.0 || p->frequency_penalty != 0.0);
}

void sampler_accept(struct sampler *s, int32_t id)
{
	if (id < 0 || s->par.repeat_last_n == 0)
		return;
	if ((size_t)id >= s->count_cap) {
		size_t cap = s->count_cap ? s->count_cap : 1024;
		while (cap <= (size_t)id)
			cap *= 2;
		s->count = xreallocarray(s->count, cap, sizeof *s->count);
		memset(s->count + s->count_cap, 0, (cap - s->count_cap) * sizeof *s->count);
		s->mark = xrealloc(s->mark, cap);
		memset(s->mark + s->count_cap, 0, cap - s->count_cap);
		s->count_cap = cap;
	}
	if (s->par.repeat_last_n < 0) {
		/* everything seen: only the counts matter */
		s->count[id]++;
		s->hist_n++;
		return;
	}
	if (s->hist_n == s->hist_cap) {
		/* drop the oldest id from the ring */
		s->count[s->hist[s->hist_head]]--;
		s->hist[s->hist_head] = id;
		s->hist_head = (s->hist_head + 1) % s->hist_cap;
	} else {
		s->hist[(s->hist_head + s->hist_n) % s->hist_cap] = id;
		s->hist_n++;
	}
	s->count[id]++;
}

/* The score of id after the penalties of the window. */
static float penalised(const struct sampler *s, int32_t id, float x)
{
	uint32_t c = (size_t)id < s->count_cap ? s->count[id] : 0;
	if (c == 0)
		return x;
	if (s->par.repeat_penalty != 1.0)
		x = x > 0 ? (float)(x / s->par.repeat_penalty) : (float)(x * s->par.repeat_penalty);
	x -= (float)(s->par.presence_penalty + s->par.frequency_penalty * c);
	return x;
}

/* ---- ranking: best = higher logit, then lower id ---- */

static bool better(const struct candidate *a, const struct candidate *b)
{
	return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static bool worse(const struct candidate *a, const struct candidate *b)
{
	return better(b, a);
}

static int by_rank(const void *a, const void *b)
{
	return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

/* A heap whose root is the first by the order `first`: better gives the
 * best at the root, worse the worst. */
typedef bool (*order_fn)(const struct candidate *, const struct candidate *);

static void sift_down(struct candidate *h, size_t n, size_t i, order_fn first)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && first(&h[l], &h[m]))
			m = l;
		if (r < n && first(&h[r], &h[m]))
			m = r;
		if (m == i)
			return;
		struct candidate t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void heapify(struct candidate *h, size_t n, order_fn first)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(h, n, i, first);
}

/* Take the root of heap h[0..*n) out, shrinking the heap. */
static struct candidate heap_pop(struct candidate *h, size_t *n, order_fn first)
{
	struct candidate root = h[0];
	h[0] = h[--*n];
	sift_down(h, *n, 0, first);
	return root;
}

int32_t sampler_sample(struct sampler *s, const float *scores, uint32_t n)
{
	return sampler_sample_top(s, scores, n, NULL, 0, -INFINITY);
}

static inline bool zero8(v8i m)
{
	uint64_t w[4];
	memcpy(w, &m, sizeof w);
	return (w[0] | w[1] | w[2] | w[3]) == 0;
}

/* Whether none of scores[0..8) is above -inf (all -inf or NaN). */
static inline bool none_above_ninf(const float *scores)
{
	return zero8(load8(scores) > -INFINITY);
}

/* The scores of ids [i, i + 8) after the penalties: as they are unless
 * one of them is in the window. */
static inline v8 penalised8(const struct sampler *s, bool pen, const float *scores, uint32_t i)
{
	v8 x = load8(scores + i);
	if (pen && i < s->count_cap) {
		bool any = false;
		if (i + 8 <= s->count_cap) {
			v8i c;
			memcpy(&c, s->count + i, sizeof c);
			any = !zero8(c);
		} else {
			for (uint32_t j = i; j < s->count_cap; j++)
				any |= s->count[j] != 0;
		}
		if (any)
			for (int j = 0; j < 8; j++)
				x[j] = penalised(s, (int32_t)(i + j), x[j]);
	}
	return x;
}

/* The best id after the penalties, ties to the lowest, NaN never; -1
 * when every score is -inf or NaN.  8 lanes, each keeping its first best,
 * then the best of the lanes. */
static int32_t greedy(const struct sampler *s, const float *scores, uint32_t n, bool pen)
{
	const v8 ninf = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
	const v8i eight = {8, 8, 8, 8, 8, 8, 8, 8};
	v8 best = ninf;
	v8i at = {-1, -1, -1, -1, -1, -1, -1, -1}, idx = {0, 1, 2, 3, 4, 5, 6, 7};
	float max = -INFINITY;
	int32_t id = -1;
	uint32_t i = 0;

	for (; i + 8 <= n; i += 8, idx += eight) {
		v8 x = penalised8(s, pen, scores, i);
		v8i gt = x > best;  /* strict: a lane keeps the first of equal scores */
		best = (v8)(((v8i)x & gt) | ((v8i)best & ~gt));
		at = (idx & gt) | (at & ~gt);
	}
	for (int j = 0; j < 8; j++)
		if (best[j] > max || (best[j] == max && at[j] >= 0 && at[j] < id)) {
			max = best[j];
			id = at[j];
		}
	for (; i < n; i++) {
		float x = pen ? penalised(s, (int32_t)i, scores[i]) : scores[i];
		if (x > max) {
			max = x;
			id = (int32_t)i;
		}
	}
	return id;
}

/* The same over the ids of a frame that lists only ids[0..k) (in any
 * order): the others are -inf, which no penalty raises. */
static int32_t greedy_listed(const struct sampler *s, const float *scores, const uint32_t *ids, uint32_t k, bool pen)
{
	float max = -INFINITY;
	int32_t id = -1;

	for (uint32_t i = 0; i < k; i++) {
		int32_t j = (int32_t)ids[i];
		float x = pen ? penalised(s, j, scores[j]) : scores[j];
		if (x > max || (x == max && id >= 0 && j < id)) {
			max = x;
			id = j;
		}
	}
	return id;
}

static int by_id(const void *a, const void *b)
{
	int32_t x = ((const struct candidate *)a)->id, y = ((const struct candidate *)b)->id;
	return (x > y) - (x < y);
}

/* Candidate id i (its score x, before the penalties) into c[*nc] unless
 * it is -inf, scaled by 1/T. */
static void candidate(const struct sampler *s, bool pen, int32_t i, float x, struct candidate *c, size_t *nc,
		      float *max)
{
	if (pen)
		x = penalised(s, i, x);
	if (!(x > -INFINITY))
		return;
	x = (float)(x / s->par.temperature);
	c[(*nc)++] = (struct candidate){i, x, 0};
	if (x > *max)
		*max = x;
}

int32_t sampler_sample_top(struct sampler *s, const float *scores, uint32_t n, const uint32_t *ids, uint32_t k,
			   double rest)
{
	const struct sampler_params *p = &s->par;
	bool pen = penalties_on(p), sparse = ids && k > 0 && k < n;
	size_t nc = 0;
	float max = -INFINITY;

	if (p->temperature == 0)
		return sparse ? greedy_listed(s, scores, ids, k, pen) : greedy(s, scores, n, pen);

	/* candidates: the ids with a score above -inf, scaled by 1/T, in
	 * the order of their ids (the listed ones sorted into it) */
	if (s->cand_cap < (size_t)n + 1) {
		s->cand = xreallocarray(s->cand, (size_t)n + 1, 2 * sizeof *s->cand);
		s->cand_cap = (size_t)n + 1;
	}
	struct candidate *c = s->cand, *ranked = s->cand + s->cand_cap;
	if (sparse) {
		for (uint32_t i = 0; i < k; i++)
			candidate(s, pen, (int32_t)ids[i], scores[ids[i]], c, &nc, &max);
		qsort(c, nc, sizeof *c, by_id);
	} else {
		for (uint32_t i0 = 0; i0 < n; i0 += 8) {
			uint32_t end = i0 + 8 < n ? i0 + 8 : n;
			if (end - i0 == 8 && none_above_ninf(scores + i0))
				continue;  /* -inf stays -inf under a penalty: a top-k frame's unlisted ids */
			for (uint32_t i = i0; i < end; i++)
				candidate(s, pen, (int32_t)i, scores[i], c, &nc, &max);
		}
	}
	if (nc == 0)
		return -1;

	/* top-k: one pass with a heap of the k best so far, its worst at the
	 * root; the rest need no exp() at all.  The best score stays in.
	 * Ranked, so that the draw sees them in an order that depends on the
	 * scores alone (not on the ids left out: a frame of the k best ids
	 * draws the same one). */
	if (p->top_k > 0 && p->top_k < nc) {
		heapify(c, p->top_k, worse);
		for (size_t i = p->top_k; i < nc; i++)
			if (better(&c[i], &c[0])) {
				c[0] = c[i];
				sift_down(c, p->top_k, 0, worse);
			}
		nc = p->top_k;
		qsort(c, nc, sizeof *c, by_rank);
	}

	/* probabilities over what is left (top-p then applies to the
	 * distribution top-k leaves, as in transformers); +inf scores: only
	 * those remain, equally likely */
	double z = 0;
	for (size_t i = 0; i < nc; i++) {
		if (max == INFINITY)
			c[i].p = c[i].logit == INFINITY;
		else
			c[i].p = exp((double)c[i].logit - max);
		z += c[i].p;
	}
	if (p->top_k == 0 && rest > -INFINITY && max < INFINITY)  /* the ids the frame leaves out */
		z += exp(rest / p->temperature - max);
	for (size_t i = 0; i < nc; i++)
		c[i].p /= z;

	size_t nk = nc;  /* candidates kept */
	if (p->top_p < 1.0 || p->min_p > 0.0) {
		/* pop the best ones in order, only as many as the filters need */
		size_t hn = nc, keep = 0;
		double cum = 0;
		heapify(c, nc, better);
		while (hn > 0) {
			ranked[keep] = heap_pop(c, &hn, better);
			/* min-p: ids at least min_p times as likely as the best */
			if (keep > 0 && ranked[keep].p < p->min_p * ranked[0].p)
				break;
			cum += ranked[keep++].p;
			/* top-p: the smallest prefix whose probability reaches top_p */
			if (p->top_p < 1.0 && cum >= p->top_p)
				break;
		}
		c = ranked;
		nk = keep;
	}

	double total = 0;
	for (size_t i = 0; i < nk; i++)
		total += c[i].p;
	double u = sampler_uniform(s) * total, acc = 0;
	for (size_t i = 0; i < nk; i++) {
		acc += c[i].p;
		if (u < acc)
			return c[i].id;
	}
	return c[nk - 1].id;  /* rounding left u at the very top */
}

/* ---- log-probabilities of the raw scores ---- */

double logsumexp(const float *scores, uint32_t n)
{
	float max = -INFINITY;
	double z = 0;

	for (uint32_t i = 0; i < n; i++)
		if (scores[i] > max)
			max = scores[i];
	if (!(max > -INFINITY) || max == INFINITY)
		return max;
	for (uint32_t i = 0; i < n; i++)
		if (scores[i] > -INFINITY)
			z += exp((double)scores[i] - max);
	return max + log(z);
}

uint32_t top_ids(const float *scores, uint32_t n, uint32_t k, int32_t *top)
{
	uint32_t m = 0;

	for (uint32_t i = 0; i < n; i++) {
		if (!(scores[i] > -INFINITY))
			continue;
		if (m == k && !(k > 0 && scores[i] > scores[top[k - 1]]))
			continue;
		uint32_t j = m < k ? m++ : k - 1;
		while (j > 0 && scores[i] > scores[top[j - 1]]) {
			top[j] = top[j - 1];
			j--;
		}
		top[j] = (int32_t)i;
	}
	return m;
}

/* ---- frames of the k best ids ---- */

/* The ids a frame leaves out, as the penalties leave them: every score at
 * most bound (ties there only with ids above last, the last id listed),
 * except the window's ids, each at most its own bound. */
struct unlisted {
	float bound;
	int32_t last;
	struct candidate *moved;
	size_t n_moved;
	float max;  /* the highest bound of all */
};

/* Does c rank before every id left out (better(), on the bounds)? */
static bool beats(const struct unlisted *u, const struct candidate *c)
{
	if (!(c->logit > u->bound || (c->logit == u->bound && c->id <= u->last)))
		return false;
	for (size_t i = 0; i < u->n_moved; i++)
		if (!better(c, &u->moved[i]))
			return false;
	return true;
}

bool sampler_top_exact(struct sampler *s, const float *scores, uint32_t n, const uint32_t *ids, uint32_t k,
		       float bound, double rest, bool masked, const char **why)
{
	const struct sampler_params *p = &s->par;
	bool pen = penalties_on(p);
	struct unlisted u = {bound, (int32_t)ids[k - 1], NULL, 0, bound};

	*why = NULL;
	if (k >= n)
		return true;
	if (s->cand_cap < (size_t)n + 1) {
		s->cand = xreallocarray(s->cand, (size_t)n + 1, 2 * sizeof *s->cand);
		s->cand_cap = (size_t)n + 1;
	}
	struct candidate *c = s->cand;
	u.moved = s->cand + s->cand_cap;
	/* the penalties move only the ids of the window: an unlisted one may
	 * rise above the bound (a penalty below 1) or fall (its mass is then
	 * no longer rest's) */
	if (pen) {
		/* each id of the window once, the listed ones not at all: marked
		 * (the ids past count_cap are in no window) */
		size_t m = p->repeat_last_n < 0 ? s->count_cap : s->hist_n;
		for (uint32_t i = 0; i < k; i++)
			if (ids[i] < s->count_cap)
				s->mark[ids[i]] = 1;
		for (size_t i = 0; i < m; i++) {
			int32_t id = p->repeat_last_n < 0 ? (int32_t)i : s->hist[(s->hist_head + i) % s->hist_cap];
			if ((size_t)id >= s->count_cap || s->count[id] == 0 || (uint32_t)id >= n || s->mark[id])
				continue;
			s->mark[id] = 1;
			u.moved[u.n_moved++] = (struct candidate){id, penalised(s, id, bound), 0};
			if (u.moved[u.n_moved - 1].logit > u.max)
				u.max = u.moved[u.n_moved - 1].logit;
		}
		for (uint32_t i = 0; i < k; i++)
			if (ids[i] < s->count_cap)
				s->mark[ids[i]] = 0;
		for (size_t j = 0; j < u.n_moved; j++)
			s->mark[u.moved[j].id] = 0;
	}
	/* the listed ids after the penalties, best first */
	for (uint32_t i = 0; i < k; i++) {
		float x = scores[ids[i]];
		c[i] = (struct candidate){(int32_t)ids[i], pen ? penalised(s, (int32_t)ids[i], x) : x, 0};
	}
	qsort(c, k, sizeof *c, by_rank);

	if (!beats(&u, &c[0])) {
		*why = "an id it leaves out may score as high as the best one it lists";
		return false;
	}
	if (p->temperature == 0)
		return true;
	if (p->top_k > 0) {
		if (p->top_k > k) {
			*why = "--top-k is larger than the number of ids it lists";
			return false;
		}
		if (!beats(&u, &c[p->top_k - 1])) {
			*why = "an id it leaves out may be among the --top-k best";
			return false;
		}
		return true;
	}
	if (p->top_p >= 1.0 && p->min_p <= 0.0) {
		*why = "without --top-k, --top-p or --min-p the whole distribution is sampled";
		return false;
	}
	/* min-p keeps x with e^((x - best) / T) >= min_p: the unlisted ids
	 * all fall below it when their bound does */
	double cut = p->min_p > 0.0 ? c[0].logit + p->temperature * log(p->min_p) : -INFINITY;
	if (p->top_p >= 1.0) {
		if (!(u.max < cut)) {
			*why = "an id it leaves out may pass --min-p";
			return false;
		}
		return true;
	}
	/* top-p needs the whole normaliser: rest, unchanged by the
	 * temperature (T = 1), the penalties and a constraint */
	if (p->temperature != 1.0 || u.n_moved || masked) {
		*why = "--top-p without --top-k needs the scores it leaves out (temperature 1, no penalty or "
		       "constraint on them)";
		return false;
	}
	double z = exp(rest - c[0].logit), cum = 0;
	for (uint32_t i = 0; i < k; i++)
		z += exp((double)c[i].logit - c[0].logit);
	for (uint32_t i = 0; i < k; i++) {
		if (i > 0 && (double)c[i].logit < cut && (double)u.max < cut)
			return true;   /* min-p ends it, also for every unlisted id */
		if (!beats(&u, &c[i]))
			break;         /* an unlisted id may come before this one */
		cum += exp((double)c[i].logit - c[0].logit) / z;
		if (cum >= p->top_p)
			return true;
	}
	*why = "the ids it lists do not reach --top-p";
	return false;
}

uint32_t sampler_top_always(const struct sampler_params *p)
{
	bool pen = penalties_on(p);
	uint32_t k;

	/* penalties that only lower scores (and leave the ids a frame lists
	 * above the ones it leaves out unless they are penalised) */
	if (pen && (p->repeat_penalty < 1.0 || p->presence_penalty < 0.0 || p->frequency_penalty < 0.0))
		return 0;
	if (p->temperature == 0)
		k = 1;
	else if (p->top_k > 0)
		k = p->top_k;
	else
		return 0;
	if (pen) {
		if (p->repeat_last_n < 0 || (uint64_t)p->repeat_last_n > UINT32_MAX - k)
			return 0;
		k += (uint32_t)p->repeat_last_n;  /* as many ids of the window as may fall */
	}
	return k;
}
