/* arch_llama.c - llama (doc/formats.md "Llama"), and what converts to it:
 * SmolLM/SmolLM2, Mistral, ...  Pre-norm attention and SwiGLU
 * feed-forward; Q and K rows permuted by the converter for NORM RoPE;
 * optional Llama-3 RoPE factors. */
#include "arch.h"
#include "steps.h"

#define W(f) offsetof(struct weights, f)
#define L(f) offsetof(struct layer_weights, f)

static const struct tensor_spec tensors[] = {
	{"token_embd.weight", DIM_EMBD, DIM_VOCAB, W(tok_embd), 0},
	{"output_norm.weight", DIM_EMBD, DIM_NONE, W(output_norm), 0},
	{"output.weight", DIM_EMBD, DIM_VOCAB, W(output), T_OPTIONAL},  /* absent: tied to token_embd */
	{"rope_freqs.weight", DIM_ROT_HALF, DIM_NONE, W(rope_freqs), T_OPTIONAL},
	{0},
};

static const struct tensor_spec layer_tensors[] = {
	{"blk.%u.attn_norm.weight", DIM_EMBD, DIM_NONE, L(attn_norm), 0},
	{"blk.%u.attn_q.weight", DIM_EMBD, DIM_Q, L(wq), 0},
	{"blk.%u.attn_k.weight", DIM_EMBD, DIM_KV, L(wk), 0},
	{"blk.%u.attn_v.weight", DIM_EMBD, DIM_KV, L(wv), 0},
	{"blk.%u.attn_output.weight", DIM_Q, DIM_EMBD, L(wo), 0},
	{"blk.%u.ffn_norm.weight", DIM_EMBD, DIM_NONE, L(ffn_norm), 0},
	{"blk.%u.ffn_gate.weight", DIM_EMBD, DIM_FF, L(w_gate), 0},
	{"blk.%u.ffn_up.weight", DIM_EMBD, DIM_FF, L(w_up), 0},
	{"blk.%u.ffn_down.weight", DIM_FF, DIM_EMBD, L(w_down), 0},
	{0},
};

static bool hparams(struct keys *k, struct hparams *hp, struct lmu_err *e)
{
	(void)k, (void)e;
	hp->rope_mode = ROPE_NORM;
	return true;
}

static void layer(struct context *c, const struct layer_weights *w, uint32_t l, uint32_t nb)
{
	/* attention norm: xb = rmsnorm(x) * attn_norm; q = xb Wq^T, k = xb Wk^T,
	 * v = xb Wv^T, RoPE on q and k, k and v into the cache */
	step_qkv(c, w, l, nb);
	/* att_out = softmax(q k^T / sqrt(head_dim)) v, causal */
	step_attention(c, l, nb);
	/* output projection and residual: x += att_out Wo^T */
	step_add_product(c, &w->wo, c->att_out, nb);
	/* feed-forward norm: xb = rmsnorm(x) * ffn_norm;
	 * SwiGLU: hb = silu(xb Wgate^T) * (xb Wup^T) */
	step_gated_ffn(c, w, ACT_SILU, nb);
	/* down projection and residual: x += hb Wdown^T */
	step_add_product(c, &w->w_down, c->hb, nb);
}

const struct arch arch_llama = {"llama", hparams, tensors, layer_tensors, layer};
