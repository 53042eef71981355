/* test-quant: block layouts, activation quantization, the reference dot
 * products, and every SIMD kernel family this CPU runs against the
 * reference (forward/quant.h). */
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "gguf.h"
#include "../../forward/kernels.h"
#include "../../forward/quant.h"

#include "tap.h"

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint32_t rnd(void)
{
	return (uint32_t)(tap_xorshift(&rng) >> 16);
}
static float frand(float lo, float hi) { return lo + (hi - lo) * (float)(rnd() & 0xffffff) / 16777216.0f; }

static const enum ggml_type all_types[] = {
	GGML_F32, GGML_F16, GGML_BF16, GGML_Q8_0, GGML_Q4_0, GGML_Q4_1,
	GGML_Q5_0, GGML_Q5_1, GGML_Q4_K, GGML_Q5_K, GGML_Q6_K,
};
#define N_TYPES (int)(sizeof all_types / sizeof *all_types)

static size_t row_bytes(enum ggml_type t, int n) { return (size_t)n / ggml_block_size(t) * ggml_type_size(t); }

/* ---- half precision ---- */

static void test_f16(void)
{
	ok(f16_to_f32(0x3c00) == 1.0f && f16_to_f32(0xc000) == -2.0f && f16_to_f32(0x7bff) == 65504.0f,
	   "f16 -> f32: 1, -2, 65504");
	ok(f16_to_f32(0x0001) == 0x1p-24f && f16_to_f32(0x0400) == 0x1p-14f && isinf(f16_to_f32(0x7c00)),
	   "f16 -> f32: smallest subnormal, smallest normal, inf");
	ok(f32_to_f16(1.0f) == 0x3c00 && f32_to_f16(-2.0f) == 0xc000 && f32_to_f16(65504.0f) == 0x7bff &&
	   f32_to_f16(65520.0f) == 0x7c00 && f32_to_f16(0x1p-24f) == 0x0001 && f32_to_f16(0x1p-26f) == 0,
	   "f32 -> f16: exact values, overflow to inf, underflow to 0");
	/* 1 + 2^-11 is half-way between 1 and 1 + 2^-10: ties to even (1);
	 * 1 + 3*2^-11 is half-way between two odd/even neighbours: up. */
	ok(f32_to_f16(1.0f + 0x1p-11f) == 0x3c00 && f32_to_f16(1.0f + 3 * 0x1p-11f) == 0x3c02 &&
	   f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f) == 0x3c01, "f32 -> f16 rounds to nearest even");
	int bad = 0;
	for (uint32_t h = 0; h < 0x7c00; h++)
		bad += f32_to_f16(f16_to_f32((uint16_t)h)) != h || f32_to_f16(-f16_to_f32((uint16_t)h)) != (h | 0x8000);
	ok(bad == 0, "f16 -> f32 -> f16 is the identity on every finite half (%d wrong)", bad);
	ok(bf16_to_f32(0x3f80) == 1.0f && bf16_to_f32(0xc0a0) == -5.0f, "bf16 -> f32: 1, -5");
}

/* ---- blocks made by hand from doc/formats.md "Legacy blocks", "K-quant blocks" ---- */

