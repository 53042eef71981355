/* recommend.h - the sampling settings a model recommends.
 *
 * Model authors publish them in generation_config.json beside the
 * safetensors weights (temperature, top_k, top_p, min_p,
 * repetition_penalty; do_sample false means greedy), and converters copy
 * them into GGUF as general.sampling.* keys (temp, top_k, top_p, min_p,
 * penalty_repeat, penalty_last_n).  Both readers set only what the model
 * carries and say which fields they set (SP_* bits of sampler.h), so a
 * caller applies them under its own explicit options and over
 * sampler_defaults(). */
#ifndef LMU_RECOMMEND_H
#define LMU_RECOMMEND_H

#include "err.h"
#include "gguf.h"
#include "sampler.h"

/* The general.sampling.* keys of g.  Returns the SP_* bits set, or -1
 * with e set when a key holds a value of the wrong type or range. */
int recommend_gguf(const struct gguf *g, struct sampler_params *p, struct lmu_err *e);

/* A generation_config.json file (text, len bytes).  Returns the SP_* bits
 * set, or -1 with e set when it is not a JSON object or a value is of the
 * wrong type or range. */
int recommend_json(const char *text, size_t len, struct sampler_params *p, struct lmu_err *e);

#endif
