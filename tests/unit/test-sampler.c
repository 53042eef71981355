/* test-sampler: the samplers of sample/sampler.c on hand-made scores. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler.h"

#include "tap.h"

static struct sampler_params plain(double temperature)
{
	struct sampler_params p;
	sampler_defaults(&p);
	p.temperature = temperature;
	p.top_k = 0;
	p.top_p = 1;
	p.min_p = 0;
	p.repeat_penalty = 1;
	p.seed = 42;
	return p;
}

/* Draw n ids and count them by id (ids < 16). */
static void histogram(const struct sampler_params *p, const float *scores, uint32_t nv, int n, int *count)
{
	struct sampler s;
	sampler_init(&s, p);
	memset(count, 0, 16 * sizeof *count);
	for (int i = 0; i < n; i++) {
		int32_t id = sampler_sample(&s, scores, nv);
		if (id >= 0 && id < 16)
			count[id]++;
	}
	sampler_free(&s);
}

static void test_generator(void)
{
	struct sampler_params p = plain(1);
	struct sampler s;

	/* golden values: xoshiro256** seeded by splitmix64, computed
	 * independently (Python integers); the same on every machine */
	p.seed = 0;
	sampler_init(&s, &p);
	double a = sampler_uniform(&s), b = sampler_uniform(&s), c = sampler_uniform(&s);
	ok(a == 0.6012629994179048 && b == 0.7477740925472398 && c == 0.10301998939503632,
	   "seed 0: first three draws match the reference");
	sampler_free(&s);
	p.seed = 42;
	sampler_init(&s, &p);
	a = sampler_uniform(&s);
	ok(a == 0.08386297105988216, "seed 42: first draw matches the reference");
	sampler_free(&s);
}

/* The plain definition of greedy: the best score after the penalties,
 * ties to the lowest id, NaN never; -1 if none is above -inf. */
static int32_t greedy_ref(const struct sampler_params *p, const int32_t *hist, int nh, const float *x, uint32_t n)
{
	float best = -INFINITY;
	int32_t id = -1;
	for (uint32_t i = 0; i < n; i++) {
		float v = x[i];
		int c = 0;
		for (int j = 0; j < nh; j++)
			c += hist[j] == (int32_t)i;
		if (c && p->repeat_last_n != 0) {
			if (p->repeat_penalty != 1.0)
				v = v > 0 ? (float)(v / p->repeat_penalty) : (float)(v * p->repeat_penalty);
			v -= (float)(p->presence_penalty + p->frequency_penalty * c);
		}
		if (v > best) {
			best = v;
			id = (int32_t)i;
		}
	}
	return id;
}

/* Greedy (8 ids at a time, the window's ids alone penalised one by one)
 * against the plain loop: long frames of few values (ties across the
 * lanes), -inf and NaN, lengths that are not a multiple of 8, penalties
 * that push the best down or (a negative presence penalty) up. */
static void test_greedy_long(void)
{
	enum { N = 3001 };
	static float x[N];
	uint64_t r = 7;
	int fails = 0, cases = 0;
	for (int round = 0; round < 200; round++) {
		struct sampler_params p = plain(0);
		struct sampler s;
		int32_t hist[64];
		int nh = (int)(tap_xorshift(&r) % 64);
		uint32_t n = 1 + (uint32_t)(tap_xorshift(&r) % N);
		p.repeat_penalty = round % 4 == 0 ? 1 : 1.1 + (double)(round % 3);
		p.presence_penalty = round % 5 == 1 ? -3 : round % 5 == 2 ? 2 : 0;
		p.repeat_last_n = 64;
		for (uint32_t i = 0; i < n; i++) {
			uint64_t v = tap_xorshift(&r);
			x[i] = v % 50 == 0 ? -INFINITY : v % 97 == 0 ? NAN : (float)(int)(v % 9) - 2;
		}
		if (round % 10 == 9)
			for (uint32_t i = 0; i < n; i++)
				x[i] = -INFINITY;
		sampler_init(&s, &p);
		for (int j = 0; j < nh; j++) {
			/* the window: often among the best, sometimes past n */
			hist[j] = (int32_t)(tap_xorshift(&r) % (n + 8));
			sampler_accept(&s, hist[j]);
		}
		int32_t want = greedy_ref(&p, hist, nh, x, n), got = sampler_sample(&s, x, n);
		cases++;
		if (want != got) {
			fails++;
			printf("# round %d: n %u, want %d, got %d\n", round, n, want, got);
		}
		sampler_free(&s);
	}
	ok(fails == 0, "greedy: the plain loop's id in %d of %d frames with ties, -inf, NaN and penalties", cases - fails,
	   cases);
}

