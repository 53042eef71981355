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
	float *bq, *bk, *bv;     /* (n_out of wq, wk, wv) biases (qwen2), or NULL */
	float *q_norm, *k_norm;  /* (head_dim) RMSNorm of each head of Q and K before RoPE (gemma3), or NULL */
	struct matrix wo;        /* (n_embd, n_head * head_dim) */
	float *bo;               /* (n_embd) its bias (granite), or NULL */
	float *post_attn_norm;   /* (n_embd) RMSNorm of the attention's output (gemma3), or NULL */
	float *ffn_norm;         /* (n_embd) */
	struct matrix w_gate;    /* (n_ff, n_embd) */
	struct matrix w_up;      /* (n_ff, n_embd) */
	struct matrix w_down;    /* (n_embd, n_ff) */
	float *b_gate, *b_up, *b_down;  /* (n_out) biases of the feed-forward (granite), or NULL */
	float *post_ffn_norm;    /* (n_embd) RMSNorm of the feed-forward's output (gemma3), or NULL */
};

struct weights {
	struct matrix tok_embd;  /* (n_vocab, n_embd) */
	float *output_norm;      /* (n_embd) */
	struct matrix output;    /* (n_vocab, n_embd); = tok_embd when tied */
	float *rope_freqs;       /* (n_rot / 2) divisors of the RoPE angles (Llama 3), or NULL */
	float *rope_long, *rope_short;  /* (n_rot / 2) the same for long and short contexts (phi3), or NULL */
	float *inv_freq;         /* (n_rot / 2) RoPE angle per position for each pair */
	float *inv_freq_swa;     /* (n_rot / 2) the same for local layers with their own base, or NULL */
	float *inv_freq_long;    /* (n_rot / 2) the same past rope_orig_ctx (rope_long), or NULL */
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
struct context;

/* One sequence's part of a slice evaluated with others
 * (context_eval_segments): n ids appended to the sequence s. */
struct segment {
	struct context *s;       /* the sequence: its ids, KV cache and positions */
	const int32_t *ids;      /* (n) */
	uint32_t n;
	bool last;               /* the end of a batch: logits of its last position */
	bool all_logits;         /* logits of every position */
	/* set by context_eval_segments for the steps */
	uint32_t pos0;           /* the sequence's position of the first id */
	uint32_t row0;           /* its first row in the slice */
};

/* A context is one sequence (its ids, KV cache and positions) and a
 * workspace to evaluate it (activations, thread pool), or only one of the
 * two: context_new_seq() makes a sequence without a workspace, evaluated
 * by a workspace of context_new_ws() beside other sequences (the batched
 * engine, engine.h). */
struct context {
	const struct transformer *t;
	uint32_t n_ctx;          /* positions the KV cache holds */
	uint32_t max_batch;      /* positions evaluated together (a longer batch goes in slices) */
	bool all_logits;         /* a frame for every position, not only a batch's last */
	uint32_t logit_rows;     /* positions whose logits are computed together (all_logits) */
	uint32_t logit_cap;      /* rows c->logits holds */
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
		float *k;        /* (rows, n_head_kv * head_dim) keys: position p in row p % rows */
		float *v;        /* (rows, n_head_kv * head_dim) values, likewise */
		uint32_t rows;   /* n_ctx; for a local layer a ring of n_swa - 1 + max_batch */
		bool local;      /* attends to the last n_swa positions only */
	} *kv;                   /* (n_layer) */
	float *kv_mem;           /* the one allocation behind kv[] */
	uint32_t swa_lo;         /* the local layers hold positions [swa_lo, n_cached) */
	bool rope_long;          /* the cached keys took the long RoPE factors (inv_freq_long) */

	/* the slice being evaluated: segments of sequences, those of fewer
	 * than large_batch rows first (rows [0, ns)); a product multiplies
	 * those rows the way a small batch is multiplied and the others the
	 * way a large one is, so that no sequence's result depends on the
	 * others (steps.c) */
	struct segment *seg;     /* (max_batch) */
	uint32_t n_seg, ns;
	uint32_t large_batch;    /* quant_float_batch() of the model's matrices (0: one way only) */
	uint32_t max_ctx;        /* the longest sequence the workspace can evaluate */

