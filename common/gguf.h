/* gguf.h - a validating GGUF v2/v3 reader over mmap (doc/formats.md "GGUF layout").
 *
 * gguf_open() maps the file and checks every count, length, offset,
 * dimension and product against the file size and for overflow before it
 * returns; nothing reads tensor data before that.  Values stay in the map:
 * strings are (pointer, length) pairs, not NUL-terminated. */
#ifndef LMU_GGUF_H
#define LMU_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum gguf_vtype {
	GGUF_UINT8 = 0, GGUF_INT8, GGUF_UINT16, GGUF_INT16, GGUF_UINT32,
	GGUF_INT32, GGUF_FLOAT32, GGUF_BOOL, GGUF_STRING, GGUF_ARRAY,
	GGUF_UINT64, GGUF_INT64, GGUF_FLOAT64,
	GGUF_NVTYPES
};

/* ggml tensor types (codes as stored in files). */
enum ggml_type {
	GGML_F32 = 0, GGML_F16 = 1, GGML_Q4_0 = 2, GGML_Q4_1 = 3,
	GGML_Q5_0 = 6, GGML_Q5_1 = 7, GGML_Q8_0 = 8, GGML_Q8_1 = 9,
	GGML_Q2_K = 10, GGML_Q3_K = 11, GGML_Q4_K = 12, GGML_Q5_K = 13,
	GGML_Q6_K = 14, GGML_Q8_K = 15, GGML_IQ2_XXS = 16, GGML_IQ2_XS = 17,
	GGML_IQ3_XXS = 18, GGML_IQ1_S = 19, GGML_IQ4_NL = 20, GGML_IQ3_S = 21,
	GGML_IQ2_S = 22, GGML_IQ4_XS = 23, GGML_I8 = 24, GGML_I16 = 25,
	GGML_I32 = 26, GGML_I64 = 27, GGML_F64 = 28, GGML_IQ1_M = 29,
	GGML_BF16 = 30, GGML_TQ1_0 = 34, GGML_TQ2_0 = 35, GGML_MXFP4 = 39,
	GGML_NTYPES = 40
};

#define GGUF_MAX_DIMS 4
#define GGUF_MAX_NAME 64            /* tensor name bytes, spec limit */
#define GGUF_MAX_STRING (1u << 30)  /* 1 GiB, as ggml */
#define GGUF_MAX_ARRAY (1u << 30)   /* elements */
#define GGUF_DEFAULT_ALIGNMENT 32

struct gguf_str {
	const char *s;  /* into the map, not NUL-terminated */
	uint64_t len;
};

struct gguf_value {
	enum gguf_vtype type;
	enum gguf_vtype elem;  /* arrays: element type */
	uint64_t count;        /* arrays: number of elements */
	const uint8_t *p;      /* the payload in the map (arrays: first element) */
	uint64_t size;         /* payload bytes */
};

struct gguf_kv {
	struct gguf_str key;
	struct gguf_value val;
};

struct gguf_tensor {
	char name[GGUF_MAX_NAME + 1];
	enum ggml_type type;
	uint32_t n_dims;
	uint64_t ne[GGUF_MAX_DIMS];  /* ne[0] innermost; unused dims are 1 */
	uint64_t offset;             /* relative to the data section */
	uint64_t nbytes;
	uint64_t row_bytes;          /* bytes of one ne[0] row */
	const void *data;            /* into the map */
};

struct gguf {
	char *path;
	const uint8_t *map;
	uint64_t size;
	bool mapped;        /* munmap on close (else the caller owns the buffer) */
	uint32_t version;
	uint64_t n_kv;
	struct gguf_kv *kv;
	uint64_t n_tensors;
	struct gguf_tensor *tensors;
	uint32_t alignment;
	uint64_t data_offset;
	struct gguf_kv **kv_sorted;        /* by key, for lookup */
	struct gguf_tensor **tensor_sorted;  /* by name, for lookup */
	void *header;       /* gguf_open_header: the header bytes, freed on close */
	void (*release)(void *owner);  /* gguf_open_header: called on close */
	void *owner;        /* what holds the tensor data */
};

