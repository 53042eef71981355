/* safetensors.h - a validating safetensors reader over mmap
 * (doc/formats.md "safetensors"): one .safetensors file, or the shards of a sharded checkpoint named
 * by model.safetensors.index.json.
 *
 * A file is an 8-byte little-endian header length N, N bytes of JSON
 * ({"NAME": {"dtype", "shape", "data_offsets": [BEGIN, END]}, ...,
 * "__metadata__": {string: string}}), then the tensor data, BEGIN and END
 * relative to the byte after the header.  st_open() checks everything
 * before it returns, with the same strictness as gguf_open(): the header
 * length against the file and a 100,000,000-byte limit, the JSON syntax
 * (strict RFC 8259, valid UTF-8, no duplicate key), each dtype, each shape
 * times its dtype against its byte range, the ranges in order covering the
 * data exactly (no gap, no overlap, nothing after the last), the metadata
 * made of strings only.  An index is checked the same way, and each shard
 * name in it must stay inside the directory: relative, no "..", and no
 * symbolic link that leads out of it (a Hugging Face cache snapshot, whose
 * files are links into the repo's blobs/ folder, is the one exception).
 * Every message names the file and the byte or the tensor.
 *
 * The JSON is read by a small scanner written here rather than libjq: jq
 * keeps the last of duplicate keys and reads numbers as doubles, and an
 * offset past 2^53 or a repeated tensor name must be an error, not a
 * rounding. */
#ifndef LMU_SAFETENSORS_H
#define LMU_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "gguf.h"

/* Every dtype of the reference implementation (safetensors 0.6). */
enum st_dtype {
	ST_BOOL, ST_U8, ST_I8, ST_I16, ST_U16, ST_I32, ST_U32, ST_I64, ST_U64,
	ST_F16, ST_BF16, ST_F32, ST_F64, ST_C64,
	ST_F8_E4M3, ST_F8_E5M2, ST_F8_E4M3FNUZ, ST_F8_E5M2FNUZ, ST_F8_E8M0,
	ST_F6_E2M3, ST_F6_E3M2, ST_F4,
	ST_NDTYPES
};

#define ST_MAX_DIMS 8                  /* rank limit (models use 1 or 2) */
#define ST_MAX_HEADER 100000000u       /* bytes, as the reference library */
#define ST_MAX_NAME 1024               /* tensor name bytes */
#define ST_MAX_INDEX (256u << 20)      /* model.safetensors.index.json bytes */

const char *st_dtype_name(enum st_dtype t);
unsigned st_dtype_bits(enum st_dtype t);     /* 4 to 64 */
/* The ggml type whose bytes are this dtype's (F32, F16, BF16, I8, I16, I32,
 * I64, F64), or GGML_NTYPES. */
enum ggml_type st_dtype_ggml(enum st_dtype t);

struct st_tensor {
	char *name;            /* decoded from the JSON, NUL-terminated */
	enum st_dtype dtype;
	uint32_t n_dims;       /* 0 for a scalar */
	uint64_t shape[ST_MAX_DIMS];  /* PyTorch order: shape[n_dims - 1] is contiguous */
	uint64_t n_elem;
	uint64_t offset;       /* of the data in its shard's file */
	uint64_t nbytes;
	const void *data;      /* into the shard's map */
	uint32_t shard;        /* index into struct safetensors.shards */
};

struct st_meta {
	char *key, *value;     /* __metadata__ entries, decoded */
};

struct st_shard {
	char *path;            /* as given, or DIR/NAME from the index */
	const uint8_t *map;
	uint64_t size;
	bool mapped;           /* munmap on close (else the caller owns the bytes) */
	uint64_t data_start;   /* 8 + header length */
	uint32_t n_meta;
	struct st_meta *meta;
};

struct safetensors {
	char *path;            /* the file, or the index file, for messages */
	uint32_t n_shards;
	struct st_shard *shards;
	uint64_t n_tensors;
	struct st_tensor *tensors;     /* shard by shard, each in header order */
	struct st_tensor **sorted;     /* by name, for st_find */
};

/* One .safetensors file, mapped.  NULL with *e set on any problem. */
struct safetensors *st_open(const char *path, struct lmu_err *e);
/* The same over a caller-owned buffer (tests, fuzzing); name is used in
 * messages. */
struct safetensors *st_open_mem(const void *buf, size_t size, const char *name, struct lmu_err *e);
/* The weights of a model directory: DIR/model.safetensors.index.json and
 * the shards it names if it exists, else DIR/model.safetensors. */
struct safetensors *st_open_dir(const char *dir, struct lmu_err *e);
/* An index file and its shards (found beside it). */
struct safetensors *st_open_index(const char *path, struct lmu_err *e);
void st_close(struct safetensors *st);

const struct st_tensor *st_find(const struct safetensors *st, const char *name);
/* The metadata value of key in the first shard that has it, or NULL. */
const char *st_meta(const struct safetensors *st, const char *key);

/* The weight_map of an index as (tensor, shard name) pairs in file order,
 * checked as st_open_index does but without opening the shards (tests,
 * fuzzing).  Free with st_index_free. */
struct st_index {
	uint64_t n;
	char **tensor, **shard;
};
bool st_index_parse(const void *buf, size_t size, const char *name, struct st_index *ix, struct lmu_err *e);
void st_index_free(struct st_index *ix);

#endif
