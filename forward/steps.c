/* steps.c - the steps of a layer, shared by every architecture (steps.h).
 *
 * A step is one operation of the model run on the thread pool (one
 * synchronisation point per step); each thread takes its share of rows
 * (matrix products), positions (norms, quantization) or (position, head)
 * pairs (attention).  The matrix products go through quant.h, which
 * multiplies the weights in their stored type by activations quantized
 * for that type. */
#include "steps.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "pool.h"
#include "quant.h"
#include "vec8.h"

#define MAX_HD 128    /* the largest head_dim with a register-blocked attention */

/* ---- kernels below the forward pass ---- */

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

/* RoPE, NORM pairing (GGUF llama weights, doc/formats.md "RoPE"): pair i is
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
	const uint8_t *xq[2];    /* (nb, xq_stride) the same quantized for w, as the rows of small
				    segments ([0]) and of large ones ([1]) read them */
	float *y;                /* y[b * ldy + r] = row r of w . activation b */
	size_t ldy;
	enum mm_post post;
};

struct step {
	enum step_kind kind;
	uint32_t nb;             /* rows in the slice */
	uint32_t ns;             /* rows [0, ns) are multiplied as a small batch, the rest as a large one */
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

/* How a product with weights of type t reads a batch of activations:
 * --quant-act: the 8-bit (or float) formats of quant_act_type();
 * otherwise, exact: 16-bit quants (quant_matmul_a16) for the types that
 * have them, unless the batch is large (at least quant_float_batch(t)
 * rows, from which the kernel family multiplies float activations
 * faster); float rows (quant_matmul_float) for everything else.
 *
 * A batch is large or small per sequence: a slice of several sequences
 * multiplies the rows of each as a batch of that sequence's rows alone
 * would be, so that its results do not depend on the others (the products
 * give a row the same result in any batch of the same kind, bit for bit:
 * tests/unit/test-batch.c). */
enum { ACT_A16 = GGML_NTYPES + 1, ACT_FLOAT = GGML_NTYPES + 2 };

static int act_kind(const struct context *c, enum ggml_type t, bool large)
{
	if (c->quant_act)
		return (int)quant_act_type(t);
	if (quant_a16_supported(t) && !(large && quant_float_batch(t)))
		return ACT_A16;
	return ACT_FLOAT;
}

/* Matrices with the same activation format share one quantized copy:
 * the first of mats[0..m] with the format of mats[m]. */
static int xq_share(const struct context *c, const struct matrix *const *mats, int m, bool large)
{
	for (int j = 0; j < m; j++)
		if (act_kind(c, mats[j]->type, large) == act_kind(c, mats[m]->type, large))
			return j;
	return m;
}

/* Norm row `in` (n elements) with norm (unless NULL) into f, and quantize
 * the result for each of mats[0..n_mats) (for a small or large batch) into
 * q[m] (shared copies written once); returns the float row. */
static const float *norm_quant_row(const struct context *c, const float *in, float *f, const float *norm, uint32_t n,
				   const struct matrix *const *mats, int n_mats, bool large, uint8_t *const *q)
{
	if (norm) {
		rmsnorm(f, in, norm, n, c->t->hp.rms_eps);
		in = f;
	}
	for (int m = 0; m < n_mats; m++) {
		int kind = act_kind(c, mats[m]->type, large);
		if (xq_share(c, mats, m, large) != m || kind == ACT_FLOAT)
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
			       b >= s->ns, q);
	}
}

/* y[b * ldy + r] = row r of W . activation b, for r in [r0, r1) and the
 * nb activations from row b0, all of one kind (large or small).  A product
 * whose kernel picks its method from the batch size gets a small batch in
 * pieces below that size. */
static void product_rows(const struct context *c, const struct mm_job *x, uint32_t b0, uint32_t nb, bool large,
			 uint32_t r0, uint32_t r1)
{
	const struct matrix *w = x->w;
	int kind = act_kind(c, w->type, large);
	uint32_t piece = nb, most = (uint32_t)quant_float_batch(w->type);
	const uint8_t *xq = x->xq[large] + (size_t)b0 * c->xq_stride;
	const float *xf = x->xf + (size_t)b0 * w->n_in;
	float *y = x->y + b0 * x->ldy;

	if (!large && most > 1 && (kind == ACT_FLOAT || kind == GGML_F32))
		piece = most - 1;
	for (uint32_t b = 0; b < nb; b += piece) {
		int m = (int)(nb - b < piece ? nb - b : piece);
		switch (kind) {
		case ACT_A16:
			quant_matmul_a16(w->type, w->data, w->row_bytes, (int)w->n_in, xq + (size_t)b * c->xq_stride,
					 c->xq_stride, m, y + b * x->ldy, (int)x->ldy, (int)r0, (int)r1);
			break;
		case ACT_FLOAT:  /* the float rows are the activations */
			quant_matmul_float(w->type, w->data, w->row_bytes, (int)w->n_in, xf + (size_t)b * w->n_in,
					   w->n_in * sizeof(float), m, y + b * x->ldy, (int)x->ldy, (int)r0, (int)r1);
			break;
		default:
			quant_matmul(w->type, w->data, w->row_bytes, (int)w->n_in, xq + (size_t)b * c->xq_stride,
				     c->xq_stride, m, y + b * x->ldy, (int)x->ldy, (int)r0, (int)r1);
			break;
		}
	}
}

