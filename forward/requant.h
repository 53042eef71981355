/* requant.h - a model's float matrices quantized when it is opened
 * (lm-step -q) or converted (lm-convert -q).
 *
 * gguf_quantize() makes a GGUF in memory with the keys of the source and
 * every F32, F16 or BF16 matrix whose rows are whole blocks quantized to
 * the type asked for (quantize_row, quant.h); vectors, matrices already
 * quantized and rows of another length stay as they are, in the source.
 * With a 4-bit type the output head (output.weight, or token_embd.weight
 * when the output is tied to it) becomes Q8_0, as llama.cpp keeps it at 6
 * bits or more in its own 4-bit mixtures.  general.file_type is set to the
 * type. */
#ifndef LMU_REQUANT_H
#define LMU_REQUANT_H

#include "err.h"
#include "gguf.h"

/* The type of a -q argument ("Q8_0", "q4_k", ...): Q8_0, Q4_0, Q4_1, Q4_K;
 * GGML_NTYPES for anything else. */
enum ggml_type quant_type_named(const char *name);

/* Quantize src (taken over: it lives on inside the result, which closes
 * it) on n_threads threads.  A source with no float matrix to quantize is
 * returned as it is, with a warning on stderr. */
struct gguf *gguf_quantize(struct gguf *src, enum ggml_type type, int n_threads);

#endif
