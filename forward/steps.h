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

enum act { ACT_SILU, ACT_GELU_TANH };  /* SiLU; GELU in its tanh form */

/* q, k, v = Wq, Wk, Wv of rmsnorm(x) * attn_norm (+ biases bq, bk, bv if
 * the layer has them); each head of q and k RMS-normed by q_norm, k_norm
 * if the layer has them; RoPE (the model's mode; a local layer's own base
 * if it has one) on q and k; each segment's k and v go into layer l of its
 * sequence's cache at its positions (a local layer's ring). */
void step_qkv(struct context *c, const struct layer_weights *w, uint32_t l, uint32_t nb);

/* att_out = softmax(q k^T * att_scale) v over layer l of each segment's
 * own cache, causal (a local layer: over the last n_swa positions); query
 * head h reads KV head h / (n_head / n_head_kv). */
void step_attention(struct context *c, uint32_t l, uint32_t nb);

/* x += (in W^T + bias) * residual_scale, in (nb, W's n_in), bias NULL for
 * none; with norm (not NULL) the product is RMS-normed with it first. */
void step_add_product(struct context *c, const struct matrix *m, const float *bias, const float *in, uint32_t nb,
		      const float *norm);

/* hb = act(xb Wgate^T + b_gate) * (xb Wup^T + b_up), xb = rmsnorm(x) *
 * ffn_norm (biases if the layer has them). */
void step_gated_ffn(struct context *c, const struct layer_weights *w, enum act act, uint32_t nb);

/* Below the layers (transformer.c): the RoPE angles of the slice's rows,
 * and the logits of n rows (ld n_embd) into c->logits, multiplied the way
 * a small batch is (small) or a large one. */
void step_rope_angles(struct context *c);
void step_logits(struct context *c, const float *rows, uint32_t n, bool small);

#endif
