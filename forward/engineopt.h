/* engineopt.h - the options of the programs that run the engine
 * (lm-step, lm-batch, lm-serve), read the same way, with the same bounds
 * and messages: -m/--model, -t/--threads, -c/--ctx-size, --parallel.
 *
 *   static const struct option longopts[] = {ENGINE_LONGOPTS, ..., {0}};
 *   ...
 *   default: if (!engine_opt(c, optarg, &o->eng)) die_usage(...);
 */
#ifndef LMU_ENGINEOPT_H
#define LMU_ENGINEOPT_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#define ENGINE_OPT_PARALLEL 0x4000  /* getopt's value for --parallel (above any other's) */
#define ENGINE_MAX_PARALLEL 4096
#define ENGINE_SHORTOPTS "m:t:c:"
#define ENGINE_LONGOPTS                                                      \
	{"model", required_argument, NULL, 'm'},                             \
	{"threads", required_argument, NULL, 't'},                           \
	{"ctx-size", required_argument, NULL, 'c'},                          \
	{"parallel", required_argument, NULL, ENGINE_OPT_PARALLEL}

struct engine_opts {
	const char *model;      /* -m as given (NULL: none; opt_model() resolves it) */
	int threads;            /* -t (0: not given) */
	uint32_t n_ctx;         /* -c: positions (0: not given) */
	uint32_t n_seq;         /* --parallel (0: not given) */
};

/* Read option c (getopt's value) with its argument into o: true, or
 * false when c is not one of these (dies with a usage message on a bad
 * value). */
bool engine_opt(int c, const char *arg, struct engine_opts *o);

#endif
