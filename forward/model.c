#include "model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "arch.h"
#include "stream.h"

/* ---- the GGUF source ---- */

static int gguf_src_u32(void *g, const char *key, uint32_t *out) { return gguf_get_u32(g, key, out); }
static int gguf_src_f64(void *g, const char *key, double *out) { return gguf_get_f64(g, key, out); }
static int gguf_src_str(void *g, const char *key, struct gguf_str *out) { return gguf_get_str(g, key, out); }
static const struct gguf_tensor *gguf_src_tensor(void *g, const char *name) { return gguf_tensor(g, name); }
static void gguf_src_close(void *g) { gguf_close(g); }

static const struct gguf_tensor *gguf_src_tensor_at(void *arg, uint64_t i)
{
	const struct gguf *g = arg;
	return i < g->n_tensors ? &g->tensors[i] : NULL;
}

static uint64_t fnv1a(uint64_t h, const uint8_t *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* The file before its tensor data (header, metadata, tensor table), and
 * of each tensor's data 16 evenly spaced samples of 64 bytes (all of a
 * small tensor): a model with other weights under the same metadata gets
 * another id, for a fraction of a millisecond instead of reading the file. */
static uint64_t gguf_src_id(void *arg)
{
	const struct gguf *g = arg;
	uint64_t h = fnv1a(0xcbf29ce484222325ull, g->map, g->data_offset);
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const struct gguf_tensor *t = &g->tensors[i];
		const uint8_t *p = t->data;
		if (t->nbytes <= 16 * 64) {
			h = fnv1a(h, p, t->nbytes);
			continue;
		}
		for (uint64_t j = 0; j < 16; j++)
			h = fnv1a(h, p + (t->nbytes - 64) / 15 * j, 64);
	}
	return h;
}

struct model_src model_src_gguf(struct gguf *g)
{
	return (struct model_src){.path = g->path, .arg = g, .get_u32 = gguf_src_u32, .get_f64 = gguf_src_f64,
				  .get_str = gguf_src_str, .tensor = gguf_src_tensor, .tensor_at = gguf_src_tensor_at, .id = gguf_src_id,
				  .close = gguf_src_close};
}

/* ---- reading keys ---- */

static void note(struct keys *k, const char *key, int r)
{
	size_t o = strlen(k->missing);
	snprintf(k->missing + o, sizeof k->missing - o, "%s%s%s", o ? ", " : "", key, r < 0 ? " (wrong type)" : "");
}

int key_u32(struct keys *k, const char *suffix, uint32_t *out, bool required)
{
	char key[128];
	int r;
	snprintf(key, sizeof key, "%s.%s", k->arch, suffix);
	r = k->src->get_u32(k->src->arg, key, out);
	if (r < 0 || (r == 0 && required))
		note(k, key, r);
	return r;
}

int key_f32(struct keys *k, const char *suffix, float *out, bool required)
{
	char key[128];
	double d;
	int r;
	snprintf(key, sizeof key, "%s.%s", k->arch, suffix);
	r = k->src->get_f64(k->src->arg, key, &d);
	if (r == 1)
		*out = (float)d;
	else if (r < 0 || required)
		note(k, key, r);
	return r;
}

int key_str(struct keys *k, const char *suffix, struct gguf_str *out)
{
	char key[128];
	snprintf(key, sizeof key, "%s.%s", k->arch, suffix);
	return k->src->get_str(k->src->arg, key, out);
}

static void copy_str(const struct model_src *src, const char *key, char *dst, size_t len)
{
	struct gguf_str s;
	dst[0] = 0;
	if (src->get_str(src->arg, key, &s) == 1) {
		size_t n = s.len < len - 1 ? (size_t)s.len : len - 1;
		memcpy(dst, s.s, n);
		dst[n] = 0;
	}
}

/* ---- the hyper-parameters every architecture has ---- */