static void test_hand_blocks(void)
{
	float y[256];

	{	/* Q4_0: d = 0.5; qs[0] = 0x2F: element 0 is 15-8, element 16 is 2-8 */
		struct blk_q4_0 b = { .d = 0x3800 };
		b.qs[0] = 0x2F;
		b.qs[15] = 0x80;
		dequant_row(GGML_Q4_0, &b, y, 32);
		ok(y[0] == 3.5f && y[16] == -3.0f && y[15] == -4.0f && y[31] == 0.0f && y[1] == -4.0f,
		   "Q4_0 hand block: low nibble is element j, high nibble element j+16");
	}
	{	/* Q4_1: d = 2, m = -1 */
		struct blk_q4_1 b = { .d = 0x4000, .m = 0xbc00 };
		b.qs[3] = 0x5A;
		dequant_row(GGML_Q4_1, &b, y, 32);
		ok(y[3] == 19.0f && y[19] == 9.0f && y[0] == -1.0f, "Q4_1 hand block: d*q + m");
	}
	{	/* Q5_0: d = 1; bit e of the little-endian qh word is bit 4 of element e */
		struct blk_q5_0 b = { .d = 0x3c00, .qh = {0x01, 0x00, 0x02, 0x80} };
		b.qs[0] = 0x73;
		b.qs[1] = 0x04;
		b.qs[15] = 0x10;
		dequant_row(GGML_Q5_0, &b, y, 32);
		ok(y[0] == 3.0f && y[16] == -9.0f && y[17] == 0.0f && y[31] == 1.0f && y[1] == -12.0f,
		   "Q5_0 hand block: fifth bit from qh, offset 16");
	}
	{	/* Q5_1: d = 0.25, m = 1 */
		struct blk_q5_1 b = { .d = 0x3400, .m = 0x3c00, .qh = {0, 0x80, 0, 0} };
		b.qs[15] = 0x0F;
		dequant_row(GGML_Q5_1, &b, y, 32);
		ok(y[15] == 1.0f + 0.25f * 31 && y[31] == 1.0f && y[14] == 1.0f, "Q5_1 hand block: d*q + m with fifth bit");
	}
	{	/* Q8_0 and Q8_1: d * qs */
		struct blk_q8_0 b = { .d = 0x3800 };
		struct blk_q8_1 b1 = { .d = 0x4000, .s = 0 };
		b.qs[7] = -128;
		b.qs[8] = 127;
		b1.qs[31] = -3;
		dequant_row(GGML_Q8_0, &b, y, 32);
		ok(y[7] == -64.0f && y[8] == 63.5f && y[0] == 0.0f, "Q8_0 hand block");
		dequant_row(GGML_Q8_1, &b1, y, 32);
		ok(y[31] == -6.0f, "Q8_1 hand block");
	}
	{	/* Q4_K: d = 1, dmin = 0.5; sub-block 1 (scale 3, min 5) and
		 * sub-block 6 (scale 0x2A = low 0xA from b[10], high 2 from b[2]>>6;
		 * min 0x19 = low 9 from b[10]>>4, high 1 from b[6]>>6) */
		struct blk_q4_k b = { .d = 0x3c00, .dmin = 0x3800 };
		b.scales[1] = 3;
		b.scales[5] = 5;
		b.scales[2] = 0x80;  /* scale 2 = 0, top bits of scale 6 = 2 */
		b.scales[6] = 0x40;  /* min 2 = 0, top bits of min 6 = 1 */
		b.scales[10] = 0x9A;
		b.qs[0] = 0x70;   /* element 0 (sub-block 0): 0; element 32 (sub-block 1): 7 */
		b.qs[96] = 0x0B;  /* element 192 (chunk 3, sub-block 6): 11 */
		dequant_row(GGML_Q4_K, &b, y, 256);
		ok(y[32] == 3 * 7 - 0.5f * 5 && y[33] == -2.5f && y[192] == 0x2A * 11 - 0.5f * 0x19 && y[193] == -0.5f * 0x19,
		   "Q4_K hand block: 6-bit scales and mins, packed high bits of sub-blocks 4..7");
	}
	{	/* Q5_K: element e's fifth bit is bit e/32 of qh[e % 32] */
		struct blk_q5_k b = { .d = 0x3c00, .dmin = 0 };
		b.scales[3] = 1;     /* sub-block 3 (elements 96..127): scale 1 */
		b.qh[5] = 1 << 3;    /* element 3*32 + 5 = 101 */
		b.qs[32 + 5] = 0x20; /* chunk 1, high nibble: element 64 + 32 + 5 = 101 */
		dequant_row(GGML_Q5_K, &b, y, 256);
		ok(y[101] == 18.0f && y[100] == 0.0f, "Q5_K hand block: fifth bit and nibble");
	}
	{	/* Q6_K: d = 0.5; element 200 = half 1, r = 72, g = 2, l = 8:
		 * low 4 bits: high nibble of ql[64 + 8]; high 2: qh[32 + 8] >> 4 */
		struct blk_q6_k b = { .d = 0x3800 };
		b.scales[200 / 16] = -2;
		b.scales[0] = 1;
		b.ql[72] = 0x50;
		b.qh[40] = 0x30;
		dequant_row(GGML_Q6_K, &b, y, 256);
		ok(y[200] == 0.5f * -2 * ((5 | 3 << 4) - 32) && y[0] == -16.0f,
		   "Q6_K hand block: split 4+2 bits, signed scales, offset 32");
	}
	{	/* Q8_K: float d */
		struct blk_q8_k b = { .d = 0.25f };
		b.qs[255] = -100;
		dequant_row(GGML_Q8_K, &b, y, 256);
		ok(y[255] == -25.0f && y[0] == 0.0f, "Q8_K hand block: float scale");
	}
	{	/* F16, BF16 rows */
		uint16_t h[2] = {0x3c00, 0xc400}, bf[2] = {0x4040, 0xbf00};
		dequant_row(GGML_F16, h, y, 2);
		ok(y[0] == 1.0f && y[1] == -4.0f, "F16 row");
		dequant_row(GGML_BF16, bf, y, 2);
		ok(y[0] == 3.0f && y[1] == -0.5f, "BF16 row");
	}
}

/* ---- activation quantization ---- */

static void test_act_quant(void)
{
	const enum ggml_type w[] = {GGML_Q8_0, GGML_Q4_1, GGML_Q4_K};
	enum { N = 512 };
	float x[N], y[N];

	for (int i = 0; i < N; i++)
		x[i] = frand(-1, 1) * (i % 97 == 0 ? 30 : 1);
	x[5] = 0;
	for (int k = 0; k < 3; k++) {
		enum ggml_type a = quant_act_type(w[k]);
		size_t bytes = quant_act_row_bytes(w[k], N);
		uint8_t *q = xmalloc(bytes);
		int bs = (int)ggml_block_size(a), bad = 0;
		quant_act_row(w[k], x, q, N);
		dequant_row(a, q, y, N);
		for (int b = 0; b < N / bs; b++) {
			float amax = 0;
			for (int j = 0; j < bs; j++)
				amax = fmaxf(amax, fabsf(x[b * bs + j]));
			/* half a step of the (rounded) scale, plus the scale's own rounding */
			float step = amax / 127 * (1 + 0x1p-10f);
			for (int j = 0; j < bs; j++)
				bad += fabsf(y[b * bs + j] - x[b * bs + j]) > step / 2 * 1.001f;
		}
		ok(bytes == (size_t)N / bs * ggml_type_size(a), "%s activation row bytes", ggml_type_name(a));
		ok(bad == 0, "%s activations within half a step of x (%d outside)", ggml_type_name(a), bad);
		int sums = 0, minq = 0;
		if (a == GGML_Q8_K) {
			const struct blk_q8_k *b = (const void *)q;
			for (int i = 0; i < N / QK_K; i++)
				for (int g = 0; g < 16; g++) {
					int s = 0;
					for (int j = 0; j < 16; j++) {
						s += b[i].qs[16 * g + j];
						minq = b[i].qs[16 * g + j] < minq ? b[i].qs[16 * g + j] : minq;
					}
					sums += s != b[i].bsums[g];
				}
			ok(sums == 0 && minq >= -127, "Q8_K bsums are the sums of 16 quants; quants >= -127");
		} else if (a == GGML_Q8_1) {
			const struct blk_q8_1 *b = (const void *)q;
			for (int i = 0; i < N / QK; i++) {
				int s = 0;
				for (int j = 0; j < QK; j++) {
					s += b[i].qs[j];
					minq = b[i].qs[j] < minq ? b[i].qs[j] : minq;
				}
				sums += b[i].s != f32_to_f16(f16_to_f32(b[i].d) * (float)s);
			}
			ok(sums == 0 && minq >= -127, "Q8_1 s = d * sum(qs); quants >= -127");
		} else {
			const struct blk_q8_0 *b = (const void *)q;
			for (int i = 0; i < N / QK; i++)
				for (int j = 0; j < QK; j++)
					minq = b[i].qs[j] < minq ? b[i].qs[j] : minq;
			ok(minq >= -127, "Q8_0 quants >= -127");
		}
		free(q);
	}
	float f[3] = {1.5f, -2, 0}, g[3];
	quant_act_row(GGML_F16, f, g, 3);
	ok(g[0] == 1.5f && g[1] == -2 && g[2] == 0 && quant_act_row_bytes(GGML_BF16, 3) == 12,
	   "float weights take float activations");
}

