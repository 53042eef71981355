/* gguf.c - GGUF v2/v3 reader.  See gguf.h and doc/formats.md "GGUF layout".
 *
 * Every read goes through a cursor that knows how many bytes are left, so
 * no count or length from the file is trusted before it has been compared
 * with what remains.  Sizes are computed with overflow checks. */
#include "gguf.h"
#include "le.h"
#include "mapfile.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct type_info {
	const char *name;
	uint32_t block;  /* elements per block */
	uint32_t size;   /* bytes per block */
};

static const struct type_info types[GGML_NTYPES] = {
	[GGML_F32] = {"F32", 1, 4},
	[GGML_F16] = {"F16", 1, 2},
	[GGML_Q4_0] = {"Q4_0", 32, 18},
	[GGML_Q4_1] = {"Q4_1", 32, 20},
	[GGML_Q5_0] = {"Q5_0", 32, 22},
	[GGML_Q5_1] = {"Q5_1", 32, 24},
	[GGML_Q8_0] = {"Q8_0", 32, 34},
	[GGML_Q8_1] = {"Q8_1", 32, 36},
	[GGML_Q2_K] = {"Q2_K", 256, 84},
	[GGML_Q3_K] = {"Q3_K", 256, 110},
	[GGML_Q4_K] = {"Q4_K", 256, 144},
	[GGML_Q5_K] = {"Q5_K", 256, 176},
	[GGML_Q6_K] = {"Q6_K", 256, 210},
	[GGML_Q8_K] = {"Q8_K", 256, 292},
	[GGML_IQ2_XXS] = {"IQ2_XXS", 256, 66},
	[GGML_IQ2_XS] = {"IQ2_XS", 256, 74},
	[GGML_IQ3_XXS] = {"IQ3_XXS", 256, 98},
	[GGML_IQ1_S] = {"IQ1_S", 256, 50},
	[GGML_IQ4_NL] = {"IQ4_NL", 32, 18},
	[GGML_IQ3_S] = {"IQ3_S", 256, 110},
	[GGML_IQ2_S] = {"IQ2_S", 256, 82},
	[GGML_IQ4_XS] = {"IQ4_XS", 256, 136},
	[GGML_I8] = {"I8", 1, 1},
	[GGML_I16] = {"I16", 1, 2},
	[GGML_I32] = {"I32", 1, 4},
	[GGML_I64] = {"I64", 1, 8},
	[GGML_F64] = {"F64", 1, 8},
	[GGML_IQ1_M] = {"IQ1_M", 256, 56},
	[GGML_BF16] = {"BF16", 1, 2},
	[GGML_TQ1_0] = {"TQ1_0", 256, 54},
	[GGML_TQ2_0] = {"TQ2_0", 256, 66},
	[GGML_MXFP4] = {"MXFP4", 32, 17},
};

static const char *vtype_names[GGUF_NVTYPES] = {
	"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
	"bool", "string", "array", "uint64", "int64", "float64",
};

