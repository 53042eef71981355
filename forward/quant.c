/* quant.c - activation quantization, dequantization, the scalar reference
 * dot products and the choice of kernel family (quant.h).
 *
 * The reference keeps one shape for every quantized type: an exact integer
 * sum per block (or sub-block), then one float product with the block
 * scales.  The SIMD families compute the same integers in another order,
 * so they differ from it only by float rounding. */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kernels.h"

/* ---- activation formats ---- */

enum ggml_type quant_act_type(enum ggml_type wtype)
{
	switch (wtype) {
	case GGML_Q4_0: case GGML_Q5_0: case GGML_Q8_0: return GGML_Q8_0;
	case GGML_Q4_1: case GGML_Q5_1: return GGML_Q8_1;
	case GGML_Q4_K: case GGML_Q5_K: case GGML_Q6_K: return GGML_Q8_K;
	default: return GGML_F32;
	}
}

bool quant_supported(enum ggml_type wtype)
{
	switch (wtype) {
	case GGML_F32: case GGML_F16: case GGML_BF16: case GGML_Q8_0:
	case GGML_Q4_0: case GGML_Q4_1: case GGML_Q5_0: case GGML_Q5_1:
	case GGML_Q4_K: case GGML_Q5_K: case GGML_Q6_K:
		return true;
	default:
		return false;
	}
}

size_t quant_act_row_bytes(enum ggml_type wtype, int n)
{
	enum ggml_type a = quant_act_type(wtype);
	return (size_t)n / ggml_block_size(a) * ggml_type_size(a);
}

/* x rounded to the nearest whole number, ties to even, for |x| <= 2^22:
 * floats between 2^23 and 2^24 are the whole numbers, so adding 1.5 * 2^23
 * rounds as nearbyintf() would in the mode nothing here changes.  Unlike
 * nearbyintf(), a libm call, this is arithmetic a compiler does 16 at a
 * time.  (It needs float arithmetic done in float, not wider; and never
 * -ffast-math, which would take it away.) */
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "quant.c rounds with float arithmetic: it needs FLT_EVAL_METHOD 0"
#endif
static float round_small(float x)
{
	const float big = 12582912.0f;
	return (x + big) - big;
}

/* Round x / d to the nearest integer (ties to even) in [-127, 127]; a NaN
 * becomes -127, as the SIMD conversions make it.  Clamped before it is
 * rounded, which gives the same: the bounds are whole numbers. */
static int8_t q8(float x, float id)
{
	float q = x * id;
	return (int8_t)round_small(q > 127 ? 127 : q >= -127 ? q : -127);
}

static float absmax(const float *x, int n)
{
	/* eight running maxima, which the compiler keeps in one vector (the
	 * largest is the largest in any order); not fmaxf(): a libm call; a
	 * NaN is skipped alike */
	float m8[8] = {0}, m = 0;
	int i = 0;
	for (; i + 8 <= n; i += 8)
		for (int k = 0; k < 8; k++)
			m8[k] = fabsf(x[i + k]) > m8[k] ? fabsf(x[i + k]) : m8[k];
	for (; i < n; i++)
		m = fabsf(x[i]) > m ? fabsf(x[i]) : m;
	for (int k = 0; k < 8; k++)
		m = m8[k] > m ? m8[k] : m;
	return m;
}

void q8_scale(float amax, uint16_t *dh, float *id)
{
	float d;
	*dh = f32_to_f16(amax / 127);
	d = f16_to_f32(*dh);
	*id = d != 0 ? 1 / d : 0;
}

static void quant_q8_0_1(const float *x, void *dst, int n, bool with_sum)
{
	struct blk_q8_0 *b0 = dst;
	struct blk_q8_1 *b1 = dst;

	for (int i = 0; i < n / QK; i++, x += QK) {
		uint16_t dh;
		float id, d;
		q8_scale(absmax(x, QK), &dh, &id);
		d = f16_to_f32(dh);
		int8_t *qs = with_sum ? b1[i].qs : b0[i].qs;
		int sum = 0;
		for (int j = 0; j < QK; j++) {
			qs[j] = q8(x[j], id);
			sum += qs[j];
		}
		if (with_sum) {
			b1[i].d = dh;
			b1[i].s = f32_to_f16(d * (float)sum);
		} else {
			b0[i].d = dh;
		}
	}
}

static void quant_q8_k(const float *x, struct blk_q8_k *b, int n)
{
	for (int i = 0; i < n / QK_K; i++, x += QK_K) {
		float d = absmax(x, QK_K) / 127, id = d != 0 ? 1 / d : 0;
		b[i].d = d;
		for (int j = 0; j < QK_K; j++)
			b[i].qs[j] = q8(x[j], id);
		for (int g = 0; g < 16; g++) {
			int s = 0;
			for (int j = 0; j < 16; j++)
				s += b[i].qs[16 * g + j];
			b[i].bsums[g] = (int16_t)s;
		}
	}
}

static const struct quant_family *family;
static pthread_once_t family_once = PTHREAD_ONCE_INIT;
static void family_choose(void);

/* Shapes are checked when a model is loaded; a wrong one here is a bug in
 * the caller, caught before it reads past a row. */
static void check_row(const char *what, enum ggml_type t, int n)
{
	if (!quant_supported(t) && t != GGML_Q8_1 && t != GGML_Q8_K)
		die("%s: unsupported tensor type %s", what, ggml_type_name(t) ? ggml_type_name(t) : "?");
	if (n < 0 || n % (int)ggml_block_size(t) != 0)
		die("%s: a row of %d elements is not a whole number of %s blocks", what, n, ggml_type_name(t));
}

