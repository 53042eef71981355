/* arch_gemma3.c - gemma3 (doc/formats.md "Gemma 3"): Gemma 3 text models.
 * Heads of 256 (key_length), per-head RMSNorm of Q and K before RoPE, four
 * norms a layer (the attention's and the feed-forward's output are normed
 * before the residual add), GELU-tanh gating, embeddings scaled by
 * sqrt(n_embd), NEOX RoPE; five local layers of every six attend to a
 * sliding window with RoPE base 10000 and keep only the window in their
 * cache.  The converter stores every norm weight as 1 + w, used as it is. */
#include <math.h>

#include "arch.h"
#include "steps.h"

static const struct tensor_spec tensors[] = {
	MODEL_TENSORS,
	{0},
};

static const struct tensor_spec layer_tensors[] = {
	LLAMA_LAYER_TENSORS,
	TENSOR("blk.%u.attn_q_norm.weight", DIM_HEAD, DIM_NONE, L(q_norm), 0),
	TENSOR("blk.%u.attn_k_norm.weight", DIM_HEAD, DIM_NONE, L(k_norm), 0),
	TENSOR("blk.%u.post_attention_norm.weight", DIM_EMBD, DIM_NONE, L(post_attn_norm), 0),
	TENSOR("blk.%u.post_ffw_norm.weight", DIM_EMBD, DIM_NONE, L(post_ffn_norm), 0),
	{0},
};

static bool hparams(struct keys *k, struct hparams *hp, struct lmu_err *e)
{
	(void)e;
	hp->rope_mode = ROPE_NEOX;
	hp->embd_scale = sqrtf((float)hp->n_embd);
	/* the window, and the pattern and local base that no key carries
	 * (transformers' defaults, as llama.cpp hard-codes them) */
	key_u32(k, "attention.sliding_window", &hp->n_swa, true);
	hp->swa_period = 6;
	hp->rope_base_swa = 10000.0f;
	key_f32(k, "final_logit_softcapping", &hp->logit_softcap, false);
	/* scores are scaled by query_pre_attn_scalar^-1/2, which no key carries
	 * either: head_dim for the released sizes but the 27B (62 layers), whose
	 * n_embd / n_head llama.cpp uses too */
	if (hp->n_layer == 62)
		hp->att_scale = 1.0f / sqrtf((float)(hp->n_embd / hp->n_head));
	return true;
}

static void layer(struct context *c, const struct layer_weights *w, uint32_t l, uint32_t nb)
{
	/* xb = rmsnorm(x) * attn_norm; q = xb Wq^T, k = xb Wk^T, v = xb Wv^T;
	 * each head of q and k RMS-normed (q_norm, k_norm), then RoPE */
	step_qkv(c, w, l, nb);
	/* att_out = softmax(q k^T * att_scale) v, causal, over the window in
	 * a local layer */
	step_attention(c, l, nb);
	/* x += rmsnorm(att_out Wo^T) * post_attention_norm */
	step_add_product(c, &w->wo, w->bo, c->att_out, nb, w->post_attn_norm);
	/* xb = rmsnorm(x) * ffn_norm; hb = gelu_tanh(xb Wgate^T) * (xb Wup^T) */
	step_gated_ffn(c, w, ACT_GELU_TANH, nb);
	/* x += rmsnorm(hb Wdown^T) * post_ffw_norm */
	step_add_product(c, &w->w_down, w->b_down, c->hb, nb, w->post_ffn_norm);
}

const struct arch arch_gemma3 = {"gemma3", hparams, tensors, layer_tensors, layer};