	/* activations of one slice of at most max_batch positions */
	float *x;                /* (max_batch, n_embd) residual stream */
	float *xb;               /* (max_batch, n_embd) normed input of a block */
	float *q;                /* (max_batch, n_head * head_dim) queries */
	float *att_out;          /* (max_batch, n_head * head_dim) attention output */
	float *tmp;              /* (max_batch, n_embd) projection before the residual add */
	float *hb;               /* (max_batch, n_ff) gate, then silu(gate) * up */
	float *hb2;              /* (max_batch, n_ff) up */
	float *kb, *vb;          /* (max_batch, n_head_kv * head_dim) keys and values before they go
				    to their sequences' caches */
	uint8_t *xq[3];          /* (max_batch, xq_stride) activations quantized per weight type */
	size_t xq_stride;
	float *att;              /* (threads, ATT_ROWS, att_ld) attention weights of a thread's task */
	size_t att_ld;           /* max_ctx rounded up to 16 */
	float *pxf;              /* (threads, PRE_ROWS, row_len) each thread's normed rows (decode) */
	uint8_t *pxq;            /* (threads, 3, PRE_ROWS, xq_stride) and their quantized copies */
	uint32_t row_len;        /* the longest activation row: max(n_embd, n_ff, q_dim) */
	float *logits;           /* (logit_cap, n_vocab) */
	float *rope_cs, *rope_sn;  /* (max_batch, n_rot / 2) RoPE cos and sin of the slice's rows */
	float *rope_cs_swa, *rope_sn_swa;  /* the same for local layers with a RoPE of their own, or NULL */

	struct step *step;       /* the parallel step being run (see steps.c) */
};

/* Allocate a context of n_ctx positions (0: the model's training
 * context) run by n_threads threads.  all_logits: context_eval gives the
 * logits of every position, not only of each batch's last.  Set
 * c->quant_act for the 8-bit integer kernels of quant.h. */
struct context *context_new(const struct transformer *t, uint32_t n_ctx, int n_threads, bool all_logits);
/* The same evaluating slices of at most max_batch positions (0: 256):
 * smaller slices take less memory, and a local layer's ring holds
 * n_swa - 1 + max_batch positions. */
struct context *context_new_sliced(const struct transformer *t, uint32_t n_ctx, int n_threads, bool all_logits,
				   uint32_t max_batch);
/* A sequence of n_ctx positions without a workspace (a local layer's
 * ring holds n_swa - 1 + 256 positions: any slice of a workspace). */
struct context *context_new_seq(const struct transformer *t, uint32_t n_ctx);
/* A workspace without a sequence: slices of max_batch rows of sequences of
 * up to max_ctx positions, in which up to n_last segments end a batch;
 * all_logits: room for segments that want the logits of every row. */
struct context *context_new_ws(const struct transformer *t, uint32_t max_ctx, uint32_t max_batch, uint32_t n_last,
			       bool all_logits, int n_threads);
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

/* Of the n ids about to be appended to sequence s, those that repeat its
 * cached rows after a reset need no work (except the positions whose
 * logits are asked for: all of them with all_logits, else the last): take
 * them into the context and return how many. */
uint32_t context_reuse(struct context *s, const int32_t *ids, uint32_t n, bool all_logits);

/* Evaluate n_seg segments of different sequences as one slice on the
 * workspace c: at most c->max_batch rows in all, each sequence with room
 * for its ids and at most c->max_ctx positions.  Call emit with the logits
 * each segment asks for, in the order of the segments.  Return 0 if emit
 * asked to stop, 1 otherwise. */
typedef int (*segment_logits_fn)(void *arg, const struct segment *g, int32_t token, uint64_t pos,
				 const float *logits);
int context_eval_segments(struct context *c, struct segment *g, uint32_t n_seg, segment_logits_fn emit, void *arg);

#endif
