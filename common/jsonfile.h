/* jsonfile.h - small files read whole, and JSON files parsed by libjq:
 * the files of a model directory (config.json, tokenizer.json, ...). */
#ifndef LMU_JSONFILE_H
#define LMU_JSONFILE_H

#include <stddef.h>

#include <jv.h>

#include "err.h"

#define JSON_MAX_SIZE (1u << 30)  /* bytes of a JSON file (tokenizer.json: tens of MB) */

/* The whole of a regular file, NUL-terminated, at most max bytes; NULL with
 * *e set ("path: why") otherwise. */
char *file_read(const char *path, size_t max, size_t *len, struct lmu_err *e);

/* A JSON file of at most JSON_MAX_SIZE bytes, parsed: the value, or an
 * invalid jv with *e set ("path: jq's message"). */
jv json_file(const char *path, struct lmu_err *e);

#endif
