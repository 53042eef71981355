/* safetensors.c - safetensors reader.  See safetensors.h and doc/formats.md "safetensors".
 *
 * The checks of the two formats, built on the strict JSON scanner of
 * json.h: the header of a .safetensors file and the weight_map of
 * model.safetensors.index.json. */
#include "safetensors.h"
#include "mapfile.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "jsonfile.h"
#include "modelpath.h"
#include "le.h"

struct dtype_info {
	const char *name;
	uint8_t bits;
	enum ggml_type ggml;
};

static const struct dtype_info dtypes[ST_NDTYPES] = {
	[ST_BOOL] = {"BOOL", 8, GGML_NTYPES},
	[ST_U8] = {"U8", 8, GGML_NTYPES},
	[ST_I8] = {"I8", 8, GGML_I8},
	[ST_I16] = {"I16", 16, GGML_I16},
	[ST_U16] = {"U16", 16, GGML_NTYPES},
	[ST_I32] = {"I32", 32, GGML_I32},
	[ST_U32] = {"U32", 32, GGML_NTYPES},
	[ST_I64] = {"I64", 64, GGML_I64},
	[ST_U64] = {"U64", 64, GGML_NTYPES},
	[ST_F16] = {"F16", 16, GGML_F16},
	[ST_BF16] = {"BF16", 16, GGML_BF16},
	[ST_F32] = {"F32", 32, GGML_F32},
	[ST_F64] = {"F64", 64, GGML_F64},
	[ST_C64] = {"C64", 64, GGML_NTYPES},
	[ST_F8_E4M3] = {"F8_E4M3", 8, GGML_NTYPES},
	[ST_F8_E5M2] = {"F8_E5M2", 8, GGML_NTYPES},
	[ST_F8_E4M3FNUZ] = {"F8_E4M3FNUZ", 8, GGML_NTYPES},
	[ST_F8_E5M2FNUZ] = {"F8_E5M2FNUZ", 8, GGML_NTYPES},
	[ST_F8_E8M0] = {"F8_E8M0", 8, GGML_NTYPES},
	[ST_F6_E2M3] = {"F6_E2M3", 6, GGML_NTYPES},
	[ST_F6_E3M2] = {"F6_E3M2", 6, GGML_NTYPES},
	[ST_F4] = {"F4", 4, GGML_NTYPES},
};

const char *st_dtype_name(enum st_dtype t)
{
	return (unsigned)t < ST_NDTYPES ? dtypes[t].name : "unknown";
}

unsigned st_dtype_bits(enum st_dtype t)
{
	return (unsigned)t < ST_NDTYPES ? dtypes[t].bits : 0;
}

enum ggml_type st_dtype_ggml(enum st_dtype t)
{
	return (unsigned)t < ST_NDTYPES ? dtypes[t].ggml : GGML_NTYPES;
}

/* A name fit for a message: at most 80 bytes, control and non-ASCII bytes
 * shown as '?', so a hostile name cannot drive the terminal. */
static const char *shown(char *buf, size_t cap, const char *s)
{
	size_t n = strlen(s), i;
	size_t m = n < 80 && n < cap - 4 ? n : (cap - 4 < 80 ? cap - 4 : 80);
	for (i = 0; i < m; i++)
		buf[i] = s[i] >= 32 && s[i] < 127 ? s[i] : '?';
	strcpy(buf + i, m < n ? "..." : "");
	return buf;
}

static bool mul_ok(uint64_t a, uint64_t b, uint64_t *r)
{
	return !__builtin_mul_overflow(a, b, r);
}

/* ---- one file ---- */

/* The growable arrays of a reader being built. */
struct build {
	struct safetensors *st;
	uint64_t cap_t;
};

static struct st_tensor *new_tensor(struct build *b)
{
	struct safetensors *st = b->st;
	if (st->n_tensors == b->cap_t) {
		b->cap_t = b->cap_t ? 2 * b->cap_t : 64;
		st->tensors = xreallocarray(st->tensors, (size_t)b->cap_t, sizeof *st->tensors);
	}
	struct st_tensor *t = &st->tensors[st->n_tensors++];
	memset(t, 0, sizeof *t);
	return t;
}

