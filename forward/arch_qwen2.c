/* arch_qwen2.c - qwen2 (doc/formats.md "Qwen2"): Qwen2 and Qwen2.5 (Coder).
 * The llama layer with biases on Q, K and V, NEOX RoPE on unpermuted
 * rows, an output matrix of its own or tied to the embeddings.  (The
 * configs' sliding window is not used by the released models, and their
 * GGUF files do not declare one.) */
#include "arch.h"
#include "steps.h"

static const struct tensor_spec tensors[] = {
	MODEL_TENSORS,
	{0},
};

static const struct tensor_spec layer_tensors[] = {
	LLAMA_LAYER_TENSORS,
	TENSOR("blk.%u.attn_q.bias", DIM_Q, DIM_NONE, L(bq), 0),
	TENSOR("blk.%u.attn_k.bias", DIM_KV, DIM_NONE, L(bk), 0),
	TENSOR("blk.%u.attn_v.bias", DIM_KV, DIM_NONE, L(bv), 0),
	{0},
};

static bool hparams(struct keys *k, struct hparams *hp, struct lmu_err *e)
{
	(void)k, (void)e;
	hp->rope_mode = ROPE_NEOX;
	return true;
}

const struct arch arch_qwen2 = {"qwen2", hparams, tensors, layer_tensors, layer_llama};