/* ---- random rows ---- */

/* A random half of magnitude in [2^-10, 2^-4), sign random if signed_ok. */
static uint16_t rand_half(int signed_ok)
{
	float v = frand(0x1p-10f, 0x1p-4f);
	return f32_to_f16(signed_ok && (rnd() & 1) ? -v : v);
}

/* Random weight row of n elements of type t.  exact: every scale a power
 * of two (d = 2^-4, mins +-2^-3), so a dot product has no float rounding.
 * exact == 2: the largest quants and scales of the format (the limits of
 * 16-bit intermediate sums in the kernels). */
static void *rand_weights(enum ggml_type t, int n, int exact)
{
	size_t bytes = row_bytes(t, n), bs = ggml_type_size(t);
	uint8_t *p = xmalloc(bytes);
	uint16_t *h = (uint16_t *)p;
	float *f = (float *)p;

	for (size_t i = 0; i < bytes; i++)
		p[i] = exact == 2 ? 0xff : (uint8_t)rnd();
	if (exact == 2 && (t == GGML_Q8_0 || t == GGML_Q6_K))
		for (uint8_t *b = p; b < p + bytes; b += bs) {
			if (t == GGML_Q8_0)
				memset(b + 2, 0x80, 32);   /* quants -128 */
			else
				memset(b + 192, 0x80, 16); /* scales -128 */
		}
	switch (t) {
	case GGML_F32:
		for (int i = 0; i < n; i++)
			f[i] = frand(-1, 1);
		return p;
	case GGML_F16:
		for (int i = 0; i < n; i++)
			h[i] = f32_to_f16(frand(-1, 1));
		return p;
	case GGML_BF16:
		for (int i = 0; i < n; i++) {
			union { float f; uint32_t u; } v = { .f = frand(-1, 1) };
			h[i] = (uint16_t)(v.u >> 16);
		}
		return p;
	default:
		break;
	}
	for (uint8_t *b = p; b < p + bytes; b += bs) {
		uint16_t *d = t == GGML_Q6_K ? (uint16_t *)(b + 208) : (uint16_t *)b;
		d[0] = exact ? 0x2c00 : rand_half(1);
		if (t == GGML_Q4_1 || t == GGML_Q5_1 || t == GGML_Q4_K || t == GGML_Q5_K)
			d[1] = exact ? ((rnd() & 1) ? 0x3000 : 0xb000) : rand_half(t == GGML_Q4_1 || t == GGML_Q5_1);
	}
	return p;
}

/* nb random activation rows for weight type t, stride returned in *stride.
 * exact: scales are powers of two (2^-5) and quants small enough that no
 * sum of a dot product rounds; otherwise floats quantized by quant_act_row. */
static void *rand_acts(enum ggml_type t, int n, int nb, int exact, size_t *stride)
{
	enum ggml_type a = quant_act_type(t);
	size_t rb = quant_act_row_bytes(t, n);
	uint8_t *p = xmalloc(rb * (size_t)nb);
	float *x = xmalloc((size_t)n * sizeof *x);

	*stride = rb;
	for (int b = 0; b < nb; b++) {
		uint8_t *row = p + (size_t)b * rb;
		if (exact == 2 && a != GGML_F32) {  /* all +127, then all -127 */
			for (int i = 0; i < n; i++)
				x[i] = b & 1 ? -1.0f : 1.0f;
			quant_act_row(t, x, row, n);
			continue;
		}
		if (!exact || a == GGML_F32) {
			float scale = frand(0.1f, 10);
			for (int i = 0; i < n; i++)
				x[i] = frand(-scale, scale);
			quant_act_row(t, x, row, n);
			continue;
		}
		if (a == GGML_Q8_K) {
			struct blk_q8_k *k = (void *)row;
			for (int i = 0; i < n / QK_K; i++) {
				k[i].d = 0x1p-5f;
				for (int j = 0; j < QK_K; j++)
					k[i].qs[j] = (int8_t)((int)(rnd() % 15) - 7);
				for (int g = 0; g < 16; g++) {
					int s = 0;
					for (int j = 0; j < 16; j++)
						s += k[i].qs[16 * g + j];
					k[i].bsums[g] = (int16_t)s;
				}
			}
		} else {
			size_t bs = ggml_type_size(a);
			for (int i = 0; i < n / QK; i++) {
				struct blk_q8_1 *b1 = (void *)(row + i * bs);
				struct blk_q8_0 *b0 = (void *)(row + i * bs);
				int8_t *qs = a == GGML_Q8_1 ? b1->qs : b0->qs;
				int s = 0;
				for (int j = 0; j < QK; j++)
					s += qs[j] = (int8_t)((int)(rnd() % 255) - 127);
				b0->d = 0x2800;  /* 2^-5 */
				if (a == GGML_Q8_1)
					b1->s = f32_to_f16(0x1p-5f * (float)s);
			}
		}
	}
	free(x);
	return p;
}

