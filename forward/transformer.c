/* transformer.c - opening a model through its architecture's tensor tables
 * (arch.h), the context, and the forward pass: embeddings, the
 * architecture's layer function for each layer, logits.  The steps are in
 * steps.c. */
#include "transformer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "err.h"
#include "hfmodel.h"
#include "pool.h"
#include "quant.h"
#include "requant.h"
#include "steps.h"

/* Positions evaluated as one matrix: bounds the activation buffers. */
#define MAX_BATCH 256
/* Positions whose logits are computed as one matrix with --all-logits. */
#define LOGIT_ROWS 32

/* ---- opening the model ---- */

static uint32_t dim_size(const struct hparams *hp, enum dim d)
{
	switch (d) {
	case DIM_NONE: return 1;
	case DIM_EMBD: return hp->n_embd;
	case DIM_FF: return hp->n_ff;
	case DIM_Q: return hp->n_head * hp->head_dim;
	case DIM_KV: return hp->n_head_kv * hp->head_dim;
	case DIM_VOCAB: return hp->n_vocab;
	case DIM_ROT_HALF: return hp->n_rot / 2;
	case DIM_HEAD: return hp->head_dim;
	case DIM_QKV: return (hp->n_head + 2 * hp->n_head_kv) * hp->head_dim;
	case DIM_FF2: return 2 * hp->n_ff;
	}
	return 0;
}

static void check_type(const struct model_src *src, const struct gguf_tensor *t)
{
	if (!quant_supported(t->type))
		die("%s: tensor %s: type %s is not supported", src->path, t->name,
		    ggml_type_name(t->type) ? ggml_type_name(t->type) : "(unknown)");
}

/* Rows row0 .. row0 + n_out of a tensor of n_rows rows of n_in elements
 * (the whole tensor: row0 0, n_rows n_out). */
static void matrix_get(const struct model_src *src, const struct gguf_tensor *t, struct matrix *m, uint32_t n_in,
		       uint32_t n_out, uint32_t n_rows, uint32_t row0)
{
	if (t->n_dims != 2 || t->ne[0] != n_in || t->ne[1] != n_rows)
		die("%s: tensor %s has shape {%llu, %llu}, expected {%u, %u}", src->path, t->name,
		    (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], n_in, n_rows);
	check_type(src, t);
	m->data = (const uint8_t *)t->data + (size_t)row0 * t->row_bytes;
	m->type = t->type;
	m->row_bytes = t->row_bytes;
	m->n_in = n_in;
	m->n_out = n_out;
}

/* A 1-D tensor of n elements, converted to float (norm weights). */
static float *vector_get(const struct model_src *src, const struct gguf_tensor *t, uint32_t n)
{
	float *v;

	if (t->n_dims != 1 || t->ne[0] != n)
		die("%s: tensor %s has %u dimensions and %llu elements, expected a vector of %u", src->path, t->name,
		    t->n_dims, (unsigned long long)t->ne[0], n);
	check_type(src, t);
	v = xmalloc(n * sizeof *v);
	dequant_row(t->type, t->data, v, n);
	return v;
}

/* Fill the places of a tensor table in base (struct weights or one
 * struct layer_weights) from the source; "%u" in the names is layer. */
static void load_tensors(const struct model_src *src, const struct hparams *hp, const struct tensor_spec *spec,
			 void *base, uint32_t layer)
{
	char name[GGUF_MAX_NAME + 1];

	for (; spec->name; spec++) {
		const struct gguf_tensor *t;
		snprintf(name, sizeof name, spec->name, layer);
		t = src->tensor(src->arg, name);
		if (!t) {
			if (spec->flags & T_OPTIONAL)
				continue;
			die("%s: tensor %s is missing", src->path, name);
		}
		if (spec->out == DIM_NONE) {
			*(float **)((char *)base + spec->at) = vector_get(src, t, dim_size(hp, spec->in));
		} else {
			uint32_t out = dim_size(hp, spec->out), rows = out, row0 = 0;
			if (spec->whole != DIM_NONE) {
				rows = dim_size(hp, spec->whole);
				row0 = (spec->skip[0] != DIM_NONE ? dim_size(hp, spec->skip[0]) : 0) +
				       (spec->skip[1] != DIM_NONE ? dim_size(hp, spec->skip[1]) : 0);
			}
			matrix_get(src, t, (struct matrix *)((char *)base + spec->at), dim_size(hp, spec->in), out, rows,
				   row0);
		}
	}
}

