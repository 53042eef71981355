/* state.h - lm-step --state files: the context (ids and KV cache) saved
 * between runs, tied to one model.
 *
 * Layout (little-endian, no padding):
 *   offset 0   8 bytes  magic "LMUSTATE"
 *   offset 8   u32      version (2)
 *   offset 12  u32      header size: 96 + 8 * n_layer
 *   offset 16  u64      model id (model_src's id: for GGUF a hash of the
 *                       metadata, the tensor table and samples of every
 *                       tensor's data)
 *   offset 24  32 bytes architecture (general.architecture), NUL-padded
 *   offset 56  u32 x 4  n_layer, n_embd, n_vocab, KV element type (0 = float32)
 *   offset 72  u64      n_pos: positions in the context
 *   offset 80  u64 x 2  0 (reserved)
 *   offset 96  n_layer x (u32, u32): each layer's KV row length (floats of
 *                       keys, the same of values, per position) and the
 *                       number of positions it keeps: the last ones, n_pos
 *                       or fewer for a layer that keeps only a window
 *   then       n_pos x i32 ids
 *   then for each layer: its rows of keys, then its rows of values, in
 *   position order.
 * The size must match exactly; anything else is refused, with a message
 * saying what differs (version, architecture, model, a layer's size). */
#ifndef LMU_STATE_H
#define LMU_STATE_H

#include <stdbool.h>

#include "transformer.h"

/* Lock path against other lm-step processes for this run: an flock on
 * the file, created empty if it does not exist (an empty file is an empty
 * context).  A second process waits, saying so on stderr, and then
 * continues from what the first saved.  Return the descriptor holding the
 * lock (until it is closed or the process ends); die on a path that is not
 * a regular file. */
int state_lock(const char *path);

/* Load path into c: return true if loaded, false if there is no such file
 * or it is empty; die on a file that is not a regular file, is malformed,
 * was made for another model (saying what differs), or is larger than the
 * context. */
bool state_load(struct context *c, const char *path);

/* Save c atomically: write a temporary file beside path, then rename it
 * over path.  Die on any error (the old file then stays as it was).
 * Temporary files that a killed save left beside path are removed first:
 * the caller holds the lock (state_lock), so no live lm-step writes one. */
void state_save(const struct context *c, const char *path);

#endif