void quant_act_row(enum ggml_type wtype, const float *x, void *dst, int n)
{
	enum ggml_type a = quant_act_type(wtype);

	check_row("quant_act_row", wtype, n);
	pthread_once(&family_once, family_choose);
	if (a != GGML_F32 && family->act) {
		family->act(a, x, dst, n);
		return;
	}
	switch (a) {
	case GGML_Q8_0: quant_q8_0_1(x, dst, n, false); break;
	case GGML_Q8_1: quant_q8_0_1(x, dst, n, true); break;
	case GGML_Q8_K: quant_q8_k(x, dst, n); break;
	default: memcpy(dst, x, (size_t)n * sizeof(float)); break;
	}
}

/* ---- dequantization (formats.md 2.1, 2.2) ---- */

/* The 5-bit quant e of a Q5_0/Q5_1 block. */
static int q5_quant(const uint8_t qh[4], const uint8_t qs[16], int e)
{
	uint32_t h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
	int nib = e < 16 ? qs[e] & 15 : qs[e - 16] >> 4;
	return nib | (int)((h >> e) & 1) << 4;
}

/* The 4-bit quant e (0..255) of a Q4_K/Q5_K super-block. */
static int q4k_nibble(const uint8_t qs[128], int e)
{
	int c = e / 64, r = e % 64;
	return r < 32 ? qs[32 * c + r] & 15 : qs[32 * c + r - 32] >> 4;
}

/* The signed 6-bit quant e of a Q6_K super-block. */
static int q6k_quant(const struct blk_q6_k *b, int e)
{
	int n = e / 128, r = e % 128, g = r / 32, l = r % 32;
	int lo = b->ql[64 * n + l + 32 * (g & 1)];
	lo = g < 2 ? lo & 15 : lo >> 4;
	return (lo | ((b->qh[32 * n + l] >> (2 * g)) & 3) << 4) - 32;
}

void dequant_row(enum ggml_type t, const void *src, float *y, int n)
{
	const uint16_t *h = src;
	const float *f = src;

	check_row("dequant_row", t, n);
	switch (t) {
	case GGML_F32:
		memcpy(y, f, (size_t)n * sizeof(float));
		break;
	case GGML_F16:
		for (int i = 0; i < n; i++)
			y[i] = f16_to_f32(h[i]);
		break;
	case GGML_BF16:
		for (int i = 0; i < n; i++)
			y[i] = bf16_to_f32(h[i]);
		break;
	case GGML_Q4_0:
		for (const struct blk_q4_0 *b = src; n > 0; b++, n -= QK, y += QK)
			for (int e = 0; e < QK; e++)
				y[e] = f16_to_f32(b->d) * ((e < 16 ? b->qs[e] & 15 : b->qs[e - 16] >> 4) - 8);
		break;
	case GGML_Q4_1:
		for (const struct blk_q4_1 *b = src; n > 0; b++, n -= QK, y += QK)
			for (int e = 0; e < QK; e++)
				y[e] = f16_to_f32(b->d) * (e < 16 ? b->qs[e] & 15 : b->qs[e - 16] >> 4) + f16_to_f32(b->m);
		break;
	case GGML_Q5_0:
		for (const struct blk_q5_0 *b = src; n > 0; b++, n -= QK, y += QK)
			for (int e = 0; e < QK; e++)
				y[e] = f16_to_f32(b->d) * (q5_quant(b->qh, b->qs, e) - 16);
		break;
	case GGML_Q5_1:
		for (const struct blk_q5_1 *b = src; n > 0; b++, n -= QK, y += QK)
			for (int e = 0; e < QK; e++)
				y[e] = f16_to_f32(b->d) * q5_quant(b->qh, b->qs, e) + f16_to_f32(b->m);
		break;
	case GGML_Q8_0:
		for (const struct blk_q8_0 *b = src; n > 0; b++, n -= QK, y += QK)
			for (int e = 0; e < QK; e++)
				y[e] = f16_to_f32(b->d) * b->qs[e];
		break;
	case GGML_Q8_1:
		for (const struct blk_q8_1 *b = src; n > 0; b++, n -= QK, y += QK)
			for (int e = 0; e < QK; e++)
				y[e] = f16_to_f32(b->d) * b->qs[e];
		break;
	case GGML_Q4_K:
		for (const struct blk_q4_k *b = src; n > 0; b++, n -= QK_K, y += QK_K)
			for (int e = 0; e < QK_K; e++) {
				int sc, m;
				kq_scale_min(b->scales, e / 32, &sc, &m);
				y[e] = f16_to_f32(b->d) * sc * q4k_nibble(b->qs, e) - f16_to_f32(b->dmin) * m;
			}
		break;
	case GGML_Q5_K:
		for (const struct blk_q5_k *b = src; n > 0; b++, n -= QK_K, y += QK_K)
			for (int e = 0; e < QK_K; e++) {
				int sc, m, q = q4k_nibble(b->qs, e) + 16 * ((b->qh[e % 32] >> (e / 32)) & 1);
				kq_scale_min(b->scales, e / 32, &sc, &m);
				y[e] = f16_to_f32(b->d) * sc * q - f16_to_f32(b->dmin) * m;
			}
		break;
	case GGML_Q6_K:
		for (const struct blk_q6_k *b = src; n > 0; b++, n -= QK_K, y += QK_K)
			for (int e = 0; e < QK_K; e++)
				y[e] = f16_to_f32(b->d) * b->scales[e / 16] * q6k_quant(b, e);
		break;
	case GGML_Q8_K:
		for (const struct blk_q8_k *b = src; n > 0; b++, n -= QK_K, y += QK_K)
			for (int e = 0; e < QK_K; e++)
				y[e] = b->d * b->qs[e];
		break;
	default:
		die("dequant_row: unsupported tensor type %s", ggml_type_name(t) ? ggml_type_name(t) : "?");
	}
}