static bool parse_dtype(struct js *j, const struct jstr *s, size_t at, enum st_dtype *out)
{
	for (int k = 0; k < ST_NDTYPES; k++)
		if (strcmp(s->s, dtypes[k].name) == 0 && strlen(dtypes[k].name) == s->len) {
			*out = (enum st_dtype)k;
			return true;
		}
	char b[96];
	return js_fail(j, at, "unknown dtype '%s'", shown(b, sizeof b, s->s));
}

/* One tensor entry {"dtype", "shape", "data_offsets"} after its name. */
static bool parse_entry(struct js *j, struct st_tensor *t, uint64_t *begin, uint64_t *end)
{
	struct jstr key = {0}, val = {0};
	bool have_dtype = false, have_shape = false, have_offsets = false, ok = false, first = true;
	char nb[96];
	size_t at;
	int r;

	if (!js_expect(j, '{', "'{' opening the tensor's entry"))
		goto out;
	if (js_peek(j, '}')) {
		js_fail(j, j->i, "tensor '%s': no dtype, shape or data_offsets", shown(nb, sizeof nb, t->name));
		goto out;
	}
	while ((r = js_member(j, &first, &key, &at, "',' or '}' in the tensor's entry")) > 0) {
		js_ws(j);
		if (strcmp(key.s, "dtype") == 0 && key.len == 5) {
			if (have_dtype) {
				js_fail(j, at, "tensor '%s': dtype given twice", shown(nb, sizeof nb, t->name));
				goto out;
			}
			have_dtype = true;
			size_t vat = j->i;
			if (!js_string(j, &val) || !parse_dtype(j, &val, vat, &t->dtype))
				goto out;
		} else if (strcmp(key.s, "shape") == 0 && key.len == 5) {
			if (have_shape) {
				js_fail(j, at, "tensor '%s': shape given twice", shown(nb, sizeof nb, t->name));
				goto out;
			}
			have_shape = true;
			if (!js_expect(j, '[', "'[' opening the shape"))
				goto out;
			t->n_dims = 0;
			bool first_dim = true;
			while ((r = js_next(j, &first_dim, ']', "',' or ']' in the shape")) > 0) {
				js_ws(j);
				if (t->n_dims == ST_MAX_DIMS) {
					js_fail(j, j->i, "tensor '%s': more than %d dimensions", shown(nb, sizeof nb, t->name),
						ST_MAX_DIMS);
					goto out;
				}
				if (!js_uint(j, &t->shape[t->n_dims++], "a dimension"))
					goto out;
			}
			if (r < 0)
				goto out;
		} else if (strcmp(key.s, "data_offsets") == 0 && key.len == 12) {
			if (have_offsets) {
				js_fail(j, at, "tensor '%s': data_offsets given twice", shown(nb, sizeof nb, t->name));
				goto out;
			}
			have_offsets = true;
			if (!js_expect(j, '[', "'[' opening data_offsets") || !js_uint(j, begin, "the begin offset") ||
			    !js_expect(j, ',', "',' in data_offsets") || !js_uint(j, end, "the end offset") ||
			    !js_expect(j, ']', "']' closing data_offsets (exactly two offsets)"))
				goto out;
		} else {
			js_fail(j, at, "tensor '%s': unknown field '%s'", shown(nb, sizeof nb, t->name),
				shown((char[96]){0}, 96, key.s));
			goto out;
		}
	}
	if (r < 0)
		goto out;
	if (!have_dtype || !have_shape || !have_offsets) {
		js_fail(j, j->i - 1, "tensor '%s': no %s", shown(nb, sizeof nb, t->name),
			!have_dtype ? "dtype" : !have_shape ? "shape" : "data_offsets");
		goto out;
	}
	ok = true;
out:
	free(key.s);
	free(val.s);
	return ok;
}

/* __metadata__: {string: string, ...} or null. */
static bool parse_meta(struct js *j, struct st_shard *sh)
{
	struct jstr k = {0}, v = {0};
	uint32_t cap = 0;
	bool ok = false, first = true;
	int r;

	js_ws(j);
	if (j->n - j->i >= 4 && memcmp(j->p + j->i, "null", 4) == 0) {
		j->i += 4;
		return true;
	}
	if (!js_expect(j, '{', "'{' opening __metadata__ (a map of strings)"))
		return false;
	while ((r = js_member(j, &first, &k, NULL, "',' or '}' in __metadata__")) > 0) {
		js_ws(j);
		if (j->i < j->n && j->p[j->i] != '"') {
			js_fail(j, j->i, "__metadata__ value of '%s' is not a string", shown((char[96]){0}, 96, k.s));
			goto out;
		}
		if (!js_string(j, &v))
			goto out;
		for (uint32_t m = 0; m < sh->n_meta; m++)
			if (strcmp(sh->meta[m].key, k.s) == 0) {
				js_fail(j, j->i, "__metadata__ key '%s' given twice", shown((char[96]){0}, 96, k.s));
				goto out;
			}
		if (sh->n_meta == cap) {
			cap = cap ? 2 * cap : 8;
			sh->meta = xreallocarray(sh->meta, cap, sizeof *sh->meta);
		}
		sh->meta[sh->n_meta].key = xstrdup(k.s);
		sh->meta[sh->n_meta++].value = xstrdup(v.s);
	}
	ok = r == 0;
out:
	free(k.s);
	free(v.s);
	return ok;
}

