/* arch_granite.c - granite (doc/formats.md "Granite"): IBM Granite 3.x
 * dense models.  The llama layer (Q and K rows permuted by the converter
 * for NORM RoPE) with four multipliers: embeddings times embedding_scale,
 * each branch times residual_scale before it is added, attention scores
 * times attention.scale instead of 1/sqrt(head_dim), logits divided by
 * logit_scale; biases on the projections where the model has them. */
#include "arch.h"
#include "steps.h"

#define W(f) offsetof(struct weights, f)
#define L(f) offsetof(struct layer_weights, f)

static const struct tensor_spec tensors[] = {
	TENSOR("token_embd.weight", DIM_EMBD, DIM_VOCAB, W(tok_embd), 0),
	TENSOR("output_norm.weight", DIM_EMBD, DIM_NONE, W(output_norm), 0),
	TENSOR("output.weight", DIM_EMBD, DIM_VOCAB, W(output), T_OPTIONAL),  /* absent: tied to token_embd */
	{0},
};

static const struct tensor_spec layer_tensors[] = {
	TENSOR("blk.%u.attn_norm.weight", DIM_EMBD, DIM_NONE, L(attn_norm), 0),
	TENSOR("blk.%u.attn_q.weight", DIM_EMBD, DIM_Q, L(wq), 0),
	TENSOR("blk.%u.attn_q.bias", DIM_Q, DIM_NONE, L(bq), T_OPTIONAL),
	TENSOR("blk.%u.attn_k.weight", DIM_EMBD, DIM_KV, L(wk), 0),
	TENSOR("blk.%u.attn_k.bias", DIM_KV, DIM_NONE, L(bk), T_OPTIONAL),
	TENSOR("blk.%u.attn_v.weight", DIM_EMBD, DIM_KV, L(wv), 0),
	TENSOR("blk.%u.attn_v.bias", DIM_KV, DIM_NONE, L(bv), T_OPTIONAL),
	TENSOR("blk.%u.attn_output.weight", DIM_Q, DIM_EMBD, L(wo), 0),
	TENSOR("blk.%u.attn_output.bias", DIM_EMBD, DIM_NONE, L(bo), T_OPTIONAL),
	TENSOR("blk.%u.ffn_norm.weight", DIM_EMBD, DIM_NONE, L(ffn_norm), 0),
	TENSOR("blk.%u.ffn_gate.weight", DIM_EMBD, DIM_FF, L(w_gate), 0),
	TENSOR("blk.%u.ffn_gate.bias", DIM_FF, DIM_NONE, L(b_gate), T_OPTIONAL),
	TENSOR("blk.%u.ffn_up.weight", DIM_EMBD, DIM_FF, L(w_up), 0),
	TENSOR("blk.%u.ffn_up.bias", DIM_FF, DIM_NONE, L(b_up), T_OPTIONAL),
	TENSOR("blk.%u.ffn_down.weight", DIM_FF, DIM_EMBD, L(w_down), 0),
	TENSOR("blk.%u.ffn_down.bias", DIM_EMBD, DIM_NONE, L(b_down), T_OPTIONAL),
	{0},
};

static bool hparams(struct keys *k, struct hparams *hp, struct lmu_err *e)
{
	(void)e;
	hp->rope_mode = ROPE_NORM;
	key_f32(k, "embedding_scale", &hp->embd_scale, false);
	key_f32(k, "residual_scale", &hp->residual_scale, false);
	key_f32(k, "attention.scale", &hp->att_scale, false);
	key_f32(k, "logit_scale", &hp->logit_scale, false);
	return true;
}

/* The llama layer; the multipliers are the steps' business. */
const struct arch arch_granite = {"granite", hparams, tensors, layer_tensors, layer_llama};
