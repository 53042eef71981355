/* llama.c - the llama-family forward pass (formats.md 4.3, 4.4).
 *
 * The pass is written as one commented step per operation, in the order of
 * the model; each step that has work worth sharing is run on the thread
 * pool (one synchronisation point per step).  The matrix products go
 * through quant.h, which multiplies the weights in their stored type by
 * activations quantized for that type. */
#include "llama.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "pool.h"
#include "quant.h"

/* Positions evaluated as one matrix: bounds the activation buffers. */
#define MAX_BATCH 256
/* Positions whose logits are computed as one matrix with --all-logits. */
#define LOGIT_ROWS 32
/* Batches of at most this many positions (decode) are normed and
 * quantized by every thread for itself inside the product that reads them:
 * a few microseconds of repeated work instead of one more synchronisation
 * of the pool per product. */
#define PRE_ROWS 4
#define MAX_HD 128    /* the largest head_dim with a register-blocked attention */
#define ATT_ROWS 16   /* query positions of one head per attention task */

/* ---- opening the model ---- */

static uint64_t fnv1a(const uint8_t *p, uint64_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (uint64_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static const struct gguf_tensor *find(const struct gguf *g, const char *name, bool required)
{
	const struct gguf_tensor *t = gguf_tensor(g, name);
	if (!t && required)
		die("%s: tensor %s is missing", g->path, name);
	return t;
}

static void matrix_get(const struct gguf *g, struct matrix *m, const char *name, uint32_t n_in, uint32_t n_out)
{
	const struct gguf_tensor *t = find(g, name, true);

	if (t->n_dims != 2 || t->ne[0] != n_in || t->ne[1] != n_out)
		die("%s: tensor %s has shape {%llu, %llu}, expected {%u, %u}", g->path, name,
		    (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], n_in, n_out);
	if (!quant_supported(t->type))
		die("%s: tensor %s: type %s is not supported", g->path, name,
		    ggml_type_name(t->type) ? ggml_type_name(t->type) : "(unknown)");
	m->data = t->data;
	m->type = t->type;
	m->row_bytes = t->row_bytes;
	m->n_in = n_in;
	m->n_out = n_out;
}

/* A 1-D tensor of n elements, converted to float (norm weights). */
static float *vector_get(const struct gguf *g, const char *name, uint32_t n)
{
	const struct gguf_tensor *t = find(g, name, true);
	float *v;

	if (t->n_dims != 1 || t->ne[0] != n)
		die("%s: tensor %s has %u dimensions and %llu elements, expected a vector of %u", g->path, name,
		    t->n_dims, (unsigned long long)t->ne[0], n);
	if (!quant_supported(t->type))
		die("%s: tensor %s: type %s is not supported", g->path, name,
		    ggml_type_name(t->type) ? ggml_type_name(t->type) : "(unknown)");
	v = xmalloc(n * sizeof *v);
	dequant_row(t->type, t->data, v, n);
	return v;
}

/* RoPE angle per position for pair i: base^(-2i/n_rot), divided by the
 * linear scale factor and by the per-pair factor of rope_freqs.weight
 * (Llama-3 scaling, formats.md 4.7) when the file has one.  Computed in
 * float32 as the references do. */
static float *rope_inv_freq(const struct gguf *g, const struct hparams *hp)
{
	uint32_t half = hp->n_rot / 2;
	float *inv = xmalloc(half * sizeof *inv);
	float *factor = NULL;

	if (find(g, "rope_freqs.weight", false))
		factor = vector_get(g, "rope_freqs.weight", half);
	for (uint32_t i = 0; i < half; i++) {
		inv[i] = 1.0f / powf(hp->rope_base, (float)(2 * i) / (float)hp->n_rot);
		inv[i] /= hp->rope_scale;
		if (factor) {
			if (!(factor[i] > 0) || !isfinite(factor[i]))
				die("%s: tensor rope_freqs.weight: factor %u is not a positive number", g->path, i);
			inv[i] /= factor[i];
		}
	}
	free(factor);
	return inv;
}

struct transformer *transformer_from_gguf(struct gguf *g)
{
	struct transformer *t = xcalloc(1, sizeof *t);
	struct hparams *hp = &t->hp;
	struct weights *w = &t->w;
	struct lmu_err e = {{0}};
	char name[GGUF_MAX_NAME + 1];

	t->g = g;
	if (!hparams_load(g, hp, &e))
		die("%s", e.msg);
	uint32_t q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;

	matrix_get(g, &w->tok_embd, "token_embd.weight", hp->n_embd, hp->n_vocab);
	w->output_norm = vector_get(g, "output_norm.weight", hp->n_embd);
	if (hp->tied_output)
		w->output = w->tok_embd;
	else
		matrix_get(g, &w->output, "output.weight", hp->n_embd, hp->n_vocab);
	w->inv_freq = rope_inv_freq(g, hp);
	w->layers = xcalloc(hp->n_layer, sizeof *w->layers);
	for (uint32_t l = 0; l < hp->n_layer; l++) {
		struct layer_weights *lw = &w->layers[l];
#define NAME(s) (snprintf(name, sizeof name, "blk.%u." s ".weight", l), name)
		lw->attn_norm = vector_get(g, NAME("attn_norm"), hp->n_embd);
		matrix_get(g, &lw->wq, NAME("attn_q"), hp->n_embd, q_dim);
		matrix_get(g, &lw->wk, NAME("attn_k"), hp->n_embd, kv_dim);
		matrix_get(g, &lw->wv, NAME("attn_v"), hp->n_embd, kv_dim);
		matrix_get(g, &lw->wo, NAME("attn_output"), q_dim, hp->n_embd);
		lw->ffn_norm = vector_get(g, NAME("ffn_norm"), hp->n_embd);
		matrix_get(g, &lw->w_gate, NAME("ffn_gate"), hp->n_embd, hp->n_ff);
		matrix_get(g, &lw->w_up, NAME("ffn_up"), hp->n_embd, hp->n_ff);
		matrix_get(g, &lw->w_down, NAME("ffn_down"), hp->n_ff, hp->n_embd);
#undef NAME
	}
	/* The file before its tensor data: header, metadata, tensor table. */
	t->id = fnv1a(g->map, g->data_offset);
	return t;
}

struct transformer *transformer_open(const char *path)
{
	return transformer_from_gguf(gguf_open_or_die(path));
}

void transformer_close(struct transformer *t)
{
	if (!t)
		return;
	for (uint32_t l = 0; l < t->hp.n_layer; l++) {
		free(t->w.layers[l].attn_norm);
		free(t->w.layers[l].ffn_norm);
	}
	free(t->w.layers);
	free(t->w.output_norm);
	free(t->w.inv_freq);
	gguf_close(t->g);
	free(t);
}

/* ---- the context ---- */

/* Room for either activation copy of m's input (quant_act or 16-bit). */
static size_t max_act_bytes(size_t cur, const struct matrix *m)
{
	size_t b = quant_act_row_bytes(m->type, m->n_in);
	if (quant_a16_supported(m->type) && quant_a16_row_bytes((int)m->n_in) > b)
		b = quant_a16_row_bytes((int)m->n_in);
	return b > cur ? b : cur;
}

struct context *context_new(const struct transformer *t, uint32_t n_ctx, int n_threads, bool all_logits)
{
	const struct hparams *hp = &t->hp;
	struct context *c = xcalloc(1, sizeof *c);
	uint32_t q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
	size_t stride = 0;

	c->t = t;
	c->n_ctx = n_ctx ? n_ctx : hp->n_ctx_train;
	if (c->n_ctx == 0)
		die("%s: the model gives no context length: use -c N", t->g->path);
	c->max_batch = c->n_ctx < MAX_BATCH ? c->n_ctx : MAX_BATCH;
	c->all_logits = all_logits;
	c->logit_rows = all_logits ? (c->max_batch < LOGIT_ROWS ? c->max_batch : LOGIT_ROWS) : 1;
	c->pool = pool_new(n_threads);

	/* The KV cache is the one large allocation; calloc leaves untouched
	 * pages to the kernel, so a long context costs only what is used. */
	size_t kv = (size_t)hp->n_layer * c->n_ctx * kv_dim;
	c->k_cache = calloc(kv, sizeof(float));
	c->v_cache = calloc(kv, sizeof(float));
	if (!c->k_cache || !c->v_cache)
		die("a KV cache of %zu MiB for %u positions does not fit in memory: use -c N for a smaller context",
		    2 * kv * sizeof(float) >> 20, c->n_ctx);
	c->ids = xcalloc(c->n_ctx, sizeof *c->ids);

	size_t mb = c->max_batch;
	c->x = xcalloc(mb * hp->n_embd, sizeof(float));
	c->xb = xcalloc(mb * hp->n_embd, sizeof(float));
	c->q = xcalloc(mb * q_dim, sizeof(float));
	c->att_out = xcalloc(mb * q_dim, sizeof(float));
	c->tmp = xcalloc(mb * hp->n_embd, sizeof(float));
	c->hb = xcalloc(mb * hp->n_ff, sizeof(float));
	c->hb2 = xcalloc(mb * hp->n_ff, sizeof(float));
	c->att_ld = (c->n_ctx + 15) & ~(size_t)15;
	c->att = xcalloc((size_t)pool_size(c->pool) * ATT_ROWS * c->att_ld, sizeof(float));
	c->row_len = hp->n_embd > hp->n_ff ? hp->n_embd : hp->n_ff;
	if (q_dim > c->row_len)
		c->row_len = q_dim;
	c->logits = xcalloc((size_t)c->logit_rows * hp->n_vocab, sizeof(float));
	c->rope_cs = xcalloc(mb * hp->n_rot / 2, sizeof(float));
	c->rope_sn = xcalloc(mb * hp->n_rot / 2, sizeof(float));

	stride = max_act_bytes(stride, &t->w.output);
	for (uint32_t l = 0; l < hp->n_layer; l++) {
		const struct layer_weights *lw = &t->w.layers[l];
		const struct matrix *ms[] = {&lw->wq, &lw->wk, &lw->wv, &lw->wo, &lw->w_gate, &lw->w_up, &lw->w_down};
		for (size_t i = 0; i < sizeof ms / sizeof *ms; i++)
			stride = max_act_bytes(stride, ms[i]);
	}
	c->xq_stride = (stride + 63) & ~(size_t)63;
	for (int i = 0; i < 3; i++)
		c->xq[i] = xcalloc(mb, c->xq_stride);
	c->pxf = xcalloc((size_t)pool_size(c->pool) * PRE_ROWS * c->row_len, sizeof(float));
	c->pxq = xcalloc((size_t)pool_size(c->pool) * 3 * PRE_ROWS, c->xq_stride);
	return c;
}

void context_free(struct context *c)
{
	if (!c)
		return;
	pool_free(c->pool);
	free(c->k_cache);
	free(c->v_cache);
	free(c->ids);
	free(c->x);
	free(c->xb);
	free(c->q);
	free(c->att_out);
	free(c->tmp);
	free(c->hb);
	free(c->hb2);
	free(c->att);
	free(c->logits);
	free(c->rope_cs);
	free(c->rope_sn);
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

/* ---- kernels below the forward pass ---- */

/* 8-lane float vectors (GCC vector extensions): SIMD code on any target,
 * AVX2 or AVX-512 registers with -march=native. */
typedef float v8 __attribute__((vector_size(32)));

static inline v8 load8(const float *p)
{
	v8 v;
	memcpy(&v, p, sizeof v);
	return v;
}

static inline float hsum(v8 v)
{
	return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

/* e^x, 8 lanes: x = n ln2 + r with |r| <= ln2/2, e^r by its Taylor
 * series to r^6 (relative error below 2e-7), times 2^n built in the
 * exponent bits.  x is clamped to [-87, 88]: e^-87 (about 1.6e-38) is
 * negligible wherever this is used (softmax beside its maximum's e^0,
 * SiLU beside 1), and e^88 stays finite. */
typedef int32_t v8i __attribute__((vector_size(32)));

static inline v8 exp8(v8 x)
{
	const v8 lo = {-87, -87, -87, -87, -87, -87, -87, -87}, hi = {88, 88, 88, 88, 88, 88, 88, 88};
	v8i below = x < lo, above = x > hi;
	x = (v8)(((v8i)x & ~below) | ((v8i)lo & below));
	x = (v8)(((v8i)x & ~above) | ((v8i)hi & above));
	v8 n = x * 1.44269504088896341f + 12582912.0f;  /* round(x / ln2) + 1.5 * 2^23 */
	n -= 12582912.0f;
	v8 r = x - n * 0.693145751953125f - n * 1.42860682030941723e-6f;  /* ln2 in two parts */
	v8 p = r * (1.0f / 720) + 1.0f / 120;
	p = p * r + 1.0f / 24;
	p = p * r + 1.0f / 6;
	p = p * r + 0.5f;
	p = p * r + 1.0f;
	p = p * r + 1.0f;
	v8i e = (__builtin_convertvector(n, v8i) + 127) << 23;
	return p * (v8)e;
}

static float silu(float x)
{
	return x / (1.0f + expf(-x));
}

/* y[i] = silu(y[i]) * up[i] = y[i] / (1 + e^-y[i]) * up[i] */
static void swiglu(float *y, const float *up, uint32_t n)
{
	uint32_t i = 0;
	for (; i + 8 <= n; i += 8) {
		v8 g = load8(y + i);
		g = g / (1.0f + exp8(-g)) * load8(up + i);
		memcpy(y + i, &g, sizeof g);
	}
	for (; i < n; i++)
		y[i] = silu(y[i]) * up[i];
}

/* out = w * x / sqrt(mean(x^2) + eps) */
static void rmsnorm(float *out, const float *x, const float *w, uint32_t n, float eps)
{
	double ss = 0;
	for (uint32_t i = 0; i < n; i++)
		ss += (double)x[i] * x[i];
	float scale = (float)(1.0 / sqrt(ss / n + eps));
	for (uint32_t i = 0; i < n; i++)
		out[i] = w[i] * (x[i] * scale);
}

/* RoPE, NORM pairing (GGUF llama weights, formats.md 4.3): pair i is
 * (x[2i], x[2i+1]), rotated by the angle pos * inv_freq[i]. */
static void rope_angles(float *cs, float *sn, uint32_t pos, const float *inv_freq, uint32_t n_rot)
{
	for (uint32_t i = 0; i < n_rot / 2; i++) {
		float theta = (float)pos * inv_freq[i];
		cs[i] = (float)cos(theta), sn[i] = (float)sin(theta);
	}
}

/* the angles of one position are computed once for all its heads */
static void rope(float *x, const float *cs, const float *sn, uint32_t n_rot)
{
	for (uint32_t i = 0; i < n_rot / 2; i++) {
		float a = x[2 * i], b = x[2 * i + 1];
		x[2 * i] = a * cs[i] - b * sn[i];
		x[2 * i + 1] = a * sn[i] + b * cs[i];
	}
}

/* ---- parallel steps ----
 *
 * A step is described in struct step and run by step_run() on every
 * thread; each thread takes its share of rows (matrix products), positions
 * (norms, quantization) or (position, head) pairs (attention). */

enum step_kind { NORM_QUANT, MATMUL, ATTENTION };
enum mm_post { POST_NONE, POST_ROPE_Q, POST_ROPE_K, POST_RESIDUAL, POST_SWIGLU };

struct mm_job {
	const struct matrix *w;
	const float *xf;         /* (nb, n_in) activations */
	const uint8_t *xq;       /* (nb, xq_stride) the same quantized for w (quant_act) */
	float *y;                /* y[b * ldy + r] = row r of w . activation b */
	size_t ldy;
	enum mm_post post;
};

struct step {
	enum step_kind kind;
	uint32_t nb;             /* positions in the slice */
	uint32_t pos0;           /* position of the slice's first row */
	uint32_t layer;
	/* NORM_QUANT: rows of src (ld n) are normed with norm (unless NULL)
	 * into dst, then quantized for each matrix in mats[] */
	const float *src;
	float *dst;
	const float *norm;
	uint32_t n;
	const struct matrix *mats[3];
	int n_mats;
	/* MATMUL: jobs share the rows between the threads.  For SWIGLU the two
	 * jobs (gate, up) are split alike so that a thread owns both halves
	 * of its rows. */
	struct mm_job jobs[3];
	int n_jobs;
	uint32_t unit;           /* rows are handed out in multiples of this */
	/* MATMUL with pre: every thread first norms src (ld n) with norm
	 * (unless NULL) and quantizes it for each job's matrix into its own
	 * buffers (c->pxf, c->pxq), which then replace the jobs' xf and xq */
	bool pre;
};

/* How a product with weights of type t reads a batch of nb activations:
 * --quant-act: the 8-bit (or float) formats of quant_act_type();
 * otherwise, exact: 16-bit quants (quant_matmul_a16) for the types that
 * have them, below the batch from which the kernel family multiplies
 * float activations faster (quant_float_batch); float rows
 * (quant_matmul_float) for everything else. */
enum { ACT_A16 = GGML_NTYPES + 1, ACT_FLOAT = GGML_NTYPES + 2 };

static int act_kind(const struct context *c, enum ggml_type t, uint32_t nb)
{
	int batch = quant_float_batch(t);
	if (c->quant_act)
		return (int)quant_act_type(t);
	if (quant_a16_supported(t) && !(batch && nb >= (uint32_t)batch))
		return ACT_A16;
	return ACT_FLOAT;
}

/* Matrices with the same activation format share one quantized copy:
 * the first of mats[0..m] with the format of mats[m]. */
static int xq_share(const struct context *c, const struct matrix *const *mats, int m, uint32_t nb)
{
	for (int j = 0; j < m; j++)
		if (act_kind(c, mats[j]->type, nb) == act_kind(c, mats[m]->type, nb))
			return j;
	return m;
}

static const uint8_t *xq_for(const struct context *c, const struct step *s, int m)
{
	return c->xq[xq_share(c, s->mats, m, s->nb)];
}

/* Norm row `in` (n elements) with norm (unless NULL) into f, and quantize
 * the result for each of mats[0..n_mats) (in a batch of nb) into q[m] (shared copies
 * written once); returns the float row. */
static const float *norm_quant_row(const struct context *c, const float *in, float *f, const float *norm, uint32_t n,
				   const struct matrix *const *mats, int n_mats, uint32_t nb, uint8_t *const *q)
{
	if (norm) {
		rmsnorm(f, in, norm, n, c->t->hp.rms_eps);
		in = f;
	}
	for (int m = 0; m < n_mats; m++) {
		int kind = act_kind(c, mats[m]->type, nb);
		if (xq_share(c, mats, m, nb) != m || kind == ACT_FLOAT)
			continue;
		if (kind == ACT_A16)
			quant_a16_row(in, q[m], (int)n);
		else
			quant_act_row(mats[m]->type, in, q[m], (int)n);
	}
	return in;
}

static void share(uint32_t total, int ith, int nth, uint32_t *lo, uint32_t *hi)
{
	*lo = (uint32_t)((uint64_t)total * ith / nth);
	*hi = (uint32_t)((uint64_t)total * (ith + 1) / nth);
}

static void norm_quant(struct context *c, const struct step *s, int ith, int nth)
{
	uint32_t b0, b1;
	share(s->nb, ith, nth, &b0, &b1);
	for (uint32_t b = b0; b < b1; b++) {
		uint8_t *q[3];
		for (int m = 0; m < 3; m++)
			q[m] = c->xq[m] + (size_t)b * c->xq_stride;
		norm_quant_row(c, s->src + (size_t)b * s->n, s->dst + (size_t)b * s->n, s->norm, s->n, s->mats, s->n_mats,
			       s->nb, q);
	}
}

/* y[b * ldy + r] = row r of W . activation b, for r in [r0, r1) */
static void product(const struct context *c, const struct mm_job *x, uint32_t nb, uint32_t r0, uint32_t r1)
{
	const struct matrix *w = x->w;
	switch (act_kind(c, w->type, nb)) {
	case ACT_A16:
		quant_matmul_a16(w->type, w->data, w->row_bytes, (int)w->n_in, x->xq, c->xq_stride, (int)nb, x->y,
				 (int)x->ldy, (int)r0, (int)r1);
		return;
	case ACT_FLOAT:  /* the float rows are the activations */
		quant_matmul_float(w->type, w->data, w->row_bytes, (int)w->n_in, x->xf, w->n_in * sizeof(float), (int)nb,
				   x->y, (int)x->ldy, (int)r0, (int)r1);
		return;
	default:
		quant_matmul(w->type, w->data, w->row_bytes, (int)w->n_in, x->xq, c->xq_stride, (int)nb, x->y,
			     (int)x->ldy, (int)r0, (int)r1);
		return;
	}
}

static void matmul(struct context *c, const struct step *s, int ith, int nth)
{
	const struct hparams *hp = &c->t->hp;
	uint32_t units = 0, u0, u1, base = 0;
	int n_share = s->jobs[0].post == POST_SWIGLU ? 1 : s->n_jobs;
	struct mm_job jobs[3];

	memcpy(jobs, s->jobs, sizeof jobs);
	if (s->pre) {
		float *f = c->pxf + (size_t)ith * PRE_ROWS * c->row_len;
		uint8_t *q0 = c->pxq + (size_t)ith * 3 * PRE_ROWS * c->xq_stride;
		const uint8_t *xq[3];
		for (int m = 0; m < s->n_mats; m++)
			xq[m] = q0 + (size_t)xq_share(c, s->mats, m, s->nb) * PRE_ROWS * c->xq_stride;
		for (uint32_t b = 0; b < s->nb; b++) {
			uint8_t *q[3];
			for (int m = 0; m < 3; m++)
				q[m] = q0 + ((size_t)m * PRE_ROWS + b) * c->xq_stride;
			norm_quant_row(c, s->src + (size_t)b * s->n, f + (size_t)b * s->n, s->norm, s->n, s->mats,
				       s->n_mats, s->nb, q);
		}
		for (int j = 0; j < s->n_jobs; j++) {
			jobs[j].xf = s->norm ? f : s->src;
			jobs[j].xq = xq[j];
		}
	}

	for (int j = 0; j < n_share; j++)
		units += (s->jobs[j].w->n_out + s->unit - 1) / s->unit;
	share(units, ith, nth, &u0, &u1);
	for (int j = 0; j < n_share; j++) {
		const struct mm_job *jb = &jobs[j];
		uint32_t first = base, last = base + (jb->w->n_out + s->unit - 1) / s->unit;
		uint32_t lo = u0 > first ? u0 : first, hi = u1 < last ? u1 : last;
		base = last;
		if (lo >= hi)
			continue;
		uint32_t r0 = (lo - first) * s->unit, r1 = (hi - first) * s->unit;
		if (r1 > jb->w->n_out)
			r1 = jb->w->n_out;
		for (int k = j; k < (jb->post == POST_SWIGLU ? 2 : j + 1); k++)
			product(c, &jobs[k], s->nb, r0, r1);
		for (uint32_t b = 0; b < s->nb; b++) {
			float *y = jb->y + b * jb->ldy;
			switch (jb->post) {
			case POST_NONE:
				break;
			case POST_ROPE_Q: /* rows r0..r1 are whole heads (unit = head_dim) */
			case POST_ROPE_K: {
				size_t at = (size_t)b * hp->n_rot / 2;
				const float *cs = c->rope_cs + at, *sn = c->rope_sn + at;
				for (uint32_t r = r0; r < r1; r += hp->head_dim)
					rope(y + r, cs, sn, hp->n_rot);
				break;
			}
			case POST_RESIDUAL: /* x += y */
				for (uint32_t r = r0; r < r1; r++)
					c->x[(size_t)b * hp->n_embd + r] += y[r];
				break;
			case POST_SWIGLU: { /* gate = silu(gate) * up */
				const float *up = s->jobs[1].y + b * s->jobs[1].ldy;
				swiglu(y + r0, up + r0, r1 - r0);
				break;
			}
			}
		}
	}
}

/* 16-lane vectors for the attention's weighted sums: 4 rows of 64 (or
 * 2 of 128) outputs stay in 16 AVX-512 registers. */
typedef float v16 __attribute__((vector_size(64)));

static inline v16 load16(const float *p)
{
	v16 v;
	memcpy(&v, p, sizeof v);
	return v;
}

/* out[r * ldo + i] = scale[r] * sum over keys t < n of a[r * lda + t] *
 * v[t * ldv + i] for R rows of hd outputs; R and hd constants of the caller
 * (inlined), so that the R * hd sums stay in registers and each v row is
 * read once. */
static inline __attribute__((always_inline)) void weighted_sums(float *out, size_t ldo, const float *a,
								size_t lda, const float *v, size_t ldv, uint32_t n,
								const float *scale, const uint32_t R, const uint32_t hd)
{
	v16 acc[4][MAX_HD / 16];
	for (uint32_t r = 0; r < R; r++)
		for (uint32_t i = 0; i < hd / 16; i++)
			acc[r][i] = (v16){0};
	for (uint32_t t = 0; t < n; t++, v += ldv)
		for (uint32_t i = 0; i < hd / 16; i++) {
			v16 vi = load16(v + 16 * i);
			for (uint32_t r = 0; r < R; r++)
				acc[r][i] += a[r * lda + t] * vi;
		}
	for (uint32_t r = 0; r < R; r++)
		for (uint32_t i = 0; i < hd / 16; i++) {
			v16 o = acc[r][i] * scale[r];
			memcpy(out + r * ldo + 16 * i, &o, sizeof o);
		}
}

/* The same for rows of any number of outputs. */
static void weighted_sums_any(float *out, size_t ldo, const float *a, size_t lda, const float *v, size_t ldv,
			      uint32_t n, const float *scale, uint32_t rows, uint32_t hd)
{
	for (uint32_t r = 0; r < rows; r++) {
		float *o = out + r * ldo;
		memset(o, 0, hd * sizeof *o);
		for (uint32_t t = 0; t < n; t++)
			for (uint32_t i = 0; i < hd; i++)
				o[i] += a[r * lda + t] * v[(size_t)t * ldv + i];
		for (uint32_t i = 0; i < hd; i++)
			o[i] *= scale[r];
	}
}

/* the largest of x[0..n) */
static float max_of(const float *x, uint32_t n)
{
	v8 m = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
	uint32_t t = 0;
	for (; t + 8 <= n; t += 8) {
		v8 v = load8(x + t);
		v8i gt = v > m;
		m = (v8)(((v8i)v & gt) | ((v8i)m & ~gt));
	}
	float max = -INFINITY;
	for (uint32_t i = 0; i < 8; i++)
		max = m[i] > max ? m[i] : max;
	for (; t < n; t++)
		max = x[t] > max ? x[t] : max;
	return max;
}

/* Causal attention of the queries of head h at positions b0..b1 of the
 * slice (a task: ATT_ROWS positions of one head) over cache positions
 * [0, pos0 + b]: scores S = Q K^T by the float matrix kernel, softmax
 * per row, then S V. */
static void attention(struct context *c, const struct step *s, int ith, int nth)
{
	const struct hparams *hp = &c->t->hp;
	uint32_t hd = hp->head_dim, q_dim = hp->n_head * hd, kv_dim = hp->n_head_kv * hd;
	uint32_t group = hp->n_head / hp->n_head_kv, n_blk = (s->nb + ATT_ROWS - 1) / ATT_ROWS;
	const float *kc = c->k_cache + (size_t)s->layer * c->n_ctx * kv_dim;
	const float *vc = c->v_cache + (size_t)s->layer * c->n_ctx * kv_dim;
	size_t lda = c->att_ld;
	float *att = c->att + (size_t)ith * ATT_ROWS * lda;
	float scale = 1.0f / sqrtf((float)hd);
	uint32_t t0, t1;

	/* head-major: a thread's consecutive tasks read the same keys */
	share(n_blk * hp->n_head, ith, nth, &t0, &t1);
	for (uint32_t task = t0; task < t1; task++) {
		uint32_t h = task / n_blk, b0 = task % n_blk * ATT_ROWS, kvh = h / group;
		uint32_t rows = s->nb - b0 < ATT_ROWS ? s->nb - b0 : ATT_ROWS, n_keys = s->pos0 + b0 + rows;
		const float *k = kc + kvh * hd, *v = vc + kvh * hd;
		float *out = c->att_out + (size_t)b0 * q_dim + h * hd;

		/* att[r * lda + t] = q_r . k_t for every key of the last row */
		quant_matmul(GGML_F32, k, kv_dim * sizeof(float), (int)hd, c->q + (size_t)b0 * q_dim + h * hd,
			     q_dim * sizeof(float), (int)rows, att, (int)lda, 0, (int)n_keys);

		/* softmax weights exp((score - max) / sqrt(head_dim)), zero past the
		 * row's own position; normalized after the sums */
		float inv_sum[ATT_ROWS];
		for (uint32_t r = 0; r < rows; r++) {
			float *a = att + r * lda, sum = 0;
			uint32_t n = s->pos0 + b0 + r + 1, t;
			float max = max_of(a, n);
			v8 vsum = {0};
			for (t = 0; t + 8 <= n; t += 8) {
				v8 e = exp8((load8(a + t) - max) * scale);
				memcpy(a + t, &e, sizeof e);
				vsum += e;
			}
			for (; t < n; t++) {
				a[t] = expf((a[t] - max) * scale);
				sum += a[t];
			}
			inv_sum[r] = 1 / (sum + hsum(vsum));
			memset(a + n, 0, (n_keys - n) * sizeof *a);
		}

		/* out = weights V, four rows at a time */
		uint32_t r = 0;
#define SUMS(R, HD) weighted_sums(out + r * q_dim, q_dim, att + r * lda, lda, v, kv_dim, n_keys, inv_sum + r, R, HD)
		for (; hd == 64 && r + 4 <= rows; r += 4)
			SUMS(4, 64);
		for (; hd == 128 && r + 2 <= rows; r += 2)
			SUMS(2, 128);
		for (; hd == 64 && r < rows; r++)
			SUMS(1, 64);
		for (; hd == 128 && r < rows; r++)
			SUMS(1, 128);
#undef SUMS
		weighted_sums_any(out + r * q_dim, q_dim, att + r * lda, lda, v, kv_dim, n_keys, inv_sum + r, rows - r,
				  hd);
	}
}

static void step_fn(void *arg, int ith, int nth)
{
	struct context *c = arg;
	const struct step *s = c->step;
	switch (s->kind) {
	case NORM_QUANT: norm_quant(c, s, ith, nth); break;
	case MATMUL: matmul(c, s, ith, nth); break;
	case ATTENTION: attention(c, s, ith, nth); break;
	}
}

static void run_step(struct context *c, struct step *s)
{
	c->step = s;
	pool_run(c->pool, step_fn, c);
}

/* Norm nb rows of src into dst (unless norm is NULL) and quantize them
 * for up to three matrices (quant_act): return the float rows, and through
 * xq[] the quantized copy each matrix reads. */
static const float *prepare(struct context *c, uint32_t nb, const float *src, float *dst, const float *norm,
			    uint32_t n, const struct matrix *m0, const struct matrix *m1, const struct matrix *m2,
			    const uint8_t **xq)
{
	struct step s = {.kind = NORM_QUANT, .nb = nb, .src = src, .dst = dst, .norm = norm, .n = n,
			 .mats = {m0, m1, m2}, .n_mats = m2 ? 3 : m1 ? 2 : 1};
	run_step(c, &s);
	for (int m = 0; m < s.n_mats; m++)
		xq[m] = xq_for(c, &s, m);
	return norm ? dst : src;
}

/* Run the product step s (jobs filled but for their inputs) on nb rows
 * of src (ld n) normed with norm (unless NULL; into dst) and quantized for
 * each job's matrix: for few rows inside the product step itself (s->pre),
 * else as a step of its own first. */
static void matmul_step(struct context *c, struct step *s, const float *src, float *dst, const float *norm,
			uint32_t n)
{
	s->src = src, s->dst = dst, s->norm = norm, s->n = n, s->n_mats = s->n_jobs;
	for (int j = 0; j < s->n_jobs; j++)
		s->mats[j] = s->jobs[j].w;
	if (s->nb <= PRE_ROWS && pool_size(c->pool) > 1) {
		s->pre = true;
	} else {
		const uint8_t *xq[3];
		const float *xf = prepare(c, s->nb, src, dst, norm, n, s->mats[0], s->n_jobs > 1 ? s->mats[1] : NULL,
					  s->n_jobs > 2 ? s->mats[2] : NULL, xq);
		for (int j = 0; j < s->n_jobs; j++) {
			s->jobs[j].xf = xf;
			s->jobs[j].xq = xq[j];
		}
	}
	run_step(c, s);
}

/* ---- the forward pass ---- */

/* Run the transformer layers over nb positions starting at pos0, whose
 * ids are in c->ids.  Leaves the residual stream in c->x and the keys and
 * values of every layer in the cache. */
static void forward_layers(struct context *c, uint32_t pos0, uint32_t nb)
{
	const struct transformer *t = c->t;
	const struct hparams *hp = &t->hp;
	uint32_t n_embd = hp->n_embd, q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;

	/* RoPE angles of the slice's positions, once for every layer and head */
	for (uint32_t b = 0; b < nb; b++)
		rope_angles(c->rope_cs + (size_t)b * hp->n_rot / 2, c->rope_sn + (size_t)b * hp->n_rot / 2, pos0 + b,
			    t->w.inv_freq, hp->n_rot);

	/* token embeddings: x (nb, n_embd) = rows of tok_embd */
	for (uint32_t b = 0; b < nb; b++) {
		const struct matrix *e = &t->w.tok_embd;
		dequant_row(e->type, (const uint8_t *)e->data + (size_t)c->ids[pos0 + b] * e->row_bytes,
			    c->x + (size_t)b * n_embd, n_embd);
	}

	for (uint32_t l = 0; l < hp->n_layer; l++) {
		const struct layer_weights *lw = &t->w.layers[l];
		float *k = c->k_cache + ((size_t)l * c->n_ctx + pos0) * kv_dim;  /* (nb, kv_dim) */
		float *v = c->v_cache + ((size_t)l * c->n_ctx + pos0) * kv_dim;  /* (nb, kv_dim) */

		/* attention norm: xb (nb, n_embd) = rmsnorm(x) * attn_norm, quantized for Wq, Wk, Wv;
		 * projections: q (nb, q_dim) = xb Wq^T; k, v (nb, kv_dim) = xb Wk^T, xb Wv^T
		 * written straight into the cache; RoPE on q and k, whole heads per thread */
		struct step qkv = {.kind = MATMUL, .nb = nb, .pos0 = pos0, .unit = hp->head_dim, .n_jobs = 3,
				   .jobs = {{.w = &lw->wq, .y = c->q, .ldy = q_dim, .post = POST_ROPE_Q},
					    {.w = &lw->wk, .y = k, .ldy = kv_dim, .post = POST_ROPE_K},
					    {.w = &lw->wv, .y = v, .ldy = kv_dim, .post = POST_NONE}}};
		matmul_step(c, &qkv, c->x, c->xb, lw->attn_norm, n_embd);

		/* attention: att_out (nb, q_dim), query head h reads KV head h / (n_head / n_head_kv) */
		struct step att = {.kind = ATTENTION, .nb = nb, .pos0 = pos0, .layer = l};
		run_step(c, &att);

		/* output projection and residual: x += att_out Wo^T */
		struct step out = {.kind = MATMUL, .nb = nb, .unit = 16, .n_jobs = 1,
				   .jobs = {{.w = &lw->wo, .y = c->tmp, .ldy = n_embd, .post = POST_RESIDUAL}}};
		matmul_step(c, &out, c->att_out, NULL, NULL, q_dim);

		/* feed-forward norm: xb = rmsnorm(x) * ffn_norm, quantized for Wgate, Wup;
		 * SwiGLU: hb (nb, n_ff) = silu(xb Wgate^T) * (xb Wup^T) */
		struct step ffn = {.kind = MATMUL, .nb = nb, .unit = 16, .n_jobs = 2,
				   .jobs = {{.w = &lw->w_gate, .y = c->hb, .ldy = hp->n_ff, .post = POST_SWIGLU},
					    {.w = &lw->w_up, .y = c->hb2, .ldy = hp->n_ff, .post = POST_NONE}}};
		matmul_step(c, &ffn, c->x, c->xb, lw->ffn_norm, n_embd);

		/* down projection and residual: x += hb Wdown^T */
		struct step down = {.kind = MATMUL, .nb = nb, .unit = 16, .n_jobs = 1,
				    .jobs = {{.w = &lw->w_down, .y = c->tmp, .ldy = n_embd, .post = POST_RESIDUAL}}};
		matmul_step(c, &down, c->hb, NULL, NULL, hp->n_ff);
	}
}

/* Logits of n rows of the residual stream from row b0:
 * logits (n, n_vocab) = rmsnorm(x) * output_norm, times output^T. */
static void forward_logits(struct context *c, uint32_t b0, uint32_t n)
{
	const struct transformer *t = c->t;
	uint32_t n_embd = t->hp.n_embd;
	struct step s = {.kind = MATMUL, .nb = n, .unit = 16, .n_jobs = 1,
			 .jobs = {{.w = &t->w.output, .y = c->logits, .ldy = t->hp.n_vocab, .post = POST_NONE}}};

	matmul_step(c, &s, c->x + (size_t)b0 * n_embd, c->xb, t->w.output_norm, n_embd);
}

int context_eval(struct context *c, const int32_t *ids, uint32_t n, logits_fn emit, void *arg)
{
	bool all_logits = c->all_logits;
	uint32_t skip = 0, keep = all_logits ? 0 : n - 1;

	/* ids that repeat the cached rows after a reset need no work, except
	 * the positions whose logits are asked for (logits are not cached) */
	while (skip < keep && c->n_pos + skip < c->n_cached && c->ids[c->n_pos + skip] == ids[skip])
		skip++;
	c->n_pos += skip;
	ids += skip;
	n -= skip;

	while (n > 0) {
		uint32_t nb = n < c->max_batch ? n : c->max_batch, pos0 = c->n_pos;
		memcpy(c->ids + pos0, ids, nb * sizeof *ids);
		forward_layers(c, pos0, nb);
		c->n_evaluated += nb;
		c->n_pos = c->n_cached = pos0 + nb;
		ids += nb;
		n -= nb;
		for (uint32_t b0 = all_logits ? 0 : nb - 1; b0 < nb; b0 += c->logit_rows) {
			if (!all_logits && n > 0)
				break;  /* only the batch's last position has a frame */
			uint32_t rows = nb - b0 < c->logit_rows ? nb - b0 : c->logit_rows;
			forward_logits(c, b0, rows);
			for (uint32_t r = 0; r < rows; r++)
				if (!emit(arg, c->ids[pos0 + b0 + r], pos0 + b0 + r,
					  c->logits + (size_t)r * c->t->hp.n_vocab))
					return 0;
		}
	}
	return 1;
}