/* Fixed payload size of a scalar type; 0 for string and array. */
static const uint8_t vtype_size[GGUF_NVTYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

const char *gguf_vtype_name(enum gguf_vtype t)
{
	return (unsigned)t < GGUF_NVTYPES ? vtype_names[t] : "unknown";
}

const char *ggml_type_name(enum ggml_type t)
{
	return (unsigned)t < GGML_NTYPES ? types[t].name : NULL;
}

/* general.file_type: the type most of a file's weights have, as
 * llama.cpp's quantizer names it (gguf-py LlamaFileType). */
const char *gguf_file_type_name(uint32_t ft)
{
	static const char *const names[] = {
		[0] = "F32", [1] = "F16", [2] = "Q4_0", [3] = "Q4_1", [7] = "Q8_0", [8] = "Q5_0",
		[9] = "Q5_1", [10] = "Q2_K", [11] = "Q3_K_S", [12] = "Q3_K_M", [13] = "Q3_K_L",
		[14] = "Q4_K_S", [15] = "Q4_K_M", [16] = "Q5_K_S", [17] = "Q5_K_M", [18] = "Q6_K",
		[19] = "IQ2_XXS", [20] = "IQ2_XS", [21] = "Q2_K_S", [22] = "IQ3_XS", [23] = "IQ3_XXS",
		[24] = "IQ1_S", [25] = "IQ4_NL", [26] = "IQ3_S", [27] = "IQ3_M", [28] = "IQ2_S",
		[29] = "IQ2_M", [30] = "IQ4_XS", [31] = "IQ1_M", [32] = "BF16", [36] = "TQ1_0",
		[37] = "TQ2_0", [38] = "MXFP4_MOE",
	};
	return ft < sizeof names / sizeof *names ? names[ft] : NULL;
}

uint32_t ggml_block_size(enum ggml_type t)
{
	return (unsigned)t < GGML_NTYPES && types[t].name ? types[t].block : 0;
}

uint32_t ggml_type_size(enum ggml_type t)
{
	return (unsigned)t < GGML_NTYPES && types[t].name ? types[t].size : 0;
}

/* ---- cursor ---- */

struct cur {
	const uint8_t *base;
	uint64_t size, pos;
	struct lmu_err *e;
	const char *name;
	bool header_only; /* the tensor data is elsewhere (gguf_open_header) */
	char where[160];  /* what is being read, for messages */
};

#define FAIL(c, ...) do { fail_at(c, __VA_ARGS__); return false; } while (0)

static void fail_at(struct cur *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_at(struct cur *c, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (c->where[0])
		err_set(c->e, "%s: %s: %s", c->name, c->where, msg);
	else
		err_set(c->e, "%s: %s", c->name, msg);
}

/* A key from the file, fit for a message: at most 80 bytes, control and
 * non-ASCII bytes shown as '?', so a hostile key cannot drive the terminal. */
static const char *shown(char *buf, size_t cap, const char *s, uint64_t len)
{
	size_t n = len < cap - 4 ? (size_t)len : cap - 4, i;
	if (n > 80)
		n = 80;
	for (i = 0; i < n; i++)
		buf[i] = s[i] >= 32 && s[i] < 127 ? s[i] : '?';
	strcpy(buf + i, n < len ? "..." : "");
	return buf;
}

static bool need(struct cur *c, uint64_t n)
{
	if (n > c->size - c->pos)
		FAIL(c, "file cut short at byte %llu (needs %llu more bytes, %llu left)",
		     (unsigned long long)c->pos, (unsigned long long)n,
		     (unsigned long long)(c->size - c->pos));
	return true;
}

static bool rd_u32(struct cur *c, uint32_t *v)
{
	if (!need(c, 4))
		return false;
	*v = (uint32_t)get_le(c->base + c->pos, 4);
	c->pos += 4;
	return true;
}

static bool rd_u64(struct cur *c, uint64_t *v)
{
	if (!need(c, 8))
		return false;
	*v = get_le(c->base + c->pos, 8);
	c->pos += 8;
	return true;
}

static bool rd_str(struct cur *c, struct gguf_str *s)
{
	uint64_t len;
	if (!rd_u64(c, &len))
		return false;
	if (len > GGUF_MAX_STRING)
		FAIL(c, "string length %llu at byte %llu is over the 1 GiB limit",
		     (unsigned long long)len, (unsigned long long)(c->pos - 8));
	if (len > c->size - c->pos)
		FAIL(c, "string length %llu at byte %llu runs past the end of the file",
		     (unsigned long long)len, (unsigned long long)(c->pos - 8));
	s->s = (const char *)c->base + c->pos;
	s->len = len;
	c->pos += len;
	return true;
}

/* Read one value of type t (already read) into v. */
static bool rd_value(struct cur *c, uint32_t t, struct gguf_value *v)
{
	memset(v, 0, sizeof *v);
	if (t >= GGUF_NVTYPES)
		FAIL(c, "unknown value type %u", t);
	v->type = t;
	v->p = c->base + c->pos;
	if (t == GGUF_STRING) {
		struct gguf_str s;
		if (!rd_str(c, &s))
			return false;
		v->p = (const uint8_t *)s.s;
		v->size = s.len;
		return true;
	}
	if (t != GGUF_ARRAY) {
		if (!need(c, vtype_size[t]))
			return false;
		if (t == GGUF_BOOL && c->base[c->pos] > 1)
			FAIL(c, "bool value %u is neither 0 nor 1", c->base[c->pos]);
		v->size = vtype_size[t];
		c->pos += v->size;
		return true;
	}
	uint32_t et;
	uint64_t n;
	if (!rd_u32(c, &et))
		return false;
	if (et == GGUF_ARRAY)
		FAIL(c, "nested arrays are not supported");
	if (et >= GGUF_NVTYPES)
		FAIL(c, "unknown array element type %u", et);
	if (!rd_u64(c, &n))
		return false;
	if (n > GGUF_MAX_ARRAY)
		FAIL(c, "array count %llu is over the limit of %u elements",
		     (unsigned long long)n, GGUF_MAX_ARRAY);
	v->elem = et;
	v->count = n;
	v->p = c->base + c->pos;
	if (et == GGUF_STRING) {
		/* every string needs at least its 8-byte length */
		if (n > (c->size - c->pos) / 8)
			FAIL(c, "array of %llu strings cannot fit in the %llu bytes left",
			     (unsigned long long)n, (unsigned long long)(c->size - c->pos));
		for (uint64_t i = 0; i < n; i++) {
			struct gguf_str s;
			if (!rd_str(c, &s))
				return false;
		}
	} else {
		uint64_t bytes = n * vtype_size[et];  /* n <= 2^30, size <= 8 */
		if (!need(c, bytes))
			return false;
		if (et == GGUF_BOOL)
			for (uint64_t i = 0; i < n; i++)
				if (c->base[c->pos + i] > 1)
					FAIL(c, "bool element %llu is %u, neither 0 nor 1", (unsigned long long)i,
					     c->base[c->pos + i]);
		c->pos += bytes;
	}
	v->size = (uint64_t)(c->base + c->pos - v->p);
	return true;
}

static int cmp_kv(const void *a, const void *b)
{
	const struct gguf_kv *x = *(struct gguf_kv *const *)a, *y = *(struct gguf_kv *const *)b;
	uint64_t n = x->key.len < y->key.len ? x->key.len : y->key.len;
	int r = memcmp(x->key.s, y->key.s, n);
	if (r)
		return r;
	return (x->key.len > y->key.len) - (x->key.len < y->key.len);
}

static int cmp_tensor(const void *a, const void *b)
{
	return strcmp((*(struct gguf_tensor *const *)a)->name, (*(struct gguf_tensor *const *)b)->name);
}

static bool mul_ok(uint64_t a, uint64_t b, uint64_t *r)
{
	return !__builtin_mul_overflow(a, b, r);
}

/* Make room for record i of n: the arrays grow with the records actually
 * read, so a count that merely fits the file size costs nothing until the
 * records are there (a hostile count fails at the first short record). */
static void *grow(void *arr, uint64_t i, uint64_t n, size_t size, uint64_t *cap)
{
	if (i < *cap)
		return arr;
	uint64_t c = *cap ? *cap * 2 : 64;
	if (c > n)
		c = n;
	arr = xreallocarray(arr, (size_t)c, size);
	memset((char *)arr + *cap * size, 0, (size_t)(c - *cap) * size);
	*cap = c;
	return arr;
}

static bool parse(struct gguf *g, struct cur *c)
{
	uint32_t magic;
	uint64_t i;
	char kb[96];

	snprintf(c->where, sizeof c->where, "header");
	if (c->size == 0)
		FAIL(c, "empty file");
	if (c->size < 4)
		FAIL(c, "file cut short: %llu bytes, too small for a GGUF header", (unsigned long long)c->size);
	if (memcmp(c->base, "GGUF", 4) != 0)
		FAIL(c, "bad magic (not a GGUF file)");
	c->pos = 4;
	if (!rd_u32(c, &magic))
		return false;
	g->version = magic;
	if (g->version == 1)
		FAIL(c, "GGUF version 1 is not supported (convert the file to version 3)");
	if (g->version != 2 && g->version != 3) {
		/* ggml's heuristic: a byte-swapped small version has its low half zero */
		if (g->version != 0 && (g->version & 0xffff) == 0)
			FAIL(c, "version %u: the file looks big-endian, which is not supported", g->version);
		FAIL(c, "unsupported GGUF version %u (supported: 2, 3)", g->version);
	}
	if (!rd_u64(c, &g->n_tensors) || !rd_u64(c, &g->n_kv))
		return false;
	/* A key/value needs >= 8 (key length) + 1 (key) + 4 (type) + 1 bytes;
	 * a tensor record >= 8 + 1 + 4 + 8 + 4 + 8. */
	if (g->n_kv > (c->size - c->pos) / 14)
		FAIL(c, "key count %llu cannot fit in a file of %llu bytes",
		     (unsigned long long)g->n_kv, (unsigned long long)c->size);
	if (g->n_tensors > (c->size - c->pos) / 33)
		FAIL(c, "tensor count %llu cannot fit in a file of %llu bytes",
		     (unsigned long long)g->n_tensors, (unsigned long long)c->size);

	uint64_t cap = 0;
	g->alignment = GGUF_DEFAULT_ALIGNMENT;
	for (i = 0; i < g->n_kv; i++) {
		g->kv = grow(g->kv, i, g->n_kv, sizeof *g->kv, &cap);
		struct gguf_kv *kv = &g->kv[i];
		uint32_t t;
		snprintf(c->where, sizeof c->where, "key %llu of %llu", (unsigned long long)i,
			 (unsigned long long)g->n_kv);
		if (!rd_str(c, &kv->key))
			return false;
		if (kv->key.len == 0)
			FAIL(c, "empty key");
		if (kv->key.len > 65535)
			FAIL(c, "key of %llu bytes is over the 65535-byte limit", (unsigned long long)kv->key.len);
		snprintf(c->where, sizeof c->where, "key '%s'", shown(kb, sizeof kb, kv->key.s, kv->key.len));
		if (!rd_u32(c, &t) || !rd_value(c, t, &kv->val))
			return false;
		if (kv->key.len == 17 && memcmp(kv->key.s, "general.alignment", 17) == 0) {
			if (t != GGUF_UINT32)
				FAIL(c, "alignment stored as %s, must be uint32", gguf_vtype_name(t));
			g->alignment = (uint32_t)get_le(kv->val.p, 4);
			if (g->alignment == 0 || (g->alignment & (g->alignment - 1)) || g->alignment > (1u << 20))
				FAIL(c, "alignment %u is not a power of two between 1 and 1 MiB", g->alignment);
		}
	}
	c->where[0] = 0;
	g->kv_sorted = xcalloc(g->n_kv, sizeof *g->kv_sorted);
	for (i = 0; i < g->n_kv; i++)
		g->kv_sorted[i] = &g->kv[i];
	qsort(g->kv_sorted, g->n_kv, sizeof *g->kv_sorted, cmp_kv);
	for (i = 1; i < g->n_kv; i++)
		if (cmp_kv(&g->kv_sorted[i - 1], &g->kv_sorted[i]) == 0)
			FAIL(c, "duplicate key '%s'", shown(kb, sizeof kb, g->kv_sorted[i]->key.s, g->kv_sorted[i]->key.len));

	cap = 0;
	for (i = 0; i < g->n_tensors; i++) {
		g->tensors = grow(g->tensors, i, g->n_tensors, sizeof *g->tensors, &cap);
		struct gguf_tensor *t = &g->tensors[i];
		struct gguf_str name;
		uint32_t type;
		uint64_t n = 1;

		snprintf(c->where, sizeof c->where, "tensor %llu of %llu", (unsigned long long)i,
			 (unsigned long long)g->n_tensors);
		if (!rd_str(c, &name))
			return false;
		if (name.len == 0)
			FAIL(c, "empty tensor name");
		if (name.len > GGUF_MAX_NAME)
			FAIL(c, "tensor name of %llu bytes is over the %d-byte limit", (unsigned long long)name.len, GGUF_MAX_NAME);
		if (memchr(name.s, 0, name.len))
			FAIL(c, "tensor name contains a NUL byte");
		memcpy(t->name, name.s, name.len);
		t->name[name.len] = 0;
		snprintf(c->where, sizeof c->where, "tensor '%s'", shown(kb, sizeof kb, t->name, strlen(t->name)));
		if (!rd_u32(c, &t->n_dims))
			return false;
		if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS)
			FAIL(c, "%u dimensions (must be 1 to %d)", t->n_dims, GGUF_MAX_DIMS);
		for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
			t->ne[d] = 1;
			if (d < t->n_dims && !rd_u64(c, &t->ne[d]))
				return false;
			if (t->ne[d] == 0)
				FAIL(c, "dimension %u is zero", d);
			if (t->ne[d] > INT64_MAX || !mul_ok(n, t->ne[d], &n) || n > INT64_MAX)
				FAIL(c, "dimensions overflow (product past 2^63)");
		}
		if (!rd_u32(c, &type))
			return false;
		t->type = type;
		if (!ggml_block_size(t->type))
			FAIL(c, "unknown tensor type %u", type);
		if (t->ne[0] % ggml_block_size(t->type))
			FAIL(c, "row of %llu elements is not a multiple of the %s block size %u",
			     (unsigned long long)t->ne[0], ggml_type_name(t->type), ggml_block_size(t->type));
		/* the element count fits in 2^63, the bytes may not (found by fuzzing:
		 * 2^62 F32 elements made a row of 2^64 = 0 bytes) */
		if (!mul_ok(t->ne[0] / ggml_block_size(t->type), ggml_type_size(t->type), &t->row_bytes) ||
		    !mul_ok(t->row_bytes, n / t->ne[0], &t->nbytes))
			FAIL(c, "byte size overflows");
		if (!rd_u64(c, &t->offset))
			return false;
	}
	c->where[0] = 0;

	g->tensor_sorted = xcalloc(g->n_tensors, sizeof *g->tensor_sorted);
	for (i = 0; i < g->n_tensors; i++)
		g->tensor_sorted[i] = &g->tensors[i];
	qsort(g->tensor_sorted, g->n_tensors, sizeof *g->tensor_sorted, cmp_tensor);
	for (i = 1; i < g->n_tensors; i++)
		if (strcmp(g->tensor_sorted[i - 1]->name, g->tensor_sorted[i]->name) == 0)
			FAIL(c, "duplicate tensor name '%s'",
			     shown(kb, sizeof kb, g->tensor_sorted[i]->name, strlen(g->tensor_sorted[i]->name)));

	/* data section */
	uint64_t a = g->alignment, start = c->pos;
	if (start % a && (start += a - start % a) > c->size && g->n_tensors && !c->header_only)
		FAIL(c, "file cut short: data section would start at byte %llu, past the end (%llu)",
		     (unsigned long long)start, (unsigned long long)c->size);
	g->data_offset = start;
	uint64_t avail = c->size >= start ? c->size - start : 0, end_prev = 0;
	for (i = 0; i < g->n_tensors; i++) {
		struct gguf_tensor *t = &g->tensors[i];
		snprintf(c->where, sizeof c->where, "tensor '%s'", shown(kb, sizeof kb, t->name, strlen(t->name)));
		if (t->offset % a)
			FAIL(c, "data offset %llu is not a multiple of the alignment %u",
			     (unsigned long long)t->offset, g->alignment);
		if (i > 0 && t->offset < g->tensors[i - 1].offset)
			FAIL(c, "data offset %llu is out of order (the previous tensor starts at %llu)",
			     (unsigned long long)t->offset, (unsigned long long)g->tensors[i - 1].offset);
		if (t->offset < end_prev)
			FAIL(c, "data offset %llu overlaps the previous tensor (which ends at %llu)",
			     (unsigned long long)t->offset, (unsigned long long)end_prev);
		if (c->header_only) {
			if (__builtin_add_overflow(t->offset, t->nbytes, &end_prev))
				FAIL(c, "data (offset %llu, %llu bytes) overflows", (unsigned long long)t->offset,
				     (unsigned long long)t->nbytes);
			continue;
		}
		if (t->offset > avail || t->nbytes > avail - t->offset)
			FAIL(c, "data (offset %llu, %llu bytes) runs past the end of the file (cut short? %llu bytes of data)",
			     (unsigned long long)t->offset, (unsigned long long)t->nbytes, (unsigned long long)avail);
		end_prev = t->offset + t->nbytes;
		t->data = c->base + start + t->offset;
	}
	c->where[0] = 0;
	return true;
}

