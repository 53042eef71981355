/* mapfile.h - a whole regular file mapped read-only (GGUF and safetensors
 * weights: lm-step reads them where they lie, in the page cache). */
#ifndef LMU_MAPFILE_H
#define LMU_MAPFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* Map the regular file at path: *map and *size (an empty file: NULL, 0).
 * False with a message in e when it cannot be opened, is not a regular
 * file, or cannot be mapped. */
bool map_file(const char *path, void **map, size_t *size, struct lmu_err *e);
void unmap_file(void *map, size_t size);

#endif
