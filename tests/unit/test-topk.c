/* test-topk: logits_top(), the k best ids of a frame and the log-sum-exp
 * of the others (what lm-step --top and --text write), against a plain
 * reference: every id sorted, and the sum lm-logits(5) defines taken term
 * by term.  The ids must be the same and rest the same bits, on frames
 * made to break a selection that guesses a bound: ties at the k-th score,
 * -inf and +inf, NaN, -0 beside +0, k above n, every score equal, sorted
 * frames, lengths that are not a multiple of 8; on one thread and split
 * over 2, 3 and 7 (logits_set_runner), with the same bits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "stream.h"
#include "tap.h"
#include "vec8.h"

static const float *ref_scores;

/* best first, ties to the lower id */
static int by_rank(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	float x = ref_scores[a], y = ref_scores[b];
	if (x != y)
		return x > y ? -1 : 1;
	return a < b ? -1 : a > b;
}

/* The reference: NaN ids alone (rest NaN) when there are any, else the
 * first k of every id sorted; rest term by term: the largest unlisted
 * score m, and in chunks of 4096 ids: e^(x - m) by exp8 in blocks of 16
 * ids, each of the 16 lanes summed in double, lane j + 8 added to lane j,
 * lanes 0-3 and 4-7 then added pairwise, the ids past the last block by
 * exp() into a sum of their own added first; the chunks' sums added in
 * order. */
static uint32_t ref_top(const float *s, uint32_t n, uint32_t k, uint32_t *top, float *rest)
{
	uint32_t *all = malloc(((size_t)n + 1) * sizeof *all), m = 0;
	unsigned char *listed = calloc((size_t)n + 1, 1);

	for (uint32_t i = 0; i < n; i++)
		if (isnan(s[i]) && m < k)
			top[m++] = i;
	if (m > 0) {
		*rest = NAN;
		goto out;
	}
	for (uint32_t i = 0; i < n; i++)
		all[i] = i;
	ref_scores = s;
	qsort(all, n, sizeof *all, by_rank);
	m = k < n ? k : n;
	memcpy(top, all, m * sizeof *top);
	for (uint32_t i = 0; i < m; i++)
		listed[top[i]] = 1;
	float mx = -INFINITY;
	for (uint32_t i = 0; i < n; i++)
		if (!listed[i] && s[i] > mx)
			mx = s[i];
	if (m == n) {
		*rest = -INFINITY;
		goto out;
	}
	if (isinf(mx)) {
		*rest = mx;
		goto out;
	}
	double total = 0;
	for (uint32_t c0 = 0; c0 < n; c0 += 4096) {
		uint32_t end = n - c0 > 4096 ? c0 + 4096 : n, i = c0;
		double lane[16] = {0}, tail = 0;
		for (; i + 16 <= end; i += 16) {
			for (int h = 0; h < 2; h++) {
				v8 x, e;
				memcpy(&x, s + i + 8 * h, sizeof x);
				x -= mx;
				e = exp8(x);
				for (int j = 0; j < 8; j++)
					if (!listed[i + 8 * h + j] && x[j] >= -87)
						lane[8 * h + j] += (double)e[j];
			}
		}
		for (; i < end; i++)
			if (!listed[i] && s[i] - mx >= -87)
				tail += exp((double)s[i] - mx);
		for (int j = 0; j < 8; j++)
			lane[j] += lane[j + 8];
		tail += ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
		total += tail;
	}
	*rest = (float)(mx + log(total));
out:
	free(all);
	free(listed);
	return m;
}

/* A runner of n_par threads, one after another, the last first (the
 * order must not matter). */
static int n_par;

static void run_serial(void *ctx, void (*fn)(void *arg, int ith, int nth), void *arg)
{
	(void)ctx;
	for (int i = n_par - 1; i >= 0; i--)
		fn(arg, i, n_par);
}

/* Both on one frame: the same count, ids and rest bits (and the same ids
 * without rest); then logits_top() split over 2, 3 and 7 threads: the
 * same bits. */
