/* recommend.c - a model's recommended sampling settings (recommend.h). */
#include "recommend.h"

#include <jv.h>
#include <math.h>
#include <string.h>

/* One row per setting: its GGUF key, its generation_config.json key, the
 * bit, and the range lm-sample accepts for it. */
struct rec_key {
	const char *gguf, *json;
	unsigned bit;
	double min, max;
	bool integer;
};

static const struct rec_key keys[] = {
	{"general.sampling.temp", "temperature", SP_TEMPERATURE, 0, 1e6, false},
	{"general.sampling.top_k", "top_k", SP_TOP_K, 0, 1 << 24, true},
	{"general.sampling.top_p", "top_p", SP_TOP_P, 0, 1, false},
	{"general.sampling.min_p", "min_p", SP_MIN_P, 0, 1, false},
	{"general.sampling.penalty_repeat", "repetition_penalty", SP_REPEAT_PENALTY, 1e-6, 1e6, false},
	{"general.sampling.penalty_last_n", NULL, SP_REPEAT_LAST_N, -1, 1 << 24, true},
};

static void set_field(struct sampler_params *p, unsigned bit, double v)
{
	switch (bit) {
	case SP_TEMPERATURE: p->temperature = v; break;
	case SP_TOP_K: p->top_k = (uint32_t)v; break;
	case SP_TOP_P: p->top_p = v; break;
	case SP_MIN_P: p->min_p = v; break;
	case SP_REPEAT_PENALTY: p->repeat_penalty = v; break;
	case SP_REPEAT_LAST_N: p->repeat_last_n = (int64_t)v; break;
	}
}

static bool in_range(const struct rec_key *k, double v)
{
	return isfinite(v) && v >= k->min && v <= k->max && (!k->integer || v == floor(v));
}

int recommend_gguf(const struct gguf *g, struct sampler_params *p, struct lmu_err *e)
{
	int set = 0;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		double v;
		int r = gguf_get_f64(g, keys[i].gguf, &v);
		if (r == 0)
			continue;
		if (r < 0 || !in_range(&keys[i], v)) {
			err_set(e, "%s: not a number in [%g, %g]", keys[i].gguf, keys[i].min, keys[i].max);
			return -1;
		}
		set_field(p, keys[i].bit, v);
		set |= (int)keys[i].bit;
	}
	return set;
}

int recommend_json(const char *text, size_t len, struct sampler_params *p, struct lmu_err *e)
{
	jv cfg = jv_parse_sized(text, (int)(len > 1 << 24 ? 1 << 24 : len));
	int set = 0;

	if (jv_get_kind(cfg) != JV_KIND_OBJECT) {
		err_set(e, "generation_config.json: not a JSON object");
		jv_free(cfg);
		return -1;
	}
	for (size_t i = 0; i < sizeof keys / sizeof keys[0] && set >= 0; i++) {
		if (!keys[i].json)
			continue;
		jv v = jv_object_get(jv_copy(cfg), jv_string(keys[i].json));
		if (jv_get_kind(v) == JV_KIND_NUMBER && in_range(&keys[i], jv_number_value(v))) {
			set_field(p, keys[i].bit, jv_number_value(v));
			set |= (int)keys[i].bit;
		} else if (jv_get_kind(v) != JV_KIND_INVALID && jv_get_kind(v) != JV_KIND_NULL) {
			err_set(e, "generation_config.json: %s: not a number in [%g, %g]", keys[i].json, keys[i].min,
				keys[i].max);
			set = -1;
		}
		jv_free(v);
	}
	/* do_sample false: transformers decodes greedily whatever the rest says */
	jv ds = set >= 0 ? jv_object_get(jv_copy(cfg), jv_string("do_sample")) : jv_invalid();
	if (jv_get_kind(ds) == JV_KIND_FALSE) {
		p->temperature = 0;
		set |= SP_TEMPERATURE;
	}
	jv_free(ds);
	jv_free(cfg);
	return set;
}
