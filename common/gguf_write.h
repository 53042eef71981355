/* gguf_write.h - build a GGUF file in memory: for tests (hand-made and
 * tiny random models), fuzz seeds, and tools that write models.
 * Keys and tensors are written in the order they are added; tensor data is
 * placed at aligned offsets one after another, as readers expect. */
#ifndef LMU_GGUF_WRITE_H
#define LMU_GGUF_WRITE_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "gguf.h"

struct gguf_writer;

/* A growable byte buffer with little-endian writers: the writer's own, and
 * for tests that build files by hand (hostile ones).  Free p when done. */
struct gguf_buf {
	uint8_t *p;
	size_t n, cap;
};
void gguf_buf_put(struct gguf_buf *b, const void *p, size_t n);
void gguf_buf_le(struct gguf_buf *b, uint64_t v, int n);  /* the low n bytes of v */
void gguf_buf_str(struct gguf_buf *b, const char *s);     /* u64 length, then the bytes */

struct gguf_writer *gguf_writer_new(void);
void gguf_writer_free(struct gguf_writer *w);

/* A scalar key; payload is the little-endian value of the given type. */
void gguf_w_u32(struct gguf_writer *w, const char *key, uint32_t v);
void gguf_w_i32(struct gguf_writer *w, const char *key, int32_t v);
void gguf_w_u64(struct gguf_writer *w, const char *key, uint64_t v);
void gguf_w_f32(struct gguf_writer *w, const char *key, float v);
void gguf_w_bool(struct gguf_writer *w, const char *key, int v);
void gguf_w_str(struct gguf_writer *w, const char *key, const char *s);
/* Any scalar type from raw little-endian bytes (size must match the type). */
void gguf_w_scalar(struct gguf_writer *w, const char *key, enum gguf_vtype t, const void *le, size_t size);
/* Arrays: numeric elements as packed little-endian bytes, or strings. */
void gguf_w_arr(struct gguf_writer *w, const char *key, enum gguf_vtype elem, const void *le, uint64_t count);
void gguf_w_arr_str(struct gguf_writer *w, const char *key, const char *const *s, uint64_t count);

/* general.alignment is written as a key by the caller if wanted; this sets
 * the alignment the writer uses for data placement (default 32). */
void gguf_w_set_alignment(struct gguf_writer *w, uint32_t alignment);

/* A tensor; data of ggml row size x rows bytes is copied. */
void gguf_w_tensor(struct gguf_writer *w, const char *name, enum ggml_type type, uint32_t n_dims,
		   const uint64_t *ne, const void *data, size_t nbytes);

/* A tensor whose data stays where it is (a map, a buffer of the caller's)
 * until the file is written; data may be NULL for gguf_writer_header(). */
void gguf_w_tensor_ref(struct gguf_writer *w, const char *name, enum ggml_type type, uint32_t n_dims,
		       const uint64_t *ne, const void *data, size_t nbytes);

/* A key and its value as another file holds them (copying metadata). */
void gguf_w_kv(struct gguf_writer *w, const struct gguf_kv *kv);

/* The finished file (version 3). The buffer is owned by the writer. */
const uint8_t *gguf_writer_bytes(struct gguf_writer *w, size_t *size);
/* Only the part before the tensor data: header, keys, tensor table and
 * the padding up to the data section (gguf_open_header() reads it). */
const uint8_t *gguf_writer_header(struct gguf_writer *w, size_t *size);
/* Write the file to f (tensor data straight from where it lies), or to
 * path; return 0 or -1 with errno set. */
int gguf_writer_write(struct gguf_writer *w, FILE *f);
int gguf_writer_save(struct gguf_writer *w, const char *path);

#endif
