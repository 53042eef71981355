#include "model.h"

#include <stdio.h>
#include <string.h>

/* Architectures whose hyper-parameters this layer understands. */
static const char *const supported[] = {"llama"};

static int get_u32(const struct gguf *g, const char *arch, const char *suffix, uint32_t *out,
		   bool required, char *missing, size_t mlen)
{
	char key[128];
	int r;
	snprintf(key, sizeof key, "%s.%s", arch, suffix);
	r = gguf_get_u32(g, key, out);
	if (r == 1)
		return 1;
	if (r < 0 || required) {
		size_t o = strlen(missing);
		snprintf(missing + o, mlen - o, "%s%s%s", o ? ", " : "", key, r < 0 ? " (wrong type)" : "");
	}
	return r;
}

static void get_f32(const struct gguf *g, const char *arch, const char *suffix, float *out,
		    bool required, char *missing, size_t mlen)
{
	char key[128];
	double d;
	int r;
	snprintf(key, sizeof key, "%s.%s", arch, suffix);
	r = gguf_get_f64(g, key, &d);
	if (r == 1) {
		*out = (float)d;
		return;
	}
	if (r < 0 || required) {
		size_t o = strlen(missing);
		snprintf(missing + o, mlen - o, "%s%s%s", o ? ", " : "", key, r < 0 ? " (wrong type)" : "");
	}
}

static void copy_str(const struct gguf *g, const char *key, char *dst, size_t len)
{
	struct gguf_str s;
	dst[0] = 0;
	if (gguf_get_str(g, key, &s) == 1) {
		size_t n = s.len < len - 1 ? (size_t)s.len : len - 1;
		memcpy(dst, s.s, n);
		dst[n] = 0;
	}
}

bool hparams_load(const struct gguf *g, struct hparams *hp, struct lmu_err *e)
{
	char missing[512] = "";
	const struct gguf_tensor *emb;
	struct gguf_str s;
	size_t i;

	memset(hp, 0, sizeof *hp);
	if (gguf_get_str(g, "general.architecture", &s) != 1) {
		err_set(e, "%s: no general.architecture string key", g->path);
		return false;
	}
	if (s.len >= sizeof hp->arch) {
		err_set(e, "%s: architecture name too long", g->path);
		return false;
	}
	memcpy(hp->arch, s.s, s.len);
	copy_str(g, "general.name", hp->name, sizeof hp->name);
	copy_str(g, "tokenizer.ggml.model", hp->tok_model, sizeof hp->tok_model);
	copy_str(g, "tokenizer.ggml.pre", hp->tok_pre, sizeof hp->tok_pre);

	for (i = 0; i < sizeof supported / sizeof *supported; i++)
		if (strcmp(hp->arch, supported[i]) == 0)
			break;
	if (i == sizeof supported / sizeof *supported) {
		err_set(e, "%s: architecture '%s' is not supported (supported: llama)", g->path, hp->arch);
		return false;
	}

	const char *a = hp->arch;
	get_u32(g, a, "context_length", &hp->n_ctx_train, true, missing, sizeof missing);
	get_u32(g, a, "embedding_length", &hp->n_embd, true, missing, sizeof missing);
	get_u32(g, a, "block_count", &hp->n_layer, true, missing, sizeof missing);
	get_u32(g, a, "feed_forward_length", &hp->n_ff, true, missing, sizeof missing);
	get_u32(g, a, "attention.head_count", &hp->n_head, true, missing, sizeof missing);
	if (get_u32(g, a, "attention.head_count_kv", &hp->n_head_kv, false, missing, sizeof missing) == 0)
		hp->n_head_kv = hp->n_head;
	get_f32(g, a, "attention.layer_norm_rms_epsilon", &hp->rms_eps, true, missing, sizeof missing);
	hp->rope_base = 10000.0f;
	get_f32(g, a, "rope.freq_base", &hp->rope_base, false, missing, sizeof missing);
	hp->rope_scale = 1.0f;
	get_f32(g, a, "rope.scale_linear", &hp->rope_scale, false, missing, sizeof missing);
	{
		/* linear scaling is applied; any other scheme (yarn, longrope)
		 * would silently change the model, so it is refused */
		char key[128];
		struct gguf_str st;
		snprintf(key, sizeof key, "%s.rope.scaling.type", a);
		if (gguf_get_str(g, key, &st) == 1) {
			if (st.len == 6 && memcmp(st.s, "linear", 6) == 0)
				get_f32(g, a, "rope.scaling.factor", &hp->rope_scale, true, missing, sizeof missing);
			else if (!(st.len == 4 && memcmp(st.s, "none", 4) == 0)) {
				err_set(e, "%s: rope scaling type '%.*s' is not supported (supported: none, linear)",
					g->path, (int)(st.len < 32 ? st.len : 32), st.s);
				return false;
			}
		}
	}
	if (missing[0]) {
		err_set(e, "%s: architecture %s: missing or malformed keys: %s", g->path, a, missing);
		return false;
	}
	if (!hp->n_embd || !hp->n_layer || !hp->n_head || !hp->n_ff || !hp->n_head_kv ||
	    hp->n_embd % hp->n_head || hp->n_head % hp->n_head_kv) {
		err_set(e, "%s: inconsistent hyper-parameters (embedding %u, heads %u, kv heads %u, ff %u, layers %u)",
			g->path, hp->n_embd, hp->n_head, hp->n_head_kv, hp->n_ff, hp->n_layer);
		return false;
	}
	if (!(hp->rms_eps > 0) || !(hp->rope_base > 0) || !(hp->rope_scale > 0)) {
		err_set(e, "%s: non-positive epsilon, rope base or rope scale", g->path);
		return false;
	}
	hp->head_dim = hp->n_embd / hp->n_head;
	{
		uint32_t kl;
		if (get_u32(g, a, "attention.key_length", &kl, false, missing, sizeof missing) == 1)
			hp->head_dim = kl;
		if (get_u32(g, a, "attention.value_length", &kl, false, missing, sizeof missing) == 1 &&
		    kl != hp->head_dim) {
			err_set(e, "%s: value length %u differs from key length %u (not supported)", g->path, kl,
				hp->head_dim);
			return false;
		}
	}
	hp->n_rot = hp->head_dim;
	get_u32(g, a, "rope.dimension_count", &hp->n_rot, false, missing, sizeof missing);
	if (missing[0] || hp->n_rot > hp->head_dim || hp->n_rot % 2 || !hp->head_dim) {
		err_set(e, "%s: bad head or rotary dimensions %s", g->path, missing);
		return false;
	}
	hp->rope_mode = ROPE_NORM;

	emb = gguf_tensor(g, "token_embd.weight");
	if (!emb || emb->n_dims != 2 || emb->ne[0] != hp->n_embd || emb->ne[1] > UINT32_MAX) {
		err_set(e, "%s: token_embd.weight missing or not of shape {%u, n_vocab}", g->path, hp->n_embd);
		return false;
	}
	hp->n_vocab = (uint32_t)emb->ne[1];
	hp->tied_output = gguf_tensor(g, "output.weight") == NULL;
	return true;
}