/* ---- reference dot products ---- */

/* Float weights against float activations, summed in double. */
static float dot_float(enum ggml_type t, const void *w, const float *a, int n, float *abssum)
{
	double s = 0, sa = 0;
	for (int i = 0; i < n; i++) {
		float x = t == GGML_F32 ? ((const float *)w)[i] :
			  t == GGML_F16 ? f16_to_f32(((const uint16_t *)w)[i]) :
					  bf16_to_f32(((const uint16_t *)w)[i]);
		s += (double)x * a[i];
		sa += fabs((double)x * a[i]);
	}
	*abssum = (float)sa;
	return (float)s;
}

/* Legacy 32-blocks: q[e] is the signed quant (offset already removed for
 * Q4_0/Q5_0), the block adds d_w*d_a*isum + m_w*s_a.  The bound counts each
 * product as (|q| + off)|q_a| because a kernel may sum unsigned quants and
 * subtract the offset times sum(q_a) (off = 32 covers 8 and 16, 128 the
 * sign flip of Q8_0 weights). */
static void legacy_quants(enum ggml_type t, const uint8_t *blk, int q[32], float *d, float *m)
{
	switch (t) {
	case GGML_Q4_0: {
		const struct blk_q4_0 *b = (const void *)blk;
		for (int e = 0; e < 16; e++) {
			q[e] = (b->qs[e] & 15) - 8;
			q[e + 16] = (b->qs[e] >> 4) - 8;
		}
		*d = f16_to_f32(b->d), *m = 0;
		break;
	}
	case GGML_Q4_1: {
		const struct blk_q4_1 *b = (const void *)blk;
		for (int e = 0; e < 16; e++) {
			q[e] = b->qs[e] & 15;
			q[e + 16] = b->qs[e] >> 4;
		}
		*d = f16_to_f32(b->d), *m = f16_to_f32(b->m);
		break;
	}
	case GGML_Q5_0: {
		const struct blk_q5_0 *b = (const void *)blk;
		for (int e = 0; e < 32; e++)
			q[e] = q5_quant(b->qh, b->qs, e) - 16;
		*d = f16_to_f32(b->d), *m = 0;
		break;
	}
	case GGML_Q5_1: {
		const struct blk_q5_1 *b = (const void *)blk;
		for (int e = 0; e < 32; e++)
			q[e] = q5_quant(b->qh, b->qs, e);
		*d = f16_to_f32(b->d), *m = f16_to_f32(b->m);
		break;
	}
	default: {  /* Q8_0 */
		const struct blk_q8_0 *b = (const void *)blk;
		for (int e = 0; e < 32; e++)
			q[e] = b->qs[e];
		*d = f16_to_f32(b->d), *m = 0;
		break;
	}
	}
}

static float dot_legacy(enum ggml_type t, const uint8_t *w, const uint8_t *xq, int n, float *abssum)
{
	size_t wsize = ggml_type_size(t), asize = ggml_type_size(quant_act_type(t));
	int off = t == GGML_Q8_0 ? 128 : 32;
	float sum = 0, sabs = 0;

	for (int i = 0; i < n / QK; i++, w += wsize, xq += asize) {
		const struct blk_q8_1 *a1 = (const void *)xq;
		const struct blk_q8_0 *a0 = (const void *)xq;
		const int8_t *qa = asize == sizeof *a1 ? a1->qs : a0->qs;
		float da = f16_to_f32(a0->d), dw, mw;  /* d comes first in both */
		int q[32], isum = 0, iabs = 0;

		legacy_quants(t, w, q, &dw, &mw);
		for (int e = 0; e < QK; e++) {
			isum += q[e] * qa[e];
			iabs += (abs(q[e]) + off) * abs(qa[e]);
		}
		float scale = dw * da;
		sum += scale * (float)isum;
		sabs += fabsf(scale) * (float)iabs;
		if (asize == sizeof *a1) {
			float ms = mw * f16_to_f32(a1->s);
			sum += ms;
			sabs += fabsf(ms);
		}
	}
	*abssum = sabs;
	return sum;
}

/* K-quants against Q8_K: per super-block d_a*d*isum - d_a*dmin*msum, with
 * isum = sum over sub-blocks of scale * sum(q*q_a) and msum = sum of
 * min * sum(q_a) (from bsums). */
static float dot_kquant(enum ggml_type t, const uint8_t *w, const struct blk_q8_k *a, int n, float *abssum)
{
	size_t wsize = ggml_type_size(t);
	float sum = 0, sabs = 0;

	for (int i = 0; i < n / QK_K; i++, w += wsize, a++) {
		int64_t isum = 0, iabs = 0, msum = 0, mabs = 0;
		float d, dmin = 0;

		if (t == GGML_Q6_K) {
			const struct blk_q6_k *b = (const void *)w;
			d = f16_to_f32(b->d);
			for (int s = 0; s < 16; s++) {
				int sub = 0, subabs = 0;
				for (int e = 16 * s; e < 16 * s + 16; e++) {
					int q = q6k_quant(b, e);
					sub += q * a->qs[e];
					subabs += (abs(q) + 32) * abs(a->qs[e]);
				}
				isum += b->scales[s] * sub;
				iabs += abs(b->scales[s]) * subabs;
			}
		} else {
			const struct blk_q4_k *b4 = (const void *)w;
			const struct blk_q5_k *b5 = (const void *)w;
			const uint8_t *scales = t == GGML_Q4_K ? b4->scales : b5->scales;
			const uint8_t *qs = t == GGML_Q4_K ? b4->qs : b5->qs;
			d = f16_to_f32(b4->d);  /* d, dmin first in both */
			dmin = f16_to_f32(b4->dmin);
			for (int j = 0; j < 8; j++) {
				int sc, m, sub = 0, subabs = 0;
				kq_scale_min(scales, j, &sc, &m);
				for (int e = 32 * j; e < 32 * j + 32; e++) {
					int q = q4k_nibble(qs, e);
					if (t == GGML_Q5_K)
						q += 16 * ((b5->qh[e % 32] >> j) & 1);
					sub += q * a->qs[e];
					subabs += q * abs(a->qs[e]);
				}
				isum += sc * sub;
				iabs += sc * subabs;
				msum += m * (a->bsums[2 * j] + a->bsums[2 * j + 1]);
				mabs += m * (abs(a->bsums[2 * j]) + abs(a->bsums[2 * j + 1]));
			}
		}
		float s1 = d * a->d, s2 = dmin * a->d;
		sum += s1 * (float)isum - s2 * (float)msum;
		sabs += fabsf(s1) * (float)iabs + fabsf(s2) * (float)mabs;
	}
	*abssum = sabs;
	return sum;
}