/* ---- the reference against dequantization ---- */

static void test_ref_vs_dequant(void)
{
	for (int k = 0; k < N_TYPES; k++) {
		enum ggml_type t = all_types[k], a = quant_act_type(t);
		int n = 512;
		size_t stride;
		void *w = rand_weights(t, n, 0), *xq = rand_acts(t, n, 1, 0, &stride);
		float *fw = xmalloc(n * sizeof *fw), *fa = xmalloc(n * sizeof *fa), abssum;
		double want = 0;

		dequant_row(t, w, fw, n);
		dequant_row(a, xq, fa, n);
		for (int i = 0; i < n; i++)
			want += (double)fw[i] * fa[i];
		float got = quant_dot_ref(t, w, xq, n, &abssum);
		/* float rounding of the sums; Q8_1's stored sum s is a half, off
		 * by up to 2^-11 of itself, and dequant rounds d*q + m */
		double tol = (2.0 * n + 16) * 0x1p-24 * abssum + (a == GGML_Q8_1 ? 0x1p-10 * abssum : 0);
		ok(fabs(got - want) <= tol, "%s reference dot = dequantized dot (%g vs %g, tol %g)",
		   ggml_type_name(t), got, want, tol);
		free(w), free(xq), free(fw), free(fa);
	}
}

/* ---- kernel families against the reference ---- */


/* rows random weight rows of type t (n elements each), *rb bytes apart */
static uint8_t *rand_matrix(enum ggml_type t, int n, int rows, int exact, size_t *rb)
{
	uint8_t *W;

	*rb = row_bytes(t, n);
	W = xmalloc(*rb * rows);
	for (int r = 0; r < rows; r++) {
		void *row = rand_weights(t, n, exact);
		memcpy(W + r * *rb, row, *rb);
		free(row);
	}
	return W;
}

/* One product of rows [r0, r1) of a random matrix with nb activations,
 * quantized for the weights (ACTS_Q8: quant_act_row, quant_matmul) or to
 * 16 bits (ACTS_A16: quant_a16_row, quant_matmul_a16), the kernel family
 * in use against the matching reference dot product; returns the worst
 * error as a fraction of its tolerance (> 1 fails), or 1e9 for a write
 * outside the rows asked for. */
enum acts { ACTS_Q8, ACTS_A16 };
static void *rand_a16(int n, int nb, size_t *stride);

static double check_product(enum acts a, enum ggml_type t, int n, int rows, int r0, int r1, int nb, int exact)
{
	size_t rb, stride;
	uint8_t *W = rand_matrix(t, n, rows, exact, &rb);
	uint8_t *xq = a == ACTS_A16 ? rand_a16(n, nb, &stride) : rand_acts(t, n, nb, exact, &stride);
	int ldy = rows + 3;
	float *Y = xmalloc((size_t)ldy * nb * sizeof *Y);
	double worst = 0;

	for (int i = 0; i < ldy * nb; i++)
		Y[i] = 1234.5f;
	(a == ACTS_A16 ? quant_matmul_a16 : quant_matmul)(t, W, rb, n, xq, stride, nb, Y, ldy, r0, r1);
	for (int b = 0; b < nb; b++)
		for (int r = 0; r < ldy; r++) {
			float y = Y[(size_t)b * ldy + r], abssum;
			if (r < r0 || r >= r1) {
				if (y != 1234.5f)
					worst = 1e9;
				continue;
			}
			float want = a == ACTS_A16 ? quant_dot_a16_ref(t, W + r * rb, xq + b * stride, n, &abssum)
						   : quant_dot_ref(t, W + r * rb, xq + b * stride, n, &abssum);
			/* any order of at most n + 16 float additions of terms whose
			 * magnitudes sum to at most abssum, in both computations;
			 * 8-bit products of exact data are exact */
			double tol = a == ACTS_Q8 && exact == 1 && t > GGML_F16 && t != GGML_BF16
					     ? 0 : 2.0 * (n + 16) * 0x1p-24 * abssum;
			double err = fabs((double)y - want);
			worst = fmax(worst, tol > 0 ? err / tol : err > 0 ? 1e9 : 0);
		}
	free(W), free(xq), free(Y);
	return worst;
}

static double check_matmul(enum ggml_type t, int n, int rows, int r0, int r1, int nb, int exact)
{
	return check_product(ACTS_Q8, t, n, rows, r0, r1, nb, exact);
}

/* Activation quantization of every family is the scalar one, byte for
 * byte: random rows, a zero block, tiny values, exact ties; for 16-bit
 * activations also a NaN, an infinity and an odd number of blocks. */
