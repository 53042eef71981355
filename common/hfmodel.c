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
	const char *const *prefix;   /* pairs: the model's tensors, lm_head; NULL-ended */
	const struct rule *global, *layer;  /* {0}-ended */
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

	if (flags & VEC) {
		float *v = own(c, (size_t)t->n_elem * sizeof *v);
		for (uint64_t i = 0; i < t->n_elem; i++)
			v[i] = to_f32(type, src + i * es) + (flags & PLUS_ONE ? 1.0f : 0.0f);
		out_tensor(c, gguf, GGML_F32, 1, ne, (size_t)t->n_elem * sizeof *v, v);
		return true;
	}
	if (flags & (PERM_Q | PERM_K)) {
		/* row (h, j, i) of the HF layout, i < hd/2, j < 2, goes to row
		 * (h, i, j): the converter's reshape(n_head, 2, hd/2, n).swapaxes(1, 2) */
		uint32_t heads = flags & PERM_Q ? c->n_head : c->n_head_kv;
		uint64_t rows = ne[1], hd = heads ? rows / heads : 0;
		size_t rb = (size_t)ne[0] * es;
		if (!hd || rows % heads || hd % 2) {
			err_set(c->e, "%s: tensor %s: %llu rows do not split into %u heads of an even size", c->dir, shown,
				(unsigned long long)rows, heads);
			return false;
		}
		uint8_t *p = own(c, (size_t)t->nbytes);
		for (uint64_t h = 0; h < heads; h++)
			for (uint64_t i = 0; i < hd / 2; i++)
				for (uint64_t j = 0; j < 2; j++)
					memcpy(p + (size_t)(h * hd + 2 * i + j) * rb, src + (size_t)(h * hd + j * hd / 2 + i) * rb, rb);
		out_tensor(c, gguf, type, 2, ne, (size_t)t->nbytes, p);
		return true;
	}
	if ((uintptr_t)src % es) {
		/* the offsets allow any alignment; the kernels want the element's */
		void *p = memcpy(own(c, (size_t)t->nbytes), src, (size_t)t->nbytes);
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
		snprintf(hf, sizeof hf, "%s%s", r->flags & HEAD ? c->hprefix : c->mprefix, r->hf);
		if (!take(c, hf, r->gguf, r->flags))
			return false;
	}
	for (uint32_t l = 0; l < c->n_layer; l++)
		for (const struct rule *r = c->a->layer; r->hf; r++) {
			snprintf(hf, sizeof hf, "%slayers.%u.%s", c->mprefix, l, r->hf);
			snprintf(gg, sizeof gg, "blk.%u.%s", l, r->gguf);
			if (!take(c, hf, gg, r->flags))
				return false;
		}
	size_t mp = strlen(c->mprefix), hp = strlen(c->hprefix);
	for (uint64_t k = 0; k < c->st->n_tensors; k++) {
		const char *n = c->st->tensors[k].name;
		if (c->used[k])
			continue;
		/* RoPE tables some checkpoints carry; the rest of a multimodal model */
		if (strstr(n, "rotary_emb.inv_freq"))
			continue;
		if (c->a->nested && strncmp(n, c->mprefix, mp) != 0 && strncmp(n, c->hprefix, hp) != 0)
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
	c->head_dim = c->n_head ? c->n_embd / c->n_head : 0;
	bool explicit_hd = cfg_uint(c, "head_dim", false, 1, 1u << 16, &c->head_dim) == 1;
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

/* rope_theta and the scaling of one set of RoPE parameters: "default"
 * (none), "linear", or "llama3" (rope_freqs.weight, doc/formats.md "Llama 3 RoPE scaling"). */
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
	} else {
		fail(c, "RoPE scaling '%s' is not supported (supported: default, linear, llama3)", type);
	}
out:
	free(type);
	return ok;
}

static bool llama_config(struct conv *c)
{
	char *act = str_of(cfg_get(c, "hidden_act"));
	bool silu = !act || strcmp(act, "silu") == 0;
	jv r;

	if (!silu) {
		fail(c, "hidden_act '%s' is not supported for %s (silu)", act, c->a->cls);
		free(act);
		return false;
	}
	free(act);
	if (!common_config(c))
		return false;
	r = rope_params(c);
	bool ok = rope_config(c, r, c->head_dim);
	jv_free(r);
	return ok;
}

static const char *const text_prefix[] = {"model.", "", NULL};

static const struct rule llama_global[] = {
	{"embed_tokens.weight", "token_embd.weight", 0},
	{"norm.weight", "output_norm.weight", VEC},
	{"lm_head.weight", "output.weight", HEAD | OPTIONAL},
	{0},
};

static const struct rule llama_layer[] = {
	{"input_layernorm.weight", "attn_norm.weight", VEC},
	{"self_attn.q_proj.weight", "attn_q.weight", PERM_Q},
	{"self_attn.k_proj.weight", "attn_k.weight", PERM_K},
	{"self_attn.v_proj.weight", "attn_v.weight", 0},
	{"self_attn.o_proj.weight", "attn_output.weight", 0},
	{"post_attention_layernorm.weight", "ffn_norm.weight", VEC},
	{"mlp.gate_proj.weight", "ffn_gate.weight", 0},
	{"mlp.up_proj.weight", "ffn_up.weight", 0},
	{"mlp.down_proj.weight", "ffn_down.weight", 0},
	{0},
};

static const struct arch archs[] = {
	{"LlamaForCausalLM", "llama", false, text_prefix, llama_global, llama_layer, llama_config},
	{"MistralForCausalLM", "llama", false, text_prefix, llama_global, llama_layer, llama_config},
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
