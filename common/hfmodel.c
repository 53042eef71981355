/* hfmodel.c - a Hugging Face model directory as a GGUF.  See hfmodel.h.
 *
 * One row of archs[] per config.json architecture: the GGUF architecture
 * it becomes, where its text model's tensors live, its tensor names (Hugging
 * Face suffix -> GGUF name), and a function for the hyper-parameters beyond
 * the ones every architecture has.  To add an architecture, add a row (and
 * its tensor table); the forward pass must know the GGUF architecture. */
#include "hfmodel.h"

#include <math.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf_write.h"
#include "half.h"
#include "jsonfile.h"
#include "modelpath.h"
#include "safetensors.h"
#include "le.h"
#include "vocab.h"

/* What becomes of one tensor. */
enum {
	OPTIONAL = 1,   /* may be absent */
	VEC = 2,        /* a vector: stored as an F32 copy */
	PLUS_ONE = 4,   /* Gemma norm: GGUF holds 1 + w */
	PERM_Q = 8,     /* Q rows: permuted per head for pairwise RoPE (doc/formats.md "RoPE") */
	PERM_K = 16,    /* K rows: the same with the KV heads */
	HEAD = 32,      /* named from the head prefix (lm_head), not the model's */
	BIAS_QKV = 64,  /* a bias of Q, K or V: taken where struct arch's bias says */
	BIAS_MORE = 128, /* another bias: the same */
};

struct rule {
	const char *hf;     /* after the prefix, per layer after "layers.N." */
	const char *gguf;   /* per layer after "blk.N." */
	unsigned flags;
};

struct conv;

struct arch {
	const char *cls;             /* config.json architectures[0] */
	const char *arch;            /* general.architecture */
	bool nested;                 /* the text model's config is text_config */
	uint32_t head_dim;           /* without head_dim in config.json (0: hidden_size / heads) */
	const char *const *prefix;   /* pairs: the model's tensors, lm_head; NULL-ended */
	const struct rule *global, *layer;  /* {0}-ended */
	unsigned bias;               /* the BIAS_ rules it takes, | OPTIONAL where each may be absent */
	bool neox;                   /* NEOX RoPE: Q and K rows as they are, not PERM_ */
	bool (*config)(struct conv *c);
};

/* A conversion in progress. */
struct conv {
	const struct arch *a;
	const char *dir;
	char cfg_path[4096];
	jv cfg;                     /* the text model's config */
	struct safetensors *st;
	struct gguf_writer *w;
	struct lmu_err *e;
	char missing[512];          /* config keys missing or malformed */
	const char *mprefix, *hprefix;
	uint32_t n_layer, n_embd, n_head, n_head_kv, head_dim, n_ff;
	int tied;                   /* tie_word_embeddings: 1, 0, -1 not said */
	uint8_t *used;              /* (st->n_tensors) taken by a rule */
	const void **data;          /* (n_out) where each GGUF tensor's data lies */
	uint64_t n_out;
	void **owned;               /* (n_owned) converted copies */
	size_t n_owned;
};

/* ---- config.json ---- */

static jv cfg_get(const struct conv *c, const char *key)
{
	if (jv_get_kind(c->cfg) != JV_KIND_OBJECT)
		return jv_invalid();
	return jv_object_get(jv_copy(c->cfg), jv_string(key));
}

static void missing(struct conv *c, const char *key, const char *why)
{
	size_t o = strlen(c->missing);
	snprintf(c->missing + o, sizeof c->missing - o, "%s%s%s", o ? ", " : "", key, why);
}

/* A whole number in [lo, hi]: 1 and *out set, 0 absent (or null), -1
 * malformed; a required key absent or malformed is listed as missing. */
static int cfg_uint(struct conv *c, const char *key, bool required, uint32_t lo, uint32_t hi, uint32_t *out)
{
	jv v = cfg_get(c, key);
	int r = 0;
	if (jv_get_kind(v) == JV_KIND_NUMBER) {
		double d = jv_number_value(v);
		r = d == floor(d) && d >= lo && d <= hi ? 1 : -1;
		if (r == 1)
			*out = (uint32_t)d;
	} else if (jv_is_valid(v) && jv_get_kind(v) != JV_KIND_NULL) {
		r = -1;
	}
	jv_free(v);
	if (r < 0)
		missing(c, key, " (not a whole number in range)");
	else if (r == 0 && required)
		missing(c, key, "");
	return r;
}

/* true or false: 1 or 0, -1 absent (or null); other values are listed
 * as malformed */
static int cfg_bool(struct conv *c, const char *key)
{
	jv v = cfg_get(c, key);
	jv_kind k = jv_get_kind(v);
	jv_free(v);
	if (k == JV_KIND_TRUE || k == JV_KIND_FALSE)
		return k == JV_KIND_TRUE;
	if (k != JV_KIND_INVALID && k != JV_KIND_NULL)
		missing(c, key, " (not true or false)");
	return -1;
}

static int num_of(jv v, double *out)
{
	int r = 0;
	if (jv_get_kind(v) == JV_KIND_NUMBER) {
		*out = jv_number_value(v);
		r = isfinite(*out) ? 1 : -1;
	} else if (jv_is_valid(v) && jv_get_kind(v) != JV_KIND_NULL) {
		r = -1;
	}
	jv_free(v);
	return r;
}

static int cfg_num(struct conv *c, const char *key, bool required, double *out)
{
	int r = num_of(cfg_get(c, key), out);
	if (r < 0)
		missing(c, key, " (not a number)");
	else if (r == 0 && required)
		missing(c, key, "");
	return r;
}

/* A string value, or NULL (a copy). */
static char *str_of(jv v)
{
	char *s = jv_get_kind(v) == JV_KIND_STRING ? xstrdup(jv_string_value(v)) : NULL;
	jv_free(v);
	return s;
}

