/* steps.c - the steps of a layer, shared by every architecture (steps.h).
 *
 * A step is one operation of the model run on the thread pool (one
 * synchronisation point per step); the threads take chunks of rows
 * (matrix products) or of (position, head) pairs (attention) from a
 * counter as they go, or an equal share of positions (norms,
 * quantization).  The matrix products go through quant.h, which
 * multiplies the weights in their stored type by activations quantized
 * for that type. */
#include "steps.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "pool.h"
#include "quant.h"
#include "vec8.h"

/* ---- kernels below the forward pass ---- */

static inline float hsum(v8 v)
{
	return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

static float silu(float x)
{
	return x / (1.0f + expf(-x));
}

/* GELU, tanh form: 0.5 x (1 + tanh(u)) with u = sqrt(2/pi) (x + 0.044715
 * x^3), which is x sigmoid(2u) = x / (1 + e^-2u). */
#define GELU_K 0.7978845608028654f  /* sqrt(2/pi) */
static float gelu_tanh(float x)
{
	return x / (1.0f + expf(-2 * GELU_K * (x + 0.044715f * x * x * x)));
}

/* y[i] = act(y[i]) * up[i]: SiLU y / (1 + e^-y), GELU-tanh above */
static void gate(float *y, const float *up, uint32_t n, enum act act)
{
	uint32_t i = 0;
	if (act == ACT_GELU_TANH) {
		for (; i + 8 <= n; i += 8) {
			v8 g = load8(y + i);
			g = g / (1.0f + exp8(-2 * GELU_K * (g + 0.044715f * g * g * g))) * load8(up + i);
			memcpy(y + i, &g, sizeof g);
		}
		for (; i < n; i++)
			y[i] = gelu_tanh(y[i]) * up[i];
		return;
	}
	for (; i + 8 <= n; i += 8) {
		v8 g = load8(y + i);
		g = g / (1.0f + exp8(-g)) * load8(up + i);
		memcpy(y + i, &g, sizeof g);
	}
	for (; i < n; i++)
		y[i] = silu(y[i]) * up[i];
}

/* out = w * x / sqrt(mean(x^2) + eps).  The squares are summed in 8
 * interleaved double sums (vectors, where one chain of dependent
 * additions took 1.4 % of a SmolLM2 F16 prefill), added in a fixed
 * order. */
static void rmsnorm(float *out, const float *x, const float *w, uint32_t n, float eps)
{
	double s[8] = {0}, ss = 0;
	uint32_t i = 0;
	for (; i + 8 <= n; i += 8)
		for (uint32_t j = 0; j < 8; j++)
			s[j] += (double)x[i + j] * x[i + j];
	for (; i < n; i++)
		ss += (double)x[i] * x[i];
	ss += ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
	float scale = (float)(1.0 / sqrt(ss / n + eps));
	for (uint32_t i = 0; i < n; i++)
		out[i] = w[i] * (x[i] * scale);
}

/* RoPE (doc/formats.md "RoPE"): pair i is rotated by the angle
 * pos * inv_freq[i]; the angles of one position are computed once for all
 * its heads.  mscale multiplies cos and sin (phi3's long context). */
static void rope_angles(float *cs, float *sn, uint32_t pos, const float *inv_freq, uint32_t n_rot, float mscale)
{
	for (uint32_t i = 0; i < n_rot / 2; i++) {
		float theta = (float)pos * inv_freq[i];
		cs[i] = (float)cos(theta), sn[i] = (float)sin(theta);
		if (mscale != 1.0f)
			cs[i] *= mscale, sn[i] *= mscale;
	}
}

/* Rotate the first n_rot elements of a head, the rest stay: NORM pairs
 * neighbours (x[2i], x[2i+1]) (GGUF llama weights, whose Q and K rows the
 * converter permuted), NEOX pairs halves (x[i], x[i + n_rot/2]). */
static void rope(float *x, const float *cs, const float *sn, uint32_t n_rot, enum rope_mode mode)
{
	uint32_t half = n_rot / 2, stride = mode == ROPE_NEOX ? 1 : 2, other = mode == ROPE_NEOX ? half : 1;
	for (uint32_t i = 0; i < half; i++) {
		float *p = x + i * stride, a = p[0], b = p[other];
		p[0] = a * cs[i] - b * sn[i];
		p[other] = a * sn[i] + b * cs[i];
	}
}

/* ---- parallel steps ----
 *
 * A step is described in struct step and run by step_fn() on every
 * thread.  The products and the attention hand out their work in chunks
 * from an atomic counter (take()): a thread that the system deschedules
 * for a while (a machine shared with other work, cores of unequal speed)
 * leaves its rows to the others instead of stalling the step until it
 * comes back.  Each row's (each task's) arithmetic is the same whichever
 * thread computes it and whatever its neighbours in the chunk, so results
 * do not depend on the number of threads or on the timing, bit for bit
 * (tests/unit/test-forward.c, test-batch.c).  The norms and quantization
 * before a product are short and split in equal shares. */

enum step_kind { NORM_QUANT, MATMUL, ATTENTION };
/* What a product does to its rows, once they are computed (after adding
 * the bias, if the job has one): nothing; on whole heads (Q and K) an
 * RMSNorm if the job has one, then RoPE; add them to the residual stream;
 * gate the second job's rows with them (gated feed-forward). */
enum mm_post { POST_NONE, POST_HEADS, POST_RESIDUAL, POST_GATE };

struct mm_job {
	const struct matrix *w;
	const float *xf;         /* (nb, n_in) activations */
	const uint8_t *xq[2];    /* (nb, xq_stride) the same quantized for w, as the rows of small
				    segments ([0]) and of large ones ([1]) read them */
	float *y;                /* y[b * ldy + r] = row r of w . activation b */
	size_t ldy;
	const float *bias;       /* (w->n_out) added to every row, or NULL */
	enum mm_post post;
	const float *head_norm;  /* POST_HEADS: (head_dim) RMSNorm weights of each head, or NULL */
	const float *rope_cs, *rope_sn;  /* POST_HEADS: (nb, n_rot / 2) the positions' RoPE */
	enum act act;            /* POST_GATE: the activation of the gate */
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
	/* MATMUL: the threads take the jobs' rows in chunks.  For SWIGLU the
	 * two jobs (gate, up) are split alike so that a thread owns both
	 * halves of its rows. */
	struct mm_job jobs[3];
	int n_jobs;
	uint32_t unit;           /* rows are handed out in multiples of this */
	atomic_uint next;        /* MATMUL, ATTENTION: the first unit (task) not yet taken */
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

/* Chunks: about CHUNKS_PER_THREAD per thread, so that a late thread's
 * last chunk is a small part of the step, but for products a multiple of
 * PANEL_ROWS rows (whole panels of the kernels' large-batch method,
 * GP_ROWS in kernels_*.c: 32 rows for AVX-512, 16 AVX2, 8 NEON) and, if
 * any rows are of small batches, at least CHUNK_ROWS (whole tiles of the
 * small-batch method, whose prefetch runs 64 rows ahead, which a short
 * chunk would waste).  Taking a chunk is one atomic add per chunk. */
#define CHUNKS_PER_THREAD 4
#define CHUNK_ROWS 128
#define PANEL_ROWS 32

static uint32_t chunk_size(uint32_t total, uint32_t least, int nth)
{
	uint32_t n = total / ((uint32_t)nth * CHUNKS_PER_THREAD);
	return n > least ? n : least;
}

/* The units (of `unit` rows) in a product's chunk.  With small batches:
 * enough for CHUNK_ROWS rows in whole panels, and more, in multiples of
 * those, for a large product.  Large batches only: the share of a chunk
 * rounded up to whole panels, so that the chunks come out even: 576 rows
 * (SmolLM2's attention output and down projections) in 6 chunks of 96,
 * not 4 of 128 and one of 64, which left one of 2 threads 320 rows to
 * the other's 256. */
static uint32_t chunk_units(uint32_t units, uint32_t unit, int nth, bool small)
{
	uint32_t step = 1, c, parts = (uint32_t)nth * CHUNKS_PER_THREAD;
	while (step * unit % PANEL_ROWS)
		step++;
	if (!small) {
		c = (units + parts - 1) / parts;
		return (c + step - 1) / step * step;
	}
	while (step * unit < CHUNK_ROWS)
		step *= 2;
	c = chunk_size(units, step, nth);
	return c - c % step;
}

/* The next chunk [lo, hi) of [0, total) not yet taken; false when none is
 * left. */
static bool take(struct step *s, uint32_t total, uint32_t chunk, uint32_t *lo, uint32_t *hi)
{
	uint32_t at = atomic_fetch_add_explicit(&s->next, chunk, memory_order_relaxed);
	if (at >= total)
		return false;
	*lo = at;
	*hi = total - at < chunk ? total : at + chunk;
	return true;
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

/* Rows [u0 * unit, u1 * unit) of the jobs (numbered one job after the
 * other, the first n_share jobs; a gate's job also computes the same rows
 * of the next one), then what the jobs do with them. */
static void matmul_units(struct context *c, const struct step *s, const struct mm_job *jobs, int n_share,
			 uint32_t u0, uint32_t u1)
{
	const struct hparams *hp = &c->t->hp;
	uint32_t base = 0;
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
		int k1 = jb->post == POST_GATE ? 2 : j + 1;
		for (int k = j; k < k1; k++)
			product(c, &jobs[k], s, r0, r1);
		for (uint32_t b = 0; b < s->nb; b++) {
			float *y = jb->y + b * jb->ldy;
			for (int k = j; k < k1; k++)
				if (jobs[k].bias) {
					float *yk = jobs[k].y + b * jobs[k].ldy;
					for (uint32_t r = r0; r < r1; r++)
						yk[r] += jobs[k].bias[r];
				}
			switch (jb->post) {
			case POST_NONE:
				break;
			case POST_HEADS: { /* rows r0..r1 are whole heads (unit = head_dim) */
				size_t at = (size_t)b * hp->n_rot / 2;
				const float *cs = jb->rope_cs + at, *sn = jb->rope_sn + at;
				for (uint32_t r = r0; r < r1; r += hp->head_dim) {
					if (jb->head_norm)
						rmsnorm(y + r, y + r, jb->head_norm, hp->head_dim, hp->rms_eps);
					rope(y + r, cs, sn, hp->n_rot, hp->rope_mode);
				}
				break;
			}
			case POST_RESIDUAL: /* x += y (times the residual scale) */
				if (hp->residual_scale != 1.0f)
					for (uint32_t r = r0; r < r1; r++)
						c->x[(size_t)b * hp->n_embd + r] += y[r] * hp->residual_scale;
				else
					for (uint32_t r = r0; r < r1; r++)
						c->x[(size_t)b * hp->n_embd + r] += y[r];
				break;
			case POST_GATE: { /* gate = act(gate) * up */
				const float *up = s->jobs[1].y + b * s->jobs[1].ldy;
				gate(y + r0, up + r0, r1 - r0, jb->act);
				break;
			}
			}
		}
	}
}

static void matmul(struct context *c, struct step *s, int ith, int nth)
{
	uint32_t units = 0, u0, u1, chunk;
	int n_share = s->jobs[0].post == POST_GATE ? 1 : s->n_jobs;
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
	chunk = chunk_units(units, s->unit, nth, s->ns > 0);
	while (take(s, units, chunk, &u0, &u1))
		matmul_units(c, s, jobs, n_share, u0, u1);
}

/* The attention's weighted sums keep R rows of W outputs in SUM_REGS
 * vector registers of VLEN floats, the widest the build targets: AVX-512
 * has 32 registers of 16, AVX2 16 of 8, NEON 32 of 4, SSE2 16 of 4 (a
 * vector wider than the target's is split by the compiler into pieces
 * that do not stay in registers: with AVX2 only, 64-byte vectors made
 * weights_v half of a SmolLM2 prefill). */
#if defined(__AVX512F__)
#define VLEN 16
#define SUM_REGS 16
#elif defined(__AVX__)
#define VLEN 8
#define SUM_REGS 12
/* 4 rows of 2 vectors, not the columns and rows below (all the head sizes
 * of weights_v() are multiples of 16): a whole head of 64 fit only one
 * row at a time, each reading its 256 bytes of every value row from L2,
 * which bound weights_v (8.6 % of a SmolLM2 F16 prefill at 1 thread, 4.4 %
 * with 4 rows of 16; 12 accumulators, 3 rows of 32, gave 5.4 %) */
#define SUM_W(HD) (2 * VLEN)
#define SUM_R(HD) 4
#elif defined(__aarch64__)
#define VLEN 4
#define SUM_REGS 24
#else
#define VLEN 4
#define SUM_REGS 12
#endif
typedef float vw __attribute__((vector_size(VLEN * sizeof(float))));

static inline vw loadw(const float *p)
{
	vw v;
	memcpy(&v, p, sizeof v);
	return v;
}

/* The keys and values the next segment's tasks will read, fetched two
 * lines of each per key of the current ones' weighted sums (attention()). */
struct ahead {
	const char *k, *v;
	size_t left;  /* bytes */
};

static inline void ahead_lines(struct ahead *pf, uint32_t n)
{
	for (; n && pf->left; n--, pf->left = pf->left > 64 ? pf->left - 64 : 0, pf->k += 64, pf->v += 64) {
		__builtin_prefetch(pf->k, 0, 2);
		__builtin_prefetch(pf->v, 0, 2);
	}
}

/* The keys (or values) of a task: n0 rows from p0, then n1 rows from p1
 * (a ring's wrap; n1 = 0 without one), ld floats apart. */
struct rows2 {
	const float *p0, *p1;
	uint32_t n0, n1;
	size_t ld;
};

/* out[r * ldo + i] = scale[r] * sum over keys t < n0 + n1 of a[r * lda + t]
 * * v_t[c0 + i] for R rows of W outputs, v_t the value row of key t; R and
 * W constants of the caller (inlined), so that the R * W sums stay in
 * registers and each piece of a v row is read once per R rows.  Every
 * output is the same operations in the same order whatever R, W and c0. */
static inline __attribute__((always_inline)) void weighted_sums(float *out, size_t ldo, const float *a,
								size_t lda, const struct rows2 *vr,
								const float *scale, uint32_t c0, struct ahead *pf,
								const uint32_t R, const uint32_t W)
{
	vw acc[4][SUM_REGS];
	for (uint32_t r = 0; r < R; r++)
		for (uint32_t i = 0; i < W / VLEN; i++)
			acc[r][i] = (vw){0};
	for (int seg = 0; seg < 2; seg++) {
		const float *v = (seg ? vr->p1 : vr->p0) + c0, *as = seg ? a + vr->n0 : a;
		uint32_t n = seg ? vr->n1 : vr->n0;
		for (uint32_t t = 0; t < n; t++, v += vr->ld) {
			ahead_lines(pf, 2);
			for (uint32_t i = 0; i < W / VLEN; i++) {
				vw vi = loadw(v + VLEN * i);
				for (uint32_t r = 0; r < R; r++)
					acc[r][i] += as[r * lda + t] * vi;
			}
		}
	}
	for (uint32_t r = 0; r < R; r++)
		for (uint32_t i = 0; i < W / VLEN; i++) {
			vw o = acc[r][i] * scale[r];
			memcpy(out + r * ldo + VLEN * i, &o, sizeof o);
		}
}

/* The same for rows of any number of outputs. */
static void weighted_sums_any(float *out, size_t ldo, const float *a, size_t lda, const struct rows2 *vr,
			      const float *scale, uint32_t rows, uint32_t hd)
{
	for (uint32_t r = 0; r < rows; r++) {
		float *o = out + r * ldo;
		memset(o, 0, hd * sizeof *o);
		for (uint32_t t = 0; t < vr->n0 + vr->n1; t++) {
			const float *v = t < vr->n0 ? vr->p0 + t * vr->ld : vr->p1 + (t - vr->n0) * vr->ld;
			for (uint32_t i = 0; i < hd; i++)
				o[i] += a[r * lda + t] * v[i];
		}
		for (uint32_t i = 0; i < hd; i++)
			o[i] *= scale[r];
	}
}

/* Columns of a head of HD outputs taken at once: HD if its vectors fit
 * in SUM_REGS, else the widest equal part that does; and rows at once, at
 * most 4, as many as fit then (unless the target chose above). */
#ifndef SUM_W
#define SUM_PARTS(HD) ((HD) <= SUM_REGS * VLEN ? 1 : (HD) <= 2 * SUM_REGS * VLEN ? 2 : (HD) <= 4 * SUM_REGS * VLEN ? 4 : 8)
#define SUM_W(HD) ((HD) / SUM_PARTS(HD))
#define SUM_R(HD) (SUM_REGS / (SUM_W(HD) / VLEN) < 4 ? SUM_REGS / (SUM_W(HD) / VLEN) : 4)
#endif

/* out = weights V for rows rows: register-blocked for the common head
 * sizes (R rows of W outputs at a time), any other size by the plain
 * loop. */
static void weights_v(float *out, size_t ldo, const float *a, size_t lda, const struct rows2 *vr,
		      const float *inv_sum, uint32_t rows, uint32_t hd, struct ahead *pf)
{
#define SUMS(HD)                                                                                       \
	case HD: {                                                                                     \
		_Static_assert((HD) % SUM_W(HD) == 0 && SUM_W(HD) % VLEN == 0 && SUM_R(HD) * SUM_W(HD) / VLEN <= SUM_REGS, \
			       "weights_v " #HD); \
		for (uint32_t c0 = 0; c0 < HD; c0 += SUM_W(HD)) {                                       \
			uint32_t r = 0;                                                                \
			for (; r + SUM_R(HD) <= rows; r += SUM_R(HD))                                  \
				weighted_sums(out + r * ldo + c0, ldo, a + r * lda, lda, vr, inv_sum + r, c0, pf, \
					      SUM_R(HD), SUM_W(HD));                                   \
			for (; r < rows; r++)                                                          \
				weighted_sums(out + r * ldo + c0, ldo, a + r * lda, lda, vr, inv_sum + r, c0, pf, \
					      1, SUM_W(HD));                                           \
		}                                                                                      \
		return;                                                                                \
	}
	switch (hd) {
	SUMS(32)
	SUMS(48)
	SUMS(64)
	SUMS(80)
	SUMS(96)
	SUMS(112)
	SUMS(128)
	SUMS(160)
	SUMS(192)
	SUMS(256)
	}
#undef SUMS
	weighted_sums_any(out, ldo, a, lda, vr, inv_sum, rows, hd);
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
 * b0..b0 + ATT_ROWS of one segment over the keys of its sequence's cache
 * each may see: every earlier position, or the last n_swa ones in a local
 * layer (whose ring may wrap them in two runs of rows).  Scores S = Q K^T
 * by the float matrix kernel, softmax per row, then S V.  Tasks are
 * numbered segment by segment, head-major inside a segment (a thread's
 * consecutive tasks read the same keys). */
static void attention(struct context *c, struct step *s, int ith, int nth)
{
	const struct hparams *hp = &c->t->hp;
	uint32_t hd = hp->head_dim, q_dim = hp->n_head * hd, kv_dim = hp->n_head_kv * hd;
	uint32_t group = hp->n_head / hp->n_head_kv, n_tasks = 0, g = 0, g_first = 0;
	size_t lda = c->att_ld;
	float *att = c->att + (size_t)ith * ATT_ROWS * lda;
	float scale = hp->att_scale;
	uint32_t t0, t1, chunk;
	struct ahead pf = {0};

	for (uint32_t i = 0; i < c->n_seg; i++)
		n_tasks += (c->seg[i].n + ATT_ROWS - 1) / ATT_ROWS * hp->n_head;
	chunk = chunk_size(n_tasks, 1, nth);
	/* a thread's chunks come in increasing order: g only moves forward */
	while (take(s, n_tasks, chunk, &t0, &t1))
		for (uint32_t task = t0; task < t1; task++) {
			uint32_t n_blk;
			while (n_blk = (c->seg[g].n + ATT_ROWS - 1) / ATT_ROWS, task >= g_first + n_blk * hp->n_head) {
				g_first += n_blk * hp->n_head;
				g++;
			}
			const struct segment *sg = &c->seg[g];
			const struct kv_cache *kv = &sg->s->kv[s->layer];
			/* the next segment's keys and values, if this thread takes its
			 * first task (the only thread takes every chunk in turn): with
			 * 16 sequences their caches leave the core's between steps, and
			 * waiting for them bound the attention (fetching them all at
			 * once only moved the wait) */
			if (task == g_first && g + 1 < c->n_seg && (nth == 1 || g_first + n_blk * hp->n_head < t1)) {
				const struct segment *nx = &c->seg[g + 1];
				const struct kv_cache *nkv = &nx->s->kv[s->layer];
				uint32_t n = nx->pos0 + nx->n < nkv->rows ? nx->pos0 + nx->n : nkv->rows;
				pf = (struct ahead){(const char *)nkv->k, (const char *)nkv->v, (size_t)n * kv_dim * sizeof(float)};
			}
			uint32_t window = kv->local ? hp->n_swa : 0;
			uint32_t h = (task - g_first) / n_blk, b0 = (task - g_first) % n_blk * ATT_ROWS, kvh = h / group;
			uint32_t rows = sg->n - b0 < ATT_ROWS ? sg->n - b0 : ATT_ROWS, p0 = sg->pos0 + b0;
			/* the keys of positions lo .. p0 + rows - 1, from cache row lo % rows */
			uint32_t lo = window && p0 + 1 > window ? p0 + 1 - window : 0, n_keys = p0 + rows - lo;
			uint32_t k0 = lo % kv->rows, n0 = n_keys < kv->rows - k0 ? n_keys : kv->rows - k0;
			struct rows2 kr = {kv->k + (size_t)k0 * kv_dim + kvh * hd, kv->k + kvh * hd, n0, n_keys - n0, kv_dim};
			struct rows2 vr = {kv->v + (size_t)k0 * kv_dim + kvh * hd, kv->v + kvh * hd, n0, n_keys - n0, kv_dim};
			size_t row = sg->row0 + b0;
			const float *q = c->q + row * q_dim + h * hd;
			float *out = c->att_out + row * q_dim + h * hd;

			/* att[r * lda + t] = q_r . k_(lo + t) for every key of the task:
			 * the queries are float activations against the keys as F32
			 * rows (the AVX2 and NEON families' panels from GP_MIN rows:
			 * a SmolLM2 F16 prefill's scores 7.8-8.2 % -> 6.1 % of its
			 * time with AVX2 at 1 thread; the AVX-512 family keeps its
			 * tiles, as for F32 weights) */
			quant_matmul_float(GGML_F32, kr.p0, kv_dim * sizeof(float), (int)hd, q, q_dim * sizeof(float),
					   (int)rows, att, (int)lda, 0, (int)kr.n0);
			if (kr.n1)
				quant_matmul_float(GGML_F32, kr.p1, kv_dim * sizeof(float), (int)hd, q, q_dim * sizeof(float),
						   (int)rows, att + kr.n0, (int)lda, 0, (int)kr.n1);

			/* softmax weights exp((score - max) * scale) over the keys the row
			 * sees, zero for the others; normalized after the sums */
			float inv_sum[ATT_ROWS];
			for (uint32_t r = 0; r < rows; r++) {
				uint32_t p = p0 + r, first = (window && p + 1 > window ? p + 1 - window : 0) - lo;
				uint32_t n = p - lo + 1 - first, t;
				float *a = att + r * lda + first, sum = 0;
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
				memset(a - first, 0, first * sizeof *a);
				memset(a + n, 0, (n_keys - first - n) * sizeof *a);
			}

			/* out = weights V */
			weights_v(out, q_dim, att, lda, &vr, inv_sum, rows, hd, &pf);
		}
}

static void step_fn(void *arg, int ith, int nth)
{
	struct context *c = arg;
	struct step *s = c->step;
	switch (s->kind) {
	case NORM_QUANT: norm_quant(c, s, ith, nth); break;
	case MATMUL: matmul(c, s, ith, nth); break;
	case ATTENTION: attention(c, s, ith, nth); break;
	}
}

static void run_step(struct context *c, struct step *s)
{
	c->step = s;
	atomic_store_explicit(&s->next, 0, memory_order_relaxed);  /* published by pool_run */
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
		/* each sequence its own factors: long past phi3's original context */
		const float *inv = g->s->rope_long ? c->t->w.inv_freq_long : c->t->w.inv_freq;
		for (uint32_t b = 0; b < g->n; b++) {
			size_t at = (size_t)(g->row0 + b) * hp->n_rot / 2;
			rope_angles(c->rope_cs + at, c->rope_sn + at, g->pos0 + b, inv, hp->n_rot, hp->rope_attn_factor);
			if (c->rope_cs_swa)
				rope_angles(c->rope_cs_swa + at, c->rope_sn_swa + at, g->pos0 + b, c->t->w.inv_freq_swa,
					    hp->n_rot, 1.0f);
		}
	}
}

void step_qkv(struct context *c, const struct layer_weights *w, uint32_t l, uint32_t nb)
{
	const struct hparams *hp = &c->t->hp;
	uint32_t q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
	bool local = hparams_local(hp, l);
	const float *cs = c->rope_cs, *sn = c->rope_sn;

	if (local && c->rope_cs_swa)
		cs = c->rope_cs_swa, sn = c->rope_sn_swa;
	/* xb (nb, n_embd) = rmsnorm(x) * attn_norm, quantized for Wq, Wk, Wv;
	 * q (nb, q_dim) = xb Wq^T; kb, vb (nb, kv_dim) = xb Wk^T, xb Wv^T (+
	 * biases); per-head norms and RoPE on q and k, whole heads per thread */
	struct step s = {.kind = MATMUL, .nb = nb, .ns = c->ns, .unit = hp->head_dim, .n_jobs = 3,
			 .jobs = {{.w = &w->wq, .y = c->q, .ldy = q_dim, .bias = w->bq, .post = POST_HEADS,
				   .head_norm = w->q_norm, .rope_cs = cs, .rope_sn = sn},
				  {.w = &w->wk, .y = c->kb, .ldy = kv_dim, .bias = w->bk, .post = POST_HEADS,
				   .head_norm = w->k_norm, .rope_cs = cs, .rope_sn = sn},
				  {.w = &w->wv, .y = c->vb, .ldy = kv_dim, .bias = w->bv, .post = POST_NONE}}};
	matmul_step(c, &s, c->x, c->xb, w->attn_norm, hp->n_embd);

	/* each segment's keys and values into its sequence's cache: at their
	 * positions, or in a local layer's ring at position % rows (which the
	 * segment may wrap) */
	for (uint32_t i = 0; i < c->n_seg; i++) {
		const struct segment *g = &c->seg[i];
		const struct kv_cache *kv = &g->s->kv[l];
		const float *kb = c->kb + (size_t)g->row0 * kv_dim, *vb = c->vb + (size_t)g->row0 * kv_dim;
		if (!kv->local) {
			size_t bytes = (size_t)g->n * kv_dim * sizeof(float);
			memcpy(kv->k + (size_t)g->pos0 * kv_dim, kb, bytes);
			memcpy(kv->v + (size_t)g->pos0 * kv_dim, vb, bytes);
			continue;
		}
		for (uint32_t b = 0; b < g->n; b++) {
			size_t row = (size_t)(g->pos0 + b) % kv->rows * kv_dim;
			memcpy(kv->k + row, kb + (size_t)b * kv_dim, kv_dim * sizeof(float));
			memcpy(kv->v + row, vb + (size_t)b * kv_dim, kv_dim * sizeof(float));
		}
	}
}

void step_attention(struct context *c, uint32_t l, uint32_t nb)
{
	struct step s = {.kind = ATTENTION, .nb = nb, .layer = l};
	run_step(c, &s);
}

void step_add_product(struct context *c, const struct matrix *m, const float *bias, const float *in, uint32_t nb,
		      const float *norm)
{
	const struct hparams *hp = &c->t->hp;
	struct step s = {.kind = MATMUL, .nb = nb, .ns = c->ns, .unit = 16, .n_jobs = 1,
			 .jobs = {{.w = m, .y = c->tmp, .ldy = hp->n_embd, .bias = bias,
				   .post = norm ? POST_NONE : POST_RESIDUAL}}};
	matmul_step(c, &s, in, NULL, NULL, m->n_in);
	if (norm)  /* a whole row is normed: here, after the product (a few microseconds) */
		for (uint32_t b = 0; b < nb; b++) {
			float *y = c->tmp + (size_t)b * hp->n_embd, *x = c->x + (size_t)b * hp->n_embd;
			rmsnorm(y, y, norm, hp->n_embd, hp->rms_eps);
			for (uint32_t i = 0; i < hp->n_embd; i++)
				x[i] += y[i] * hp->residual_scale;
		}
}

void step_gated_ffn(struct context *c, const struct layer_weights *w, enum act act, uint32_t nb)
{
	const struct hparams *hp = &c->t->hp;
	struct step s = {.kind = MATMUL, .nb = nb, .ns = c->ns, .unit = 16, .n_jobs = 2,
			 .jobs = {{.w = &w->w_gate, .y = c->hb, .ldy = hp->n_ff, .bias = w->b_gate, .post = POST_GATE,
				   .act = act},
				  {.w = &w->w_up, .y = c->hb2, .ldy = hp->n_ff, .bias = w->b_up, .post = POST_NONE}}};
	matmul_step(c, &s, c->x, c->xb, w->ffn_norm, hp->n_embd);
}

/* logits (n, n_vocab) = rmsnorm(rows) * output_norm, times output^T;
 * divided by logit_scale, capped by cap * tanh(logit / cap) when the model
 * says so */
void step_logits(struct context *c, const float *rows, uint32_t n, bool small)
{
	const struct transformer *t = c->t;
	float cap = t->hp.logit_softcap;
	struct step s = {.kind = MATMUL, .nb = n, .ns = small ? n : 0, .unit = 16, .n_jobs = 1,
			 .jobs = {{.w = &t->w.output, .y = c->logits, .ldy = t->hp.n_vocab, .post = POST_NONE}}};

	matmul_step(c, &s, rows, c->xb, t->w.output_norm, t->hp.n_embd);
	if (t->hp.logit_scale != 1.0f)
		for (size_t i = 0; i < (size_t)n * t->hp.n_vocab; i++)
			c->logits[i] /= t->hp.logit_scale;
	if (cap > 0)
		for (size_t i = 0; i < (size_t)n * t->hp.n_vocab; i++)
			c->logits[i] = tanhf(c->logits[i] / cap) * cap;
}