/* Does a table name this tensor (for any layer)? */
static bool in_table(const struct tensor_spec *spec, const char *tname, uint32_t n_layer)
{
	char name[GGUF_MAX_NAME + 1];
	for (; spec->name; spec++) {
		if (!strstr(spec->name, "%u")) {
			if (strcmp(spec->name, tname) == 0)
				return true;
			continue;
		}
		unsigned l;
		const char *dot = strchr(tname + (strncmp(tname, "blk.", 4) == 0 ? 4 : 0), '.');
		if (strncmp(tname, "blk.", 4) != 0 || !dot || sscanf(tname + 4, "%u", &l) != 1 || l >= n_layer)
			continue;
		snprintf(name, sizeof name, spec->name, l);
		if (strcmp(name, tname) == 0)
			return true;
	}
	return false;
}

/* Every tensor of the file must be one the architecture uses: one it does
 * not know (a bias, a norm) would silently make other numbers. */
static void check_unused(const struct model_src *src, const struct arch *a, uint32_t n_layer)
{
	const struct gguf_tensor *t;
	for (uint64_t i = 0; src->tensor_at && (t = src->tensor_at(src->arg, i)); i++)
		if (!in_table(a->tensors, t->name, n_layer) && !in_table(a->layer_tensors, t->name, n_layer))
			die("%s: tensor %s is not one of architecture %s: this lm-step cannot run the model as it is",
			    src->path, t->name, a->name);
}

static void free_vectors(const struct tensor_spec *spec, void *base)
{
	for (; spec->name; spec++)
		if (spec->out == DIM_NONE)
			free(*(float **)((char *)base + spec->at));
}

/* RoPE angle per position for pair i: base^(-2i/n_rot), divided by the
 * linear scale factor and by the per-pair factor of rope_freqs.weight
 * (doc/formats.md "Llama 3 RoPE scaling") when the file has one.  Computed in
 * float32 as the references do. */
static float *rope_inv_freq(const struct model_src *src, const struct hparams *hp, float base, float scale,
			    const float *factor)
{
	uint32_t half = hp->n_rot / 2;
	float *inv = xmalloc(half * sizeof *inv);

	for (uint32_t i = 0; i < half; i++) {
		inv[i] = 1.0f / powf(base, (float)(2 * i) / (float)hp->n_rot);
		inv[i] /= scale;
		if (factor) {
			if (!(factor[i] > 0) || !isfinite(factor[i]))
				die("%s: RoPE factor %u is not a positive number", src->path, i);
			inv[i] /= factor[i];
		}
	}
	return inv;
}

struct transformer *transformer_from_src(struct model_src src)
{
	struct transformer *t = xcalloc(1, sizeof *t);
	struct hparams *hp = &t->hp;
	struct weights *w = &t->w;
	struct lmu_err e = {{0}};

