/* arch_llama.c - llama (doc/formats.md "Llama"), and what converts to it:
 * SmolLM/SmolLM2, Mistral, ...  Pre-norm attention and SwiGLU
 * feed-forward; Q and K rows permuted by the converter for NORM RoPE;
 * optional Llama-3 RoPE factors; a sliding window on every layer when the
 * model declares one (Mistral). */
#include "arch.h"
#include "steps.h"

static const struct tensor_spec tensors[] = {
	MODEL_TENSORS,
	TENSOR("rope_freqs.weight", DIM_ROT_HALF, DIM_NONE, W(rope_freqs), T_OPTIONAL),
	{0},
};

static const struct tensor_spec layer_tensors[] = {
	LLAMA_LAYER_TENSORS,
	{0},
};

static bool hparams(struct keys *k, struct hparams *hp, struct lmu_err *e)
{
	(void)e;
	hp->rope_mode = ROPE_NORM;
	/* Mistral 7B v0.1 declares a window of 4096 positions for every layer;
	 * transformers honours it (llama.cpp does not) */
	key_u32(k, "attention.sliding_window", &hp->n_swa, false);
	return true;
}

/* The llama layer, also qwen2's (its biases are the steps' business). */
void layer_llama(struct context *c, const struct layer_weights *w, uint32_t l, uint32_t nb)
{
	/* attention norm: xb = rmsnorm(x) * attn_norm; q = xb Wq^T, k = xb Wk^T,
	 * v = xb Wv^T (+ biases), RoPE on q and k, k and v into the cache */
	step_qkv(c, w, l, nb);
	/* att_out = softmax(q k^T / sqrt(head_dim)) v, causal */
	step_attention(c, l, nb);
	/* output projection and residual: x += att_out Wo^T */
	step_add_product(c, &w->wo, w->bo, c->att_out, nb, NULL);
	/* feed-forward norm: xb = rmsnorm(x) * ffn_norm;
	 * SwiGLU: hb = silu(xb Wgate^T) * (xb Wup^T) */
	step_gated_ffn(c, w, ACT_SILU, nb);
	/* down projection and residual: x += hb Wdown^T */
	step_add_product(c, &w->w_down, w->b_down, c->hb, nb, NULL);
}

const struct arch arch_llama = {"llama", hparams, tensors, layer_tensors, layer_llama};
