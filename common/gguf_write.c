#include "gguf_write.h"
#include "le.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wtensor {
	char *name;
	enum ggml_type type;
	uint32_t n_dims;
	uint64_t ne[GGUF_MAX_DIMS];
	const void *data;        /* NULL: an entry of the header only */
	bool owned;              /* data is the writer's copy */
	size_t nbytes;
};

struct gguf_writer {
	struct gguf_buf kv;      /* the key/value records */
	uint64_t n_kv;
	struct wtensor *t;
	uint64_t n_t;
	uint32_t alignment;
	struct gguf_buf out;     /* the finished file */
};

void gguf_buf_put(struct gguf_buf *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->p = xrealloc(b->p, b->cap);
	}
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

void gguf_buf_le(struct gguf_buf *b, uint64_t v, int n)
{
	uint8_t le[8];
	put_le(le, v, n);
	gguf_buf_put(b, le, (size_t)n);
}

void gguf_buf_str(struct gguf_buf *b, const char *s)
{
	size_t n = strlen(s);
	gguf_buf_le(b, n, 8);
	gguf_buf_put(b, s, n);
}

struct gguf_writer *gguf_writer_new(void)
{
	struct gguf_writer *w = xcalloc(1, sizeof *w);
	w->alignment = GGUF_DEFAULT_ALIGNMENT;
	return w;
}

void gguf_writer_free(struct gguf_writer *w)
{
	if (!w)
		return;
	for (uint64_t i = 0; i < w->n_t; i++) {
		free(w->t[i].name);
		if (w->t[i].owned)
			free((void *)w->t[i].data);
	}
	free(w->t);
	free(w->kv.p);
	free(w->out.p);
	free(w);
}

void gguf_w_scalar(struct gguf_writer *w, const char *key, enum gguf_vtype t, const void *le, size_t size)
{
	gguf_buf_str(&w->kv, key);
	gguf_buf_le(&w->kv, t, 4);
	gguf_buf_put(&w->kv, le, size);
	w->n_kv++;
}

void gguf_w_u32(struct gguf_writer *w, const char *key, uint32_t v)
{
	uint8_t le[4];
	put_le(le, v, 4);
	gguf_w_scalar(w, key, GGUF_UINT32, le, 4);
}

void gguf_w_i32(struct gguf_writer *w, const char *key, int32_t v)
{
	uint8_t le[4];
	put_le(le, (uint32_t)v, 4);
	gguf_w_scalar(w, key, GGUF_INT32, le, 4);
}

void gguf_w_u64(struct gguf_writer *w, const char *key, uint64_t v)
{
	uint8_t le[8];
	put_le(le, v, 8);
	gguf_w_scalar(w, key, GGUF_UINT64, le, 8);
}

void gguf_w_f32(struct gguf_writer *w, const char *key, float v)
{
	uint32_t u;
	uint8_t le[4];
	memcpy(&u, &v, 4);
	put_le(le, u, 4);
	gguf_w_scalar(w, key, GGUF_FLOAT32, le, 4);
}

void gguf_w_bool(struct gguf_writer *w, const char *key, int v)
{
	uint8_t b = v != 0;
	gguf_w_scalar(w, key, GGUF_BOOL, &b, 1);
}

void gguf_w_str(struct gguf_writer *w, const char *key, const char *s)
{
	gguf_buf_str(&w->kv, key);
	gguf_buf_le(&w->kv, GGUF_STRING, 4);
	gguf_buf_str(&w->kv, s);
	w->n_kv++;
}

