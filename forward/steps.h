/* steps.h - the steps a layer is made of, written once for every
 * architecture: each arch_*.c file's layer function calls them in its
 * model's order (arch.h).  Each step runs on the context's thread pool
 * over the nb rows of the slice being evaluated: the segments of c->seg,
 * each some positions of one sequence; the residual stream is c->x. */
#ifndef LMU_STEPS_H
#define LMU_STEPS_H

#include "transformer.h"

/* Batches of at most this many positions (decode) are normed and
 * quantized by every thread for itself inside the product that reads them:
 * a few microseconds of repeated work instead of one more synchronisation
 * of the pool per product. */
#define PRE_ROWS 4
#define ATT_ROWS 16   /* query positions of one head per attention task */

enum act { ACT_SILU };

/* q, k, v = Wq, Wk, Wv of rmsnorm(x) * attn_norm; RoPE (the model's mode)
 * on q and k; each segment's k and v go into layer l of its sequence's
 * cache at its positions. */
void step_qkv(struct context *c, const struct layer_weights *w, uint32_t l, uint32_t nb);

/* att_out = softmax(q k^T / sqrt(head_dim)) v over layer l of each
 * segment's own cache, causal; query head h reads KV head
 * h / (n_head / n_head_kv). */
void step_attention(struct context *c, uint32_t l, uint32_t nb);

/* x += in W^T, in (nb, W's n_in). */
void step_add_product(struct context *c, const struct matrix *m, const float *in, uint32_t nb);

/* hb = act(xb Wgate^T) * (xb Wup^T), xb = rmsnorm(x) * ffn_norm. */
void step_gated_ffn(struct context *c, const struct layer_weights *w, enum act act, uint32_t nb);

/* Below the layers (transformer.c): the RoPE angles of the slice's rows,
 * and the logits of n rows (ld n_embd) into c->logits, multiplied the way
 * a small batch is (small) or a large one. */
void step_rope_angles(struct context *c);
void step_logits(struct context *c, const float *rows, uint32_t n, bool small);

#endif
