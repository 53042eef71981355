/* batch-bench - the batched engine (forward/engine.h) measured the way
 * llama.cpp's llama-batched-bench measures itself: for each number of
 * sequences B, every sequence gets a prompt of PP random ids (the prompts
 * evaluated as the engine schedules them), then TG single-token steps
 * decode one id in each sequence.  Prints one line per B:
 *
 *   PP TG B T_PP S_PP T_TG S_TG CPU_TG
 *
 * with times in seconds and aggregate tokens/s (S_TG: B * TG / T_TG);
 * CPU_TG is the CPU time of the decode steps, all threads together: on a
 * busy machine, where the wall clock depends on the other work, tokens per
 * CPU second still say what batching saves.
 * Built and run by tests/bench/batch-bench.sh; not part of make test.
 *
 *   batch-bench -m MODEL [-t N] [-p PP] [-n TG] [-b 1,4,8,16] [-a]
 *
 * -a: 8-bit activations (lm-step --quant-act) instead of the exact ones. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "err.h"
#include "opt.h"

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

static int ignore(void *arg, const struct engine_logits *o)
{
	(void)arg, (void)o;
	return 1;
}

static uint64_t rng = 88172645463325252ull;
static int32_t rand_id(uint32_t n_vocab)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return (int32_t)(100 + rng % (n_vocab - 200));
}

int main(int argc, char **argv)
{
	const char *model = NULL, *list = "1,4,8,16";
	int threads = 0, pp = 128, tg = 128, c;
	bool quant_act = false;
	struct lmu_err e = {{0}};

	lmu_init(argc, argv);
	while ((c = getopt(argc, argv, "m:t:p:n:b:a")) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 't': threads = (int)opt_int(optarg, 1, 1024, "-t"); break;
		case 'p': pp = (int)opt_int(optarg, 1, 1 << 16, "-p"); break;
		case 'n': tg = (int)opt_int(optarg, 1, 1 << 16, "-n"); break;
		case 'b': list = optarg; break;
		case 'a': quant_act = true; break;
		default: die_usage("usage: batch-bench -m MODEL [-t N] [-p PP] [-n TG] [-b 1,4,8,16] [-a]");
		}
	}
	if (!model)
		die_usage("no model: give -m MODEL");
	printf("%6s %6s %4s %8s %8s %8s %8s %8s\n", "PP", "TG", "B", "T_PP s", "S_PP t/s", "T_TG s", "S_TG t/s",
	       "CPU_TG s");
	for (const char *p = list; *p;) {
		char *end;
		long b = strtol(p, &end, 10);
		if (end == p || b < 1 || b > 4096)
			die_usage("-b: a list of numbers of sequences, like 1,4,8,16");
		p = *end == ',' ? end + 1 : end;

		struct engine_params ep = {.n_ctx = (uint32_t)(b * (pp + tg)), .n_seq = (uint32_t)b,
					   .n_ctx_seq = (uint32_t)(pp + tg), .n_threads = threads,
					   .quant_act = quant_act};
		struct engine *eng = engine_open(model, &ep);
		uint32_t n_vocab = engine_model(eng)->hp.n_vocab;
		int32_t *ids = xmalloc((size_t)pp * sizeof *ids);

		for (long s = 0; s < b; s++) {
			if (engine_seq_open(eng) != s)
				die("cannot open sequence %ld", s);
			for (int i = 0; i < pp; i++)
				ids[i] = rand_id(n_vocab);
			if (engine_submit(eng, (int)s, ids, (uint32_t)pp, 0, 0, &e) != 0)
				die("%s", e.msg);
		}
		double t0 = now();
		while (engine_step(eng, ignore, NULL) > 0)
			;
		double t1 = now(), c1 = cpu();
		for (int i = 0; i < tg; i++) {
			for (long s = 0; s < b; s++) {
				int32_t id = rand_id(n_vocab);
				if (engine_submit(eng, (int)s, &id, 1, 0, 0, &e) != 0)
					die("%s", e.msg);
			}
			if (engine_step(eng, ignore, NULL) != b)
				die("a decode step did not take every sequence");
		}
		double t2 = now(), c2 = cpu();
		printf("%6d %6d %4ld %8.3f %8.2f %8.3f %8.2f %8.3f\n", pp, tg, b, t1 - t0, (double)b * pp / (t1 - t0),
		       t2 - t1, (double)b * tg / (t2 - t1), c2 - c1);
		fflush(stdout);
		free(ids);
		engine_close(eng);
	}
	return 0;
}