static struct gguf *open_mem(const void *buf, size_t size, const char *name, bool header_only, struct lmu_err *e)
{
	struct gguf *g = xcalloc(1, sizeof *g);
	struct cur c = {.base = buf, .size = size, .e = e, .name = name, .header_only = header_only};

	g->path = xstrdup(name);
	g->map = buf;
	g->size = size;
	if (!parse(g, &c)) {
		gguf_close(g);
		return NULL;
	}
	return g;
}

struct gguf *gguf_open_mem(const void *buf, size_t size, const char *name, struct lmu_err *e)
{
	return open_mem(buf, size, name, false, e);
}

struct gguf *gguf_open_header(void *buf, size_t size, const char *name, void (*release)(void *), void *owner,
			      struct lmu_err *e)
{
	struct gguf *g = open_mem(buf, size, name, true, e);
	if (!g) {
		free(buf);
		if (release)
			release(owner);
		return NULL;
	}
	g->header = buf;
	g->release = release;
	g->owner = owner;
	return g;
}

struct gguf *gguf_open(const char *path, struct lmu_err *e)
{
	void *map;
	size_t size;
	struct gguf *g;

	if (!map_file(path, &map, &size, e))
		return NULL;
	g = gguf_open_mem(map, size, path, e);
	if (!g) {
		unmap_file(map, size);
		return NULL;
	}
	g->mapped = map != NULL;
	return g;
}

