/* arch_qwen2.c - qwen2 (doc/formats.md "Qwen2"): Qwen2 and Qwen2.5 (Coder).
 * The llama layer with biases on Q, K and V, NEOX RoPE on unpermuted
 * rows, an output matrix of its own or tied to the embeddings.  (The
 * configs' sliding window is not used by the released models, and their
 * GGUF files do not declare one.) */
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
	TENSOR("blk.%u.attn_q.bias", DIM_Q, DIM_NONE, L(bq), 0),
	TENSOR("blk.%u.attn_k.weight", DIM_EMBD, DIM_KV, L(wk), 0),
	TENSOR("blk.%u.attn_k.bias", DIM_KV, DIM_NONE, L(bk), 0),
	TENSOR("blk.%u.attn_v.weight", DIM_EMBD, DIM_KV, L(wv), 0),
	TENSOR("blk.%u.attn_v.bias", DIM_KV, DIM_NONE, L(bv), 0),
	TENSOR("blk.%u.attn_output.weight", DIM_Q, DIM_EMBD, L(wo), 0),
	TENSOR("blk.%u.ffn_norm.weight", DIM_EMBD, DIM_NONE, L(ffn_norm), 0),
	TENSOR("blk.%u.ffn_gate.weight", DIM_EMBD, DIM_FF, L(w_gate), 0),
	TENSOR("blk.%u.ffn_up.weight", DIM_EMBD, DIM_FF, L(w_up), 0),
	TENSOR("blk.%u.ffn_down.weight", DIM_FF, DIM_EMBD, L(w_down), 0),
	{0},
};

static bool hparams(struct keys *k, struct hparams *hp, struct lmu_err *e)
{
	(void)k, (void)e;
	hp->rope_mode = ROPE_NEOX;
	return true;
}

const struct arch arch_qwen2 = {"qwen2", hparams, tensors, layer_tensors, layer_llama};