	t->src = src;
	if (!hparams_read(&t->src, hp, &e))
		die("%s", e.msg);
	t->arch = arch_find(hp->arch);
	check_unused(&t->src, t->arch, hp->n_layer);
	load_tensors(&t->src, hp, t->arch->tensors, w, 0);
	if (!w->output.data)
		w->output = w->tok_embd;
	if (!w->rope_long != !w->rope_short)
		die("%s: tensors rope_factors_long.weight and rope_factors_short.weight come together", t->src.path);
	if (w->rope_long && !hp->rope_orig_ctx)
		die("%s: long RoPE factors without %s.rope.scaling.original_context_length", t->src.path, hp->arch);
	w->inv_freq = rope_inv_freq(&t->src, hp, hp->rope_base, hp->rope_scale,
				    w->rope_short ? w->rope_short : w->rope_freqs);
	if (w->rope_long)
		w->inv_freq_long = rope_inv_freq(&t->src, hp, hp->rope_base, hp->rope_scale, w->rope_long);
	if (hp->rope_base_swa > 0)  /* local layers: their own base, no scaling (gemma3) */
		w->inv_freq_swa = rope_inv_freq(&t->src, hp, hp->rope_base_swa, 1.0f, NULL);
	w->layers = xcalloc(hp->n_layer, sizeof *w->layers);
	for (uint32_t l = 0; l < hp->n_layer; l++)
		load_tensors(&t->src, hp, t->arch->layer_tensors, &w->layers[l], l);
	t->id = t->src.id(t->src.arg);
	return t;
}

struct transformer *transformer_from_gguf(struct gguf *g)
{
	return transformer_from_src(model_src_gguf(g));
}

struct transformer *transformer_open(const char *model, enum ggml_type quant, int n_threads)
{
	struct gguf *g = model_open(model);
	if (quant != GGML_F32)
		g = gguf_quantize(g, quant, n_threads);
	return transformer_from_gguf(g);
}

void transformer_close(struct transformer *t)
{
	if (!t)
		return;
	for (uint32_t l = 0; l < t->hp.n_layer; l++)
		free_vectors(t->arch->layer_tensors, &t->w.layers[l]);
	free(t->w.layers);
	free_vectors(t->arch->tensors, &t->w);
	free(t->w.inv_freq);
	free(t->w.inv_freq_swa);
	free(t->w.inv_freq_long);
	t->src.close(t->src.arg);
	free(t);
}

/* ---- the context ---- */

/* Room for either activation copy of m's input (quant_act or 16-bit). */
static size_t max_act_bytes(size_t cur, const struct matrix *m)
{
	if (!m->data)
		return cur;
	size_t b = quant_act_row_bytes(m->type, m->n_in);
	if (quant_a16_supported(m->type) && quant_a16_row_bytes((int)m->n_in) > b)
		b = quant_a16_row_bytes((int)m->n_in);
	return b > cur ? b : cur;
}

/* The sequence part of a context: n_ctx positions of ids and KV cache. */
static void seq_alloc(struct context *c, uint32_t n_ctx, uint32_t max_batch)
{
	const struct hparams *hp = &c->t->hp;
	uint32_t kv_dim = hp->n_head_kv * hp->head_dim;

	/* Every size below is computed in size_t from values that
	 * hparams_read() and this check bound (MAX_DIM, MAX_LAYERS, MAX_CTX,
	 * LOGITS_MAX_VOCAB): none comes near 2^64. */
	c->n_ctx = n_ctx ? n_ctx : hp->n_ctx_train;
	if (c->n_ctx == 0)
		die("%s: the model gives no context length: use -c N", c->t->src.path);
	if (c->n_ctx > MAX_CTX)
		die("%s: %s context of %u positions is above the limit of %u: use -c N", c->t->src.path,
		    n_ctx ? "a" : "the model's", c->n_ctx, MAX_CTX);
	/* The KV cache is the one large allocation; calloc leaves untouched
	 * pages to the kernel, so a long context costs only what is used.  A
	 * local layer keeps a ring of the window: the n_swa - 1 positions
	 * before a slice and the slice's own. */
	size_t kv = 0;
	c->kv = xcalloc(hp->n_layer, sizeof *c->kv);
	for (uint32_t l = 0; l < hp->n_layer; l++) {
		struct kv_cache *L = &c->kv[l];
		L->local = hparams_local(hp, l);
		L->rows = c->n_ctx;
		if (L->local && (uint64_t)hp->n_swa - 1 + max_batch < c->n_ctx)
			L->rows = hp->n_swa - 1 + max_batch;
		kv += (size_t)L->rows * kv_dim;
	}
	c->kv_mem = calloc(2 * kv, sizeof(float));
	if (!c->kv_mem)
		die("a KV cache of %zu MiB for %u positions does not fit in memory: use -c N for a smaller context",
		    2 * kv * sizeof(float) >> 20, c->n_ctx);
	for (uint32_t l = 0, at = 0; l < hp->n_layer; at += c->kv[l].rows, l++) {
		c->kv[l].k = c->kv_mem + (size_t)at * kv_dim;
		c->kv[l].v = c->kv_mem + kv + (size_t)at * kv_dim;
	}
	c->ids = xcalloc(c->n_ctx, sizeof *c->ids);
}

