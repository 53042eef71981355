/* sampler.h - choosing the next token from a logits frame (lm-sample(1)).
 *
 * One step, in this order (the order of Hugging Face transformers' logits
 * processors and warpers, so settings carry over):
 *   1. penalties over the window of recent ids: repetition (CTRL paper:
 *      a positive logit is divided by R, a negative one multiplied),
 *      presence (minus P once per id seen), frequency (minus F per
 *      occurrence);
 *   2. temperature 0: the best id, ties to the lowest id; stop here;
 *   3. logits / temperature, then top-k, top-p (smallest set of best ids
 *      whose probability reaches P), min-p (ids whose probability is at
 *      least P times the best one's);
 *   4. one draw from the renormalised distribution with the sampler's own
 *      generator (xoshiro256**, seeded by splitmix64), so a seed gives the
 *      same ids on every run and every machine.
 * Candidates are ranked by score, ties by lowest id, so every step is a
 * pure function of (scores, window, generator state). */
#ifndef LMU_SAMPLER_H
#define LMU_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sampler_params {
	double temperature;       /* 0 = greedy */
	uint32_t top_k;           /* 0 = off */
	double top_p;             /* 1 = off */
	double min_p;             /* 0 = off */
	double repeat_penalty;    /* 1 = off */
	double presence_penalty;  /* 0 = off */
	double frequency_penalty; /* 0 = off */
	int64_t repeat_last_n;    /* window size; 0 = no penalties, -1 = everything seen */
	uint64_t seed;
};

/* One bit per setting, for code that tracks which ones were given
 * (options, a model's recommendation: recommend.h). */
enum {
	SP_TEMPERATURE = 1 << 0,
	SP_TOP_K = 1 << 1,
	SP_TOP_P = 1 << 2,
	SP_MIN_P = 1 << 3,
	SP_REPEAT_PENALTY = 1 << 4,
	SP_PRESENCE_PENALTY = 1 << 5,
	SP_FREQUENCY_PENALTY = 1 << 6,
	SP_REPEAT_LAST_N = 1 << 7,
};

/* The defaults lm-sample documents: those of llama.cpp and ollama (a
 * repetition penalty of 1.1 over the last 64 ids, so that small models do
 * not loop), for models that recommend nothing. */
void sampler_defaults(struct sampler_params *p);

/* dst's fields named by bits, from src. */
void sampler_params_take(struct sampler_params *dst, const struct sampler_params *src, unsigned bits);

struct candidate {
	int32_t id;
	float logit;
	double p;
};

struct sampler {
	struct sampler_params par;
	uint64_t rng[4];          /* xoshiro256** state */
	int32_t *hist;            /* (hist_cap) ring of recent ids, or all ids when repeat_last_n < 0 */
	size_t hist_n, hist_cap, hist_head;
	uint32_t *count;          /* (count_cap) occurrences in the window, by id */
	unsigned char *mark;      /* (count_cap) work space of sampler_top_exact(), all 0 between calls */
	size_t count_cap;
	struct candidate *cand;   /* (2 * cand_cap) work space: candidates, then the ranked ones */
	size_t cand_cap;
};

void sampler_init(struct sampler *s, const struct sampler_params *p);
void sampler_free(struct sampler *s);

/* Add an id to the window of recent ids (the sampler adds nothing by
 * itself: the caller adds each id it emits, and prompt ids if it wants). */
void sampler_accept(struct sampler *s, int32_t id);

/* Choose an id from scores[0..n) (left unchanged).  Returns -1 only if
 * every score is -inf or NaN. */
int32_t sampler_sample(struct sampler *s, const float *scores, uint32_t n);

/* The same for a frame that scores only some ids (a top-k frame,
 * lm-logits(5)): scores has the others at -inf, and rest is the log of
 * the sum of their e^score, which joins the normaliser when --top-k is
 * off (-inf: none left out).  ids[0..k), when not NULL, are the ids it
 * lists (in any order): then only their scores are read, and the choice
 * is the one a look at every score would make. */
int32_t sampler_sample_top(struct sampler *s, const float *scores, uint32_t n, const uint32_t *ids, uint32_t k,
			   double rest);

/* Whether sampler_sample_top() on such a frame chooses what
 * sampler_sample() would on the whole frame, whatever the scores left
 * out: ids[0..k) are the listed ids, best first by raw score, every other
 * raw score at most bound; masked: a constraint has set scores to -inf
 * (and allows an unknown part of the others).  When it cannot, *why says
 * what stands in the way.  The window of the penalties is the sampler's
 * as it stands. */
bool sampler_top_exact(struct sampler *s, const float *scores, uint32_t n, const uint32_t *ids, uint32_t k,
		       float bound, double rest, bool masked, const char **why);

/* The smallest k for which sampler_top_exact() says yes for every frame of
 * the k best ids, whatever the scores: greedy or top-k sampling, with
 * penalties that only lower scores, k ids beyond those the window of the
 * penalties may push down; 0 when no k does (top-k off above temperature
 * 0, penalties that may raise scores, an unbounded window). */
uint32_t sampler_top_always(const struct sampler_params *p);

/* The generator, exposed for tests: a double in [0, 1). */
double sampler_uniform(struct sampler *s);

/* Log-probabilities of the unmodified distribution: the log of the
 * normaliser (log-sum-exp of scores) and the k best ids (best first, ties
 * to the lowest id) in top[0..k).  Returns how many were filled. */
double logsumexp(const float *scores, uint32_t n);
uint32_t top_ids(const float *scores, uint32_t n, uint32_t k, int32_t *top);

#endif