static void test_greedy(void)
{
	struct sampler_params p = plain(0);
	struct sampler s;
	float x[6] = {1, 3, -INFINITY, 3, NAN, 2};
	float none[3] = {-INFINITY, NAN, -INFINITY};

	sampler_init(&s, &p);
	ok(sampler_sample(&s, x, 6) == 1, "greedy: ties go to the lowest id");
	ok(sampler_sample(&s, none, 3) == -1, "greedy: no finite score gives -1");
	sampler_free(&s);
	p.temperature = 1;
	sampler_init(&s, &p);
	ok(sampler_sample(&s, none, 3) == -1, "sampling: no finite score gives -1");
	sampler_free(&s);
	/* top-k 1 is greedy at any temperature */
	p = plain(5);
	p.top_k = 1;
	int count[16];
	histogram(&p, x, 6, 200, count);
	ok(count[1] == 200, "top-k 1 is greedy, ties to the lowest id");
}

static void test_distribution(void)
{
	/* probabilities 0.5 0.3 0.2 at temperature 1 */
	float x[4] = {logf(0.5f), logf(0.3f), logf(0.2f), -INFINITY};
	struct sampler_params p = plain(1);
	int count[16], n = 20000;

	histogram(&p, x, 4, n, count);
	ok(fabs(count[0] / (double)n - 0.5) < 0.02 && fabs(count[1] / (double)n - 0.3) < 0.02 &&
	   fabs(count[2] / (double)n - 0.2) < 0.02 && count[3] == 0,
	   "temperature 1 follows the softmax (fixed seed, 20000 draws)");
	/* temperature 0.5 squares the odds: 25:9:4 */
	p.temperature = 0.5;
	histogram(&p, x, 4, n, count);
	ok(fabs(count[0] / (double)n - 25.0 / 38) < 0.02 && fabs(count[2] / (double)n - 4.0 / 38) < 0.02,
	   "temperature 0.5 sharpens to 25:9:4");
	p = plain(1);
	p.top_k = 2;
	histogram(&p, x, 4, n, count);
	ok(count[2] == 0 && fabs(count[0] / (double)n - 0.625) < 0.02, "top-k 2 keeps two, renormalised");
	p = plain(1);
	p.top_p = 0.5;
	histogram(&p, x, 4, 500, count);
	ok(count[0] == 500, "top-p 0.5: the best alone reaches it");
	p.top_p = 0.75;
	histogram(&p, x, 4, n, count);
	ok(count[2] == 0 && count[1] > 0, "top-p 0.75 keeps the best two");
	p.top_p = 0.85;
	histogram(&p, x, 4, n, count);
	ok(count[2] > 0, "top-p 0.85 keeps all three");
	p = plain(1);
	p.top_k = 2;
	p.top_p = 0.6;
	histogram(&p, x, 4, n, count);
	ok(count[0] == n, "top-p applies to what top-k leaves: 0.5 / 0.8 reaches 0.6");
	p = plain(1);
	p.min_p = 0.5;
	histogram(&p, x, 4, n, count);
	ok(count[1] > 0 && count[2] == 0, "min-p 0.5 drops 0.2 (< 0.25), keeps 0.3");
	p.min_p = 0.39;
	histogram(&p, x, 4, n, count);
	ok(count[2] > 0, "min-p 0.39 keeps 0.2 (> 0.39 x 0.5)");
	float inf[3] = {1, INFINITY, INFINITY};
	p = plain(1);
	histogram(&p, inf, 3, 2000, count);
	ok(count[0] == 0 && count[1] > 800 && count[2] > 800, "+inf scores share the draw");
}

