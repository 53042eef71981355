/* modellist.h - the models on this machine (hf-fetch --list): GGUF files and
 * Hugging Face model directories (config.json + *.safetensors) in the hub
 * cache and in local directories, with what their headers say. */
#ifndef LMU_MODELLIST_H
#define LMU_MODELLIST_H

#include <stdio.h>

/* Print one line per model, tab-separated: REPO (ORG/NAME, with @REF or
 * @COMMIT when it is not the snapshot refs/main names; "-" outside the
 * cache), FILE (its path in the repo, or as found in a directory; "-" for
 * a model directory that is the whole repo), ARCH (general.architecture,
 * or config.json's model_type), SIZE (with a binary unit, as the progress bars), QUANT
 * (general.file_type's name, else the most common weight type; a
 * directory's torch_dtype).  A file that cannot be read is listed with "-"
 * and a warning.  Cache first (repos in name order), then each directory. */
void modellist_print(const char *cache, char **dirs, int ndirs, FILE *out);

#endif
