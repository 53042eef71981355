/* arch.h - the architectures lm-step runs, one table (arch.c).
 *
 * An architecture is three things, kept in one small file arch_NAME.c:
 *   - its hyper-parameters beyond those every model has (model.c reads
 *     those): defaults, its own keys, its checks;
 *   - its tensors: two tables (the model's, each layer's) giving every
 *     tensor's GGUF name, shape and place in struct weights or struct
 *     layer_weights (transformer.h); a loader for any source (model.h)
 *     fills the weights from them and checks presence, shape and type;
 *   - its layer: the steps of steps.h in the model's order.
 *
 * To add an architecture:
 *   1. write forward/arch_NAME.c after an existing one: hyper-parameters,
 *      tensor tables, layer; what no step does yet goes into steps.c as a
 *      step of its own (or an option of one), written for any architecture;
 *      a weight no struct has yet goes into struct layer_weights;
 *   2. add `extern const struct arch arch_NAME;` below and its address to
 *      the table in arch.c;
 *   3. a tiny random-weight model made by transformers and its logits as a
 *      fixture (tests/ref/), run by test-forward, and the real weights
 *      where a model is at hand;
 *   4. lm-step(1) and README: the architecture and what it needs. */
#ifndef LMU_ARCH_H
#define LMU_ARCH_H

#include <stddef.h>

#include "model.h"
#include "transformer.h"

/* A tensor's dimension, from the hyper-parameters. */
enum dim {
	DIM_NONE,     /* (out) a vector, not a matrix */
	DIM_EMBD,     /* n_embd */
	DIM_FF,       /* n_ff */
	DIM_Q,        /* n_head * head_dim */
	DIM_KV,       /* n_head_kv * head_dim */
	DIM_VOCAB,    /* n_vocab */
	DIM_ROT_HALF, /* n_rot / 2 */
	DIM_HEAD,     /* head_dim */
	DIM_QKV,      /* n_head * head_dim + 2 * n_head_kv * head_dim (fused Q, K, V) */
	DIM_FF2,      /* 2 * n_ff (fused gate and up) */
};

#define T_OPTIONAL 1u  /* may be absent (its place stays NULL) */

struct tensor_spec {
	const char *name;    /* GGUF name; in a layer's table "%u" is the layer */
	enum dim in, out;    /* a matrix of `out` rows of `in` elements (struct
				matrix), or with out DIM_NONE a vector of `in`
				elements converted to float (float *) */
	size_t at;           /* its place: offsetof(struct weights or struct layer_weights, ...) */
	unsigned flags;
	/* Part of a fused matrix (phi3's Q, K and V in one): the tensor has
	 * `whole` rows, of which this matrix is the `out` rows after the
	 * skip[0] + skip[1] first (DIM_NONE: none); whole DIM_NONE: not a part */
	enum dim whole, skip[2];
};

/* Rows of the tables: a tensor, and a part of a fused one; `at` is
 * W(field) in the model's table, L(field) in a layer's. */
#define TENSOR(name, in, out, at, flags) {name, in, out, at, flags, DIM_NONE, {DIM_NONE, DIM_NONE}}
#define PART(name, in, out, at, whole, skip0, skip1) {name, in, out, at, 0, whole, {skip0, skip1}}
#define W(f) offsetof(struct weights, f)
#define L(f) offsetof(struct layer_weights, f)

/* The rows every model's table starts with: the embeddings, the final
 * norm, the output matrix (absent: tied to the embeddings). */
#define MODEL_TENSORS \
	TENSOR("token_embd.weight", DIM_EMBD, DIM_VOCAB, W(tok_embd), 0), \
	TENSOR("output_norm.weight", DIM_EMBD, DIM_NONE, W(output_norm), 0), \
	TENSOR("output.weight", DIM_EMBD, DIM_VOCAB, W(output), T_OPTIONAL)

/* The norms and separate matrices of a llama layer, which qwen2, granite
 * and gemma3 have too (with biases or norms of their own beside them). */
#define LLAMA_LAYER_TENSORS \
	TENSOR("blk.%u.attn_norm.weight", DIM_EMBD, DIM_NONE, L(attn_norm), 0), \
	TENSOR("blk.%u.attn_q.weight", DIM_EMBD, DIM_Q, L(wq), 0), \
	TENSOR("blk.%u.attn_k.weight", DIM_EMBD, DIM_KV, L(wk), 0), \
	TENSOR("blk.%u.attn_v.weight", DIM_EMBD, DIM_KV, L(wv), 0), \
	TENSOR("blk.%u.attn_output.weight", DIM_Q, DIM_EMBD, L(wo), 0), \
	TENSOR("blk.%u.ffn_norm.weight", DIM_EMBD, DIM_NONE, L(ffn_norm), 0), \
	TENSOR("blk.%u.ffn_gate.weight", DIM_EMBD, DIM_FF, L(w_gate), 0), \
	TENSOR("blk.%u.ffn_up.weight", DIM_EMBD, DIM_FF, L(w_up), 0), \
	TENSOR("blk.%u.ffn_down.weight", DIM_FF, DIM_EMBD, L(w_down), 0)

struct arch {
	const char *name;    /* general.architecture */
	/* Its own hyper-parameters (model.c has read the common ones): set
	 * hp's architecture-dependent fields, read its keys through k
	 * (missing ones are gathered there), or fail with a message in e. */
	bool (*hparams)(struct keys *k, struct hparams *hp, struct lmu_err *e);
	const struct tensor_spec *tensors;        /* the model's, ending with {0} */
	const struct tensor_spec *layer_tensors;  /* each layer's, ending with {0} */
	/* layer l over the nb rows of the slice in c->x (the segments of
	 * c->seg: which sequence, which positions) */
	void (*layer)(struct context *c, const struct layer_weights *w, uint32_t l, uint32_t nb);
};

extern const struct arch arch_llama, arch_qwen2, arch_gemma3, arch_phi3, arch_granite;

/* Layers that several architectures share. */
void layer_llama(struct context *c, const struct layer_weights *w, uint32_t l, uint32_t nb);

/* The architecture of that name, or NULL. */
const struct arch *arch_find(const char *name);
/* The supported names, comma-separated, into buf. */
void arch_names(char *buf, size_t len);

#endif
