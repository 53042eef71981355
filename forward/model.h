/* model.h - where a model comes from: its hyper-parameters by GGUF key and
 * its tensors by GGUF name (struct model_src), and the blueprint read from
 * them (struct hparams).
 *
 * Three kinds of state are kept apart (doc/internals.md): this blueprint, the
 * weights (transformer.h) and the activations of one step (the context).
 *
 * A GGUF file is one source (model_src_gguf).  Another format joins by
 * filling a struct model_src that answers the same GGUF key and tensor
 * names from its own (a safetensors directory: config.json fields as keys,
 * Hugging Face tensor names mapped to GGUF ones, converted where the
 * conventions differ); everything above reads only these names. */
#ifndef LMU_MODEL_H
#define LMU_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "gguf.h"

struct model_src {
	const char *path;        /* named in messages */
	void *arg;
	/* A key's value: 1 found, 0 absent, -1 present with a type that does
	 * not fit (as gguf_get_u32 and friends) */
	int (*get_u32)(void *arg, const char *key, uint32_t *out);
	int (*get_f64)(void *arg, const char *key, double *out);
	int (*get_str)(void *arg, const char *key, struct gguf_str *out);
	/* A tensor by GGUF name, NULL if absent.  Its data stays valid until
	 * close; dimensions are GGUF's (ne[0] innermost). */
	const struct gguf_tensor *(*tensor)(void *arg, const char *name);
	/* The i-th tensor, NULL past the last (to check that the model has no
	 * tensor its architecture does not use) */
	const struct gguf_tensor *(*tensor_at)(void *arg, uint64_t i);
	/* An identity of the model for state files */
	uint64_t (*id)(void *arg);
	void (*close)(void *arg);
};

/* A source over an opened GGUF file; close() closes g. */
struct model_src model_src_gguf(struct gguf *g);

/* Limits on what a model's keys may say, so that every size computed from
 * them fits easily in 64 bits (and a row length in an int). */
#define MAX_DIM (1u << 20)    /* n_embd, n_ff, n_head * head_dim, n_head_kv * head_dim */
#define MAX_LAYERS 4096
#define MAX_CTX (1u << 24)    /* positions of a context (lm-step -c) */

enum rope_mode { ROPE_NORM, ROPE_NEOX };  /* doc/formats.md "RoPE" */

struct hparams {
	char arch[32];           /* general.architecture */
	char name[128];          /* general.name, or "" */
	uint32_t n_ctx_train;    /* training context length */
	uint32_t n_embd;         /* embedding length */
	uint32_t n_layer;        /* block count */
	uint32_t n_ff;           /* feed-forward length */
	uint32_t n_head;         /* query heads */
	uint32_t n_head_kv;      /* key/value heads (GQA) */
	uint32_t head_dim;       /* key length (= value length here) */
	uint32_t n_rot;          /* rotary dimensions */
	float rms_eps;           /* RMSNorm epsilon */
	float rope_base;         /* RoPE frequency base (global layers) */
	float rope_scale;        /* linear RoPE scaling factor, 1 = none */
	enum rope_mode rope_mode;
	float att_scale;         /* attention scores are scaled by it: 1/sqrt(head_dim) unless the
				    architecture says otherwise */
	float embd_scale;        /* embeddings are multiplied by it (gemma3: sqrt(n_embd)); 1: none */
	float logit_softcap;     /* logits = cap * tanh(logits / cap); 0: none */
	float logit_scale;       /* logits are divided by it (granite); 1: none */
	float residual_scale;    /* each branch is multiplied by it before it is added (granite); 1: none */
	uint32_t n_swa;          /* sliding window: a query of a local layer sees the last n_swa
				    positions, itself included; 0: no local layers */
	uint32_t swa_period;     /* with n_swa: every swa_period-th layer (the last of each group)
				    is global, the others local (gemma3: 6); 0: every layer local */
	float rope_base_swa;     /* RoPE base of the local layers, without scaling (gemma3: 10000);
				    0: the same RoPE as the global layers */
	uint32_t rope_orig_ctx;  /* long-context RoPE (phi3): the context it was trained on; a longer
				    context takes the long factors, all of it computed again */
	float rope_attn_factor;  /* RoPE cos and sin are multiplied by it (phi3 long context); 1: none */
	uint32_t n_vocab;        /* rows of token_embd = tokenizer size */
	bool tied_output;        /* no output.weight: the LM head is token_embd */
	char tok_model[16];      /* tokenizer.ggml.model: llama, gpt2, ... */
	char tok_pre[32];        /* tokenizer.ggml.pre, or "" */
};

/* Does layer l attend only to a window (hp->n_swa positions)? */
static inline bool hparams_local(const struct hparams *hp, uint32_t l)
{
	return hp->n_swa && !(hp->swa_period && (l + 1) % hp->swa_period == 0);
}

/* Fill *hp from the source's keys: the ones every architecture has, then
 * the architecture's own (arch.h).  Return false with a message naming
 * every missing or malformed key, or the unsupported architecture and the
 * supported ones. */
bool hparams_read(const struct model_src *src, struct hparams *hp, struct lmu_err *e);
/* The same from a GGUF file. */
bool hparams_load(const struct gguf *g, struct hparams *hp, struct lmu_err *e);

/* Reading one architecture's keys, "{arch}.{suffix}": the names of the
 * missing (when required) and malformed ones are gathered for one message.
 * key_u32 returns what model_src's get_u32 does. */
struct keys {
	const struct model_src *src;
	const char *arch;
	char missing[512];
};
int key_u32(struct keys *k, const char *suffix, uint32_t *out, bool required);
int key_f32(struct keys *k, const char *suffix, float *out, bool required);
int key_str(struct keys *k, const char *suffix, struct gguf_str *out);

#endif