static int cmp_begin(const void *a, const void *b)
{
	const struct st_tensor *x = *(struct st_tensor *const *)a, *y = *(struct st_tensor *const *)b;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp((*(struct st_tensor *const *)a)->name, (*(struct st_tensor *const *)b)->name);
}

/* Parse and check shard number si (its map set) and add its tensors. */
static bool parse_file(struct build *b, uint32_t si, struct lmu_err *e)
{
	struct st_shard *sh = &b->st->shards[si];
	const char *name = sh->path;
	uint64_t size = sh->size, hlen = 0, first = b->st->n_tensors;
	struct jstr key = {0};
	bool ok = false, have_meta = false, first_key = true;
	char nb[96];
	size_t at;
	int r;

	if (size == 0) {
		err_set(e, "%s: empty file", name);
		return false;
	}
	if (size < 8) {
		err_set(e, "%s: file cut short: %llu bytes, too small for a safetensors header", name, (unsigned long long)size);
		return false;
	}
	hlen = get_le(sh->map, 8);
	if (memcmp(sh->map, "GGUF", 4) == 0) {
		err_set(e, "%s: a GGUF file, not safetensors", name);
		return false;
	}
	if (hlen < 2) {
		err_set(e, "%s: header length %llu is too small for a JSON object", name, (unsigned long long)hlen);
		return false;
	}
	if (hlen > ST_MAX_HEADER) {
		err_set(e, "%s: header length %llu is over the %u-byte limit (not a safetensors file?)", name,
			(unsigned long long)hlen, ST_MAX_HEADER);
		return false;
	}
	if (hlen > size - 8) {
		err_set(e, "%s: header of %llu bytes runs past the end of the file (%llu bytes): cut short?", name,
			(unsigned long long)hlen, (unsigned long long)size);
		return false;
	}
	sh->data_start = 8 + hlen;
	struct js j = {.p = sh->map + 8, .n = (size_t)hlen, .base = 8, .name = name, .part = "header byte", .e = e};
	if (j.p[0] != '{') {
		js_fail(&j, 0, "the header does not start with '{' (not a safetensors file?)");
		return false;
	}
	j.i = 1;
	while ((r = js_member(&j, &first_key, &key, &at, "',' or '}' after a header entry")) > 0) {
		if (key.len == 12 && strcmp(key.s, "__metadata__") == 0) {
			if (have_meta) {
				js_fail(&j, at, "__metadata__ given twice");
				goto out;
			}
			have_meta = true;
			if (!parse_meta(&j, sh))
				goto out;
		} else {
			uint64_t begin, end, bits;
			struct st_tensor *t = new_tensor(b);
			t->name = xstrdup(key.s);
			t->shard = si;
			if (key.len == 0) {
				js_fail(&j, at, "empty tensor name");
				goto out;
			}
			if (key.nul) {
				js_fail(&j, at, "tensor name contains U+0000");
				goto out;
			}
			if (key.len > ST_MAX_NAME) {
				js_fail(&j, at, "tensor name of %zu bytes is over the %d-byte limit", key.len, ST_MAX_NAME);
				goto out;
			}
			if (!parse_entry(&j, t, &begin, &end))
				goto out;
			t->n_elem = 1;
			for (uint32_t d = 0; d < t->n_dims; d++)
				if (!mul_ok(t->n_elem, t->shape[d], &t->n_elem)) {
					js_fail(&j, at, "tensor '%s': the shape's element count overflows 2^64",
						shown(nb, sizeof nb, t->name));
					goto out;
				}
			bits = st_dtype_bits(t->dtype);
			if (!mul_ok(t->n_elem, bits, &t->nbytes)) {
				js_fail(&j, at, "tensor '%s': the byte size overflows 2^64", shown(nb, sizeof nb, t->name));
				goto out;
			}
			if (t->nbytes % 8) {
				js_fail(&j, at, "tensor '%s': %llu elements of %s (%llu bits each) are not a whole number of bytes",
					shown(nb, sizeof nb, t->name), (unsigned long long)t->n_elem,
					st_dtype_name(t->dtype), (unsigned long long)bits);
				goto out;
			}
			t->nbytes /= 8;
			if (end < begin) {
				js_fail(&j, at, "tensor '%s': data_offsets [%llu, %llu] end before they begin",
					shown(nb, sizeof nb, t->name), (unsigned long long)begin, (unsigned long long)end);
				goto out;
			}
			if (end - begin != t->nbytes) {
				char shape[160] = "";
				for (uint32_t d = 0, o = 0; d < t->n_dims && o < sizeof shape - 24; d++)
					o += (uint32_t)snprintf(shape + o, sizeof shape - o, "%s%llu", d ? ", " : "",
								(unsigned long long)t->shape[d]);
				js_fail(&j, at, "tensor '%s': data_offsets [%llu, %llu] hold %llu bytes, but %s [%s] needs %llu",
					shown(nb, sizeof nb, t->name), (unsigned long long)begin, (unsigned long long)end,
					(unsigned long long)(end - begin), st_dtype_name(t->dtype), shape,
					(unsigned long long)t->nbytes);
				goto out;
			}
			t->offset = begin;  /* relative for now */
		}
	}
	if (r < 0)
		goto out;
	if (!js_end(&j))
		goto out;

	/* The data buffer: every byte covered once, in order of offsets. */
	uint64_t n = b->st->n_tensors - first, avail = size - sh->data_start, pos = 0;
	struct st_tensor **order = xcalloc(n, sizeof *order);
	for (uint64_t k = 0; k < n; k++)
		order[k] = &b->st->tensors[first + k];
	qsort(order, n, sizeof *order, cmp_begin);
	for (uint64_t k = 0; k < n; k++) {
		struct st_tensor *t = order[k];
		if (t->offset > pos) {
			err_set(e, "%s: tensor '%s': data begins at %llu, leaving %llu bytes unused after %s%s%s (gaps are not allowed)",
				name, shown(nb, sizeof nb, t->name), (unsigned long long)t->offset,
				(unsigned long long)(t->offset - pos), k ? "tensor '" : "the header",
				k ? shown((char[96]){0}, 96, order[k - 1]->name) : "", k ? "'" : "");
			free(order);
			goto out;
		}
		if (t->offset < pos) {
			err_set(e, "%s: tensor '%s': data [%llu, %llu) overlaps tensor '%s', which ends at %llu", name,
				shown(nb, sizeof nb, t->name), (unsigned long long)t->offset,
				(unsigned long long)(t->offset + t->nbytes), shown((char[96]){0}, 96, order[k - 1]->name),
				(unsigned long long)pos);
			free(order);
			goto out;
		}
		if (t->nbytes > avail - t->offset) {
			err_set(e, "%s: tensor '%s': data [%llu, %llu) runs past the end of the file (%llu bytes of data): cut short?",
				name, shown(nb, sizeof nb, t->name), (unsigned long long)t->offset,
				(unsigned long long)t->offset + t->nbytes, (unsigned long long)avail);
			free(order);
			goto out;
		}
		pos = t->offset + t->nbytes;
	}
	free(order);
	if (pos != avail) {
		err_set(e, "%s: %llu bytes after the last tensor's data (at %llu) that no tensor covers", name,
			(unsigned long long)(avail - pos), (unsigned long long)(sh->data_start + pos));
		goto out;
	}
	for (uint64_t k = first; k < b->st->n_tensors; k++) {
		struct st_tensor *t = &b->st->tensors[k];
		t->offset += sh->data_start;
		t->data = sh->map + t->offset;
	}
	ok = true;
out:
	free(key.s);
	return ok;
}