float quant_dot_ref(enum ggml_type t, const void *w, const void *xq, int n, float *abssum)
{
	float dummy;
	if (!abssum)
		abssum = &dummy;
	switch (t) {
	case GGML_F32: case GGML_F16: case GGML_BF16:
		return dot_float(t, w, xq, n, abssum);
	case GGML_Q4_0: case GGML_Q4_1: case GGML_Q5_0: case GGML_Q5_1: case GGML_Q8_0:
		return dot_legacy(t, w, xq, n, abssum);
	case GGML_Q4_K: case GGML_Q5_K: case GGML_Q6_K:
		return dot_kquant(t, w, xq, n, abssum);
	default:
		die("quant: unsupported weight type %s", ggml_type_name(t) ? ggml_type_name(t) : "?");
	}
}

void quant_matmul_ref(enum ggml_type t, const void *W, size_t row_bytes, int n,
		      const void *xq, size_t xq_stride, int nb, float *Y, int ldy, int r0, int r1)
{
	check_row("quant_matmul_ref", t, n);
	for (int b = 0; b < nb; b++)
		for (int r = r0; r < r1; r++)
			Y[(size_t)b * ldy + r] = quant_dot_ref(t, (const uint8_t *)W + (size_t)r * row_bytes,
							       (const uint8_t *)xq + (size_t)b * xq_stride, n, NULL);
}

/* ---- tiled products for the SIMD families ---- */

/* Activations per group: 64 rows of Q8 activations of n = 2048 are 136 KB,
 * which stays in L2 while the rows of W stream past them. */
#define ACT_GROUP 64

void quant_tile_drive(const struct quant_tiles *k, const void *W, size_t row_bytes, int n,
		      const void *xq, size_t xq_stride, int nb, float *Y, int ldy, int r0, int r1)
{
	const uint8_t *w = W, *x = xq;

	for (int g0 = 0; g0 < nb; g0 += ACT_GROUP) {
		int g1 = nb - g0 < ACT_GROUP ? nb : g0 + ACT_GROUP;
		for (int r = r0; r < r1;) {
			int full = r1 - r >= k->rows, b = g0;
			const uint8_t *wr = w + (size_t)r * row_bytes;
			for (; b + k->acts <= g1; b += k->acts)
				(full ? k->full : k->acts_only)(wr, row_bytes, n, x + (size_t)b * xq_stride, xq_stride,
								 Y + (size_t)b * ldy + r, ldy);
			for (; b < g1; b++)
				(full ? k->rows_only : k->one)(wr, row_bytes, n, x + (size_t)b * xq_stride, xq_stride,
								Y + (size_t)b * ldy + r, ldy);
			r += full ? k->rows : 1;
		}
	}
}

/* ---- kernel family ---- */

static bool scalar_ok(void) { return true; }

const struct quant_family quant_family_scalar = { "scalar", "scalar", scalar_ok, {0}, NULL, {0}, {0}, 0, {0}, NULL };

/* The families built for this target, best first. */
const struct quant_family *const quant_families[] = {
#if defined(__x86_64__) || defined(__i386__)
	&quant_family_avx512, &quant_family_avx2,
#endif
#if defined(__aarch64__)
	&quant_family_neon_dot, &quant_family_neon,
#endif
	&quant_family_scalar, NULL,
};

static const struct quant_family *family_named(const char *env)
{
	for (size_t i = 0; quant_families[i]; i++)
		if (strcmp(quant_families[i]->env, env) == 0)
			return quant_families[i];
	return NULL;
}

static void family_choose(void)
{
	const char *env = getenv("LMU_KERNELS");

	if (env && *env) {
		family = family_named(env);
		if (!family) {
			char names[128] = "";
			for (size_t i = 0; quant_families[i]; i++)
				snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
					 quant_families[i]->env);
			die("LMU_KERNELS=%s: unknown kernel family (%s)", env, names);
		}
		if (!family->cpu_ok())
			die("LMU_KERNELS=%s: this CPU lacks the instructions it needs", env);
		return;
	}
	for (size_t i = 0; quant_families[i]; i++)
		if (quant_families[i]->cpu_ok()) {
			family = quant_families[i];
			return;
		}
}

bool quant_force(const char *env)
{
	const struct quant_family *f = family_named(env);
	pthread_once(&family_once, family_choose);
	if (!f || !f->cpu_ok())
		return false;
	family = f;
	return true;
}

const char *quant_kernel_name(void)
{
	pthread_once(&family_once, family_choose);
	return family->name;
}