static void check_act_quant(const char *name)
{
	enum { N = 1024 };
	static const enum ggml_type w[] = {GGML_Q8_0, GGML_Q4_1, GGML_Q6_K};
	float x[N];
	uint8_t want[N * 3], got[N * 3];

	for (int i = 0; i < N; i++)
		x[i] = frand(-3, 3);
	for (int i = 256; i < 288; i++)
		x[i] = 0;
	for (int i = 288; i < 320; i++)
		x[i] = frand(-1, 1) * 1e-9f;
	for (int i = 512; i < 768; i++)  /* amax 127: scale 1, x = k + 0.5 ties */
		x[i] = i == 512 ? 127 : (float)((i % 64) - 32) + 0.5f;
	/* then with NaNs, block b of 32 having one at its element b, and an
	 * infinity: the scalar absmax skips a NaN (a comparison with it is
	 * false), and so must the vector maxima, whose MAXPS returns its
	 * second operand when either is a NaN, wherever the NaN lies */
	for (int pass = 0; pass < 2; pass++) {
		if (pass) {
			for (int b = 0; b < N / 32; b++)
				x[32 * b + b] = NAN;
			x[100] = INFINITY;
		}
		for (int k = 0; k < 3; k++) {
			size_t bytes = quant_act_row_bytes(w[k], N);
			quant_force("scalar");
			quant_act_row(w[k], x, want, N);
			quant_force(name);
			quant_act_row(w[k], x, got, N);
			ok(memcmp(want, got, bytes) == 0, "%s %s activations%s = scalar ones, byte for byte",
			   quant_kernel_name(), ggml_type_name(quant_act_type(w[k])),
			   pass ? " with NaNs and an infinity" : "");
		}
	}
	/* 16-bit ones too, with the NaNs and the infinity and an odd block
	 * count (the completing zero block) */
	for (int i = 800; i < 832; i++)  /* amax 32767: scale 1, ties */
		x[i] = i == 800 ? 32767 : (float)((i % 64) - 32) + 0.5f;
	for (int k = 0; k < 2; k++) {
		const int n = k ? 96 : N;
		size_t bytes = quant_a16_row_bytes(n);
		memset(want, 0x55, sizeof want);
		memset(got, 0xaa, sizeof got);
		quant_force("scalar");
		quant_a16_row(x, want, n);
		quant_force(name);
		quant_a16_row(x, got, n);
		ok(memcmp(want, got, bytes) == 0, "%s 16-bit activations of %d elements = scalar ones, byte for byte",
		   quant_kernel_name(), n);
	}
}

/* A SIMD family leaves no product to the scalar reference: every weight
 * type has its 8-bit, 16-bit (where the format pairs) and float kernel. */
static void check_coverage(const struct quant_family *f)
{
	int missing = 0;
	for (int k = 0; k < N_TYPES; k++) {
		enum ggml_type t = all_types[k];
		missing += !f->mm[t] + (quant_a16_supported(t) && !f->mm16[t]) + !f->mmf[t];
	}
	ok(missing == 0 && f->mmf_min > 0, "%s has a kernel for every product and weight type (%d missing)", f->name,
	   missing);
}

/* Every family built for this target, the scalar reference first (the
 * others are checked against it). */
static const struct quant_family *family_at(size_t i)
{
	size_t n = 0;
	while (quant_families[n])
		n++;
	return i < n ? quant_families[n - 1 - i] : NULL;
}

/* Use family f for what follows; false (and a skip) if the CPU lacks it. */
static bool use_family(const struct quant_family *f)
{
	if (quant_force(f->env))
		return true;
	printf("ok %d # SKIP kernel family %s: not supported by this CPU\n", ++n_test, f->name);
	return false;
}

static void test_families(void)
{
	const struct quant_family *fam;
	for (size_t f = 0; (fam = family_at(f)); f++) {
		if (!use_family(fam))
			continue;
		if (fam != &quant_family_scalar) {  /* the scalar code is the reference itself */
			check_act_quant(fam->env);
			check_coverage(fam);
		}
		const char *name = quant_kernel_name();
		for (int k = 0; k < N_TYPES; k++) {
			enum ggml_type t = all_types[k];
			int bs = (int)ggml_block_size(t) == 1 ? 1 : (int)ggml_block_size(t);
			/* odd block counts (the AVX-512 path pairs blocks), row counts
			 * and batch sizes that leave remainders of every tile */
			int ns[3] = {bs == 1 ? 37 : 3 * bs, bs == 256 ? 256 : 576, bs == 256 ? 1536 : bs == 1 ? 1 : 32};
			const int nbs[4] = {1, 2, 7, 37};
			double worst = 0;
			for (int i = 0; i < 3; i++)
				for (int j = 0; j < 4; j++)
					worst = fmax(worst, check_matmul(t, ns[i], 13, 2, 13, nbs[j], 0));
			ok(worst <= 1, "%s %s matmul = reference on random data (worst error %.3g of tolerance)",
			   name, ggml_type_name(t), worst);
			if (t == GGML_F32 || t == GGML_F16 || t == GGML_BF16) {
				/* batches large enough for the AVX-512 panels of 32 rows:
				 * several panels and k blocks, each with a remainder */
				worst = fmax(check_matmul(t, 300, 75, 5, 75, 37, 0), check_matmul(t, 130, 40, 0, 40, 8, 0));
				ok(worst <= 1, "%s %s matmul, batches of 8 and 37 over 40 and 70 rows = reference (worst error %.3g of tolerance)",
				   name, ggml_type_name(t), worst);
				continue;
			}
			worst = fmax(check_matmul(t, 256, 9, 0, 9, 1, 1),
				     check_matmul(t, 256, 9, 1, 8, 6, 1));
			ok(worst == 0, "%s %s matmul = reference exactly when no float op rounds", name, ggml_type_name(t));
			worst = fmax(check_matmul(t, 512, 5, 0, 5, 2, 2), check_matmul(t, 512, 5, 0, 5, 9, 2));
			ok(worst <= 1, "%s %s matmul = reference with the largest quants (worst error %.3g of tolerance)",
			   name, ggml_type_name(t), worst);
		}
	}
}


