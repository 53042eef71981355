/* modelpath.h - what -m MODEL names (doc/internals.md "The stages"): a .gguf file, a model
 * directory, or a repo id (ORG/NAME) found in the local Hugging Face cache.
 * Also the cache layout facts hf-fetch shares (doc/formats.md "Hub cache layout"). */
#ifndef LMU_MODELPATH_H
#define LMU_MODELPATH_H

#include "err.h"

/* What -m MODEL names, once found on disk: a GGUF file, or a Hugging Face
 * model directory (config.json, tokenizer.json, tokenizer_config.json and
 * the weights as safetensors).  Exactly one of gguf and dir is set. */
struct model_loc {
	char *gguf;     /* the GGUF file */
	char *dir;      /* the model directory */
	char *weights;  /* in dir: model.safetensors or model.safetensors.index.json;
			   NULL for a directory of tokenizer files only */
};

/* Find MODEL, or die with a message that says what was looked for.
 * MODEL is
 *   - a file: a .safetensors file or a *.safetensors.index.json names the
 *     directory it is in, with those weights; any other file is a GGUF file;
 *   - a directory: a model directory if it holds model.safetensors.index.json
 *     or model.safetensors; else the one .gguf file in it; else, if it
 *     holds a tokenizer.json, a directory of tokenizer files.  Both
 *     safetensors and a .gguf file, or several .gguf files, are an error
 *     asking to name one;
 *   - ORG/NAME[@REVISION][:FILE], when no such file exists: the snapshot of
 *     that repo in the Hugging Face cache (refs/REVISION, default main, or
 *     a 40-hex commit) taken as a directory as above, or, when its .gguf
 *     files are in sub-folders, the one .gguf file among them; FILE names a
 *     path in the repo, or a part of one .gguf file's name (e.g. Q4_K_M). */
void model_locate(const char *model, struct model_loc *loc);
void model_loc_free(struct model_loc *loc);

/* The hub cache directory: $HF_HUB_CACHE, $HUGGINGFACE_HUB_CACHE,
 * $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub.
 * A fresh string. */
char *hf_hub_cache(void);
/* $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
char *hf_home(void);

/* A repo id the Hub could have issued: NAME or ORG/NAME, each part made of
 * letters, digits, '-', '_', '.', not starting with '.' or '-', no "..",
 * at most 96 characters each. */
int hf_repo_id_valid(const char *id);

/* CACHE/models--ORG--NAME (a fresh string). */
char *hf_repo_dir(const char *cache, const char *repo_id);

/* A path inside a repo that is safe to create under a directory: relative,
 * no empty, "." or ".." component, no backslash, no control character,
 * at most 1024 bytes.  Returns 1 if safe. */
int hf_safe_relpath(const char *p);

/* A branch or tag name usable as refs/<revision>: hf_safe_relpath. */
int hf_is_commit(const char *rev);	/* 40 lower-case hex digits */

/* Resolve REVISION (branch, tag or commit) of REPO_DIR to a commit using
 * REPO_DIR/refs; 0 with E filled when it is not cached. */
int hf_cached_commit(const char *repo_dir, const char *revision, char commit[41],
		     struct lmu_err *e);

#endif