/* A SIMD family without a kernel for a product leaves it to the scalar
 * reference, many times slower: say so once per product and weight type. */
enum product { PRODUCT_Q8, PRODUCT_A16, PRODUCT_FLOAT };
static void fallback(enum product p, enum ggml_type t)
{
	static const char *const what[] = {"8-bit activation", "16-bit activation", "float activation"};
	static unsigned char said[3][GGML_NTYPES];

	if (family == &quant_family_scalar || (unsigned)t >= GGML_NTYPES ||
	    __atomic_exchange_n(&said[p][t], 1, __ATOMIC_RELAXED))
		return;
	warnx_("kernels %s have no %s product for %s weights: the scalar reference serves it (slow)", family->name,
	       what[p], ggml_type_name(t));
}

void quant_matmul(enum ggml_type t, const void *W, size_t row_bytes, int n,
		  const void *xq, size_t xq_stride, int nb, float *Y, int ldy, int r0, int r1)
{
	check_row("quant_matmul", t, n);
	pthread_once(&family_once, family_choose);
	if ((unsigned)t < GGML_NTYPES && family->mm[t]) {
		family->mm[t](W, row_bytes, n, xq, xq_stride, nb, Y, ldy, r0, r1);
		return;
	}
	fallback(PRODUCT_Q8, t);
	quant_matmul_ref(t, W, row_bytes, n, xq, xq_stride, nb, Y, ldy, r0, r1);
}

/* ---- 16-bit activations (quant.h) ---- */

bool quant_a16_supported(enum ggml_type t)
{
	return t == GGML_Q4_0 || t == GGML_Q4_1 || t == GGML_Q5_0 || t == GGML_Q5_1 || t == GGML_Q8_0 ||
	       t == GGML_Q4_K || t == GGML_Q5_K || t == GGML_Q6_K;
}

/* Block i (32 elements) of a K-quant row in the shape of legacy_quants():
 * elements 32 (i % 8) .. of super-block i / 8.  Q4_K/Q5_K: sub-block
 * i % 8, q[e] its 4- or 5-bit quants, d_w = d * sc and m_w = -dmin * m
 * (its 6-bit scale and min).  Q6_K: the block holds two 16-element
 * sub-blocks, q[e] the signed quant times its sub-block's 8-bit scale
 * (at most 32 * 128 in magnitude), d_w = d and m_w = 0. */
static void kquant_block_quants(enum ggml_type t, const uint8_t *row, int i, int q[32], float *d, float *m)
{
	const uint8_t *blk = row + (size_t)(i / 8) * ggml_type_size(t);
	int j = i % 8, sc, mn;

	if (t == GGML_Q6_K) {
		const struct blk_q6_k *b = (const void *)blk;
		for (int e = 0; e < 32; e++)
			q[e] = q6k_quant(b, 32 * j + e) * b->scales[2 * j + e / 16];
		*d = f16_to_f32(b->d);
		*m = 0;
		return;
	}
	const struct blk_q4_k *b4 = (const void *)blk;
	const struct blk_q5_k *b5 = (const void *)blk;
	for (int e = 0; e < 32; e++) {
		q[e] = q4k_nibble(t == GGML_Q4_K ? b4->qs : b5->qs, 32 * j + e);
		if (t == GGML_Q5_K)
			q[e] += 16 * ((b5->qh[e] >> j) & 1);
	}
	kq_scale_min(t == GGML_Q4_K ? b4->scales : b5->scales, j, &sc, &mn);
	*d = f16_to_f32(b4->d) * (float)sc;  /* d, dmin first in both */
	*m = -f16_to_f32(b4->dmin) * (float)mn;
}

/* Blocks go in pairs (a row with an odd count gets a zero block): the
 * 64 quants of blocks 2p, 2p+1 are stored as the first halves of both
 * blocks, then the second halves, which is the order a SIMD kernel gets
 * when it widens the 16 nibble bytes of two weight blocks at once. */
static int a16_pairs(int n)
{
	return (n / QK + 1) / 2;
}

static size_t a16_index(int blk, int e)
{
	return (size_t)(blk / 2) * 64 + (e >= 16 ? 32 : 0) + (size_t)(blk % 2) * 16 + (size_t)(e % 16);
}

size_t quant_a16_row_bytes(int n)
{
	return (size_t)a16_pairs(n) * (128 + 4 * sizeof(float));
}

/* Round x / d to the nearest integer (ties to even) in [-32767, 32767];
 * NaN becomes -32767, as in q8(). */
static int16_t q16(float x, float id)
{
	float q = x * id;
	return (int16_t)round_small(q > 32767 ? 32767 : q >= -32767 ? q : -32767);
}

void quant_a16_row(const float *x, void *dst, int n)
{
	int16_t *q = dst;
	float *ds;

	if (n < 0 || n % QK != 0)
		die("quant_a16_row: a row of %d elements is not a whole number of 32-blocks", n);
	pthread_once(&family_once, family_choose);
	if (family->act16) {
		family->act16(x, dst, n);
		return;
	}
	ds = (float *)(q + 64 * a16_pairs(n));
	for (int i = 0; i < n / QK; i++, x += QK) {
		float d = absmax(x, QK) / 32767, id = d != 0 ? 1 / d : 0;
		int16_t v[QK];
		int sum = 0;
		for (int e = 0; e < QK; e++) {
			v[e] = q16(x[e], id);
			sum += v[e];
		}
		memcpy(q + a16_index(i, 0), v, 16 * sizeof *v);
		memcpy(q + a16_index(i, 16), v + 16, 16 * sizeof *v);
		ds[2 * i] = d;
		ds[2 * i + 1] = d * (float)sum;
	}
	if (n / QK % 2) {  /* the zero block that completes the last pair */
		for (int e = 0; e < QK; e++)
			q[a16_index(n / QK, e)] = 0;
		ds[n / QK * 2] = ds[n / QK * 2 + 1] = 0;
	}
}