/* Sort the tensors by name; refuse a name given twice. */
static bool index_names(struct safetensors *st, struct lmu_err *e)
{
	char nb[96];
	st->sorted = xcalloc(st->n_tensors, sizeof *st->sorted);
	for (uint64_t k = 0; k < st->n_tensors; k++)
		st->sorted[k] = &st->tensors[k];
	qsort(st->sorted, st->n_tensors, sizeof *st->sorted, cmp_name);
	for (uint64_t k = 1; k < st->n_tensors; k++)
		if (strcmp(st->sorted[k - 1]->name, st->sorted[k]->name) == 0) {
			const struct st_tensor *a = st->sorted[k - 1], *b = st->sorted[k];
			if (a->shard == b->shard)
				err_set(e, "%s: tensor '%s' given twice", st->shards[a->shard].path,
					shown(nb, sizeof nb, a->name));
			else
				err_set(e, "%s: tensor '%s' is in two shards, %s and %s", st->path, shown(nb, sizeof nb, a->name),
					st->shards[a->shard].path, st->shards[b->shard].path);
			return false;
		}
	return true;
}

static struct safetensors *st_new(const char *path, uint32_t n_shards)
{
	struct safetensors *st = xcalloc(1, sizeof *st);
	st->path = xstrdup(path);
	st->n_shards = n_shards;
	st->shards = xcalloc(n_shards, sizeof *st->shards);
	return st;
}

