/* arch_llama.c - llama (doc/formats.md "Llama"), and what converts to it:
 * SmolLM/SmolLM2, Mistral, ...  Pre-norm attention and SwiGLU
 * feed-forward; Q and K rows permuted by the converter for NORM RoPE;
 * optional Llama-3 RoPE factors; a sliding window on every layer when the
 * model declares one (Mistral). */
#include "arch.h"
#include "steps.h"

#define W(f) offsetof(struct weights, f)
#define L(f) offsetof(struct layer_weights, f)

static const struct tensor_spec tensors[] = {
	TENSOR("token_embd.weight", DIM_EMBD, DIM_VOCAB, W(tok_embd), 0),
	TENSOR("output_norm.weight", DIM_EMBD, DIM_NONE, W(output_norm), 0),
	TENSOR("output.weight", DIM_EMBD, DIM_VOCAB, W(output), T_OPTIONAL),  /* absent: tied to token_embd */
	TENSOR("rope_freqs.weight", DIM_ROT_HALF, DIM_NONE, W(rope_freqs), T_OPTIONAL),
	{0},
};

static const struct tensor_spec layer_tensors[] = {
	TENSOR("blk.%u.attn_norm.weight", DIM_EMBD, DIM_NONE, L(attn_norm), 0),
	TENSOR("blk.%u.attn_q.weight", DIM_EMBD, DIM_Q, L(wq), 0),
	TENSOR("blk.%u.attn_k.weight", DIM_EMBD, DIM_KV, L(wk), 0),
	TENSOR("blk.%u.attn_v.weight", DIM_EMBD, DIM_KV, L(wv), 0),
	TENSOR("blk.%u.attn_output.weight", DIM_Q, DIM_EMBD, L(wo), 0),
	TENSOR("blk.%u.ffn_norm.weight", DIM_EMBD, DIM_NONE, L(ffn_norm), 0),
	TENSOR("blk.%u.ffn_gate.weight", DIM_EMBD, DIM_FF, L(w_gate), 0),
	TENSOR("blk.%u.ffn_up.weight", DIM_EMBD, DIM_FF, L(w_up), 0),
	TENSOR("blk.%u.ffn_down.weight", DIM_FF, DIM_EMBD, L(w_down), 0),
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