/* The workspace part: slices of max_batch rows of sequences of up to
 * max_ctx positions, logits of logit_rows rows at once (all_logits) or of
 * n_last rows, one each of segments that end a batch. */
static void ws_alloc(struct context *c, uint32_t max_ctx, uint32_t max_batch, uint32_t logit_rows, uint32_t n_last,
		     int n_threads)
{
	const struct transformer *t = c->t;
	const struct hparams *hp = &t->hp;
	uint32_t q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
	size_t stride = 0, mb = max_batch;

	c->max_ctx = max_ctx;
	c->max_batch = max_batch;
	c->logit_rows = logit_rows;
	c->logit_cap = logit_rows > n_last ? logit_rows : n_last;
	c->pool = pool_new(n_threads);
	c->seg = xcalloc(mb, sizeof *c->seg);
	c->x = xcalloc(mb * hp->n_embd, sizeof(float));
	c->xb = xcalloc(mb * hp->n_embd, sizeof(float));
	c->q = xcalloc(mb * q_dim, sizeof(float));
	c->att_out = xcalloc(mb * q_dim, sizeof(float));
	c->tmp = xcalloc(mb * hp->n_embd, sizeof(float));
	c->hb = xcalloc(mb * hp->n_ff, sizeof(float));
	c->hb2 = xcalloc(mb * hp->n_ff, sizeof(float));
	c->kb = xcalloc(mb * kv_dim, sizeof(float));
	c->vb = xcalloc(mb * kv_dim, sizeof(float));
	c->att_ld = ((size_t)max_ctx + 15) & ~(size_t)15;
	c->att = xcalloc((size_t)pool_size(c->pool) * ATT_ROWS * c->att_ld, sizeof(float));
	c->row_len = hp->n_embd > hp->n_ff ? hp->n_embd : hp->n_ff;
	if (q_dim > c->row_len)
		c->row_len = q_dim;
	c->logits = xcalloc((size_t)c->logit_cap * hp->n_vocab, sizeof(float));
	c->rope_cs = xcalloc(mb * hp->n_rot / 2, sizeof(float));
	c->rope_sn = xcalloc(mb * hp->n_rot / 2, sizeof(float));
	if (t->w.inv_freq_swa) {
		c->rope_cs_swa = xcalloc(mb * hp->n_rot / 2, sizeof(float));
		c->rope_sn_swa = xcalloc(mb * hp->n_rot / 2, sizeof(float));
	}

	/* the kernel family multiplies float activations faster from one batch
	 * size on, the same for every type it has such a product for */
	const struct matrix *out = &t->w.output;
	c->large_batch = (uint32_t)quant_float_batch(out->type);
	stride = max_act_bytes(stride, out);
	for (uint32_t l = 0; l < hp->n_layer; l++)
		for (const struct tensor_spec *s = t->arch->layer_tensors; s->name; s++)
			if (s->out != DIM_NONE) {
				const struct matrix *m = (const struct matrix *)((const char *)&t->w.layers[l] + s->at);
				uint32_t large = m->data ? (uint32_t)quant_float_batch(m->type) : 0;
				if (large && c->large_batch && large != c->large_batch)
					die("%s: the kernels multiply float activations faster from %u rows for %s and "
					    "from %u for %s: lm-step needs one size", t->src.path, large,
					    ggml_type_name(m->type), c->large_batch, ggml_type_name(out->type));
				if (large)
					c->large_batch = large;
				stride = max_act_bytes(stride, m);
			}
	c->xq_stride = (stride + 63) & ~(size_t)63;
	for (int i = 0; i < 3; i++)
		c->xq[i] = xcalloc(mb, c->xq_stride);
	c->pxf = xcalloc((size_t)pool_size(c->pool) * PRE_ROWS * c->row_len, sizeof(float));
	c->pxq = xcalloc((size_t)pool_size(c->pool) * 3 * PRE_ROWS, c->xq_stride);
}

