/* arch_phi3.c - phi3 (doc/formats.md "Phi-3"): Phi-3, Phi-3.5 and Phi-4
 * mini.  The llama layer with Q, K and V in one matrix (attn_qkv) and gate
 * and up in one (ffn_up, gate first), RoPE on halves of the first n_rot
 * dimensions of each head (partial rotary), and for long-context models
 * two sets of RoPE factors: the short ones while the context is within
 * rope.scaling.original_context_length, the long ones past it (the whole
 * context is then computed again, as transformers does), cos and sin
 * times sqrt(1 + ln(s) / ln(original)) with s = context_length /
 * original. */
#include <math.h>

#include "arch.h"
#include "steps.h"

static const struct tensor_spec tensors[] = {
	MODEL_TENSORS,
	TENSOR("rope_factors_long.weight", DIM_ROT_HALF, DIM_NONE, W(rope_long), T_OPTIONAL),
	TENSOR("rope_factors_short.weight", DIM_ROT_HALF, DIM_NONE, W(rope_short), T_OPTIONAL),
	{0},
};

static const struct tensor_spec layer_tensors[] = {
	TENSOR("blk.%u.attn_norm.weight", DIM_EMBD, DIM_NONE, L(attn_norm), 0),
	PART("blk.%u.attn_qkv.weight", DIM_EMBD, DIM_Q, L(wq), DIM_QKV, DIM_NONE, DIM_NONE),
	PART("blk.%u.attn_qkv.weight", DIM_EMBD, DIM_KV, L(wk), DIM_QKV, DIM_Q, DIM_NONE),
	PART("blk.%u.attn_qkv.weight", DIM_EMBD, DIM_KV, L(wv), DIM_QKV, DIM_Q, DIM_KV),
	TENSOR("blk.%u.attn_output.weight", DIM_Q, DIM_EMBD, L(wo), 0),
	TENSOR("blk.%u.ffn_norm.weight", DIM_EMBD, DIM_NONE, L(ffn_norm), 0),
	PART("blk.%u.ffn_up.weight", DIM_EMBD, DIM_FF, L(w_gate), DIM_FF2, DIM_NONE, DIM_NONE),
	PART("blk.%u.ffn_up.weight", DIM_EMBD, DIM_FF, L(w_up), DIM_FF2, DIM_FF, DIM_NONE),
	TENSOR("blk.%u.ffn_down.weight", DIM_FF, DIM_EMBD, L(w_down), 0),
	{0},
};

static bool hparams(struct keys *k, struct hparams *hp, struct lmu_err *e)
{
	(void)e;
	hp->rope_mode = ROPE_NEOX;
	/* transformers honours Phi-3's window (2047) where the model declares it */
	key_u32(k, "attention.sliding_window", &hp->n_swa, false);
	if (key_u32(k, "rope.scaling.original_context_length", &hp->rope_orig_ctx, false) == 1 &&
	    key_f32(k, "rope.scaling.attn_factor", &hp->rope_attn_factor, false) == 0 && hp->rope_orig_ctx > 1 &&
	    hp->n_ctx_train > hp->rope_orig_ctx) {
		double s = (double)hp->n_ctx_train / hp->rope_orig_ctx;
		hp->rope_attn_factor = (float)sqrt(1 + log(s) / log((double)hp->rope_orig_ctx));
	}
	return true;
}

const struct arch arch_phi3 = {"phi3", hparams, tensors, layer_tensors, layer_llama};
