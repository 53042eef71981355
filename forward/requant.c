/* requant.c - float matrices quantized at load.  See requant.h. */
#include "requant.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

#include "gguf_write.h"
#include "quant.h"

enum ggml_type quant_type_named(const char *name)
{
	static const enum ggml_type types[] = {GGML_Q8_0, GGML_Q4_0, GGML_Q4_1, GGML_Q4_K};
	for (size_t i = 0; i < sizeof types / sizeof *types; i++)
		if (strcasecmp(name, ggml_type_name(types[i])) == 0)
			return types[i];
	return GGML_NTYPES;
}

/* llama.cpp's general.file_type values (llama_ftype) */
static uint32_t file_type(enum ggml_type t)
{
	switch (t) {
	case GGML_Q4_0: return 2;
	case GGML_Q4_1: return 3;
	case GGML_Q8_0: return 7;
	default: return 14;  /* mostly Q4_K */
	}
}

/* One matrix to quantize: rows of src (of type from) into dst. */
struct job {
	const struct gguf_tensor *t;
	enum ggml_type to;
	size_t at;          /* dst's offset in the arena */
	uint8_t *dst;
	size_t dst_row;
};

struct work {
	struct job *jobs;
	size_t n_jobs;
	atomic_size_t next;   /* chunks of ROWS rows, over every job */
	size_t *first_chunk;  /* (n_jobs + 1) the chunk where each job starts */
};

#define ROWS 16

static void *worker(void *arg)
{
	struct work *w = arg;
	size_t n_chunks = w->first_chunk[w->n_jobs], j = 0;
	float *row = NULL;
	size_t row_cap = 0;

	for (;;) {
		size_t c = atomic_fetch_add(&w->next, 1);
		if (c >= n_chunks)
			break;
		while (w->first_chunk[j + 1] <= c)
			j++;
		const struct job *jb = &w->jobs[j];
		uint64_t n = jb->t->ne[0], rows = jb->t->ne[1];
		uint64_t r0 = (c - w->first_chunk[j]) * ROWS, r1 = r0 + ROWS < rows ? r0 + ROWS : rows;
		if (row_cap < n) {
			row = xrealloc(row, (size_t)n * sizeof *row);
			row_cap = (size_t)n;
		}
		for (uint64_t r = r0; r < r1; r++) {
			dequant_row(jb->t->type, (const uint8_t *)jb->t->data + r * jb->t->row_bytes, row, (int)n);
			quantize_row(jb->to, row, jb->dst + r * jb->dst_row, (int)n);
		}
	}
	free(row);
	return NULL;
}

struct owner {
	struct gguf *src;
	uint8_t *arena;     /* the quantized matrices, or NULL */
	size_t arena_size;
};

static void release(void *p)
{
	struct owner *o = p;
	if (o->arena)
		munmap(o->arena, o->arena_size);
	gguf_close(o->src);
	free(o);
}

/* The quantized matrices live in one anonymous mapping, each at a 64-byte
 * boundary, which the kernel is asked to back with huge pages where its
 * transparent_hugepage setting allows (madvise or always).  A product
 * streams every weight once a token, and 4 KiB pages of malloc'd memory
 * cost it a TLB miss per page: Qwen2.5-Coder-0.5B -q Q8_0 decoded 18
 * tokens per CPU-second from malloc'd buffers, 25-30 from huge pages, 24
 * from its Q8_0 GGUF file (1 thread, x86-64 VM, tests/bench/hf-bench.sh). */
#define ARENA_ALIGN 64

static uint8_t *arena_new(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("-q: %zu bytes for the quantized weights: %s", size, strerror(errno));
#ifdef MADV_HUGEPAGE
	madvise(p, size, MADV_HUGEPAGE);
#endif
	return p;
}

static bool is_float(enum ggml_type t)
{
	return t == GGML_F32 || t == GGML_F16 || t == GGML_BF16;
}