struct context *context_new(const struct transformer *t, uint32_t n_ctx, int n_threads, bool all_logits)
{
	return context_new_sliced(t, n_ctx, n_threads, all_logits, 0);
}

struct context *context_new_sliced(const struct transformer *t, uint32_t n_ctx, int n_threads, bool all_logits,
				   uint32_t max_batch)
{
	struct context *c = xcalloc(1, sizeof *c);
	uint32_t mb;

	if (!max_batch || max_batch > MAX_BATCH)
		max_batch = MAX_BATCH;
	c->t = t;
	seq_alloc(c, n_ctx, max_batch);
	mb = c->n_ctx < max_batch ? c->n_ctx : max_batch;
	c->all_logits = all_logits;
	ws_alloc(c, c->n_ctx, mb, all_logits ? (mb < LOGIT_ROWS ? mb : LOGIT_ROWS) : 1, 1, n_threads);
	return c;
}

struct context *context_new_seq(const struct transformer *t, uint32_t n_ctx)
{
	struct context *c = xcalloc(1, sizeof *c);
	c->t = t;
	seq_alloc(c, n_ctx, MAX_BATCH);
	return c;
}

struct context *context_new_ws(const struct transformer *t, uint32_t max_ctx, uint32_t max_batch, uint32_t n_last,
			       bool all_logits, int n_threads)
{
	struct context *c = xcalloc(1, sizeof *c);
	c->t = t;
	c->all_logits = all_logits;
	ws_alloc(c, max_ctx, max_batch, all_logits ? LOGIT_ROWS : 1, n_last, n_threads);
	return c;
}

void context_free(struct context *c)
{
	if (!c)
		return;
	if (c->pool)
		pool_free(c->pool);
	free(c->kv_mem);
	free(c->kv);
	free(c->ids);
	free(c->seg);
	free(c->x);
	free(c->xb);
	free(c->q);
	free(c->att_out);
	free(c->tmp);
	free(c->hb);
	free(c->hb2);
	free(c->kb);
	free(c->vb);
	free(c->att);
	free(c->logits);
	free(c->rope_cs);
	free(c->rope_sn);
	free(c->rope_cs_swa);
	free(c->rope_sn_swa);
	for (int i = 0; i < 3; i++)
		free(c->xq[i]);
	free(c->pxf);
	free(c->pxq);
	free(c);
}

void context_reset(struct context *c)
{
	c->n_pos = 0;
}

/* ---- the forward pass ---- */

/* Run the layers over the segments in c->seg (nb rows in all): their ids
 * into their sequences, the RoPE angles and embeddings of every row, then
 * each layer.  Leaves the residual stream in c->x and the keys and values
 * of every layer in each sequence's cache. */