/* Per block d_w*d_a*isum + m_w*s_a, isum exact in 32 bits (at most
 * 32 * 128 * 32767 in magnitude); the bound as in dot_legacy(). */
float quant_dot_a16_ref(enum ggml_type t, const void *wp, const void *xq, int n, float *abssum)
{
	const uint8_t *w = wp;
	const int16_t *qa = xq;
	const float *ds = (const float *)(qa + 64 * a16_pairs(n));
	const bool kquant = t == GGML_Q4_K || t == GGML_Q5_K || t == GGML_Q6_K;
	size_t wsize = kquant ? 0 : ggml_type_size(t);  /* K-quants: blocks found by kquant_block_quants */
	int off = t == GGML_Q8_0 ? 128 : kquant ? 0 : 32;
	float sum = 0, sabs = 0, dummy;

	if (!abssum)
		abssum = &dummy;
	if (!quant_a16_supported(t))
		die("quant: 16-bit activations do not pair with weight type %s", ggml_type_name(t) ? ggml_type_name(t) : "?");
	for (int i = 0; i < n / QK; i++, w += wsize) {
		float dw, mw;
		int q[32];
		int64_t isum = 0, iabs = 0;

		if (kquant)
			kquant_block_quants(t, wp, i, q, &dw, &mw);
		else
			legacy_quants(t, w, q, &dw, &mw);
		for (int e = 0; e < QK; e++) {
			int a = qa[a16_index(i, e)];
			isum += q[e] * a;
			iabs += (int64_t)(abs(q[e]) + off) * abs(a);
		}
		float scale = dw * ds[2 * i];
		sum += scale * (float)isum;
		sabs += fabsf(scale) * (float)iabs;
		if (mw != 0) {
			float ms = mw * ds[2 * i + 1];
			sum += ms;
			sabs += fabsf(ms);
		}
	}
	*abssum = sabs;
	return sum;
}

void quant_matmul_a16_ref(enum ggml_type t, const void *W, size_t row_bytes, int n,
			  const void *xq, size_t xq_stride, int nb, float *Y, int ldy, int r0, int r1)
{
	check_row("quant_matmul_a16_ref", t, n);
	for (int b = 0; b < nb; b++)
		for (int r = r0; r < r1; r++)
			Y[(size_t)b * ldy + r] = quant_dot_a16_ref(t, (const uint8_t *)W + (size_t)r * row_bytes,
								   (const uint8_t *)xq + (size_t)b * xq_stride, n, NULL);
}

void quant_matmul_a16(enum ggml_type t, const void *W, size_t row_bytes, int n,
		      const void *xq, size_t xq_stride, int nb, float *Y, int ldy, int r0, int r1)
{
	check_row("quant_matmul_a16", t, n);
	if (!quant_a16_supported(t))
		die("quant: 16-bit activations do not pair with weight type %s", ggml_type_name(t));
	pthread_once(&family_once, family_choose);
	if (family->mm16[t]) {
		family->mm16[t](W, row_bytes, n, xq, xq_stride, nb, Y, ldy, r0, r1);
		return;
	}
	fallback(PRODUCT_A16, t);
	quant_matmul_a16_ref(t, W, row_bytes, n, xq, xq_stride, nb, Y, ldy, r0, r1);
}

/* ---- float activations (quant.h) ---- */

bool quant_float_supported(enum ggml_type t)
{
	pthread_once(&family_once, family_choose);
	return (unsigned)t < GGML_NTYPES && family->mmf[t];
}

int quant_float_batch(enum ggml_type t)
{
	return quant_float_supported(t) && !family->a16_always[t] ? family->mmf_min : 0;
}

void quant_matmul_float_ref(enum ggml_type t, const void *W, size_t row_bytes, int n,
			    const float *x, size_t xs, int nb, float *Y, int ldy, int r0, int r1)
{
	enum { CHUNK = 256 };  /* a whole number of blocks of every type */
	const int bs = (int)ggml_block_size(t);
	float w[CHUNK];

	check_row("quant_matmul_float_ref", t, n);
	for (int r = r0; r < r1; r++) {
		const uint8_t *row = (const uint8_t *)W + (size_t)r * row_bytes;
		for (int b = 0; b < nb; b++)
			Y[(size_t)b * ldy + r] = 0;
		for (int k = 0; k < n; k += CHUNK) {  /* dequantized a chunk at a time */
			int m = n - k < CHUNK ? n - k : CHUNK;
			dequant_row(t, row + (size_t)(k / bs) * ggml_type_size(t), w, m);
			for (int b = 0; b < nb; b++) {
				const float *a = (const float *)((const uint8_t *)x + (size_t)b * xs) + k;
				float sum = 0;
				for (int i = 0; i < m; i++)
					sum += w[i] * a[i];
				Y[(size_t)b * ldy + r] += sum;
			}
		}
	}
}

void quant_matmul_float(enum ggml_type t, const void *W, size_t row_bytes, int n,
			const float *x, size_t xs, int nb, float *Y, int ldy, int r0, int r1)
{
	check_row("quant_matmul_float", t, n);
	if (quant_float_supported(t))
		family->mmf[t](W, row_bytes, n, x, xs, nb, Y, ldy, r0, r1);
	else if (t == GGML_F32 || t == GGML_F16 || t == GGML_BF16)
		quant_matmul(t, W, row_bytes, n, x, xs, nb, Y, ldy, r0, r1);
	else {
		fallback(PRODUCT_FLOAT, t);
		quant_matmul_float_ref(t, W, row_bytes, n, x, xs, nb, Y, ldy, r0, r1);
	}
}