struct safetensors *st_open_mem(const void *buf, size_t size, const char *name, struct lmu_err *e)
{
	struct safetensors *st = st_new(name, 1);
	struct build b = {.st = st};

	st->shards[0].path = xstrdup(name);
	st->shards[0].map = buf;
	st->shards[0].size = size;
	if (!parse_file(&b, 0, e) || !index_names(st, e)) {
		st_close(st);
		return NULL;
	}
	return st;
}

/* Map path into sh (a regular file). */
static bool map_shard(struct st_shard *sh, const char *path, struct lmu_err *e)
{
	void *map;
	size_t size;

	sh->path = xstrdup(path);
	if (!map_file(path, &map, &size, e))
		return false;
	sh->map = map;
	sh->mapped = map != NULL;
	sh->size = size;
	return true;
}

struct safetensors *st_open(const char *path, struct lmu_err *e)
{
	struct safetensors *st = st_new(path, 1);
	struct build b = {.st = st};

	if (!map_shard(&st->shards[0], path, e) || !parse_file(&b, 0, e) || !index_names(st, e)) {
		st_close(st);
		return NULL;
	}
	return st;
}

void st_close(struct safetensors *st)
{
	if (!st)
		return;
	for (uint32_t s = 0; s < st->n_shards; s++) {
		struct st_shard *sh = &st->shards[s];
		if (sh->mapped)
			unmap_file((void *)sh->map, (size_t)sh->size);
		for (uint32_t m = 0; m < sh->n_meta; m++) {
			free(sh->meta[m].key);
			free(sh->meta[m].value);
		}
		free(sh->meta);
		free(sh->path);
	}
	for (uint64_t k = 0; k < st->n_tensors; k++)
		free(st->tensors[k].name);
	free(st->tensors);
	free(st->sorted);
	free(st->shards);
	free(st->path);
	free(st);
}

const struct st_tensor *st_find(const struct safetensors *st, const char *name)
{
	struct st_tensor probe = {.name = (char *)name}, *pp = &probe, **r;
	if (!st->n_tensors)
		return NULL;
	r = bsearch(&pp, st->sorted, st->n_tensors, sizeof *st->sorted, cmp_name);
	return r ? *r : NULL;
}

const char *st_meta(const struct safetensors *st, const char *key)
{
	for (uint32_t s = 0; s < st->n_shards; s++)
		for (uint32_t m = 0; m < st->shards[s].n_meta; m++)
			if (strcmp(st->shards[s].meta[m].key, key) == 0)
				return st->shards[s].meta[m].value;
	return NULL;
}

/* ---- the index ---- */

void st_index_free(struct st_index *ix)
{
	for (uint64_t k = 0; k < ix->n; k++) {
		free(ix->tensor[k]);
		free(ix->shard[k]);
	}
	free(ix->tensor);
	free(ix->shard);
	memset(ix, 0, sizeof *ix);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(**(char **const *)a, **(char **const *)b);
}

