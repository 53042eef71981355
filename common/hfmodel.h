/* hfmodel.h - a Hugging Face model directory read as the GGUF file that
 * llama.cpp's converter would make of it (doc/formats.md "Tensor names",
 * "safetensors").
 *
 * config.json (read with libjq) becomes the GGUF hyper-parameter keys of
 * the architecture, the safetensors tensors get their GGUF names and
 * shapes, and the Hugging Face conventions are turned into GGUF ones:
 * Gemma's norms hold w where GGUF holds 1 + w, Llama-family Q and K rows
 * are in the order of split-halves RoPE where GGUF permutes them for
 * pairwise RoPE, Llama-3 RoPE scaling becomes rope_freqs.weight.  Matrices
 * in F32, F16 or BF16 stay where they lie in the mapped files; vectors
 * (norms, biases) become F32 copies, as the converter writes them.  The
 * result is an ordinary struct gguf: everything that reads a model reads
 * it without knowing where it came from. */
#ifndef LMU_HFMODEL_H
#define LMU_HFMODEL_H

#include "err.h"
#include "gguf.h"

/* Open the model directory dir with its weights (model.safetensors, an
 * index, or another .safetensors file named by the user: see
 * model_locate).  Every tensor the architecture needs must be there with
 * the shape config.json gives it, and every tensor there must have a place
 * in the architecture.  NULL with *e set on any problem. */
struct gguf *hf_open(const char *dir, const char *weights, struct lmu_err *e);

/* The config.json architectures this reader maps, comma-separated. */
const char *hf_supported(void);

/* What -m MODEL names (model_locate), opened as a GGUF: the file itself or
 * a model directory through hf_open.  Dies with a message, also for a
 * directory of tokenizer files only. */
struct gguf *model_open(const char *model);

/* Write g as a GGUF file at path: its keys (with general.file_type when it
 * has none: F32 0, F16 1, BF16 32, after the type of most weight bytes),
 * the tokenizer keys of v when g has none (vocab_write_gguf; a model
 * directory's tokenizer), its tensors as they lie.  Written to a
 * temporary file beside path, then renamed; false with *e set on an error (the temporary file removed). */
struct vocab;
bool model_write_gguf(const struct gguf *g, const struct vocab *v, const char *path, struct lmu_err *e);

#endif