/* ---- 16-bit activations ---- */

static const enum ggml_type a16_types[] = {GGML_Q8_0, GGML_Q4_0, GGML_Q4_1, GGML_Q5_0, GGML_Q5_1, GGML_Q4_K, GGML_Q5_K,
						GGML_Q6_K};

/* nb rows of n random floats in [-3, 3] (one block of zeros, one tiny,
 * one at the extremes when n allows), quantized by quant_a16_row. */
static void *rand_a16(int n, int nb, size_t *stride)
{
	size_t rb = (quant_a16_row_bytes(n) + 63) & ~(size_t)63;
	uint8_t *p = xmalloc(rb * nb);
	float *x = xmalloc(n * sizeof *x);

	for (int b = 0; b < nb; b++) {
		for (int i = 0; i < n; i++)
			x[i] = frand(-3, 3);
		if (n >= 128) {
			for (int i = 32; i < 64; i++)
				x[i] = 0;
			for (int i = 64; i < 96; i++)
				x[i] = frand(-1, 1) * 1e-9f;
			for (int i = 96; i < 128; i++)
				x[i] = (i & 1) ? -1000.0f : 1000.0f;
		}
		quant_a16_row(x, p + b * rb, n);
	}
	free(x);
	*stride = rb;
	return p;
}

/* Position of quant e of block b in an A16 row (quant.h). */
static int a16_at(int b, int e)
{
	return b / 2 * 64 + (e >= 16 ? 32 : 0) + b % 2 * 16 + e % 16;
}

static void test_a16_quant(void)
{
	enum { N = 256 };
	float x[N];
	uint8_t buf[N * 3];
	int16_t *q = (int16_t *)buf;
	float *ds = (float *)(q + N);
	int bad = 0, badsum = 0, range = 0;

	ok(quant_a16_row_bytes(N) == 2 * N + 8 * N / 32, "A16 row bytes: 2 per element + (d, s) per block");
	ok(quant_a16_row_bytes(96) == 2 * 128 + 8 * 4, "A16 row bytes: an odd block count is completed by a block");
	for (int i = 0; i < N; i++)
		x[i] = frand(-5, 5);
	for (int i = 64; i < 96; i++)
		x[i] = 0;
	quant_a16_row(x, buf, N);
	for (int b = 0; b < N / 32; b++) {
		int sum = 0, amax = 0;
		for (int j = 0; j < 32; j++) {
			int e = 32 * b + j, v = q[a16_at(b, j)];
			/* x * (1/d) is x / d rounded twice (1/d, the product):
			 * up to 2^-23 of |x| / d off, besides half a step */
			if (fabsf(v * ds[2 * b] - x[e]) > 0.5f * ds[2 * b] * (1 + 1e-6f) + fabsf(x[e]) * 0x1p-22f)
				bad++;
			sum += v;
			amax = abs(v) > amax ? abs(v) : amax;
		}
		if (ds[2 * b + 1] != ds[2 * b] * (float)sum)
			badsum++;
		if (amax != (b == 2 ? 0 : 32767))
			range++;
	}
	ok(bad == 0, "A16 quants within half a step of x (%d outside)", bad);
	ok(badsum == 0 && range == 0, "A16 s = d * sum(q); the largest |q| of a block is 32767, a zero block is 0");
	/* the step is amax/32767: relative error of the largest value < 2e-5 */
	ok(ds[0] > 0 && ds[0] < 5.0f / 32767 * 1.0001f && ds[4] == 0, "A16 scale = amax / 32767");
	memset(buf, 0x55, sizeof buf);
	quant_a16_row(x, buf, 96);
	int pad = 0;
	for (int j = 0; j < 32; j++)
		pad += q[a16_at(3, j)] != 0;
	ds = (float *)(q + 128);
	ok(pad == 0 && ds[6] == 0 && ds[7] == 0,
	   "A16 the block completing an odd row is zero");
}

/* Reference against the product of dequantized weights and the float
 * activations (the quantization error included): the 16-bit path is as
 * good as float activations for the forward pass. */
static void test_a16_ref(void)
{
	for (size_t k = 0; k < sizeof a16_types / sizeof *a16_types; k++) {
		enum ggml_type t = a16_types[k];
		int n = ggml_block_size(t) == QK_K ? 512 : 576;
		float x[576], fw[576], abssum;
		uint8_t xq[576 * 3];
		double want = 0, wabs = 0;
		void *w = rand_weights(t, n, 0);

		for (int i = 0; i < n; i++)
			x[i] = frand(-3, 3);
		quant_a16_row(x, xq, n);
		dequant_row(t, w, fw, n);
		for (int i = 0; i < n; i++) {
			want += (double)fw[i] * x[i];
			wabs += fabs((double)fw[i] * x[i]);
		}
		float got = quant_dot_a16_ref(t, w, xq, n, &abssum);
		/* quantization: 2^-16 of each product at most; float sums */
		double tol = 0x1p-15 * wabs + (2.0 * n + 16) * 0x1p-24 * abssum;
		ok(fabs(got - want) <= tol, "%s A16 reference dot = float dot (%g vs %g, tol %g)", ggml_type_name(t), got,
		   want, tol);
		free(w);
	}
}

static double check_a16(enum ggml_type t, int n, int rows, int r0, int r1, int nb, int exact)
{
	return check_product(ACTS_A16, t, n, rows, r0, r1, nb, exact);
}

