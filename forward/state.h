/* state.h - lm-step --state files: the context (ids and KV cache) saved
 * between runs, tied to one model.
 *
 * Layout (little-endian, no padding):
 *   offset 0   8 bytes  magic "LMUSTATE"
 *   offset 8   u32      version (1)
 *   offset 12  u32      header size (64)
 *   offset 16  u64      model id: FNV-1a 64 of the GGUF file up to its
 *                       tensor data (header, metadata, tensor table)
 *   offset 24  u32 x 6  n_layer, n_head_kv, head_dim, n_embd, n_vocab,
 *                       KV element type (0 = float32)
 *   offset 48  u64      n_pos: positions saved
 *   offset 56  u64      0 (reserved)
 *   offset 64  n_pos x i32 ids
 *   then for each layer: n_pos rows of keys, n_pos rows of values, each
 *   row n_head_kv * head_dim float32.
 * The size must match exactly; anything else is refused. */
#ifndef LMU_STATE_H
#define LMU_STATE_H

#include <stdbool.h>

#include "transformer.h"

/* Load path into c if the file exists: return true if loaded, false if
 * there is no such file; die on a file that is malformed, made for another
 * model, or larger than the context. */
bool state_load(struct context *c, const char *path);

/* Save c atomically: write a temporary file beside path, then rename it
 * over path.  Die on any error (the old file then stays as it was). */
void state_save(const struct context *c, const char *path);

#endif