/* y[b * ldy + r] = row r of W . activation b, for r in [r0, r1) */
static void product(const struct context *c, const struct mm_job *x, const struct step *s, uint32_t r0, uint32_t r1)
{
	if (s->ns > 0)
		product_rows(c, x, 0, s->ns, false, r0, r1);
	if (s->nb > s->ns)
		product_rows(c, x, s->ns, s->nb - s->ns, true, r0, r1);
}

static void matmul(struct context *c, const struct step *s, int ith, int nth)
{
	const struct hparams *hp = &c->t->hp;
	uint32_t units = 0, u0, u1, base = 0;
	int n_share = s->jobs[0].post == POST_SWIGLU ? 1 : s->n_jobs;
	struct mm_job jobs[3];

	memcpy(jobs, s->jobs, sizeof jobs);
	if (s->pre) {  /* all rows small */
		float *f = c->pxf + (size_t)ith * PRE_ROWS * c->row_len;
		uint8_t *q0 = c->pxq + (size_t)ith * 3 * PRE_ROWS * c->xq_stride;
		for (uint32_t b = 0; b < s->nb; b++) {
			uint8_t *q[3];
			for (int m = 0; m < 3; m++)
				q[m] = q0 + ((size_t)m * PRE_ROWS + b) * c->xq_stride;
			norm_quant_row(c, s->src + (size_t)b * s->n, f + (size_t)b * s->n, s->norm, s->n, s->mats,
				       s->n_mats, false, q);
		}
		for (int j = 0; j < s->n_jobs; j++) {
			jobs[j].xf = s->norm ? f : s->src;
			jobs[j].xq[0] = q0 + (size_t)xq_share(c, s->mats, j, false) * PRE_ROWS * c->xq_stride;
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
			product(c, &jobs[k], s, r0, r1);
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

/* Causal attention, a task at a time: the queries of head h at rows
 * b0..b0 + ATT_ROWS of one segment over its sequence's cache positions
 * [0, pos0 + b]: scores S = Q K^T by the float matrix kernel, softmax per
 * row, then S V.  Tasks are numbered segment by segment, head-major inside
 * a segment (a thread's consecutive tasks read the same keys). */
static void attention(struct context *c, const struct step *s, int ith, int nth)
{
	const struct hparams *hp = &c->t->hp;
	uint32_t hd = hp->head_dim, q_dim = hp->n_head * hd, kv_dim = hp->n_head_kv * hd;
	uint32_t group = hp->n_head / hp->n_head_kv, n_tasks = 0, g = 0, g_first = 0;
	size_t lda = c->att_ld;
	float *att = c->att + (size_t)ith * ATT_ROWS * lda;
	float scale = 1.0f / sqrtf((float)hd);
	uint32_t t0, t1;

	for (uint32_t i = 0; i < c->n_seg; i++)
		n_tasks += (c->seg[i].n + ATT_ROWS - 1) / ATT_ROWS * hp->n_head;
	share(n_tasks, ith, nth, &t0, &t1);
	for (uint32_t task = t0; task < t1; task++) {
		uint32_t n_blk;
		while (n_blk = (c->seg[g].n + ATT_ROWS - 1) / ATT_ROWS, task >= g_first + n_blk * hp->n_head) {
			g_first += n_blk * hp->n_head;
			g++;
		}
		const struct segment *sg = &c->seg[g];
		const struct kv_cache *kv = &sg->s->kv[s->layer];
		uint32_t h = (task - g_first) / n_blk, b0 = (task - g_first) % n_blk * ATT_ROWS, kvh = h / group;
		uint32_t rows = sg->n - b0 < ATT_ROWS ? sg->n - b0 : ATT_ROWS, n_keys = sg->pos0 + b0 + rows;
		const float *k = kv->k + kvh * hd, *v = kv->v + kvh * hd;
		size_t row = sg->row0 + b0;
		float *out = c->att_out + row * q_dim + h * hd;

		/* att[r * lda + t] = q_r . k_t for every key of the last row */
		quant_matmul(GGML_F32, k, kv_dim * sizeof(float), (int)hd, c->q + row * q_dim + h * hd,
			     q_dim * sizeof(float), (int)rows, att, (int)lda, 0, (int)n_keys);

		/* softmax weights exp((score - max) / sqrt(head_dim)), zero past the
		 * row's own position; normalized after the sums */
		float inv_sum[ATT_ROWS];
		for (uint32_t r = 0; r < rows; r++) {
			float *a = att + r * lda, sum = 0;
			uint32_t n = sg->pos0 + b0 + r + 1, t;
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

/* Run the product step s (jobs filled but for their inputs; nb and ns
 * set) on the rows of src (ld n) normed with norm (unless NULL; into dst)
 * and quantized for each job's matrix: for few rows, all small, inside the
 * product step itself (s->pre), else as a step of its own first. */
static void matmul_step(struct context *c, struct step *s, const float *src, float *dst, const float *norm,
			uint32_t n)
{
	s->src = src, s->dst = dst, s->norm = norm, s->n = n, s->n_mats = s->n_jobs;
	for (int j = 0; j < s->n_jobs; j++)
		s->mats[j] = s->jobs[j].w;
	if (s->nb <= PRE_ROWS && s->ns == s->nb && pool_size(c->pool) > 1) {
		s->pre = true;
	} else {
		struct step q = {.kind = NORM_QUANT, .nb = s->nb, .ns = s->ns, .src = src, .dst = dst, .norm = norm,
				 .n = n, .n_mats = s->n_mats};
		memcpy(q.mats, s->mats, sizeof q.mats);
		run_step(c, &q);
		for (int j = 0; j < s->n_jobs; j++) {
			s->jobs[j].xf = norm ? dst : src;
			for (int large = 0; large < 2; large++)
				s->jobs[j].xq[large] = c->xq[xq_share(c, s->mats, j, large)];
		}
	}
	run_step(c, s);
}

/* ---- the steps of steps.h ---- */

void step_rope_angles(struct context *c)
{
	const struct hparams *hp = &c->t->hp;
	for (uint32_t i = 0; i < c->n_seg; i++) {
		const struct segment *g = &c->seg[i];
		for (uint32_t b = 0; b < g->n; b++) {
			size_t at = (size_t)(g->row0 + b) * hp->n_rot / 2;
			rope_angles(c->rope_cs + at, c->rope_sn + at, g->pos0 + b, c->t->w.inv_freq, hp->n_rot);
		}
	}
}

void step_qkv(struct context *c, const struct layer_weights *w, uint32_t l, uint32_t nb)
{
	const struct hparams *hp = &c->t->hp;
	uint32_t q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;

	/* xb (nb, n_embd) = rmsnorm(x) * attn_norm, quantized for Wq, Wk, Wv;
	 * q (nb, q_dim) = xb Wq^T; kb, vb (nb, kv_dim) = xb Wk^T, xb Wv^T; RoPE
	 * on q and k, whole heads per thread */
	struct step s = {.kind = MATMUL, .nb = nb, .ns = c->ns, .unit = hp->head_dim, .n_jobs = 3,
			 .jobs = {{.w = &w->wq, .y = c->q, .ldy = q_dim, .post = POST_ROPE_Q},
				  {.w = &w->wk, .y = c->kb, .ldy = kv_dim, .post = POST_ROPE_K},
				  {.w = &w->wv, .y = c->vb, .ldy = kv_dim, .post = POST_NONE}}};
	matmul_step(c, &s, c->x, c->xb, w->attn_norm, hp->n_embd);

	/* each segment's keys and values into its sequence's cache */
	for (uint32_t i = 0; i < c->n_seg; i++) {
		const struct segment *g = &c->seg[i];
		size_t bytes = (size_t)g->n * kv_dim * sizeof(float);
		memcpy(g->s->kv[l].k + (size_t)g->pos0 * kv_dim, c->kb + (size_t)g->row0 * kv_dim, bytes);
		memcpy(g->s->kv[l].v + (size_t)g->pos0 * kv_dim, c->vb + (size_t)g->row0 * kv_dim, bytes);
	}
}

void step_attention(struct context *c, uint32_t l, uint32_t nb)
{
	struct step s = {.kind = ATTENTION, .nb = nb, .layer = l};
	run_step(c, &s);
}

void step_add_product(struct context *c, const struct matrix *m, const float *in, uint32_t nb)
{
	struct step s = {.kind = MATMUL, .nb = nb, .ns = c->ns, .unit = 16, .n_jobs = 1,
			 .jobs = {{.w = m, .y = c->tmp, .ldy = c->t->hp.n_embd, .post = POST_RESIDUAL}}};
	matmul_step(c, &s, in, NULL, NULL, m->n_in);
}

void step_gated_ffn(struct context *c, const struct layer_weights *w, enum act act, uint32_t nb)
{
	const struct hparams *hp = &c->t->hp;
	(void)act;  /* SiLU is the only one yet */
	struct step s = {.kind = MATMUL, .nb = nb, .ns = c->ns, .unit = 16, .n_jobs = 2,
			 .jobs = {{.w = &w->w_gate, .y = c->hb, .ldy = hp->n_ff, .post = POST_SWIGLU},
				  {.w = &w->w_up, .y = c->hb2, .ldy = hp->n_ff, .post = POST_NONE}}};
	matmul_step(c, &s, c->x, c->xb, w->ffn_norm, hp->n_embd);
}

void step_logits(struct context *c, const float *rows, uint32_t n, bool small)
{
	const struct transformer *t = c->t;
	struct step s = {.kind = MATMUL, .nb = n, .ns = small ? n : 0, .unit = 16, .n_jobs = 1,
			 .jobs = {{.w = &t->w.output, .y = c->logits, .ldy = t->hp.n_vocab, .post = POST_NONE}}};

	matmul_step(c, &s, rows, c->xb, t->w.output_norm, t->hp.n_embd);
}