static void test_a16_families(void)
{
	const struct quant_family *fam;
	for (size_t f = 0; (fam = family_at(f)); f++) {
		if (!use_family(fam))
			continue;
		for (size_t k = 0; k < sizeof a16_types / sizeof *a16_types; k++) {
			enum ggml_type t = a16_types[k];
			const int kq = t == GGML_Q4_K || t == GGML_Q5_K || t == GGML_Q6_K;  /* rows of whole 256-blocks */
			/* legacy rows: fewer blocks than a group of 16 (AVX-512 lays
			 * 16 blocks across its lanes), a short group of 7, one
			 * whole group and a pair, three whole groups */
			const int ns[4] = {kq ? 256 : 96, kq ? 1280 : 224, kq ? 768 : 576, 1536}, nbs[4] = {1, 2, 7, 37};
			double worst = 0;
			for (int i = 0; i < 4; i++)
				for (int j = 0; j < 4; j++)
					worst = fmax(worst, check_a16(t, ns[i], 13, 2, 13, nbs[j], 0));
			ok(worst <= 1, "%s %s A16 matmul = reference on random data (worst error %.3g of tolerance)",
			   quant_kernel_name(), ggml_type_name(t), worst);
			if (kq) {
				/* prefill blocking (AVX-512): rows in blocks of 64 (of
				 * 4352-element rows unpacked, 36: rows 1..69 a block of 36
				 * and one of 32) and the
				 * activations 64 at a time (two chunks, a short one; on the
				 * heap), a row's groups in ranges (4 groups, the last
				 * short: 3 + 1 for 8 activations), from a row past 0;
				 * the chunks of 64 and 9 with the rows unpacked once per
				 * block and taken in pairs (the last block's 9: one
				 * alone) against tiles of 6, that of 6 packed */
				worst = fmax(check_a16(t, 1792, 150, 3, 140, 70, 0), check_a16(t, 4352, 70, 1, 69, 9, 0));
				ok(worst <= 1, "%s %s A16 matmul = reference, long rows, many rows and activations (worst %.3g)",
				   quant_kernel_name(), ggml_type_name(t), worst);
			}
			if (!kq) {
				/* AVX-512 at 16 activations, four rows at a time: a
				 * group, two pairs and a lone block after it; rows of 152
				 * blocks (ten groups), the activations in chunks of 11
				 * and 5 */
				worst = fmax(check_a16(t, 672, 13, 2, 13, 16, 0), check_a16(t, 4864, 11, 1, 10, 16, 0));
				ok(worst <= 1, "%s %s A16 matmul = reference, 16 activations, rows of 672 and 4864 (worst %.3g)",
				   quant_kernel_name(), ggml_type_name(t), worst);
			}
			/* AVX2's K-quant panels from 8 activations: the largest
			 * quants there too */
			worst = fmax(check_a16(t, 512, 5, 0, 5, 3, 2), kq ? check_a16(t, 512, 5, 0, 5, 9, 2) : 0);
			ok(worst <= 1, "%s %s A16 matmul = reference with the largest quants (worst error %.3g of tolerance)",
			   quant_kernel_name(), ggml_type_name(t), worst);
		}
	}
}

/* LMU_KERNELS is read at the first use: try it in fresh processes (this
 * program run with --kernel-name). */