/* ---- weight quantization (lm-step -q, lm-convert) ----
 *
 * The algorithms of llama.cpp's reference quantizers (doc/formats.md
 * "Legacy blocks", "K-quant blocks"), so that a model quantized here holds
 * the blocks llama-quantize would write: Q4_0 scales by the element of
 * largest magnitude (d = that / -8), Q4_1 spans [min, max] in 15 steps,
 * Q4_K searches, per 32-element sub-block, the scale and minimum that
 * minimise a weighted squared error, then stores both in 6 bits relative
 * to the super-block's largest.  Q8_0 is the activation quantizer above. */

bool quant_weight_supported(enum ggml_type t)
{
	return t == GGML_Q8_0 || t == GGML_Q4_0 || t == GGML_Q4_1 || t == GGML_Q4_K;
}

/* Two 16-quant halves of a legacy 4-bit block into its 16 bytes. */
static void pack_nibbles(uint8_t qs[16], const uint8_t q[32])
{
	for (int j = 0; j < 16; j++)
		qs[j] = (uint8_t)(q[j] | q[j + 16] << 4);
}

static void quant_q4_0(const float *x, struct blk_q4_0 *b, int n)
{
	for (int i = 0; i < n / QK; i++, x += QK) {
		float big = 0;  /* the element of largest magnitude, with its sign */
		uint8_t q[QK];
		for (int j = 0; j < QK; j++)
			if (fabsf(x[j]) > fabsf(big))
				big = x[j];
		float d = big / -8, id = d != 0 ? 1 / d : 0;
		for (int j = 0; j < QK; j++) {
			int v = (int)(x[j] * id + 8.5f);  /* truncated, as the reference */
			q[j] = (uint8_t)(v < 0 ? 0 : v > 15 ? 15 : v);
		}
		b[i].d = f32_to_f16(d);
		pack_nibbles(b[i].qs, q);
	}
}

static void quant_q4_1(const float *x, struct blk_q4_1 *b, int n)
{
	for (int i = 0; i < n / QK; i++, x += QK) {
		float lo = x[0], hi = x[0];
		uint8_t q[QK];
		for (int j = 1; j < QK; j++) {
			lo = x[j] < lo ? x[j] : lo;
			hi = x[j] > hi ? x[j] : hi;
		}
		float d = (hi - lo) / 15, id = d != 0 ? 1 / d : 0;
		for (int j = 0; j < QK; j++) {
			int v = (int)((x[j] - lo) * id + 0.5f);
			q[j] = (uint8_t)(v < 0 ? 0 : v > 15 ? 15 : v);
		}
		b[i].d = f32_to_f16(d);
		b[i].m = f32_to_f16(lo);
		pack_nibbles(b[i].qs, q);
	}
}

/* Q4_K works on the 8 sub-blocks of a super-block at once, one per lane of
 * a vector (GCC vector extensions: AVX2/AVX-512 where the CPU has them,
 * plain code elsewhere).  Every lane does the same IEEE operations in the
 * same order as one sub-block done alone, so the result is the same as
 * the reference's, bit for bit (test-quantize). */
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8m __attribute__((vector_size(32)));  /* lane masks, -1 or 0 */

static inline v8f sel(v8m m, v8f a, v8f b)  /* m ? a : b, lane by lane */
{
	return (v8f)((m & (v8m)a) | (~m & (v8m)b));
}

static inline v8f splat(float f)
{
	return (v8f){f, f, f, f, f, f, f, f};
}

/* The nearest level to v, ties to even (as nearbyintf in the default
 * rounding mode), clamped to [0, top]: v is first clamped to [-1, top + 1],
 * where adding and taking away 1.5 * 2^23 rounds exactly. */
static inline v8f level8(v8f v, float top)
{
	const v8f magic = splat(0x1.8p23f), lo = splat(-1), hi = splat(top + 1), zero = splat(0), t = splat(top);
	v = sel(v < lo, lo, sel(v > hi, hi, v));
	v = (v + magic) - magic;
	return sel(v < zero, zero, sel(v > t, t, v));
}

/* For each lane, n values x[i] with weights w[i]: levels q[i] in [0, top]
 * with a scale and a minimum (returned as -min >= 0 in *neg_min) so that
 * scale * q + min approximates x.  The first guess spans
 * [min(x, 0), max(x)]; then 21 candidate step counts around top are tried,
 * each level set refitted by weighted least squares (min kept <= 0), and
 * the one of least weighted squared error kept. */