static void test_seed(void)
{
	float x[8] = {1, 1.2f, 0.9f, 1.1f, 0.5f, 1.3f, 0.7f, 1};
	struct sampler_params p = plain(1);
	struct sampler a, b, c;
	int same = 1, differ = 0;

	sampler_init(&a, &p);
	sampler_init(&b, &p);
	p.seed = 43;
	sampler_init(&c, &p);
	for (int i = 0; i < 50; i++) {
		int32_t ia = sampler_sample(&a, x, 8), ib = sampler_sample(&b, x, 8), ic = sampler_sample(&c, x, 8);
		same &= ia == ib;
		differ |= ia != ic;
	}
	ok(same, "same seed, same ids");
	ok(differ, "different seeds, different ids");
	sampler_free(&a);
	sampler_free(&b);
	sampler_free(&c);
}

static void test_penalties(void)
{
	struct sampler_params p = plain(0);
	struct sampler s;
	float x[3] = {2.0f, 1.9f, -1.0f};
	float neg[2] = {-1.0f, -1.05f};

	p.repeat_penalty = 1.1;
	sampler_init(&s, &p);
	ok(sampler_sample(&s, x, 3) == 0, "no penalty before the id is seen");
	sampler_accept(&s, 0);
	ok(sampler_sample(&s, x, 3) == 1, "repeat penalty: 2 / 1.1 < 1.9");
	ok(x[0] == 2.0f, "the caller's scores are left unchanged");
	sampler_free(&s);
	sampler_init(&s, &p);
	sampler_accept(&s, 0);
	ok(sampler_sample(&s, neg, 2) == 1, "repeat penalty multiplies a negative logit: -1.1 < -1.05");
	sampler_free(&s);

	p = plain(0);
	p.presence_penalty = 0.05;
	sampler_init(&s, &p);
	sampler_accept(&s, 0);
	ok(sampler_sample(&s, x, 3) == 0, "presence 0.05: 1.95 > 1.9");
	sampler_accept(&s, 0);
	ok(sampler_sample(&s, x, 3) == 0, "presence counts once");
	sampler_free(&s);
	p.presence_penalty = 0;
	p.frequency_penalty = 0.06;
	sampler_init(&s, &p);
	sampler_accept(&s, 0);
	ok(sampler_sample(&s, x, 3) == 0, "frequency 0.06 once: 1.94 > 1.9");
	sampler_accept(&s, 0);
	ok(sampler_sample(&s, x, 3) == 1, "frequency 0.06 twice: 1.88 < 1.9");
	sampler_free(&s);

	p = plain(0);
	p.repeat_penalty = 1.1;
	p.repeat_last_n = 2;
	sampler_init(&s, &p);
	sampler_accept(&s, 0);
	sampler_accept(&s, 2);
	ok(sampler_sample(&s, x, 3) == 1, "window 2: id 0 still in it");
	sampler_accept(&s, 2);
	ok(sampler_sample(&s, x, 3) == 0, "window 2: id 0 has left it");
	sampler_free(&s);
	p.repeat_last_n = 0;
	sampler_init(&s, &p);
	sampler_accept(&s, 0);
	ok(sampler_sample(&s, x, 3) == 0, "window 0: no penalties");
	sampler_free(&s);
	p.repeat_last_n = -1;
	sampler_init(&s, &p);
	sampler_accept(&s, 0);
	for (int i = 0; i < 1000; i++)
		sampler_accept(&s, 2);
	ok(sampler_sample(&s, x, 3) == 1, "window -1: everything seen counts");
	sampler_accept(&s, 70000);
	ok(sampler_sample(&s, x, 3) == 1, "an id beyond the frame's vocabulary is ignored");
	sampler_free(&s);
}

static void test_logprobs(void)
{
	float x[5] = {logf(0.5f), logf(0.3f), -INFINITY, logf(0.2f), logf(0.3f)};
	int32_t top[5];

	/* the scores sum to 1.3 in probability */
	ok(fabs(logsumexp(x, 5) - log(1.3)) < 1e-6, "log-sum-exp");
	uint32_t m = top_ids(x, 5, 3, top);
	ok(m == 3 && top[0] == 0 && top[1] == 1 && top[2] == 4, "top 3, ties to the lowest id");
	m = top_ids(x, 5, 5, top);
	ok(m == 4 && top[3] == 3, "top ids leave out -inf");
	ok(top_ids(x, 5, 0, top) == 0, "top 0 is empty");
}