/* Open and validate.  On failure return NULL and describe the problem in
 * *e (the message names the file part: header, key, tensor). */
struct gguf *gguf_open(const char *path, struct lmu_err *e);
/* The same over a caller-owned buffer (tests, fuzzing). */
struct gguf *gguf_open_mem(const void *buf, size_t size, const char *name, struct lmu_err *e);
/* A GGUF assembled in memory: buf (malloc'ed, taken over) holds the part
 * before the tensor data (gguf_writer_header), checked like a file but for
 * the data ranges; every tensor's data is NULL for the caller to point at
 * bytes kept alive by owner, which gguf_close (or a failure here) hands to
 * release.  How a model directory becomes a GGUF (common/hfmodel.c). */
struct gguf *gguf_open_header(void *buf, size_t size, const char *name, void (*release)(void *), void *owner,
			      struct lmu_err *e);
/* gguf_open() or die with "prog: path: message". */
struct gguf *gguf_open_or_die(const char *path);
void gguf_close(struct gguf *g);

/* Type facts. */
const char *gguf_vtype_name(enum gguf_vtype t);
const char *ggml_type_name(enum ggml_type t);  /* NULL if unknown */
uint32_t ggml_block_size(enum ggml_type t);    /* elements per block; 0 if unknown */
const char *gguf_file_type_name(uint32_t ft);  /* general.file_type: "Q4_K_M" ...; NULL if unknown */
uint32_t ggml_type_size(enum ggml_type t);     /* bytes per block; 0 if unknown */

/* Keys. */
const struct gguf_kv *gguf_find(const struct gguf *g, const char *key);

/* Typed accessors: return 1 and set *out if the key exists with a fitting
 * type, 0 if it is absent, -1 if it exists with a type that does not fit
 * (a float stored as string, a negative int asked as unsigned, a value
 * beyond the range asked for). Integers of any stored width are accepted. */
int gguf_get_i64(const struct gguf *g, const char *key, int64_t *out);
int gguf_get_u64(const struct gguf *g, const char *key, uint64_t *out);
int gguf_get_u32(const struct gguf *g, const char *key, uint32_t *out);
int gguf_get_f64(const struct gguf *g, const char *key, double *out);  /* floats or ints */
int gguf_get_bool(const struct gguf *g, const char *key, bool *out);
int gguf_get_str(const struct gguf *g, const char *key, struct gguf_str *out);
/* Arrays: elem_type GGUF_NVTYPES accepts any element type. */
int gguf_get_arr(const struct gguf *g, const char *key, enum gguf_vtype elem_type, struct gguf_value *out);

/* Scalar value conversion (the value must be an integer type). */
bool gguf_val_i64(const struct gguf_value *v, int64_t *out);
bool gguf_val_f64(const struct gguf_value *v, double *out);
/* Element i of a numeric array, as int64 / double; false on a bad type. */
bool gguf_arr_i64(const struct gguf_value *a, uint64_t i, int64_t *out);
bool gguf_arr_f64(const struct gguf_value *a, uint64_t i, double *out);

/* String arrays: iterate with a cursor.  gguf_arr_str_next returns the next
 * string; the array was validated at open, so it cannot run off the map. */
struct gguf_str_iter {
	const uint8_t *p;
	uint64_t left;
};
void gguf_str_iter_init(struct gguf_str_iter *it, const struct gguf_value *a);
bool gguf_str_iter_next(struct gguf_str_iter *it, struct gguf_str *out);

/* A string key as a fresh NUL-terminated copy, or NULL if absent / not a
 * string. */
char *gguf_get_strdup(const struct gguf *g, const char *key);

/* Tensors. */
const struct gguf_tensor *gguf_tensor(const struct gguf *g, const char *name);

/* Format a value compactly for display (arrays are summarised). */
void gguf_value_format(const struct gguf_value *v, char *buf, size_t len);

#endif