bool st_index_parse(const void *buf, size_t size, const char *name, struct st_index *ix, struct lmu_err *e)
{
	struct js j = {.p = buf, .n = size, .name = name, .part = "byte", .e = e};
	struct jstr key = {0}, val = {0};
	bool have_map = false, ok = false, first = true, first_entry = true;
	uint64_t cap = 0;
	char nb[96];
	size_t at;
	int r;

	memset(ix, 0, sizeof *ix);
	if (size == 0) {
		err_set(e, "%s: empty file", name);
		return false;
	}
	if (!js_expect(&j, '{', "'{' opening the index"))
		goto out;
	while ((r = js_member(&j, &first, &key, &at, "',' or '}' in the index")) > 0) {
		if (key.len == 10 && strcmp(key.s, "weight_map") == 0) {
			if (have_map) {
				js_fail(&j, at, "weight_map given twice");
				goto out;
			}
			have_map = true;
			if (!js_expect(&j, '{', "'{' opening weight_map"))
				goto out;
			while ((r = js_member(&j, &first_entry, &key, &at, "',' or '}' in weight_map")) > 0) {
				if (key.len == 0 || key.nul || key.len > ST_MAX_NAME) {
					js_fail(&j, at, key.len ? "tensor name too long or holding U+0000" : "empty tensor name");
					goto out;
				}
				js_ws(&j);
				size_t vat = j.i;
				if (j.i < j.n && j.p[j.i] != '"') {
					js_fail(&j, vat, "tensor '%s': the shard is not a string", shown(nb, sizeof nb, key.s));
					goto out;
				}
				if (!js_string(&j, &val))
					goto out;
				if (val.nul || !hf_safe_relpath(val.s)) {
					js_fail(&j, vat, "tensor '%s': shard name '%s' is not a plain relative path inside the directory",
						shown(nb, sizeof nb, key.s), shown((char[96]){0}, 96, val.s));
					goto out;
				}
				if (ix->n == cap) {
					cap = cap ? 2 * cap : 256;
					ix->tensor = xreallocarray(ix->tensor, (size_t)cap, sizeof *ix->tensor);
					ix->shard = xreallocarray(ix->shard, (size_t)cap, sizeof *ix->shard);
				}
				ix->tensor[ix->n] = xstrdup(key.s);
				ix->shard[ix->n++] = xstrdup(val.s);
			}
			if (r < 0)
				goto out;
		} else if (!js_skip(&j, 1)) {
			goto out;
		}
	}
	if (r < 0)
		goto out;
	if (!js_end(&j))
		goto out;
	if (!have_map) {
		err_set(e, "%s: no weight_map", name);
		goto out;
	}
	if (ix->n == 0) {
		err_set(e, "%s: weight_map is empty", name);
		goto out;
	}
	{
		char ***byname = xcalloc(ix->n, sizeof *byname);
		for (uint64_t k = 0; k < ix->n; k++)
			byname[k] = &ix->tensor[k];
		qsort(byname, ix->n, sizeof *byname, cmp_str);
		for (uint64_t k = 1; k < ix->n; k++)
			if (strcmp(*byname[k - 1], *byname[k]) == 0) {
				err_set(e, "%s: weight_map: tensor '%s' given twice", name, shown(nb, sizeof nb, *byname[k]));
				free(byname);
				goto out;
			}
		free(byname);
	}
	ok = true;
out:
	free(key.s);
	free(val.s);
	if (!ok)
		st_index_free(ix);
	return ok;
}

/* ---- directories ---- */

static char *join(const char *a, const char *b)
{
	char *p = xmalloc(strlen(a) + strlen(b) + 2);
	sprintf(p, "%s/%s", a, b);
	return p;
}

static bool under(const char *path, const char *root)
{
	size_t n = strlen(root);
	return root[0] && strncmp(path, root, n) == 0 && (path[n] == '/' || (n == 1 && root[0] == '/'));
}

/* The file NAME in DIR, where it may live: inside DIR once every link is
 * followed, or, when DIR is a Hugging Face cache snapshot
 * (.../snapshots/COMMIT), in the repo's blobs/ folder. */
static bool inside(const char *dir, const char *name, const char *shown_as, struct lmu_err *e)
{
	char *path = join(dir, name), *real = realpath(path, NULL), *rdir = NULL;
	bool ok = false;

	if (!real || !(rdir = realpath(dir, NULL))) {
		err_set(e, "%s: %s", real ? dir : path, strerror(errno));
		goto out;
	}
	if (under(real, rdir)) {
		ok = true;
		goto out;
	}
	char *slash = strrchr(rdir, '/');
	if (slash && slash > rdir) {
		*slash = 0;
		char *up = strrchr(rdir, '/');
		if (up && strcmp(up + 1, "snapshots") == 0) {
			strcpy(up + 1, "blobs");
			if (under(real, rdir)) {
				ok = true;
				goto out;
			}
		}
	}
	err_set(e, "%s: %s leads out of the model directory (to %s)", path, shown_as, real);
out:
	free(path);
	free(real);
	free(rdir);
	return ok;
}