/* ---- frames of the k best ids ---- */

static uint64_t rng_state = 88172645463325252u;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

/* The k best ids of x[0..n) (best first, ties to the lower id), as a
 * writer lists them; returns the log-sum-exp of the others. */
static double top_frame(const float *x, uint32_t n, uint32_t k, uint32_t *ids, float *listed)
{
	int32_t top[400];
	uint32_t m = top_ids(x, n, k, top);
	double z = 0, mx = -INFINITY;
	for (uint32_t i = 0; i < n; i++)
		listed[i] = -INFINITY;
	for (uint32_t i = 0; i < m; i++) {
		ids[i] = (uint32_t)top[i];
		listed[top[i]] = x[top[i]];
	}
	for (uint32_t i = 0; i < n; i++)
		if (listed[i] == -INFINITY && x[i] > mx)
			mx = x[i];
	if (mx == -INFINITY)
		return -INFINITY;
	for (uint32_t i = 0; i < n; i++)
		if (listed[i] == -INFINITY)
			z += exp(x[i] - mx);
	return mx + log(z);
}

/* Generations of 60 steps from random frames of n ids (scores on a grid of
 * 0.25, so that ties happen), the same sampler settings on the whole
 * frames and on their k best: where sampler_top_exact() says yes, both
 * choose the same id (the generations stay together); returns how many
 * steps it said yes, and counts a disagreement in *bad.  The k best are
 * sampled twice, once looking at every score and once at the listed ids
 * alone (a third sampler): those two agree at every step, exact or not
 * (a disagreement counts in *bad too). */
static int run_top(const struct sampler_params *p, uint32_t n, uint32_t k, int *bad)
{
	float x[400], listed[400];
	uint32_t ids[400];
	struct sampler full, top, lst;
	int yes = 0;

	sampler_init(&full, p);
	sampler_init(&top, p);
	sampler_init(&lst, p);
	for (int i = 0; i < 8; i++) {  /* a window for the penalties */
		int32_t id = (int32_t)(rnd() % n);
		sampler_accept(&full, id);
		sampler_accept(&top, id);
		sampler_accept(&lst, id);
	}
	for (int step = 0; step < 60; step++) {
		const char *why;
		uint32_t kk = k < n ? k : n;
		for (uint32_t i = 0; i < n; i++)
			x[i] = (float)((int)(rnd() % 64) - 40) * 0.25f + (i % 7 == 0 ? 6 : 0);
		double rest = top_frame(x, n, k, ids, listed);
		bool exact = sampler_top_exact(&top, listed, n, ids, kk, x[ids[kk - 1]], rest, false, &why);
		/* all three draw, to stay in step; only exact steps are
		 * compared with the whole frame */
		int32_t a = sampler_sample(&full, x, n), b = sampler_sample_top(&top, listed, n, NULL, 0, rest),
			c = sampler_sample_top(&lst, listed, n, ids, kk, rest);
		if (b != c || (exact && a != b))
			(*bad)++;
		yes += exact;
		sampler_accept(&full, a);
		sampler_accept(&top, a);
		sampler_accept(&lst, a);
	}
	sampler_free(&full);
	sampler_free(&top);
	sampler_free(&lst);
	return yes;
}