static int child_run(const char *env, const char *arg, char *name, size_t len)
{
	int fd[2], status;
	pid_t pid;

	fflush(stdout);
	if (pipe(fd) < 0 || (pid = fork()) < 0)
		die("fork: failed");
	if (pid == 0) {
		close(fd[0]);
		dup2(fd[1], 1);
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 2);
		setenv("LMU_KERNELS", env, 1);
		/* under an emulator (make neon-test: qemu-user) the program must
		 * be run through it again */
		const char *emu = getenv("LMU_TEST_EMULATOR");
		char self[4096];
		ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
		self[len > 0 ? len : 0] = 0;
		if (emu && *emu)
			execlp(emu, emu, self, arg, (char *)NULL);
		else
			execl(self, "test-quant", arg, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	ssize_t got = read(fd[0], name, len - 1);
	name[got > 0 ? got : 0] = 0;
	close(fd[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int child_kernel(const char *env, char *name, size_t len)
{
	return child_run(env, "--kernel-name", name, len);
}

static void test_env(void)
{
	char name[64];
	int rc = child_kernel("scalar", name, sizeof name);
	ok(rc == 0 && strcmp(name, "scalar") == 0, "LMU_KERNELS=scalar forces the scalar family");
	rc = child_kernel("sse9", name, sizeof name);
	ok(rc == 1 && !*name, "LMU_KERNELS=sse9 is an error");
	rc = child_run("", "--bad-row", name, sizeof name);
	ok(rc == 1, "a Q4_0 row of 48 elements is an error (exit 1)");
	const struct quant_family *fam;
	for (size_t i = 1; (fam = family_at(i)); i++) {
		int supported = fam->cpu_ok();
		rc = child_kernel(fam->env, name, sizeof name);
		ok(supported ? rc == 0 && strcmp(name, fam->name) == 0 : rc == 1,
		   "LMU_KERNELS=%s %s", fam->env, supported ? "forces it" : "fails on this CPU");
	}
}

/* ---- real tensors against gguf.quants.dequantize ---- */

static void test_fixture(void)
{
	const char *models = getenv("LMU_MODELS") ? getenv("LMU_MODELS") : "models";
	FILE *f = fopen("tests/fixtures/quant-dequant.txt", "r");
	char line[16384];

	if (!f) {
		ok(0, "open tests/fixtures/quant-dequant.txt");
		return;
	}
	while (fgets(line, sizeof line, f)) {
		char file[128], tname[128], type[16], path[512];
		int row, start, count, used;
		if (line[0] == '#')
			continue;
		if (sscanf(line, "%127s %127s %15s %d %d %d%n", file, tname, type, &row, &start, &count, &used) != 6) {
			ok(0, "fixture line parses");
			continue;
		}
		snprintf(path, sizeof path, "%s/%s", models, file);
		if (access(path, R_OK) != 0) {
			printf("ok %d # SKIP %s: model %s missing (make model)\n", ++n_test, tname, path);
			continue;
		}
		struct lmu_err e = {{0}};
		struct gguf *g = gguf_open(path, &e);
		const struct gguf_tensor *t = g ? gguf_tensor(g, tname) : NULL;
		if (!t || strcmp(ggml_type_name(t->type), type) != 0 || (uint64_t)row >= t->ne[1]) {
			ok(0, "%s %s: tensor of type %s with row %d", file, tname, type, row);
			if (g)
				gguf_close(g);
			continue;
		}
		int n = (int)t->ne[0], bad = 0;
		float *y = xmalloc(n * sizeof *y);
		dequant_row(t->type, (const uint8_t *)t->data + (size_t)row * t->row_bytes, y, n);
		const char *p = line + used;
		double worst = 0;
		for (int i = 0; i < count; i++) {
			char *end;
			float want = strtof(p, &end);
			if (end == p) {
				bad++;
				break;
			}
			p = end;
			/* numpy may group the scale products differently: a few ulps */
			double err = fabs((double)y[start + i] - want);
			worst = fmax(worst, err);
			bad += err > 4 * 0x1p-24 * fabs(want) + 1e-12;
		}
		ok(bad == 0, "%s %s (%s) row %d [%d..%d) = gguf.quants.dequantize (worst |diff| %.3g)",
		   file, tname, type, row, start, start + count, worst);
		free(y);
		gguf_close(g);
	}
	fclose(f);
}

/* ---- float activations (quant_matmul_float) ---- */

/* Rows [r0, r1) of a random matrix of type t against nb random float
 * rows, the family in use against rows dequantized by dequant_row() and
 * dotted in double; the worst error as a fraction of its tolerance. */
static double check_matmul_float(enum ggml_type t, int n, int rows, int r0, int r1, int nb)
{
	size_t rb, xs = (size_t)(n + 5) * sizeof(float);
	uint8_t *W = rand_matrix(t, n, rows, 0, &rb);
	float *x = xmalloc(xs * nb), *w = xmalloc((size_t)n * sizeof *w);
	int ldy = rows + 3;
	float *Y = xmalloc((size_t)ldy * nb * sizeof *Y);
	double worst = 0;

	for (size_t i = 0; i < xs / sizeof *x * nb; i++)
		x[i] = frand(-3, 3);
	for (int i = 0; i < ldy * nb; i++)
		Y[i] = 1234.5f;
	quant_matmul_float(t, W, rb, n, x, xs, nb, Y, ldy, r0, r1);
	for (int r = 0; r < ldy; r++) {
		if (r >= r0 && r < r1)
			dequant_row(t, W + r * rb, w, n);
		for (int b = 0; b < nb; b++) {
			float y = Y[(size_t)b * ldy + r];
			const float *a = (const float *)((const uint8_t *)x + b * xs);
			if (r < r0 || r >= r1) {
				if (y != 1234.5f)
					worst = 1e9;
				continue;
			}
			double want = 0, abssum = 0;
			for (int i = 0; i < n; i++) {
				want += (double)w[i] * a[i];
				abssum += fabs((double)w[i] * a[i]);
			}
			double tol = 2.0 * (n + 16) * 0x1p-24 * abssum;
			worst = fmax(worst, fabs(y - want) / tol);
		}
	}
	free(W), free(x), free(w), free(Y);
	return worst;
}

static void test_float_families(void)
{
	const struct quant_family *fam;
	for (size_t f = 0; (fam = family_at(f)); f++) {
		if (!use_family(fam))
			continue;
		for (int k = 0; k < N_TYPES; k++) {
			enum ggml_type t = all_types[k];
			int bs = (int)ggml_block_size(t);
			/* panels of 128 or 512 columns and a remainder */
			int n = bs == 256 ? 1280 : bs == 32 ? 1120 : 1100;
			double worst = 0;
			const int nbs[] = {1, 7, 8, 13, 37};
			for (size_t j = 0; j < sizeof nbs / sizeof *nbs; j++)
				worst = fmax(worst, fmax(check_matmul_float(t, n, 75, 5, 75, nbs[j]),
							 check_matmul_float(t, bs == 1 ? 33 : bs, 20, 0, 19, nbs[j])));
			ok(worst <= 1, "%s %s float-activation matmul, batches of 1 to 37 = dequantized rows (%s; worst "
			   "error %.3g of tolerance)", quant_kernel_name(), ggml_type_name(t),
			   quant_float_supported(t) ? "kernel" : "reference", worst);
		}
	}
}

int main(int argc, char **argv)
{
	lmu_init(argc, argv);
	if (argc == 2 && strcmp(argv[1], "--kernel-name") == 0) {
		printf("%s", quant_kernel_name());
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--bad-row") == 0) {  /* must die, not read past the row */
		uint8_t w[18 * 2] = {0}, a[34 * 2] = {0};
		float y;
		quant_matmul(GGML_Q4_0, w, sizeof w, 48, a, sizeof a, 1, &y, 1, 0, 1);
		return 0;
	}
	test_f16();
	test_hand_blocks();
	test_act_quant();
	test_ref_vs_dequant();
	test_env();
	test_fixture();
	test_families();
	test_a16_quant();
	test_a16_ref();
	test_a16_families();
	test_float_families();
	printf("1..%d\n", n_test);
	return n_fail != 0;
}
