/* arch_granite.c - granite (doc/formats.md "Granite"): IBM Granite 3.x
 * dense models.  The llama layer (Q and K rows permuted by the converter
 * for NORM RoPE) with four multipliers: embeddings times embedding_scale,
 * each branch times residual_scale before it is added, attention scores
 * times attention.scale instead of 1/sqrt(head_dim), logits divided by
 * logit_scale; biases on the projections where the model has them. */
#include "arch.h"
#include "steps.h"

static const struct tensor_spec tensors[] = {
	MODEL_TENSORS,
	{0},
};

static const struct tensor_spec layer_tensors[] = {
	LLAMA_LAYER_TENSORS,
	TENSOR("blk.%u.attn_q.bias", DIM_Q, DIM_NONE, L(bq), T_OPTIONAL),
	TENSOR("blk.%u.attn_k.bias", DIM_KV, DIM_NONE, L(bk), T_OPTIONAL),
	TENSOR("blk.%u.attn_v.bias", DIM_KV, DIM_NONE, L(bv), T_OPTIONAL),
	TENSOR("blk.%u.attn_output.bias", DIM_EMBD, DIM_NONE, L(bo), T_OPTIONAL),
	TENSOR("blk.%u.ffn_gate.bias", DIM_FF, DIM_NONE, L(b_gate), T_OPTIONAL),
	TENSOR("blk.%u.ffn_up.bias", DIM_FF, DIM_NONE, L(b_up), T_OPTIONAL),
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