struct gguf *gguf_open_or_die(const char *path)
{
	struct lmu_err e = {{0}};
	struct gguf *g = gguf_open(path, &e);
	if (!g)
		die("%s", e.msg);
	return g;
}

void gguf_close(struct gguf *g)
{
	if (!g)
		return;
	if (g->mapped)
		unmap_file((void *)g->map, g->size);
	if (g->release)
		g->release(g->owner);
	free(g->header);
	free(g->kv);
	free(g->kv_sorted);
	free(g->tensors);
	free(g->tensor_sorted);
	free(g->path);
	free(g);
}

/* ---- lookup ---- */

const struct gguf_kv *gguf_find(const struct gguf *g, const char *key)
{
	struct gguf_kv probe = {.key = {key, strlen(key)}}, *pp = &probe, **r;
	if (!g->n_kv)
		return NULL;
	r = bsearch(&pp, g->kv_sorted, g->n_kv, sizeof *g->kv_sorted, cmp_kv);
	return r ? *r : NULL;
}

const struct gguf_tensor *gguf_tensor(const struct gguf *g, const char *name)
{
	struct gguf_tensor probe, *pp = &probe, **r;
	if (!g->n_tensors || strlen(name) > GGUF_MAX_NAME)
		return NULL;
	strcpy(probe.name, name);
	r = bsearch(&pp, g->tensor_sorted, g->n_tensors, sizeof *g->tensor_sorted, cmp_tensor);
	return r ? *r : NULL;
}

