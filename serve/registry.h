/* registry.h - the models lm-serve knows of: every model in the --models
 * directories and in the Hugging Face cache, and the ones given with -m.
 *
 * A scan (at start, and on POST /api/models/rescan) finds the models,
 * reads what each one is from its header alone (architecture, parameters,
 * quantization, size, context length; and whether lmutils can run it:
 * when not, the reason), records the list in the database, and hands the
 * ones that can run to the model holder (models.h), which loads them when
 * a request names them.
 *
 * Where models are found:
 *   - in a --models DIR, down to three levels: every .gguf file (its id:
 *     the path under DIR without .gguf), and every model directory
 *     (config.json and model.safetensors or its index; its id: the path
 *     under DIR);
 *   - in the Hugging Face cache (modelpath.h's hf_hub_cache), the snapshot
 *     that refs/main names of each models--ORG--NAME: its .gguf files (id
 *     ORG/NAME when there is one, ORG/NAME:FILE when there are several) or
 *     the snapshot itself as a model directory (id ORG/NAME).
 * Names and directories starting with '.' are skipped.  An id taken
 * already gets "-2", "-3", ...
 *
 * The sha256 of each model's file is computed by a thread of its own after
 * the scan, once per (file, size, modification time): the database keeps
 * it, so a restart or a rescan hashes only what is new or changed.  A file
 * is hashed at the speed of the disk and of one core (about 100-300 MB/s),
 * so a large model shows "sha256": null for a while. */
#ifndef LMU_SERVE_REGISTRY_H
#define LMU_SERVE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "db.h"
#include "json.h"
#include "models.h"

struct registry_params {
	const char *const *dirs;    /* --models DIR, in order */
	size_t n_dirs;
	bool hf_cache;              /* look in the Hugging Face cache too */
};

struct registry;

struct registry *registry_new(struct db *db, struct models *ms, const struct registry_params *p);
/* Scan now: 0, or -1 with a message (the database could not be written).
 * What each directory gave is said on stderr, or appended to report. */
int registry_scan(struct registry *r, struct jw *report, struct lmu_err *e);
/* The registry as JSON (an array of models: id, path, source, format,
 * architecture, parameters, quantization, types, size, context_length,
 * sha256, error, and from the holder: state, loads, unloads, ...). */
int registry_json(struct registry *r, char **out, struct lmu_err *e);
/* Files still to hash, and their bytes. */
void registry_hashing(struct registry *r, size_t *files, long long *bytes);
/* Stop the hashing thread and free. */
void registry_free(struct registry *r);

#endif