struct safetensors *st_open_index(const char *path, struct lmu_err *e)
{
	struct st_index ix;
	struct safetensors *st = NULL;
	struct build b;
	size_t len;
	char *buf, *dir, *slash, nb[96];
	uint64_t k;
	char ***byshard = NULL, **shard_name = NULL;
	uint8_t *listed = NULL;

	if (!(buf = file_read(path, ST_MAX_INDEX, &len, e)))
		return NULL;
	bool parsed = st_index_parse(buf, len, path, &ix, e);
	free(buf);
	if (!parsed)
		return NULL;
	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir ? 1 : 0] = 0;
	else
		strcpy(dir, ".");

	/* the distinct shards, in order of their names */
	byshard = xcalloc(ix.n, sizeof *byshard);
	for (k = 0; k < ix.n; k++)
		byshard[k] = &ix.shard[k];
	qsort(byshard, ix.n, sizeof *byshard, cmp_str);
	uint32_t n_shards = 0;
	for (k = 0; k < ix.n; k++)
		if (k == 0 || strcmp(*byshard[k - 1], *byshard[k]) != 0)
			n_shards++;
	st = st_new(path, n_shards);
	shard_name = xcalloc(n_shards, sizeof *shard_name);
	b = (struct build){.st = st};
	n_shards = 0;
	for (k = 0; k < ix.n; k++) {
		if (k && strcmp(*byshard[k - 1], *byshard[k]) == 0)
			continue;
		shard_name[n_shards] = *byshard[k];
		char *sp = join(dir, *byshard[k]);
		struct st_shard *sh = &st->shards[n_shards];
		if (!inside(dir, *byshard[k], "the shard", e) || !map_shard(sh, sp, e) || !parse_file(&b, n_shards, e)) {
			if (!sh->path)
				sh->path = xstrdup(sp);
			free(sp);
			goto fail;
		}
		free(sp);
		n_shards++;
	}
	if (!index_names(st, e))
		goto fail;
	/* the index and the shards agree: each listed tensor in its shard,
	 * each tensor of a shard listed */
	listed = xcalloc(st->n_tensors ? st->n_tensors : 1, 1);
	for (k = 0; k < ix.n; k++) {
		const struct st_tensor *t = st_find(st, ix.tensor[k]);
		if (!t) {
			err_set(e, "%s: tensor '%s' is not in its shard %s", path, shown(nb, sizeof nb, ix.tensor[k]), ix.shard[k]);
			goto fail;
		}
		if (strcmp(shard_name[t->shard], ix.shard[k]) != 0) {
			err_set(e, "%s: tensor '%s' is listed in %s but found in %s", path, shown(nb, sizeof nb, ix.tensor[k]),
				ix.shard[k], st->shards[t->shard].path);
			goto fail;
		}
		listed[t - st->tensors] = 1;
	}
	for (k = 0; k < st->n_tensors; k++)
		if (!listed[k]) {
			err_set(e, "%s: tensor '%s' of %s is not in the index's weight_map", path,
				shown(nb, sizeof nb, st->tensors[k].name), st->shards[st->tensors[k].shard].path);
			goto fail;
		}
	free(listed);
	free(shard_name);
	free(byshard);
	free(dir);
	st_index_free(&ix);
	return st;
fail:
	free(listed);
	free(shard_name);
	free(byshard);
	free(dir);
	st_index_free(&ix);
	st_close(st);
	return NULL;
}

struct safetensors *st_open_dir(const char *dir, struct lmu_err *e)
{
	struct stat s;
	char *index = join(dir, "model.safetensors.index.json"), *single = join(dir, "model.safetensors");
	struct safetensors *st = NULL;

	if (lstat(index, &s) == 0) {
		if (inside(dir, "model.safetensors.index.json", "the index", e))
			st = st_open_index(index, e);
	} else if (lstat(single, &s) == 0) {
		if (inside(dir, "model.safetensors", "the weights file", e))
			st = st_open(single, e);
	} else {
		err_set(e, "%s: no model.safetensors or model.safetensors.index.json", dir);
	}
	free(index);
	free(single);
	return st;
}