static bool fail(struct conv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(struct conv *c, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	err_set(c->e, "%s: %s", c->cfg_path, msg);
	return false;
}

static void key(char *buf, size_t n, const struct conv *c, const char *suffix)
{
	snprintf(buf, n, "%s.%s", c->a->arch, suffix);
}

static void w_u32(struct conv *c, const char *suffix, uint32_t v)
{
	char k[96];
	key(k, sizeof k, c, suffix);
	gguf_w_u32(c->w, k, v);
}

static void w_f32(struct conv *c, const char *suffix, float v)
{
	char k[96];
	key(k, sizeof k, c, suffix);
	gguf_w_f32(c->w, k, v);
}

/* The RoPE parameters: rope_parameters (transformers 5) or rope_scaling
 * (older), either possibly null; rope_theta inside or beside them. */
static jv rope_params(const struct conv *c)
{
	jv r = cfg_get(c, "rope_parameters");
	if (jv_get_kind(r) != JV_KIND_OBJECT) {
		jv_free(r);
		r = cfg_get(c, "rope_scaling");
	}
	if (jv_get_kind(r) != JV_KIND_OBJECT) {
		jv_free(r);
		r = jv_object();
	}
	return r;
}

/* ---- tensors ---- */

static void *own(struct conv *c, size_t n)
{
	c->owned = xreallocarray(c->owned, c->n_owned + 1, sizeof *c->owned);
	return c->owned[c->n_owned++] = xmalloc(n ? n : 1);
}

static void out_tensor(struct conv *c, const char *name, enum ggml_type type, uint32_t n_dims, const uint64_t *ne,
		       size_t nbytes, const void *data)
{
	gguf_w_tensor_ref(c->w, name, type, n_dims, ne, NULL, nbytes);
	c->data = xreallocarray(c->data, c->n_out + 1, sizeof *c->data);
	c->data[c->n_out++] = data;
}

static float to_f32(enum ggml_type t, const uint8_t *p)
{
	float f;
	if (t == GGML_F32) {
		memcpy(&f, p, 4);
		return f;
	}
	uint16_t h = (uint16_t)get_le(p, 2);
	return t == GGML_BF16 ? bf16_to_f32(h) : f16_to_f32(h);
}

/* Q and K rows (or bias elements) are in the order of split-halves RoPE
 * in the HF layout and in pairs for pairwise RoPE in GGUF: GGUF row (h, i,
 * j) of a head of hd rows, i < hd/2, j < 2, is HF row (h, j, i), as the
 * converter's reshape(n_head, 2, hd/2, ...).swapaxes(1, 2) has it.  The
 * head size, or 0 with *e set where the rows do not split into heads. */
static uint64_t perm_head(struct conv *c, const struct st_tensor *t, unsigned flags)
{
	uint32_t heads = flags & PERM_Q ? c->n_head : c->n_head_kv;
	uint64_t rows = t->shape[0], hd = heads ? rows / heads : 0;
	if (!hd || rows % heads || hd % 2) {
		char shown[96];
		snprintf(shown, sizeof shown, "%s", t->name);
		err_set(c->e, "%s: tensor %s: %llu rows do not split into %u heads of an even size", c->dir, shown,
			(unsigned long long)rows, heads);
		return 0;
	}
	return hd;
}

static uint64_t perm_src(uint64_t r, uint64_t hd)
{
	uint64_t k = r % hd;
	return r - k + (k % 2) * (hd / 2) + k / 2;
}

/* The tensor named prefix + hf as GGUF tensor gguf. */
static bool take(struct conv *c, const char *hf, const char *gguf, unsigned flags)
{
	const struct st_tensor *t = st_find(c->st, hf);
	char shown[96];

	snprintf(shown, sizeof shown, "%s", hf);
	if (!t) {
		if (flags & OPTIONAL)
			return true;
		err_set(c->e, "%s: tensor %s is missing (%s needs it as %s)", c->dir, shown, c->a->cls, gguf);
		return false;
	}
	c->used[t - c->st->tensors] = 1;
	enum ggml_type type = st_dtype_ggml(t->dtype);
	if (type != GGML_F32 && type != GGML_F16 && type != GGML_BF16) {
		err_set(c->e, "%s: tensor %s: dtype %s is not a weight type lmutils reads (F32, F16, BF16)",
			c->st->shards[t->shard].path, shown, st_dtype_name(t->dtype));
		return false;
	}
	uint32_t want = flags & VEC ? 1 : 2;
	if (t->n_dims != want || t->n_elem == 0) {
		err_set(c->e, "%s: tensor %s has %u dimensions and %llu elements, expected a %s",
			c->st->shards[t->shard].path, shown, t->n_dims, (unsigned long long)t->n_elem,
			want == 1 ? "vector" : "matrix");
		return false;
	}
	uint64_t ne[2] = {t->shape[t->n_dims - 1], t->n_dims == 2 ? t->shape[0] : 1};
	size_t es = type == GGML_F32 ? 4 : 2;
	const uint8_t *src = t->data;

	uint64_t hd = 0;
	if ((flags & (PERM_Q | PERM_K)) && !(hd = perm_head(c, t, flags)))
		return false;
	if (flags & VEC) {
		float *v = own(c, (size_t)t->n_elem * sizeof *v);
		for (uint64_t i = 0; i < t->n_elem; i++)
			v[i] = to_f32(type, src + (hd ? perm_src(i, hd) : i) * es) + (flags & PLUS_ONE ? 1.0f : 0.0f);
		out_tensor(c, gguf, GGML_F32, 1, ne, (size_t)t->n_elem * sizeof *v, v);
		return true;
	}
	if (hd || (uintptr_t)src % es) {
		/* a copy: permuted rows, or data the offsets left unaligned for
		 * its element (the kernels want it aligned) */
		size_t rb = (size_t)ne[0] * es;
		uint8_t *p = own(c, (size_t)t->nbytes);
		for (uint64_t r = 0; r < ne[1]; r++)
			memcpy(p + r * rb, src + (hd ? perm_src(r, hd) : r) * rb, rb);
		out_tensor(c, gguf, type, 2, ne, (size_t)t->nbytes, p);
		return true;
	}
	out_tensor(c, gguf, type, 2, ne, (size_t)t->nbytes, src);
	return true;
}

/* Every tensor of every rule, then no tensor left without a place. */
static bool take_all(struct conv *c)
{
	char hf[ST_MAX_NAME + 64], gg[GGUF_MAX_NAME + 1];

	c->used = xcalloc(c->st->n_tensors ? c->st->n_tensors : 1, 1);
	for (const struct rule *r = c->a->global; r->hf; r++) {
		unsigned flags = r->flags;
		snprintf(hf, sizeof hf, "%s%s", flags & HEAD ? c->hprefix : c->mprefix, r->hf);
		if (flags & HEAD && c->tied == 1) {
			/* tied: the embeddings are the output matrix, as
			 * transformers ties them over a stored lm_head */
			const struct st_tensor *t = st_find(c->st, hf);
			if (t)
				c->used[t - c->st->tensors] = 1;
			continue;
		}
		if (flags & HEAD && c->tied == 0)
			flags &= ~(unsigned)OPTIONAL;
		if (!take(c, hf, r->gguf, flags))
			return false;
	}
	for (uint32_t l = 0; l < c->n_layer; l++)
		for (const struct rule *r = c->a->layer; r->hf; r++) {
			unsigned flags = r->flags, bias = flags & (BIAS_QKV | BIAS_MORE);
			if (bias && !(bias & c->a->bias))
				continue;
			if (bias)
				flags |= c->a->bias & OPTIONAL;
			if (c->a->neox)
				flags &= ~(unsigned)(PERM_Q | PERM_K);
			snprintf(hf, sizeof hf, "%slayers.%u.%s", c->mprefix, l, r->hf);
			snprintf(gg, sizeof gg, "blk.%u.%s", l, r->gguf);
			if (!take(c, hf, gg, flags))
				return false;
		}
	size_t mp = strlen(c->mprefix);
	for (uint64_t k = 0; k < c->st->n_tensors; k++) {
		const char *n = c->st->tensors[k].name;
		if (c->used[k])
			continue;
		/* RoPE tables some checkpoints carry; the rest of a multimodal model */
		if (strstr(n, "rotary_emb.inv_freq"))
			continue;
		if (c->a->nested && strncmp(n, c->mprefix, mp) != 0)
			continue;
		char shown[96];
		snprintf(shown, sizeof shown, "%s", n);
		err_set(c->e, "%s: tensor %s has no place in a %s of %u layers", c->st->shards[c->st->tensors[k].shard].path,
			shown, c->a->cls, c->n_layer);
		return false;
	}
	return true;
}

/* ---- the architectures ---- */

/* The hyper-parameters every architecture has (doc/formats.md "safetensors"). */
static bool common_config(struct conv *c)
{
	uint32_t ctx = 0, vocab = 0;
	double eps = 0;

	cfg_uint(c, "max_position_embeddings", true, 1, UINT32_MAX, &ctx);
	cfg_uint(c, "hidden_size", true, 1, 1u << 20, &c->n_embd);
	cfg_uint(c, "num_hidden_layers", true, 1, 1u << 16, &c->n_layer);
	cfg_uint(c, "intermediate_size", true, 1, 1u << 24, &c->n_ff);
	cfg_uint(c, "num_attention_heads", true, 1, 1u << 16, &c->n_head);
	if (cfg_uint(c, "num_key_value_heads", false, 1, 1u << 16, &c->n_head_kv) != 1)
		c->n_head_kv = c->n_head;
	cfg_uint(c, "vocab_size", true, 1, UINT32_MAX, &vocab);
	cfg_num(c, "rms_norm_eps", true, &eps);
	c->tied = cfg_bool(c, "tie_word_embeddings");
	c->head_dim = c->a->head_dim ? c->a->head_dim : c->n_head ? c->n_embd / c->n_head : 0;
	bool explicit_hd = cfg_uint(c, "head_dim", false, 1, 1u << 16, &c->head_dim) == 1 || c->a->head_dim;
	if (c->missing[0])
		return fail(c, "%s: missing or malformed keys: %s", c->a->cls, c->missing);
	if (!(eps > 0))
		return fail(c, "rms_norm_eps %g is not positive", eps);
	if (c->n_head % c->n_head_kv)
		return fail(c, "%u attention heads do not share %u key/value heads evenly", c->n_head, c->n_head_kv);
	if (!c->head_dim)
		return fail(c, "no head size: hidden_size %u over %u heads", c->n_embd, c->n_head);

	w_u32(c, "context_length", ctx);
	w_u32(c, "embedding_length", c->n_embd);
	w_u32(c, "block_count", c->n_layer);
	w_u32(c, "feed_forward_length", c->n_ff);
	w_u32(c, "attention.head_count", c->n_head);
	w_u32(c, "attention.head_count_kv", c->n_head_kv);
	w_f32(c, "attention.layer_norm_rms_epsilon", (float)eps);
	w_u32(c, "vocab_size", vocab);
	if (explicit_hd) {
		w_u32(c, "attention.key_length", c->head_dim);
		w_u32(c, "attention.value_length", c->head_dim);
	}
	return true;
}

/* LongRoPE (Phi-3, doc/formats.md "Phi-3"): a divisor per pair of rotated
 * dimensions for contexts within original_max_position_embeddings
 * (short_factor) and for longer ones (long_factor), as the converter's
 * rope_factors_short and rope_factors_long; cos and sin times
 * attention_factor, by default sqrt(1 + ln s / ln original) with s the
 * factor or else max_position_embeddings / original (1 where s <= 1). */
static bool longrope(struct conv *c, jv r, uint32_t n_rot)
{
	static const char *const names[2][2] = {
		{"long_factor", "rope_factors_long.weight"},
		{"short_factor", "rope_factors_short.weight"},
	};
	double orig = 0, ctx = 0, factor, attn;

	if (num_of(jv_object_get(jv_copy(r), jv_string("original_max_position_embeddings")), &orig) != 1)
		cfg_num(c, "original_max_position_embeddings", false, &orig);
	if (!(orig >= 2 && orig <= UINT32_MAX && orig == floor(orig)))
		return fail(c, "longrope RoPE scaling without a whole original_max_position_embeddings above 1");
	for (int k = 0; k < 2; k++) {
		jv a = jv_object_get(jv_copy(r), jv_string(names[k][0]));
		int n = jv_get_kind(a) == JV_KIND_ARRAY ? jv_array_length(jv_copy(a)) : -1;
		if (n != (int)(n_rot / 2)) {
			jv_free(a);
			return fail(c, "longrope %s: %d factors, not one for each of the %u pairs of rotated dimensions",
				    names[k][0], n, n_rot / 2);
		}
		float *f = own(c, (size_t)n * sizeof *f);
		for (int i = 0; i < n; i++) {
			double d;
			if (num_of(jv_array_get(jv_copy(a), i), &d) != 1 || !(d > 0) || d > 1e30) {
				jv_free(a);
				return fail(c, "longrope %s: factor %d is not a positive number", names[k][0], i);
			}
			f[i] = (float)d;
		}
		jv_free(a);
		out_tensor(c, names[k][1], GGML_F32, 1, (uint64_t[]){(uint64_t)n}, (size_t)n * sizeof *f, f);
	}
	cfg_num(c, "max_position_embeddings", false, &ctx);
	if (num_of(jv_object_get(jv_copy(r), jv_string("factor")), &factor) != 1)
		factor = ctx / orig;
	if (num_of(jv_object_get(jv_copy(r), jv_string("attention_factor")), &attn) != 1)
		attn = factor <= 1 ? 1 : sqrt(1 + log(factor) / log(orig));
	if (!(attn > 0))
		return fail(c, "longrope attention_factor %g is not positive", attn);
	w_u32(c, "rope.scaling.original_context_length", (uint32_t)orig);
	w_f32(c, "rope.scaling.attn_factor", (float)attn);
	return true;
}

/* rope_theta and the scaling of one set of RoPE parameters: "default"
 * (none), "linear", "llama3" (rope_freqs.weight, doc/formats.md "Llama 3
 * RoPE scaling") or "longrope" (above). */
static bool rope_config(struct conv *c, jv r, uint32_t n_rot)
{
	double theta = 10000;
	char *type = str_of(jv_object_get(jv_copy(r), jv_string("rope_type")));
	bool ok = false;

	if (!type)
		type = str_of(jv_object_get(jv_copy(r), jv_string("type")));
	if (num_of(jv_object_get(jv_copy(r), jv_string("rope_theta")), &theta) != 1 &&
	    cfg_num(c, "rope_theta", false, &theta) < 0)
		goto out;
	if (!(theta > 0)) {
		fail(c, "rope_theta %g is not positive", theta);
		goto out;
	}
	w_f32(c, "rope.freq_base", (float)theta);
	w_u32(c, "rope.dimension_count", n_rot);
	if (!type || strcmp(type, "default") == 0) {
		ok = true;
	} else if (strcmp(type, "linear") == 0) {
		double factor;
		if (num_of(jv_object_get(jv_copy(r), jv_string("factor")), &factor) != 1 || !(factor > 0)) {
			fail(c, "linear RoPE scaling without a positive factor");
			goto out;
		}
		char k[96];
		key(k, sizeof k, c, "rope.scaling.type");
		gguf_w_str(c->w, k, "linear");
		w_f32(c, "rope.scaling.factor", (float)factor);
		ok = true;
	} else if (strcmp(type, "llama3") == 0) {
		double factor, lo, hi, orig;
		if (num_of(jv_object_get(jv_copy(r), jv_string("factor")), &factor) != 1 ||
		    num_of(jv_object_get(jv_copy(r), jv_string("low_freq_factor")), &lo) != 1 ||
		    num_of(jv_object_get(jv_copy(r), jv_string("high_freq_factor")), &hi) != 1 ||
		    num_of(jv_object_get(jv_copy(r), jv_string("original_max_position_embeddings")), &orig) != 1 ||
		    !(factor > 0) || !(lo > 0) || !(hi > lo) || !(orig > 0)) {
			fail(c, "llama3 RoPE scaling needs positive factor, low_freq_factor < high_freq_factor and "
				"original_max_position_embeddings");
			goto out;
		}
		/* the per-pair divisor of the angle, as the llama converter stores it */
		float *f = own(c, n_rot / 2 * sizeof *f);
		for (uint32_t i = 0; i < n_rot / 2; i++) {
			double freq = pow(theta, -2.0 * i / n_rot), wl = 2 * M_PI / freq;
			double lo_wl = orig / lo, hi_wl = orig / hi;
			if (wl < hi_wl)
				f[i] = 1;
			else if (wl > lo_wl)
				f[i] = (float)factor;
			else {
				double s = (orig / wl - lo) / (hi - lo);
				f[i] = (float)(1 / ((1 - s) / factor + s));
			}
		}
		out_tensor(c, "rope_freqs.weight", GGML_F32, 1, (uint64_t[]){n_rot / 2}, n_rot / 2 * sizeof *f, f);
		ok = true;
	} else if (strcmp(type, "longrope") == 0 || strcmp(type, "su") == 0) {
		ok = longrope(c, r, n_rot);
	} else {
		fail(c, "RoPE scaling '%s' is not supported (supported: default, linear, llama3, longrope)", type);
	}
out:
	free(type);
	return ok;
}

/* hidden_act (or Gemma's hidden_activation) is the one the architecture's
 * feed-forward applies. */
static bool activation_is(struct conv *c, const char *want)
{
	char *act = str_of(cfg_get(c, "hidden_act"));
	if (!act)
		act = str_of(cfg_get(c, "hidden_activation"));
	bool ok = !act || strcmp(act, want) == 0;
	if (!ok)
		fail(c, "hidden_act '%s' is not supported for %s (%s)", act, c->a->cls, want);
	free(act);
	return ok;
}

/* The RoPE parameters of the whole model, over n_rot dimensions of a head. */
static bool rope_default(struct conv *c, uint32_t n_rot)
{
	jv r = rope_params(c);
	bool ok = rope_config(c, r, n_rot);
	jv_free(r);
	return ok;
}

/* sliding_window where the architecture has a window on every layer and
 * transformers honours it (Mistral, Phi-3) */
static bool window_config(struct conv *c)
{
	uint32_t window;
	if (cfg_uint(c, "sliding_window", false, 1, UINT32_MAX, &window) == 1)
		w_u32(c, "attention.sliding_window", window);
	return c->missing[0] ? fail(c, "%s: malformed keys: %s", c->a->cls, c->missing) : true;
}

static bool llama_config(struct conv *c)
{
	return activation_is(c, "silu") && common_config(c) && window_config(c) && rope_default(c, c->head_dim);
}

/* Qwen2: the window of the configs (use_sliding_window) is off in the
 * released models, and GGUF qwen2 has none. */
static bool qwen2_config(struct conv *c)
{
	jv sw = cfg_get(c, "use_sliding_window");
	bool window = jv_get_kind(sw) == JV_KIND_TRUE;
	jv_free(sw);
	if (window)
		return fail(c, "use_sliding_window: sliding-window attention is not supported for %s (the "
			       "released models do not use it)", c->a->cls);
	return activation_is(c, "silu") && common_config(c) && rope_default(c, c->head_dim);
}

/* Phi-3: RoPE on the first partial_rotary_factor of each head (Phi-4-mini
 * 0.75), LongRoPE in the long-context models, a window in some. */
static bool phi3_config(struct conv *c)
{
	double partial = 1;
	jv r;
	bool ok;

	if (!activation_is(c, "silu") || !common_config(c) || !window_config(c))
		return false;
	r = rope_params(c);
	if (num_of(jv_object_get(jv_copy(r), jv_string("partial_rotary_factor")), &partial) != 1 &&
	    cfg_num(c, "partial_rotary_factor", false, &partial) < 0) {
		jv_free(r);
		return fail(c, "%s: malformed keys: %s", c->a->cls, c->missing);
	}
	/* transformers' int(head_dim * partial_rotary_factor) */
	double rot = partial > 0 && partial <= 1 ? floor(c->head_dim * partial) : 0;
	if (rot < 2 || fmod(rot, 2) != 0) {
		jv_free(r);
		return fail(c, "partial_rotary_factor %g does not rotate an even number of the %u dimensions of a head",
			    partial, c->head_dim);
	}
	ok = rope_config(c, r, (uint32_t)rot);
	jv_free(r);
	return ok;
}

/* Granite: four multipliers, each 1 where config.json does not say (as
 * transformers has them). */
static bool granite_config(struct conv *c)
{
	static const char *const mult[][2] = {
		{"embedding_multiplier", "embedding_scale"},
		{"residual_multiplier", "residual_scale"},
		{"attention_multiplier", "attention.scale"},
		{"logits_scaling", "logit_scale"},
	};

	if (!activation_is(c, "silu") || !common_config(c))
		return false;
	for (size_t i = 0; i < sizeof mult / sizeof *mult; i++) {
		double v = 1;
		if (cfg_num(c, mult[i][0], false, &v) < 0)
			return fail(c, "%s: malformed keys: %s", c->a->cls, c->missing);
		if (!(v > 0) || v > 1e30)
			return fail(c, "%s %g is not a positive number", mult[i][0], v);
		w_f32(c, mult[i][1], (float)v);
	}
	return rope_default(c, c->head_dim);
}

/* Gemma 3: what GGUF gemma3 cannot say must be what llama.cpp assumes for
 * it (doc/formats.md "Gemma 3"): a local RoPE base of 10000, every sixth
 * layer global, scores scaled by 1/sqrt(head_dim) (the 62-layer model:
 * n_embd / n_head), no attention softcapping. */
static bool gemma3_config(struct conv *c)
{
	uint32_t window = 0, pattern = 6;
	double qpas, local = 10000, cap;
	jv r = rope_params(c), full, sliding, types;
	bool ok = false;

	if (!activation_is(c, "gelu_pytorch_tanh") || !common_config(c))
		goto out;
	if (cfg_bool(c, "use_bidirectional_attention") == 1) {
		fail(c, "use_bidirectional_attention: an encoder (EmbeddingGemma), not a causal language model");
		goto out;
	}
	if (cfg_uint(c, "sliding_window", true, 1, UINT32_MAX, &window) != 1)
		goto fail_keys;
	w_u32(c, "attention.sliding_window", window);
	if (cfg_num(c, "query_pre_attn_scalar", false, &qpas) == 1) {
		double want = c->n_layer == 62 ? (double)(c->n_embd / c->n_head) : (double)c->head_dim;
		if (qpas != want) {
			fail(c, "query_pre_attn_scalar %g is not the %g GGUF gemma3 implies", qpas, want);
			goto out;
		}
	}
	if (cfg_num(c, "attn_logit_softcapping", false, &cap) == 1) {
		fail(c, "attn_logit_softcapping is not supported for %s", c->a->cls);
		goto out;
	}
	if (cfg_num(c, "final_logit_softcapping", false, &cap) == 1)
		w_f32(c, "final_logit_softcapping", (float)cap);
	/* which layers are local: layer_types, else the pattern */
	types = cfg_get(c, "layer_types");
	if (jv_get_kind(types) == JV_KIND_ARRAY) {
		uint32_t n = (uint32_t)jv_array_length(jv_copy(types));
		for (uint32_t l = 0; l < n && l < c->n_layer; l++) {
			char *t = str_of(jv_array_get(jv_copy(types), (int)l));
			const char *want = (l + 1) % 6 == 0 ? "full_attention" : "sliding_attention";
			bool same = t && strcmp(t, want) == 0;
			free(t);
			if (!same) {
				jv_free(types);
				fail(c, "layer_types: layer %u is not %s, as GGUF gemma3 has every sixth layer global", l, want);
				goto out;
			}
		}
	} else if (cfg_uint(c, "sliding_window_pattern", false, 1, 1u << 16, &pattern) == 1 && pattern != 6) {
		jv_free(types);
		fail(c, "sliding_window_pattern %u is not the 6 of GGUF gemma3", pattern);
		goto out;
	}
	jv_free(types);
	/* transformers 5: one set of RoPE parameters per layer type */
	full = jv_object_get(jv_copy(r), jv_string("full_attention"));
	sliding = jv_object_get(jv_copy(r), jv_string("sliding_attention"));
	char *stype = NULL;
	if (jv_get_kind(sliding) == JV_KIND_OBJECT) {
		num_of(jv_object_get(jv_copy(sliding), jv_string("rope_theta")), &local);
		stype = str_of(jv_object_get(jv_copy(sliding), jv_string("rope_type")));
	} else {
		cfg_num(c, "rope_local_base_freq", false, &local);
	}
	jv_free(sliding);
	bool scaled = stype && strcmp(stype, "default") != 0;
	free(stype);
	if (local != 10000 || scaled) {
		jv_free(full);
		fail(c, "the local layers' RoPE (base %g%s) is not the unscaled base 10000 of GGUF gemma3", local,
		     scaled ? ", scaled" : "");
		goto out;
	}
	if (c->missing[0]) {
		jv_free(full);
		goto fail_keys;
	}
	ok = rope_config(c, jv_get_kind(full) == JV_KIND_OBJECT ? full : r, c->head_dim);
	jv_free(full);
out:
	jv_free(r);
	return ok;
fail_keys:
	fail(c, "%s: missing or malformed keys: %s", c->a->cls, c->missing);
	goto out;
}

/* where a model's tensors are (model., or the text model of a multimodal
 * one) and lm_head beside them: pairs of prefixes */
static const char *const text_prefix[] = {"model.", "", NULL};
static const char *const gemma3_mm_prefix[] = {"model.language_model.", "", "language_model.model.", "language_model.", NULL};

static const struct rule llama_global[] = {
	{"embed_tokens.weight", "token_embd.weight", 0},
	{"norm.weight", "output_norm.weight", VEC},
	{"lm_head.weight", "output.weight", HEAD | OPTIONAL},
	{0},
};

/* The llama family's layer.  Llama and Mistral take no bias; Qwen2 those
 * of Q, K and V, each required, and its rows unpermuted (NEOX RoPE);
 * Granite every bias where attention_bias or mlp_bias put one (those of Q
 * and K permuted with their rows). */
static const struct rule llama_layer[] = {
	{"input_layernorm.weight", "attn_norm.weight", VEC},
	{"self_attn.q_proj.weight", "attn_q.weight", PERM_Q},
	{"self_attn.q_proj.bias", "attn_q.bias", VEC | PERM_Q | BIAS_QKV},
	{"self_attn.k_proj.weight", "attn_k.weight", PERM_K},
	{"self_attn.k_proj.bias", "attn_k.bias", VEC | PERM_K | BIAS_QKV},
	{"self_attn.v_proj.weight", "attn_v.weight", 0},
	{"self_attn.v_proj.bias", "attn_v.bias", VEC | BIAS_QKV},
	{"self_attn.o_proj.weight", "attn_output.weight", 0},
	{"self_attn.o_proj.bias", "attn_output.bias", VEC | BIAS_MORE},
	{"post_attention_layernorm.weight", "ffn_norm.weight", VEC},
	{"mlp.gate_proj.weight", "ffn_gate.weight", 0},
	{"mlp.gate_proj.bias", "ffn_gate.bias", VEC | BIAS_MORE},
	{"mlp.up_proj.weight", "ffn_up.weight", 0},
	{"mlp.up_proj.bias", "ffn_up.bias", VEC | BIAS_MORE},
	{"mlp.down_proj.weight", "ffn_down.weight", 0},
	{"mlp.down_proj.bias", "ffn_down.bias", VEC | BIAS_MORE},
	{0},
};

/* Phi-3: Q, K and V in one matrix, gate and up in one (gate first), as in
 * GGUF */
static const struct rule phi3_layer[] = {
	{"input_layernorm.weight", "attn_norm.weight", VEC},
	{"self_attn.qkv_proj.weight", "attn_qkv.weight", 0},
	{"self_attn.o_proj.weight", "attn_output.weight", 0},
	{"post_attention_layernorm.weight", "ffn_norm.weight", VEC},
	{"mlp.gate_up_proj.weight", "ffn_up.weight", 0},
	{"mlp.down_proj.weight", "ffn_down.weight", 0},
	{0},
};

/* Gemma's norms hold w where GGUF holds 1 + w */
static const struct rule gemma3_global[] = {
	{"embed_tokens.weight", "token_embd.weight", 0},
	{"norm.weight", "output_norm.weight", VEC | PLUS_ONE},
	{"lm_head.weight", "output.weight", HEAD | OPTIONAL},
	{0},
};

static const struct rule gemma3_layer[] = {
	{"input_layernorm.weight", "attn_norm.weight", VEC | PLUS_ONE},
	{"self_attn.q_proj.weight", "attn_q.weight", 0},
	{"self_attn.k_proj.weight", "attn_k.weight", 0},
	{"self_attn.v_proj.weight", "attn_v.weight", 0},
	{"self_attn.q_norm.weight", "attn_q_norm.weight", VEC | PLUS_ONE},
	{"self_attn.k_norm.weight", "attn_k_norm.weight", VEC | PLUS_ONE},
	{"self_attn.o_proj.weight", "attn_output.weight", 0},
	{"post_attention_layernorm.weight", "post_attention_norm.weight", VEC | PLUS_ONE},
	{"pre_feedforward_layernorm.weight", "ffn_norm.weight", VEC | PLUS_ONE},
	{"mlp.gate_proj.weight", "ffn_gate.weight", 0},
	{"mlp.up_proj.weight", "ffn_up.weight", 0},
	{"mlp.down_proj.weight", "ffn_down.weight", 0},
	{"post_feedforward_layernorm.weight", "post_ffw_norm.weight", VEC | PLUS_ONE},
	{0},
};

static const struct arch archs[] = {
	{"LlamaForCausalLM", "llama", false, 0, text_prefix, llama_global, llama_layer, 0, false, llama_config},
	{"MistralForCausalLM", "llama", false, 0, text_prefix, llama_global, llama_layer, 0, false, llama_config},
	{"Qwen2ForCausalLM", "qwen2", false, 0, text_prefix, llama_global, llama_layer, BIAS_QKV, true, qwen2_config},
	{"Phi3ForCausalLM", "phi3", false, 0, text_prefix, llama_global, phi3_layer, 0, true, phi3_config},
	{"GraniteForCausalLM", "granite", false, 0, text_prefix, llama_global, llama_layer,
	 BIAS_QKV | BIAS_MORE | OPTIONAL, false, granite_config},
	{"Gemma3ForCausalLM", "gemma3", false, 256, text_prefix, gemma3_global, gemma3_layer, 0, true, gemma3_config},
	{"Gemma3ForConditionalGeneration", "gemma3", true, 256, gemma3_mm_prefix, gemma3_global, gemma3_layer, 0,
	 true, gemma3_config},
};

#define N_ARCHS (sizeof archs / sizeof *archs)

const char *hf_supported(void)
{
	static char list[512];
	if (!list[0])
		for (size_t i = 0; i < N_ARCHS; i++)
			snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", archs[i].cls);
	return list;
}

/* ---- opening ---- */

struct owner {
	struct safetensors *st;
	void **owned;
	size_t n_owned;
};

static void release(void *p)
{
	struct owner *o = p;
	st_close(o->st);
	for (size_t i = 0; i < o->n_owned; i++)
		free(o->owned[i]);
	free(o->owned);
	free(o);
}

/* A name for general.name: the directory's, or ORG/NAME for a cache snapshot. */
static void model_name(struct conv *c)
{
	char *real = realpath(c->dir, NULL), *base, name[256];
	if (!real) {
		gguf_w_str(c->w, "general.name", c->dir);
		return;
	}
	base = strrchr(real, '/');
	snprintf(name, sizeof name, "%s", base && base[1] ? base + 1 : real);
	if (base && base > real) {
		*base = 0;
		char *snaps = strrchr(real, '/');
		if (snaps && strcmp(snaps + 1, "snapshots") == 0) {
			*snaps = 0;
			char *repo = strrchr(real, '/');
			if (repo && strncmp(repo + 1, "models--", 8) == 0) {
				char *sep = strstr(repo + 9, "--");
				if (sep)
					snprintf(name, sizeof name, "%.*s/%s", (int)(sep - repo - 9), repo + 9, sep + 2);
			}
		}
	}
	gguf_w_str(c->w, "general.name", name);
	free(real);
}

static bool open_weights(struct conv *c, const char *weights)
{
	size_t n = strlen(c->dir);
	bool usual = strncmp(weights, c->dir, n) == 0 && weights[n] == '/' &&
		     (strcmp(weights + n + 1, "model.safetensors") == 0 ||
		      strcmp(weights + n + 1, "model.safetensors.index.json") == 0);
	size_t wl = strlen(weights);
	if (usual)
		c->st = st_open_dir(c->dir, c->e);
	else if (wl > 11 && strcmp(weights + wl - 11, ".index.json") == 0)
		c->st = st_open_index(weights, c->e);
	else
		c->st = st_open(weights, c->e);
	return c->st != NULL;
}

struct gguf *hf_open(const char *dir, const char *weights, struct lmu_err *e)
{
	struct conv c = {.dir = dir, .e = e, .cfg = jv_invalid()};
	struct gguf *g = NULL;
	jv root = jv_invalid(), list;
	char *cls = NULL;

	snprintf(c.cfg_path, sizeof c.cfg_path, "%s/config.json", dir);
	/* the weights first: nothing is read from a file not checked whole */
	if (!open_weights(&c, weights))
		goto out;
	root = json_file(c.cfg_path, e);
	if (!jv_is_valid(root))
		goto out;
	if (jv_get_kind(root) != JV_KIND_OBJECT) {
		err_set(e, "%s: not a JSON object", c.cfg_path);
		goto out;
	}
	list = jv_object_get(jv_copy(root), jv_string("architectures"));
	if (jv_get_kind(list) == JV_KIND_ARRAY && jv_array_length(jv_copy(list)) >= 1)
		cls = str_of(jv_array_get(jv_copy(list), 0));
	jv_free(list);
	if (!cls) {
		err_set(e, "%s: no architectures list naming the model class (supported: %s)", c.cfg_path, hf_supported());
		goto out;
	}
	for (size_t i = 0; i < N_ARCHS && !c.a; i++)
		if (strcmp(cls, archs[i].cls) == 0)
			c.a = &archs[i];
	if (!c.a) {
		char shown[64];
		snprintf(shown, sizeof shown, "%s", cls);
		err_set(e, "%s: architecture %s is not supported (supported: %s)", c.cfg_path, shown, hf_supported());
		goto out;
	}
	c.cfg = c.a->nested ? jv_object_get(jv_copy(root), jv_string("text_config")) : jv_copy(root);
	if (jv_get_kind(c.cfg) != JV_KIND_OBJECT) {
		err_set(e, "%s: %s without a text_config object", c.cfg_path, cls);
		goto out;
	}
	/* where the text model's tensors are: the prefix of its embeddings */
	for (const char *const *p = c.a->prefix; *p && !c.mprefix; p += 2) {
		char name[256];
		snprintf(name, sizeof name, "%sembed_tokens.weight", p[0]);
		if (st_find(c.st, name)) {
			c.mprefix = p[0];
			c.hprefix = p[1];
		}
	}
	if (!c.mprefix) {
		err_set(e, "%s: no embeddings (%sembed_tokens.weight) in the weights", dir, c.a->prefix[0]);
		goto out;
	}
	c.w = gguf_writer_new();
	gguf_w_str(c.w, "general.architecture", c.a->arch);
	model_name(&c);
	if (!c.a->config(&c) || !take_all(&c))
		goto out;

	size_t size;
	const uint8_t *h = gguf_writer_header(c.w, &size);
	struct owner *o = xcalloc(1, sizeof *o);
	o->st = c.st;
	o->owned = c.owned;
	o->n_owned = c.n_owned;
	c.st = NULL;
	c.owned = NULL;
	c.n_owned = 0;
	g = gguf_open_header(memcpy(xmalloc(size), h, size), size, dir, release, o, e);
	if (g)
		for (uint64_t i = 0; i < g->n_tensors; i++)
			g->tensors[i].data = c.data[i];
out:
	for (size_t i = 0; i < c.n_owned; i++)
		free(c.owned[i]);
	free(c.owned);
	free(c.data);
	free(c.used);
	free(cls);
	gguf_writer_free(c.w);
	st_close(c.st);
	jv_free(c.cfg);
	jv_free(root);
	return g;
}

struct gguf *model_open(const char *model)
{
	struct model_loc loc;
	struct lmu_err e = {{0}};
	struct gguf *g;

	model_locate(model, &loc);
	if (loc.gguf)
		g = gguf_open_or_die(loc.gguf);
	else if (!loc.weights)
		die("%s: no model weights here, only a tokenizer (no model.safetensors, "
		    "model.safetensors.index.json or .gguf file)", loc.dir);
	else if (!(g = hf_open(loc.dir, loc.weights, &e)))
		die("%s", e.msg);
	model_loc_free(&loc);
	return g;
}

bool model_write_gguf(const struct gguf *g, const struct vocab *v, const char *path, struct lmu_err *e)
{
	struct gguf_writer *w = gguf_writer_new();
	bool has_tok = gguf_find(g, "tokenizer.ggml.model") != NULL, ok = false;
	uint64_t bytes[GGML_NTYPES] = {0};
	char *tmp = xmalloc(strlen(path) + 32);
	FILE *f = NULL;

	for (uint64_t i = 0; i < g->n_kv; i++)
		gguf_w_kv(w, &g->kv[i]);
	if (!gguf_find(g, "general.file_type")) {
		enum ggml_type most = GGML_F32;
		for (uint64_t i = 0; i < g->n_tensors; i++)
			if (g->tensors[i].n_dims == 2 && (unsigned)g->tensors[i].type < GGML_NTYPES &&
			    (bytes[g->tensors[i].type] += g->tensors[i].nbytes) > bytes[most])
				most = g->tensors[i].type;
		if (most == GGML_F32 || most == GGML_F16 || most == GGML_BF16)
			gguf_w_u32(w, "general.file_type", most == GGML_F32 ? 0 : most == GGML_F16 ? 1 : 32);
	}
	if (!has_tok && v) {
		const struct gguf_tensor *emb = gguf_tensor(g, "token_embd.weight");
		vocab_write_gguf(v, emb && emb->n_dims == 2 && emb->ne[1] <= UINT32_MAX ? (uint32_t)emb->ne[1] : 0, w);
	}
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const struct gguf_tensor *t = &g->tensors[i];
		gguf_w_tensor_ref(w, t->name, t->type, t->n_dims, t->ne, t->data, t->nbytes);
	}
	sprintf(tmp, "%s.tmp%ld", path, (long)getpid());
	if (!(f = fopen(tmp, "wb")) || gguf_writer_write(w, f) != 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		err_set(e, "%s: %s", f ? tmp : path, strerror(errno));
		goto out;
	}
	if (fclose(f) != 0) {
		f = NULL;
		err_set(e, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	f = NULL;
	if (rename(tmp, path) != 0) {
		err_set(e, "%s: %s", path, strerror(errno));
		goto out;
	}
	ok = true;
out:
	if (f)
		fclose(f);
	if (!ok)
		unlink(tmp);
	free(tmp);
	gguf_writer_free(w);
	return ok;
}