static void forward_layers(struct context *c, uint32_t nb)
{
	const struct transformer *t = c->t;
	uint32_t n_embd = t->hp.n_embd;

	for (uint32_t i = 0; i < c->n_seg; i++) {
		const struct segment *g = &c->seg[i];
		if (g->ids != g->s->ids + g->pos0)  /* (a recomputation passes the sequence's own) */
			memcpy(g->s->ids + g->pos0, g->ids, g->n * sizeof *g->ids);
	}

	/* RoPE angles of the rows' positions, once for every layer and head */
	step_rope_angles(c);

	/* token embeddings: x (nb, n_embd) = rows of tok_embd (times embd_scale) */
	for (uint32_t i = 0; i < c->n_seg; i++) {
		const struct segment *g = &c->seg[i];
		const struct matrix *e = &t->w.tok_embd;
		for (uint32_t b = 0; b < g->n; b++) {
			float *x = c->x + (size_t)(g->row0 + b) * n_embd;
			dequant_row(e->type, (const uint8_t *)e->data + (size_t)g->ids[b] * e->row_bytes, x, n_embd);
			if (t->hp.embd_scale != 1.0f)
				for (uint32_t j = 0; j < n_embd; j++)
					x[j] *= t->hp.embd_scale;
		}
	}

	for (uint32_t l = 0; l < t->hp.n_layer; l++)
		t->arch->layer(c, &t->w.layers[l], l, nb);
}

/* Is a piece of n rows multiplied as a large batch? */
static bool large(const struct context *c, uint32_t n)
{
	return c->large_batch && n >= c->large_batch;
}

static int discard(void *arg, const struct segment *g, int32_t token, uint64_t pos, const float *logits)
{
	(void)arg, (void)g, (void)token, (void)pos, (void)logits;
	return 1;
}

static int eval_slice(struct context *c, struct segment *g, uint32_t n_seg, segment_logits_fn emit, void *arg);

/* Long-context RoPE (phi3): a sequence longer than the original context
 * takes the long factors, and one that grows past it has its earlier
 * positions computed again with them, as transformers does; a shorter one
 * (after a reset) takes the short ones again, and cannot reuse rows made
 * with the long.  The recomputation runs the sequence s alone through the
 * workspace c, before the slice that appends n ids to it. */
static void rope_switch(struct context *c, struct context *s, uint32_t n)
{
	bool want_long = c->t->w.inv_freq_long && s->n_pos + (uint64_t)n > c->t->hp.rope_orig_ctx;
	if (want_long == s->rope_long)
		return;
	uint32_t old = s->n_pos, max = c->max_batch < MAX_BATCH ? c->max_batch : MAX_BATCH;
	s->rope_long = want_long;
	s->n_pos = s->n_cached = 0;
	s->swa_lo = 0;
	for (uint32_t p = 0; p < old; p += max) {
		struct segment g = {.s = s, .ids = s->ids + p, .n = old - p < max ? old - p : max};
		eval_slice(c, &g, 1, discard, NULL);
	}
}

int context_eval_segments(struct context *c, struct segment *g, uint32_t n_seg, segment_logits_fn emit, void *arg)
{
	for (uint32_t i = 0; i < n_seg; i++)
		rope_switch(c, g[i].s, g[i].n);
	return eval_slice(c, g, n_seg, emit, arg);
}

