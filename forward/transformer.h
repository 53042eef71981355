/* transformer.h - a decoder-only transformer: weights, context (KV cache
 * and activations), forward pass.  What differs between architectures
 * (tensor names, hyper-parameters, the order of a layer's steps) is in
 * arch.h and the arch_*.c files; the steps themselves are in steps.c.
 *
 * Three kinds of state are kept apart (doc/internals.md): the blueprint (struct
 * hparams, model.h), the weights (pointers into the mapped model file),
 * and the context of one run (KV cache, ids, activation buffers).
 * Shapes are written (rows, columns) with the columns contiguous. */
#ifndef LMU_TRANSFORMER_H
#define LMU_TRANSFORMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "model.h"

/* A weight matrix as stored in the file: n_out rows of n_in elements in
 * the file's type (quantized blocks run along a row); data NULL: absent. */
struct matrix {
	const void *data;
	enum ggml_type type;
	size_t row_bytes;
	uint32_t n_in, n_out;
};

/* Every tensor any architecture has; each fills those its tables name
 * (arch.h), the others stay NULL.  Vectors are converted to float. */
struct layer_weights {
	float *attn_norm;        /* (n_embd) */
	struct matrix wq;        /* (n_head * head_dim, n_embd), rows in the order of the RoPE mode */
	struct matrix wk;        /* (n_head_kv * head_dim, n_embd), idem */
	struct matrix wv;        /* (n_head_kv * head_dim, n_embd) */
	struct matrix wo;        /* (n_embd, n_head * head_dim) */
	float *ffn_norm;         /* (n_embd) */
	struct matrix w_gate;    /* (n_ff, n_embd) */
	struct matrix w_up;      /* (n_ff, n_embd) */
	struct matrix w_down;    /* (n_embd, n_ff) */
};

struct weights {
	struct matrix tok_embd;  /* (n_vocab, n_embd) */
	float *output_norm;      /* (n_embd) */
	struct matrix output;    /* (n_vocab, n_embd); = tok_embd when tied */
	float *rope_freqs;       /* (n_rot / 2) divisors of the RoPE angles (Llama 3), or NULL */
	float *inv_freq;         /* (n_rot / 2) RoPE angle per position for each pair */
	struct layer_weights *layers;  /* (n_layer) */
};

struct arch;

struct transformer {
	struct model_src src;
	const struct arch *arch;
	struct hparams hp;
	struct weights w;
	uint64_t id;             /* identity for state files (model_src's id) */
};

/* Open and validate the model -m names (model_open: a GGUF file, a model
 * directory, a repo id): every tensor's presence, shape and type; die with
 * a message naming the file and tensor on any problem.  With quant other
 * than GGML_F32 (the zero: weights as stored), its float matrices are
 * quantized to that type first, on n_threads threads (requant.h). */
struct transformer *transformer_open(const char *model, enum ggml_type quant, int n_threads);
/* The same over a source (model.h); takes ownership of it. */
struct transformer *transformer_from_src(struct model_src src);
/* The same over a GGUF already opened (tests); takes ownership of g. */
struct transformer *transformer_from_gguf(struct gguf *g);
void transformer_close(struct transformer *t);

struct pool;

struct context {
	const struct transformer *t;
	uint32_t n_ctx;          /* positions the KV cache holds */
	uint32_t max_batch;      /* positions evaluated together (a longer batch goes in slices) */
	bool all_logits;         /* a frame for every position, not only a batch's last */
	uint32_t logit_rows;     /* positions whose logits are computed together */
	struct pool *pool;
	bool quant_act;          /* 8-bit activations for the integer kernels (faster, less
				    exact); else the exact default: 16-bit activations for
				    legacy quants, float for float weights and K-quant rows */

	/* the context: ids of the positions, KV cache */
	int32_t *ids;            /* (n_ctx) */
	uint32_t n_pos;          /* positions in the context */
	uint32_t n_cached;       /* K/V rows valid for ids[0 .. n_cached), >= n_pos after a reset */
	uint64_t n_evaluated;    /* positions computed so far (statistics, tests) */
	struct kv_cache {
		float *k;        /* (n_ctx, n_head_kv * head_dim) keys by position */
		float *v;        /* (n_ctx, n_head_kv * head_dim) values */
	} *kv;                   /* (n_layer) */
	float *kv_mem;           /* the one allocation behind kv[] */

	/* activations of one slice of at most max_batch positions */
	float *x;                /* (max_batch, n_embd) residual stream */
	float *xb;               /* (max_batch, n_embd) normed input of a block */
	float *q;                /* (max_batch, n_head * head_dim) queries */
	float *att_out;          /* (max_batch, n_head * head_dim) attention output */
	float *tmp;              /* (max_batch, n_embd) projection before the residual add */
	float *hb;               /* (max_batch, n_ff) gate, then silu(gate) * up */
	float *hb2;              /* (max_batch, n_ff) up */
	uint8_t *xq[3];          /* (max_batch, xq_stride) activations quantized per weight type */
	size_t xq_stride;
	float *att;              /* (threads, ATT_ROWS, att_ld) attention weights of a thread's task */
	size_t att_ld;           /* n_ctx rounded up to 16 */
	float *pxf;              /* (threads, PRE_ROWS, row_len) each thread's normed rows (decode) */
	uint8_t *pxq;            /* (threads, 3, PRE_ROWS, xq_stride) and their quantized copies */
	uint32_t row_len;        /* the longest activation row: max(n_embd, n_ff, q_dim) */
	float *logits;           /* (logit_rows, n_vocab) */
	float *rope_cs, *rope_sn;  /* (max_batch, n_rot / 2) RoPE cos and sin of the slice's positions */

	struct step *step;       /* the parallel step being run (see steps.c) */
};

/* Allocate a context of n_ctx positions (0: the model's training
 * context) run by n_threads threads.  all_logits: context_eval gives the
 * logits of every position, not only of each batch's last.  Set
 * c->quant_act for the 8-bit integer kernels of quant.h. */
struct context *context_new(const struct transformer *t, uint32_t n_ctx, int n_threads, bool all_logits);
void context_free(struct context *c);

/* Empty the context.  The K/V rows stay as a cache: a following batch that
 * repeats their ids reuses them instead of recomputing (context_eval). */
void context_reset(struct context *c);

/* Called with the logits of position pos (token id at that position);
 * return 0 to stop (downstream closed), 1 to go on. */
typedef int (*logits_fn)(void *arg, int32_t token, uint64_t pos, const float *logits);

/* Append n ids (in range, n_pos + n <= n_ctx: the caller checks) to the
 * context and call emit with the logits of the last position, or of every
 * position when the context was made with all_logits.  Leading ids equal to cached rows after a reset
 * are not recomputed.  Return 0 if emit asked to stop (the context then
 * holds what was evaluated), 1 otherwise. */
int context_eval(struct context *c, const int32_t *ids, uint32_t n, logits_fn emit, void *arg);

#endif