struct gguf *gguf_quantize(struct gguf *src, enum ggml_type type, int n_threads)
{
	const bool tied = gguf_tensor(src, "output.weight") == NULL;
	const char *head = tied ? "token_embd.weight" : "output.weight";
	struct gguf_writer *w = gguf_writer_new();
	struct owner *o = xcalloc(1, sizeof *o);
	struct work wk = {0};
	const void **data = xcalloc(src->n_tensors ? src->n_tensors : 1, sizeof *data);
	struct lmu_err e = {{0}};

	if (!quant_weight_supported(type))
		die("-q: cannot quantize to %s", ggml_type_name(type) ? ggml_type_name(type) : "?");
	o->src = src;
	for (uint64_t i = 0; i < src->n_kv; i++) {
		const struct gguf_kv *kv = &src->kv[i];
		if (!(kv->key.len == 17 && memcmp(kv->key.s, "general.file_type", 17) == 0))
			gguf_w_kv(w, kv);
	}
	gguf_w_u32(w, "general.file_type", file_type(type));
	if (gguf_find(src, "general.alignment")) {
		uint32_t a;
		if (gguf_get_u32(src, "general.alignment", &a) == 1)
			gguf_w_set_alignment(w, a);
	}

	wk.jobs = xcalloc(src->n_tensors ? src->n_tensors : 1, sizeof *wk.jobs);
	wk.first_chunk = xcalloc(src->n_tensors + 1, sizeof *wk.first_chunk);
	for (uint64_t i = 0; i < src->n_tensors; i++) {
		const struct gguf_tensor *t = &src->tensors[i];
		enum ggml_type to = type;
		if ((type == GGML_Q4_0 || type == GGML_Q4_1 || type == GGML_Q4_K) && strcmp(t->name, head) == 0)
			to = GGML_Q8_0;
		if (t->n_dims != 2 || !is_float(t->type) || t->ne[0] % ggml_block_size(to) || t->ne[0] > INT32_MAX) {
			gguf_w_tensor_ref(w, t->name, t->type, t->n_dims, t->ne, NULL, t->nbytes);
			data[i] = t->data;
			continue;
		}
		struct job *jb = &wk.jobs[wk.n_jobs];
		jb->t = t;
		jb->to = to;
		jb->dst_row = t->ne[0] / ggml_block_size(to) * ggml_type_size(to);
		size_t bytes = jb->dst_row * t->ne[1];
		jb->at = o->arena_size;
		o->arena_size += (bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
		wk.first_chunk[wk.n_jobs + 1] = wk.first_chunk[wk.n_jobs] + (t->ne[1] + ROWS - 1) / ROWS;
		wk.n_jobs++;
		gguf_w_tensor_ref(w, t->name, to, 2, t->ne, NULL, bytes);
	}
	if (wk.n_jobs == 0) {
		warnx_("%s: -q %s: no F32, F16 or BF16 matrix to quantize: the model's weights are used as stored",
		       src->path, ggml_type_name(type));
		gguf_writer_free(w);
		free(wk.jobs);
		free(wk.first_chunk);
		free(data);
		o->src = NULL;
		release(o);
		return src;
	}
	if (o->arena_size == 0)  /* matrices of no rows */
		o->arena_size = ARENA_ALIGN;
	o->arena = arena_new(o->arena_size);
	for (size_t k = 0; k < wk.n_jobs; k++) {
		struct job *jb = &wk.jobs[k];
		jb->dst = o->arena + jb->at;
		data[jb->t - src->tensors] = jb->dst;
	}

	pthread_t *th = xcalloc((size_t)n_threads, sizeof *th);
	int started = 0;
	for (int k = 1; k < n_threads; k++)
		if (pthread_create(&th[k], NULL, worker, &wk) == 0)
			started = k;
		else
			break;
	worker(&wk);
	for (int k = 1; k <= started; k++)
		pthread_join(th[k], NULL);
	free(th);

	size_t size;
	const uint8_t *h = gguf_writer_header(w, &size);
	struct gguf *g = gguf_open_header(memcpy(xmalloc(size), h, size), size, src->path, release, o, &e);
	if (!g)
		die("%s", e.msg);
	for (uint64_t i = 0; i < g->n_tensors; i++)
		g->tensors[i].data = data[i];
	gguf_writer_free(w);
	free(wk.jobs);
	free(wk.first_chunk);
	free(data);
	return g;
}