static void test_top_frames(void)
{
	struct {
		const char *name;
		double t;
		uint32_t top_k;
		double top_p, min_p, rep, pres;
		int expect;  /* 1: mostly exact, 0: never, -1: either */
	} cases[] = {
		{"greedy", 0, 0, 1, 0, 1, 0, 1},
		{"greedy, repeat penalty 1.3", 0, 0, 1, 0, 1.3, 0, 1},
		{"greedy, repeat penalty 0.7 (lifts ids)", 0, 0, 1, 0, 0.7, 0, -1},
		{"T 0.8, top-k 10", 0.8, 10, 1, 0, 1, 0, 1},
		{"T 0.8, top-k 10, top-p 0.9, min-p 0.05", 0.8, 10, 0.9, 0.05, 1, 0, 1},
		{"T 0.8, top-k 10, presence penalty -0.5", 0.8, 10, 1, 0, 1, -0.5, -1},
		{"T 0.7, min-p 0.2", 0.7, 0, 1, 0.2, 1, 0, 1},
		{"T 1, top-p 0.5", 1, 0, 0.5, 0, 1, 0, 1},
		{"T 1, top-p 0.5, min-p 0.1, repeat penalty 1.2", 1, 0, 0.5, 0.1, 1.2, 0, -1},
		{"T 1, top-p 0.99", 1, 0, 0.99, 0, 1, 0, -1},
		{"T 0.9, top-p 0.5 (the temperature moves the rest)", 0.9, 0, 0.5, 0, 1, 0, 0},
		{"T 1, nothing to truncate", 1, 0, 1, 0, 1, 0, 0},
		{"T 0.8, top-k 50 of 40 listed", 0.8, 50, 1, 0, 1, 0, 0},
	};
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		struct sampler_params p = plain(cases[c].t);
		int bad = 0, yes = 0, total = 0;
		char name[200];
		p.top_k = cases[c].top_k;
		p.top_p = cases[c].top_p;
		p.min_p = cases[c].min_p;
		p.repeat_penalty = cases[c].rep;
		p.presence_penalty = cases[c].pres;
		p.repeat_last_n = 16;
		for (int r = 0; r < 10; r++) {
			yes += run_top(&p, 300, 40, &bad);
			total += 60;
		}
		snprintf(name, sizeof name, "top-40 frames of 300 ids, %s: the same ids as whole frames where exact "
			 "(%d of %d steps exact, %d differ)", cases[c].name, yes, total, bad);
		ok(bad == 0 && (cases[c].expect < 0 || (cases[c].expect ? yes * 10 >= total * 9 : yes == 0)), "%s", name);
	}
	/* sampler_top_always(): settings that are exact for every frame of
	 * that many ids (the window: 16 ids, 8 of them seen before the first
	 * step) */
	{
		struct sampler_params q = plain(0.8);
		int bad2 = 0, yes2 = 0;
		q.top_k = 10;
		q.top_p = 0.9;
		q.repeat_penalty = 1.5;
		q.frequency_penalty = 0.5;
		q.repeat_last_n = 16;
		uint32_t k = sampler_top_always(&q);
		for (int r = 0; r < 10; r++)
			yes2 += run_top(&q, 300, k, &bad2);
		ok(k == 26 && yes2 == 600 && bad2 == 0,
		   "top-k 10 with penalties over a window of 16: every top-%u frame is exact (%d of 600)", k, yes2);
		q.temperature = 0;
		k = sampler_top_always(&q);
		yes2 = 0;
		for (int r = 0; r < 10; r++)
			yes2 += run_top(&q, 300, k, &bad2);
		ok(k == 17 && yes2 == 600 && bad2 == 0, "greedy with penalties: every top-%u frame is exact", k);
		q.repeat_penalty = 0.9;
		ok(sampler_top_always(&q) == 0, "a penalty that raises scores: no k is always exact");
		q.repeat_penalty = 1.5;
		q.temperature = 1;
		q.top_k = 0;
		ok(sampler_top_always(&q) == 0, "sampling without top-k: no k is always exact");
		q.top_k = 5;
		q.repeat_last_n = -1;
		ok(sampler_top_always(&q) == 0, "penalties over everything seen: no k is always exact");
		q.repeat_last_n = 0;
		ok(sampler_top_always(&q) == 5, "no window: top-k itself");
	}

	/* every id listed: always exact */
	struct sampler_params p = plain(1);
	int bad = 0, yes = run_top(&p, 50, 50, &bad);
	ok(yes == 60 && bad == 0, "a frame that lists every id is exact even sampling the whole distribution");
}

int main(void)
{
	test_generator();
	test_greedy();
	test_greedy_long();
	test_distribution();
	test_seed();
	test_penalties();
	test_logprobs();
	test_top_frames();
	return tap_done();
}