void gguf_w_arr(struct gguf_writer *w, const char *key, enum gguf_vtype elem, const void *le, uint64_t count)
{
	static const uint8_t size[GGUF_NVTYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
	gguf_buf_str(&w->kv, key);
	gguf_buf_le(&w->kv, GGUF_ARRAY, 4);
	gguf_buf_le(&w->kv, elem, 4);
	gguf_buf_le(&w->kv, count, 8);
	gguf_buf_put(&w->kv, le, (size_t)count * size[elem]);
	w->n_kv++;
}

void gguf_w_arr_str(struct gguf_writer *w, const char *key, const char *const *s, uint64_t count)
{
	gguf_buf_str(&w->kv, key);
	gguf_buf_le(&w->kv, GGUF_ARRAY, 4);
	gguf_buf_le(&w->kv, GGUF_STRING, 4);
	gguf_buf_le(&w->kv, count, 8);
	for (uint64_t i = 0; i < count; i++)
		gguf_buf_str(&w->kv, s[i]);
	w->n_kv++;
}

void gguf_w_set_alignment(struct gguf_writer *w, uint32_t alignment)
{
	w->alignment = alignment;
}

static void add_tensor(struct gguf_writer *w, const char *name, enum ggml_type type, uint32_t n_dims,
		       const uint64_t *ne, const void *data, size_t nbytes, bool copy)
{
	struct wtensor *t;
	w->t = xreallocarray(w->t, w->n_t + 1, sizeof *w->t);
	t = &w->t[w->n_t++];
	memset(t, 0, sizeof *t);
	t->name = xstrdup(name);
	t->type = type;
	t->n_dims = n_dims;
	for (uint32_t d = 0; d < n_dims && d < GGUF_MAX_DIMS; d++)
		t->ne[d] = ne[d];
	t->nbytes = nbytes;
	t->data = data;
	if (copy) {
		t->data = memcpy(xmalloc(nbytes), data, nbytes);
		t->owned = true;
	}
}

void gguf_w_tensor(struct gguf_writer *w, const char *name, enum ggml_type type, uint32_t n_dims,
		   const uint64_t *ne, const void *data, size_t nbytes)
{
	add_tensor(w, name, type, n_dims, ne, data, nbytes, true);
}

void gguf_w_tensor_ref(struct gguf_writer *w, const char *name, enum ggml_type type, uint32_t n_dims,
		       const uint64_t *ne, const void *data, size_t nbytes)
{
	add_tensor(w, name, type, n_dims, ne, data, nbytes, false);
}

void gguf_w_kv(struct gguf_writer *w, const struct gguf_kv *kv)
{
	gguf_buf_le(&w->kv, kv->key.len, 8);
	gguf_buf_put(&w->kv, kv->key.s, kv->key.len);
	gguf_buf_le(&w->kv, kv->val.type, 4);
	if (kv->val.type == GGUF_ARRAY) {
		gguf_buf_le(&w->kv, kv->val.elem, 4);
		gguf_buf_le(&w->kv, kv->val.count, 8);
	} else if (kv->val.type == GGUF_STRING) {
		gguf_buf_le(&w->kv, kv->val.size, 8);
	}
	gguf_buf_put(&w->kv, kv->val.p, kv->val.size);
	w->n_kv++;
}

static size_t pad(size_t x, uint32_t a)
{
	return a ? (a - x % a) % a : 0;
}

static const uint8_t zeros[64];

static void put_pad(struct gguf_buf *o, size_t p)
{
	for (; p; p -= p > 64 ? 64 : p)
		gguf_buf_put(o, zeros, p > 64 ? 64 : p);
}

const uint8_t *gguf_writer_header(struct gguf_writer *w, size_t *size)
{
	struct gguf_buf *o = &w->out;
	size_t off = 0;

	o->n = 0;
	gguf_buf_put(o, "GGUF", 4);
	gguf_buf_le(o, 3, 4);
	gguf_buf_le(o, w->n_t, 8);
	gguf_buf_le(o, w->n_kv, 8);
	gguf_buf_put(o, w->kv.p, w->kv.n);
	for (uint64_t i = 0; i < w->n_t; i++) {
		gguf_buf_str(o, w->t[i].name);
		gguf_buf_le(o, w->t[i].n_dims, 4);
		for (uint32_t d = 0; d < w->t[i].n_dims; d++)
			gguf_buf_le(o, w->t[i].ne[d], 8);
		gguf_buf_le(o, w->t[i].type, 4);
		gguf_buf_le(o, off, 8);
		off += w->t[i].nbytes;
		off += pad(off, w->alignment);
	}
	put_pad(o, pad(o->n, w->alignment));
	*size = o->n;
	return o->p;
}

const uint8_t *gguf_writer_bytes(struct gguf_writer *w, size_t *size)
{
	struct gguf_buf *o = &w->out;

	gguf_writer_header(w, size);
	for (uint64_t i = 0; i < w->n_t; i++) {
		gguf_buf_put(o, w->t[i].data, w->t[i].nbytes);
		put_pad(o, pad(w->t[i].nbytes, w->alignment));
	}
	*size = o->n;
	return o->p;
}

int gguf_writer_write(struct gguf_writer *w, FILE *f)
{
	size_t n;
	const uint8_t *p = gguf_writer_header(w, &n);

	if (fwrite(p, 1, n, f) != n)
		return -1;
	for (uint64_t i = 0; i < w->n_t; i++) {
		size_t pd = pad(w->t[i].nbytes, w->alignment);
		if (fwrite(w->t[i].data, 1, w->t[i].nbytes, f) != w->t[i].nbytes || (pd && fwrite(zeros, 1, pd, f) != pd))
			return -1;
	}
	return 0;
}

int gguf_writer_save(struct gguf_writer *w, const char *path)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	if (gguf_writer_write(w, f) != 0) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}
