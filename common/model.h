/* model.h - the model blueprint: hyper-parameters read from GGUF keys.
 *
 * Three kinds of state are kept apart (doc/internals.md "Three kinds of state"): this blueprint, the
 * weights (forward/), and the activations of one step (forward/). */
#ifndef LMU_MODEL_H
#define LMU_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "gguf.h"

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
	uint32_t n_vocab;        /* rows of token_embd = tokenizer size */
	bool tied_output;        /* no output.weight: the LM head is token_embd */
	char tok_model[16];      /* tokenizer.ggml.model: llama, gpt2, ... */
	char tok_pre[32];        /* tokenizer.ggml.pre, or "" */
};

/* Fill *hp from the GGUF metadata.  Return false with a message naming
 * every missing or malformed key, or the unsupported architecture. */
bool hparams_load(const struct gguf *g, struct hparams *hp, struct lmu_err *e);

#endif