/* ---- typed access ---- */

static bool load_i64(enum gguf_vtype t, const uint8_t *p, int64_t *out)
{
	switch (t) {
	case GGUF_UINT8: *out = p[0]; return true;
	case GGUF_INT8: *out = (int8_t)p[0]; return true;
	case GGUF_UINT16: *out = (uint16_t)get_le(p, 2); return true;
	case GGUF_INT16: *out = (int16_t)get_le(p, 2); return true;
	case GGUF_UINT32: *out = (uint32_t)get_le(p, 4); return true;
	case GGUF_INT32: *out = (int32_t)get_le(p, 4); return true;
	case GGUF_UINT64: {
		uint64_t u = get_le(p, 8);
		if (u > INT64_MAX)
			return false;
		*out = (int64_t)u;
		return true;
	}
	case GGUF_INT64: *out = (int64_t)get_le(p, 8); return true;
	default: return false;
	}
}

static bool load_f64(enum gguf_vtype t, const uint8_t *p, double *out)
{
	int64_t i;
	if (t == GGUF_FLOAT32) {
		uint32_t u = (uint32_t)get_le(p, 4);
		float f;
		memcpy(&f, &u, 4);
		*out = f;
		return true;
	}
	if (t == GGUF_FLOAT64) {
		uint64_t u = get_le(p, 8);
		memcpy(out, &u, 8);
		return true;
	}
	if (load_i64(t, p, &i)) {
		*out = (double)i;
		return true;
	}
	return false;
}