static void check(const char *name, const float *s, uint32_t n, uint32_t k)
{
	uint32_t *want = malloc(((size_t)k + 1) * sizeof *want), *got = malloc(((size_t)k + 1) * sizeof *got);
	float want_rest, got_rest = 0;
	uint32_t wn = ref_top(s, n, k, want, &want_rest);
	static const int threads[] = {2, 3, 7};
	int par_same = 1;  /* first, so that no scratch holds this frame yet */
	for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
		float par_rest = 0;
		n_par = threads[t];
		logits_set_runner(run_serial, NULL);
		uint32_t pn = logits_top(s, n, k, got, &par_rest);
		logits_set_runner(NULL, NULL);
		if (pn != wn || memcmp(want, got, pn * sizeof *got) != 0 || memcmp(&want_rest, &par_rest, 4) != 0) {
			printf("# on %d threads: %u ids%s, rest %.9g\n", n_par, pn,
			       pn == wn && memcmp(want, got, pn * sizeof *got) == 0 ? "" : " differ", (double)par_rest);
			par_same = 0;
		}
	}
	ok(par_same, "%s (n %u, k %u): the same ids and rest bits on 2, 3 and 7 threads", name, n, k);
	uint32_t gn = logits_top(s, n, k, got, &got_rest);
	int same = wn == gn && memcmp(want, got, gn * sizeof *got) == 0;
	uint32_t first_diff = 0;
	while (same == 0 && first_diff < wn && first_diff < gn && want[first_diff] == got[first_diff])
		first_diff++;
	ok(same && memcmp(&want_rest, &got_rest, 4) == 0,
	   "%s (n %u, k %u): %u ids%s, rest %.9g%s", name, n, k, gn,
	   same ? "" : " differ", (double)got_rest, memcmp(&want_rest, &got_rest, 4) ? " (not the reference's bits)" : "");
	if (!same)
		printf("# first difference at %u: want id %u, got id %u (counts %u, %u)\n", first_diff,
		       first_diff < wn ? want[first_diff] : 0, first_diff < gn ? got[first_diff] : 0, wn, gn);
	uint32_t gn2 = logits_top(s, n, k, got, NULL);
	ok(gn2 == wn && memcmp(want, got, gn2 * sizeof *got) == 0, "%s (n %u, k %u): the same ids without rest", name, n,
	   k);
	free(want);
	free(got);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

/* about the spread of a model's logits: mostly -5..15, a few far above */
static float logit(void)
{
	float x = (float)(tap_xorshift(&rng) >> 40) / (float)(1 << 24) * 20 - 5;
	if (tap_xorshift(&rng) % 1000 == 0)
		x += 20;
	return x;
}