static v8f fit_scale_min(const v8f *x, const v8f *w, int n, int top, v8f *q, v8f *neg_min)
{
	const v8f zero = splat(0), ftop = splat((float)top);
	v8f lo = x[0], hi = x[0], sw = w[0], swx = w[0] * x[0], cand[QK];

	for (int i = 1; i < n; i++) {
		lo = sel(x[i] < lo, x[i], lo);
		hi = sel(x[i] > hi, x[i], hi);
		sw += w[i];
		swx += w[i] * x[i];
	}
	lo = sel(lo > zero, zero, lo);
	v8m flat = hi == lo;  /* nothing to span: every level 0, scale 0 */
	v8f inv = ftop / (hi - lo), scale = splat(1) / inv, best = zero;
	for (int i = 0; i < n; i++) {
		q[i] = level8(inv * (x[i] - lo), (float)top);
		v8f e = scale * q[i] + lo - x[i];
		best += w[i] * (e * e);
	}
	for (int step = 0; step <= 20; step++) {
		v8f sl = zero, sll = zero, sxl = zero;
		inv = splat(-1.0f + 0.1f * step + top) / (hi - lo);
		for (int i = 0; i < n; i++) {
			v8f l = level8(inv * (x[i] - lo), (float)top);
			cand[i] = l;
			sl += w[i] * l;
			sll += w[i] * l * l;
			sxl += w[i] * l * x[i];
		}
		v8f det = sw * sll - sl * sl;
		v8f s = (sw * sxl - swx * sl) / det, m = (sll * swx - sl * sxl) / det;
		v8m pos = m > zero;
		s = sel(pos, sxl / sll, s);
		m = sel(pos, zero, m);
		v8f err = zero;
		for (int i = 0; i < n; i++) {
			v8f e = s * cand[i] + m - x[i];
			err += w[i] * (e * e);
		}
		v8m better = (det > zero) & (err < best) & ~flat;
		for (int i = 0; i < n; i++)
			q[i] = sel(better, cand[i], q[i]);
		best = sel(better, err, best);
		scale = sel(better, s, scale);
		lo = sel(better, m, lo);
	}
	for (int i = 0; i < n; i++)
		q[i] = sel(flat, zero, q[i]);
	*neg_min = -lo;
	return sel(flat, zero, scale);
}

/* Round to nearest, ties to even, clamped to [0, top]. */
static int level(float v, int top)
{
	int l = (int)nearbyintf(v);
	return l < 0 ? 0 : l > top ? top : l;
}

static void quant_q4_k(const float *x, struct blk_q4_k *b, int n)
{
	for (int i = 0; i < n / QK_K; i++, x += QK_K) {
		uint8_t q[QK_K];
		v8f xt[32], w[32], qv[32], ss = splat(0), sc, nm;
		float scale[8], neg_min[8], rms[8], max_scale = 0, max_min = 0;

		/* lane j holds sub-block j: element l of every sub-block at once */
		for (int l = 0; l < 32; l++) {
			for (int j = 0; j < 8; j++)
				xt[l][j] = x[32 * j + l];
			ss += xt[l] * xt[l];
		}
		for (int j = 0; j < 8; j++)
			rms[j] = sqrtf(ss[j] / 32);
		for (int l = 0; l < 32; l++)  /* larger elements count more */
			for (int j = 0; j < 8; j++)
				w[l][j] = rms[j] + fabsf(xt[l][j]);
		sc = fit_scale_min(xt, w, 32, 15, qv, &nm);
		for (int j = 0; j < 8; j++) {
			scale[j] = sc[j];
			neg_min[j] = nm[j];
			max_scale = scale[j] > max_scale ? scale[j] : max_scale;
			max_min = neg_min[j] > max_min ? neg_min[j] : max_min;
			for (int l = 0; l < 32; l++)
				q[32 * j + l] = (uint8_t)qv[l][j];
		}
		/* 6-bit scales and mins relative to the largest of each */
		float is = max_scale > 0 ? 63 / max_scale : 0, im = max_min > 0 ? 63 / max_min : 0;
		memset(b[i].scales, 0, sizeof b[i].scales);
		for (int j = 0; j < 8; j++) {
			int ls = (uint8_t)(int)nearbyintf(is * scale[j]), lm = (uint8_t)(int)nearbyintf(im * neg_min[j]);
			ls = ls > 63 ? 63 : ls;
			lm = lm > 63 ? 63 : lm;
			if (j < 4) {
				b[i].scales[j] = (uint8_t)ls;
				b[i].scales[j + 4] = (uint8_t)lm;
			} else {  /* low 4 bits at j + 4, high 2 bits on top of bytes j - 4 and j */
				b[i].scales[j + 4] = (uint8_t)((ls & 15) | (lm & 15) << 4);
				b[i].scales[j - 4] |= (uint8_t)(ls >> 4 << 6);
				b[i].scales[j] |= (uint8_t)(lm >> 4 << 6);
			}
		}
		b[i].d = f32_to_f16(max_scale / 63);
		b[i].dmin = f32_to_f16(max_min / 63);
		/* the levels again, against the scales as stored */
		for (int j = 0; j < 8; j++) {
			int sc, m;
			kq_scale_min(b[i].scales, j, &sc, &m);
			float d = f16_to_f32(b[i].d) * sc, dm = f16_to_f32(b[i].dmin) * m;
			if (d == 0)
				continue;
			for (int l = 0; l < 32; l++)
				q[32 * j + l] = (uint8_t)level((x[32 * j + l] + dm) / d, 15);
		}
		/* 64 elements per 32 bytes: the first 32 in the low nibbles */
		for (int j = 0; j < QK_K / 64; j++)
			for (int l = 0; l < 32; l++)
				b[i].qs[32 * j + l] = (uint8_t)(q[64 * j + l] | q[64 * j + 32 + l] << 4);
	}
}

void quantize_row(enum ggml_type t, const float *x, void *dst, int n)
{
	if (!quant_weight_supported(t) || n % (int)ggml_block_size(t))
		die("quantize_row: cannot quantize %d elements to %s", n, ggml_type_name(t) ? ggml_type_name(t) : "?");
	switch (t) {
	case GGML_Q8_0:  /* the kernel family's activation quantizer gives the reference's bytes */
		if ((uintptr_t)dst % 4 == 0)
			quant_act_row(GGML_Q8_0, x, dst, n);
		else
			quant_q8_0_1(x, dst, n, false);
		break;
	case GGML_Q4_0: quant_q4_0(x, dst, n); break;
	case GGML_Q4_1: quant_q4_1(x, dst, n); break;
	default: quant_q4_k(x, dst, n); break;
	}
}