bool gguf_val_i64(const struct gguf_value *v, int64_t *out)
{
	return load_i64(v->type, v->p, out);
}

bool gguf_val_f64(const struct gguf_value *v, double *out)
{
	return load_f64(v->type, v->p, out);
}

bool gguf_arr_i64(const struct gguf_value *a, uint64_t i, int64_t *out)
{
	if (a->type != GGUF_ARRAY || i >= a->count || !vtype_size[a->elem])
		return false;
	return load_i64(a->elem, a->p + i * vtype_size[a->elem], out);
}

bool gguf_arr_f64(const struct gguf_value *a, uint64_t i, double *out)
{
	if (a->type != GGUF_ARRAY || i >= a->count || !vtype_size[a->elem])
		return false;
	return load_f64(a->elem, a->p + i * vtype_size[a->elem], out);
}

int gguf_get_i64(const struct gguf *g, const char *key, int64_t *out)
{
	const struct gguf_kv *kv = gguf_find(g, key);
	if (!kv)
		return 0;
	return load_i64(kv->val.type, kv->val.p, out) ? 1 : -1;
}

int gguf_get_u64(const struct gguf *g, const char *key, uint64_t *out)
{
	const struct gguf_kv *kv = gguf_find(g, key);
	int64_t v;
	if (!kv)
		return 0;
	if (kv->val.type == GGUF_UINT64) {
		*out = get_le(kv->val.p, 8);
		return 1;
	}
	if (!load_i64(kv->val.type, kv->val.p, &v) || v < 0)
		return -1;
	*out = (uint64_t)v;
	return 1;
}

