/* gen.h - one generation: a sampler (sampler.h) and the rules that end
 * it -- an end-of-generation id, a token budget, stop strings matched on
 * the decoded text.  lm-sample keeps one per sequence; lm-batch and
 * lm-serve keep one per request.
 *
 * Each step takes the logits of a position and gives the id to emit, or
 * says why the generation is over.  The id that ends it (an
 * end-of-generation id, the token that completes a stop string) is not
 * emitted, so nothing more goes back into the model.  Everything depends
 * only on the parameters, the prompt ids given and the logits, so a
 * generation gives the same ids alone or beside others. */
#ifndef LMU_GEN_H
#define LMU_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sampler.h"
#include "vocab.h"

#define GEN_MAX_STOPS 16
#define GEN_MAX_STOP_LEN 1024

struct gen_params {
	struct sampler_params sampler;
	long long max_tokens;    /* ids to emit at most; 0 = no limit */
	bool ignore_eos;         /* end-of-generation ids are ids like others */
	const char *stop[GEN_MAX_STOPS];  /* stop strings (copied by gen_new) */
	int n_stop;
};

enum gen_status {
	GEN_TOKEN = 0,   /* an id to emit; the generation goes on */
	GEN_LAST,        /* an id to emit, and the budget is then spent */
	GEN_EOG,         /* an end-of-generation id came: over, nothing to emit */
	GEN_STOP,        /* a stop string was completed: over, nothing to emit */
	GEN_LENGTH,      /* the budget was already spent (max_tokens 0 left): nothing sampled */
};

struct gen;

/* v (may be NULL: no end-of-generation ids, no stop strings; gen_new
 * dies if stop strings are given without it) must outlive the gen. */
struct gen *gen_new(const struct gen_params *p, const struct vocab *v);
void gen_free(struct gen *g);

/* Add ids to the window of the penalties (the prompt). */
void gen_prompt(struct gen *g, const int32_t *ids, size_t n);

/* Choose the next id from scores[0..n) (already masked by a constraint,
 * if any).  *id gets the id chosen (also for GEN_EOG and GEN_STOP: the id
 * that ended it; -1 for GEN_LENGTH).  Returns -1 (id -1) only if no score
 * is finite. */
int gen_next(struct gen *g, const float *scores, uint32_t n, int32_t *id);

/* The same for a frame of the k best ids (sampler_sample_top): ids[0..k)
 * are the ids it lists (NULL: look at every score), rest the log of the
 * sum of e^score over the ids it leaves out. */
int gen_next_top(struct gen *g, const float *scores, uint32_t n, const uint32_t *ids, uint32_t k, double rest,
		 int32_t *id);

/* The generation's sampler (to ask sampler_top_exact()). */
struct sampler *gen_sampler(struct gen *g);

/* Ids emitted so far; ids left in the budget (-1: no limit). */
long long gen_emitted(const struct gen *g);
long long gen_left(const struct gen *g);

#endif