static int eval_slice(struct context *c, struct segment *g, uint32_t n_seg, segment_logits_fn emit, void *arg)
{
	const struct hparams *hp = &c->t->hp;
	uint32_t nb = 0, n_last = 0, n_vocab = hp->n_vocab, n_embd = hp->n_embd;

	/* the slice: the segments of small batches first, then the large ones */
	c->n_seg = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < n_seg; i++) {
			if (large(c, g[i].n) != pass)
				continue;
			g[i].pos0 = g[i].s->n_pos;
			g[i].row0 = nb;
			for (uint32_t l = 0; l < hp->n_layer; l++) {
				const struct kv_cache *kv = &g[i].s->kv[l];
				if (kv->local && kv->rows < g[i].s->n_ctx && g[i].n > kv->rows - (hp->n_swa - 1))
					die("%s: a slice of %u positions is longer than a local layer's ring holds",
					    c->t->src.path, g[i].n);
			}
			nb += g[i].n;
			c->seg[c->n_seg++] = g[i];
		}
		if (pass == 0)
			c->ns = nb;
	}
	if (nb == 0)
		return 1;
	forward_layers(c, nb);
	for (uint32_t i = 0; i < n_seg; i++) {
		struct context *s = g[i].s;
		uint32_t pos0 = g[i].pos0, end = pos0 + g[i].n;
		s->n_pos = s->n_cached = end;
		s->n_evaluated += g[i].n;
		for (uint32_t l = 0; l < hp->n_layer; l++)
			if (s->kv[l].local) {  /* rows before pos0 stay, the ring overwrote the oldest */
				if (s->swa_lo > pos0)
					s->swa_lo = pos0;
				if (end > s->kv[l].rows && end - s->kv[l].rows > s->swa_lo)
					s->swa_lo = end - s->kv[l].rows;
				break;
			}
		if (s != c)
			c->n_evaluated += g[i].n;
	}

	/* the logits of the segments that end a batch, one row each, as one
	 * small batch (gathered in tmp, free now) */
	for (uint32_t i = 0; i < n_seg; i++)
		if (g[i].last && !g[i].all_logits)
			memcpy(c->tmp + (size_t)n_last++ * n_embd, c->x + (size_t)(g[i].row0 + g[i].n - 1) * n_embd,
			       n_embd * sizeof(float));
	if (n_last)
		step_logits(c, c->tmp, n_last, true);

	/* frames in the order of the segments; all_logits: every row, in
	 * pieces of logit_rows as a sequence alone would */
	n_last = 0;
	for (uint32_t i = 0; i < n_seg; i++) {
		const struct segment *sg = &g[i];
		if (sg->all_logits) {
			for (uint32_t b0 = 0; b0 < sg->n; b0 += c->logit_rows) {
				uint32_t rows = sg->n - b0 < c->logit_rows ? sg->n - b0 : c->logit_rows;
				step_logits(c, c->x + (size_t)(sg->row0 + b0) * n_embd, rows, !large(c, rows));
				for (uint32_t r = 0; r < rows; r++)
					if (!emit(arg, sg, sg->ids[b0 + r], sg->pos0 + b0 + r, c->logits + (size_t)r * n_vocab))
						return 0;
			}
		} else if (sg->last) {
			if (!emit(arg, sg, sg->ids[sg->n - 1], sg->pos0 + sg->n - 1, c->logits + (size_t)n_last++ * n_vocab))
				return 0;
		}
	}
	return 1;
}

uint32_t context_reuse(struct context *s, const int32_t *ids, uint32_t n, bool all_logits)
{
	uint32_t skip = 0, keep = all_logits ? 0 : n - 1;

	while (skip < keep && s->n_pos + skip < s->n_cached && s->ids[s->n_pos + skip] == ids[skip])
		skip++;
	/* ... and as long as the local layers' rings still hold the window
	 * before the first position computed */
	uint32_t m = s->n_pos + skip, w = s->t->hp.n_swa;
	if (w && m > 0 && (m + 1 > w ? m + 1 - w : 0) < s->swa_lo)
		skip = 0;
	s->n_pos += skip;
	return skip;
}

/* one sequence through its own workspace: a segment per slice */
struct eval_arg {
	logits_fn emit;
	void *arg;
};

static int emit_one(void *arg, const struct segment *g, int32_t token, uint64_t pos, const float *logits)
{
	const struct eval_arg *x = arg;
	(void)g;
	return x->emit(x->arg, token, pos, logits);
}

int context_eval(struct context *c, const int32_t *ids, uint32_t n, logits_fn emit, void *arg)
{
	struct eval_arg x = {emit, arg};
	uint32_t skip;

	rope_switch(c, c, n);  /* (the whole batch takes one RoPE, as transformers gives it) */
	skip = context_reuse(c, ids, n, c->all_logits);
	ids += skip;
	n -= skip;
	while (n > 0) {
		uint32_t nb = n < c->max_batch ? n : c->max_batch;
		struct segment g = {.s = c, .ids = ids, .n = nb, .last = nb == n, .all_logits = c->all_logits};
		if (!eval_slice(c, &g, 1, emit_one, &x))
			return 0;
		ids += nb;
		n -= nb;
	}
	return 1;
}