bool hparams_read(const struct model_src *src, struct hparams *hp, struct lmu_err *e)
{
	const struct gguf_tensor *emb;
	const struct arch *arch;
	struct gguf_str s;

	memset(hp, 0, sizeof *hp);
	if (src->get_str(src->arg, "general.architecture", &s) != 1) {
		err_set(e, "%s: no general.architecture string key", src->path);
		return false;
	}
	if (s.len >= sizeof hp->arch) {
		err_set(e, "%s: architecture name too long", src->path);
		return false;
	}
	memcpy(hp->arch, s.s, s.len);
	copy_str(src, "general.name", hp->name, sizeof hp->name);
	copy_str(src, "tokenizer.ggml.model", hp->tok_model, sizeof hp->tok_model);
	copy_str(src, "tokenizer.ggml.pre", hp->tok_pre, sizeof hp->tok_pre);

	arch = arch_find(hp->arch);
	if (!arch) {
		char names[256];
		arch_names(names, sizeof names);
		err_set(e, "%s: architecture '%s' is not supported (supported: %s)", src->path, hp->arch, names);
		return false;
	}

	struct keys k = {.src = src, .arch = hp->arch};
	key_u32(&k, "context_length", &hp->n_ctx_train, true);
	key_u32(&k, "embedding_length", &hp->n_embd, true);
	key_u32(&k, "block_count", &hp->n_layer, true);
	key_u32(&k, "feed_forward_length", &hp->n_ff, true);
	key_u32(&k, "attention.head_count", &hp->n_head, true);
	if (key_u32(&k, "attention.head_count_kv", &hp->n_head_kv, false) == 0)
		hp->n_head_kv = hp->n_head;
	key_f32(&k, "attention.layer_norm_rms_epsilon", &hp->rms_eps, true);
	hp->rope_base = 10000.0f;
	key_f32(&k, "rope.freq_base", &hp->rope_base, false);
	hp->rope_scale = 1.0f;
	key_f32(&k, "rope.scale_linear", &hp->rope_scale, false);
	{
		/* linear scaling is applied; any other scheme (yarn, longrope)
		 * would silently change the model, so it is refused */
		struct gguf_str st;
		if (key_str(&k, "rope.scaling.type", &st) == 1) {
			if (st.len == 6 && memcmp(st.s, "linear", 6) == 0)
				key_f32(&k, "rope.scaling.factor", &hp->rope_scale, true);
			else if (!(st.len == 4 && memcmp(st.s, "none", 4) == 0)) {
				err_set(e, "%s: rope scaling type '%.*s' is not supported (supported: none, linear)",
					src->path, (int)(st.len < 32 ? st.len : 32), st.s);
				return false;
			}
		}
	}
	if (k.missing[0]) {
		err_set(e, "%s: architecture %s: missing or malformed keys: %s", src->path, hp->arch, k.missing);
		return false;
	}
	if (!hp->n_embd || !hp->n_layer || !hp->n_head || !hp->n_ff || !hp->n_head_kv ||
	    hp->n_embd % hp->n_head || hp->n_head % hp->n_head_kv) {
		err_set(e, "%s: inconsistent hyper-parameters (embedding %u, heads %u, kv heads %u, ff %u, layers %u)",
			src->path, hp->n_embd, hp->n_head, hp->n_head_kv, hp->n_ff, hp->n_layer);
		return false;
	}
	if (!(hp->rms_eps > 0) || !(hp->rope_base > 0) || !(hp->rope_scale > 0)) {
		err_set(e, "%s: non-positive epsilon, rope base or rope scale", src->path);
		return false;
	}
	hp->head_dim = hp->n_embd / hp->n_head;
	{
		uint32_t kl;
		if (key_u32(&k, "attention.key_length", &kl, false) == 1)
			hp->head_dim = kl;
		if (key_u32(&k, "attention.value_length", &kl, false) == 1 && kl != hp->head_dim) {
			err_set(e, "%s: value length %u differs from key length %u (not supported)", src->path, kl,
				hp->head_dim);
			return false;
		}
	}
	hp->n_rot = hp->head_dim;
	key_u32(&k, "rope.dimension_count", &hp->n_rot, false);
	if (k.missing[0] || hp->n_rot > hp->head_dim || hp->n_rot % 2 || !hp->head_dim) {
		err_set(e, "%s: bad head or rotary dimensions %s", src->path, k.missing);
		return false;
	}
	/* sizes in 64 bits: a head dimension times the heads must not wrap */
	const struct { const char *what; uint64_t n, limit; } dims[] = {
		{"embedding length", hp->n_embd, MAX_DIM},
		{"feed-forward length", hp->n_ff, MAX_DIM},
		{"query dimension (heads x key length)", (uint64_t)hp->n_head * hp->head_dim, MAX_DIM},
		{"key/value dimension (kv heads x key length)", (uint64_t)hp->n_head_kv * hp->head_dim, MAX_DIM},
		{"block count", hp->n_layer, MAX_LAYERS},
	};
	for (size_t i = 0; i < sizeof dims / sizeof *dims; i++)
		if (dims[i].n > dims[i].limit) {
			err_set(e, "%s: %s %llu is above the limit of %llu", src->path, dims[i].what,
				(unsigned long long)dims[i].n, (unsigned long long)dims[i].limit);
			return false;
		}

	hp->att_scale = 1.0f / sqrtf((float)hp->head_dim);
	hp->embd_scale = 1.0f;
	hp->logit_scale = 1.0f;
	hp->rope_attn_factor = 1.0f;
	hp->residual_scale = 1.0f;

	/* what is the architecture's own */
	if (!arch->hparams(&k, hp, e))
		return false;
	if (k.missing[0]) {
		err_set(e, "%s: architecture %s: missing or malformed keys: %s", src->path, hp->arch, k.missing);
		return false;
	}
	if (hp->n_swa > MAX_CTX || !(hp->att_scale > 0) || !(hp->embd_scale > 0) || !(hp->logit_softcap >= 0) ||
	    !(hp->rope_base_swa >= 0) || !(hp->logit_scale > 0) || !(hp->residual_scale > 0) ||
	    !(hp->rope_attn_factor > 0) || !isfinite(hp->att_scale + hp->embd_scale + hp->logit_softcap +
						      hp->logit_scale + hp->residual_scale + hp->rope_attn_factor)) {
		err_set(e, "%s: bad sliding window %u or scale (attention %g, embedding %g, residual %g, logit %g, cap %g)",
			src->path, hp->n_swa, hp->att_scale, hp->embd_scale, hp->residual_scale, hp->logit_scale,
			hp->logit_softcap);
		return false;
	}

	emb = src->tensor(src->arg, "token_embd.weight");
	if (!emb || emb->n_dims != 2 || emb->ne[0] != hp->n_embd || emb->ne[1] > UINT32_MAX) {
		err_set(e, "%s: token_embd.weight missing or not of shape {%u, n_vocab}", src->path, hp->n_embd);
		return false;
	}
	if (emb->ne[1] > LOGITS_MAX_VOCAB) {
		err_set(e, "%s: token_embd.weight has %llu rows: a vocabulary above %u does not fit a logits frame",
			src->path, (unsigned long long)emb->ne[1], LOGITS_MAX_VOCAB);
		return false;
	}
	hp->n_vocab = (uint32_t)emb->ne[1];
	hp->tied_output = src->tensor(src->arg, "output.weight") == NULL;
	return true;
}

bool hparams_load(const struct gguf *g, struct hparams *hp, struct lmu_err *e)
{
	struct model_src src = model_src_gguf((struct gguf *)g);
	return hparams_read(&src, hp, e);
}