int main(void)
{
	enum { N = 49152 };
	float *s = malloc((N + 64) * sizeof *s);
	static const uint32_t ks[] = {1, 2, 7, 8, 40, 104, 1000, 3072, 3073, 20000};

	/* a frame like a model's, and lengths around the blocks of 8 */
	for (uint32_t i = 0; i < N; i++)
		s[i] = logit();
	for (size_t j = 0; j < sizeof ks / sizeof *ks; j++)
		check("random scores", s, N, ks[j]);
	check("k = n", s, N, N);
	check("k above n", s, N, N + 5);
	for (uint32_t n = 1; n <= 41; n += 4)
		for (uint32_t k = 1; k <= n + 1; k += 3)
			check("short frame", s, n, k);
	check("n not a multiple of 8", s, 49147, 104);
	check("k = 0: nothing listed, rest over all", s, N, 0);

	/* ties: every score equal; the k-th score shared by many ids */
	for (uint32_t i = 0; i < N; i++)
		s[i] = 1.5f;
	check("every score equal", s, N, 104);
	check("every score equal, n not a multiple of 8", s, 1001, 40);
	for (uint32_t i = 0; i < N; i++)
		s[i] = (float)(tap_xorshift(&rng) % 4);  /* 0, 1, 2 or 3 */
	check("four values, ties everywhere", s, N, 104);
	check("four values, ties everywhere", s, N, 20000);
	for (uint32_t i = 0; i < N; i++)
		s[i] = logit();
	for (uint32_t i = 0; i < 300; i++)
		s[tap_xorshift(&rng) % N] = 16;  /* the 104th among them */
	for (uint32_t i = 0; i < 50; i++)
		s[tap_xorshift(&rng) % N] = 17;
	check("the k-th score shared by hundreds of ids", s, N, 104);
	for (uint32_t i = 0; i < N; i++)
		s[i] = i % 2 ? -0.0f : 0.0f;
	check("-0 beside +0 (equal scores)", s, N, 104);
	check("-0 beside +0 (equal scores)", s, 100, 7);

	/* sorted frames: the best last, the best first */
	for (uint32_t i = 0; i < N; i++)
		s[i] = (float)i / 64;
	check("ascending scores", s, N, 104);
	check("ascending scores", s, N, 5000);
	for (uint32_t i = 0; i < N; i++)
		s[i] = -(float)i / 64;
	check("descending scores", s, N, 104);
	/* the best ids all in one block */
	for (uint32_t i = 0; i < N; i++)
		s[i] = logit();
	for (uint32_t i = 20000; i < 20300; i++)
		s[i] = 30 + (float)(i % 7);
	check("the best ids side by side", s, N, 104);

	/* infinities */
	for (uint32_t i = 0; i < N; i++)
		s[i] = -INFINITY;
	check("every score -inf", s, N, 104);
	for (uint32_t i = 0; i < 50; i++)
		s[i * 97] = logit();
	check("50 finite scores, the rest -inf, k 104", s, N, 104);
	check("50 finite scores, the rest -inf, k 50", s, N, 50);
	check("50 finite scores, the rest -inf, k 20", s, N, 20);
	for (uint32_t i = 0; i < N; i++)
		s[i] = logit();
	s[777] = INFINITY;
	check("one +inf, listed", s, N, 104);
	s[778] = INFINITY;
	check("two +inf, one left out: rest +inf", s, N, 1);
	s[777] = s[778] = logit();
	for (uint32_t i = 0; i < N; i += 3)
		s[i] = -INFINITY;
	check("a third of the scores -inf", s, N, 104);
	for (uint32_t i = 0; i < N; i++)
		s[i] = logit();
	s[12] = s[N - 1] + 100;  /* every other term below e^-87 of the largest left out */
	s[N - 1] = s[12];
	check("terms below e^-87 count 0", s, N, 1);

	/* NaN: listed alone, rest NaN */
	for (uint32_t i = 0; i < N; i++)
		s[i] = logit();
	s[30000] = NAN;
	check("one NaN", s, N, 104);
	s[5] = NAN;
	s[49151] = NAN;
	check("three NaN, k 2", s, N, 2);
	check("NaN in a short frame", s, 7, 3);
	for (uint32_t i = 0; i < N; i++)
		s[i] = NAN;
	check("every score NaN", s, N, 104);
	s[0] = 1;
	check("NaN but the first", s, 17, 20);

	/* the writers use it: a top-k frame's entries are the reference's */
	for (uint32_t i = 0; i < N; i++)
		s[i] = logit();
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	ok(logits_write_top(out, -1, N, 5, 6, s, 104) == 1, "write a top-104 frame");
	fclose(out);
	uint32_t want[104];
	float want_rest;
	ref_top(s, N, 104, want, &want_rest);
	int same = len == 40 + 104 * 8 && memcmp(buf + 36, &want_rest, 4) == 0;
	for (uint32_t i = 0; same && i < 104; i++)
		same = memcmp(buf + 40 + 8 * i, &want[i], 4) == 0 && memcmp(buf + 44 + 8 * i, &s[want[i]], 4) == 0;
	ok(same, "the frame lists the reference's ids and scores, and its rest");
	free(buf);
	free(s);
	return tap_done();
}