int gguf_get_u32(const struct gguf *g, const char *key, uint32_t *out)
{
	uint64_t v;
	int r = gguf_get_u64(g, key, &v);
	if (r != 1)
		return r;
	if (v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 1;
}

int gguf_get_f64(const struct gguf *g, const char *key, double *out)
{
	const struct gguf_kv *kv = gguf_find(g, key);
	if (!kv)
		return 0;
	return load_f64(kv->val.type, kv->val.p, out) ? 1 : -1;
}

int gguf_get_bool(const struct gguf *g, const char *key, bool *out)
{
	const struct gguf_kv *kv = gguf_find(g, key);
	if (!kv)
		return 0;
	if (kv->val.type != GGUF_BOOL)
		return -1;
	*out = kv->val.p[0] != 0;
	return 1;
}

int gguf_get_str(const struct gguf *g, const char *key, struct gguf_str *out)
{
	const struct gguf_kv *kv = gguf_find(g, key);
	if (!kv)
		return 0;
	if (kv->val.type != GGUF_STRING)
		return -1;
	out->s = (const char *)kv->val.p;
	out->len = kv->val.size;
	return 1;
}

char *gguf_get_strdup(const struct gguf *g, const char *key)
{
	struct gguf_str s;
	char *r;
	if (gguf_get_str(g, key, &s) != 1)
		return NULL;
	r = xmalloc(s.len + 1);
	memcpy(r, s.s, s.len);
	r[s.len] = 0;
	return r;
}

int gguf_get_arr(const struct gguf *g, const char *key, enum gguf_vtype elem, struct gguf_value *out)
{
	const struct gguf_kv *kv = gguf_find(g, key);
	if (!kv)
		return 0;
	if (kv->val.type != GGUF_ARRAY || (elem != GGUF_NVTYPES && kv->val.elem != elem))
		return -1;
	*out = kv->val;
	return 1;
}

void gguf_str_iter_init(struct gguf_str_iter *it, const struct gguf_value *a)
{
	it->p = a->p;
	it->left = a->type == GGUF_ARRAY && a->elem == GGUF_STRING ? a->count : 0;
}

bool gguf_str_iter_next(struct gguf_str_iter *it, struct gguf_str *out)
{
	if (!it->left)
		return false;
	out->len = get_le(it->p, 8);
	out->s = (const char *)it->p + 8;
	it->p += 8 + out->len;
	it->left--;
	return true;
}

void gguf_value_format(const struct gguf_value *v, char *buf, size_t len)
{
	int64_t i;
	double f;

	if (v->type == GGUF_STRING) {
		size_t n = v->size > 60 ? 60 : (size_t)v->size, o = 0;
		o += snprintf(buf, len, "\"");
		for (size_t k = 0; k < n && o + 5 < len; k++) {
			unsigned char ch = v->p[k];
			if (ch == '\n')
				o += snprintf(buf + o, len - o, "\\n");
			else if (ch < 32 || ch == 127)
				o += snprintf(buf + o, len - o, "\\x%02x", ch);
			else
				buf[o++] = (char)ch, buf[o] = 0;
		}
		snprintf(buf + o, len - o, "\"%s", v->size > 60 ? "..." : "");
	} else if (v->type == GGUF_ARRAY) {
		snprintf(buf, len, "[%s x %llu]", gguf_vtype_name(v->elem), (unsigned long long)v->count);
	} else if (v->type == GGUF_BOOL) {
		snprintf(buf, len, "%s", v->p[0] ? "true" : "false");
	} else if (v->type == GGUF_FLOAT32 || v->type == GGUF_FLOAT64) {
		load_f64(v->type, v->p, &f);
		snprintf(buf, len, "%.9g", f);
	} else if (v->type == GGUF_UINT64) {
		snprintf(buf, len, "%llu", (unsigned long long)get_le(v->p, 8));
	} else if (load_i64(v->type, v->p, &i)) {
		snprintf(buf, len, "%lld", (long long)i);
	} else {
		snprintf(buf, len, "?");
	}
}
