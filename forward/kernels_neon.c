/* kernels_neon.c - the "neon" kernel family for aarch64: 128-bit integer
 * and float products of the same design as the AVX2 family (tiles of
 * rows x activations, 16-bit activations in decoding, panels of
 * dequantized weights for batches).
 *
 * Compiled twice: as it is, for every ARMv8-A CPU ("neon"), and by
 * kernels_neon_dot.c with NEON_DOT defined and the dot-product
 * instructions on ("neon-dotprod", for CPUs that report them): there the
 * 8-bit products (--quant-act) use SDOT, 16 byte products summed four by
 * four into each int32 lane; here VMULL/VPADAL do the same in two steps.
 * The 16-bit and float products are the same in both.
 *
 * Every weight quant fits a signed byte as the kernels take it (Q4_0 and
 * Q5_0 without their offset, Q4_1/Q5_1/K-quants unsigned below 64, Q6_K
 * minus 32), so no sign trick is needed; 8-bit activations never hold
 * -128, so two products of a VMULL pair stay within int16. */
#if defined(__aarch64__)
#include <arm_neon.h>
#include <string.h>
#include <sys/auxv.h>

#include "kernels.h"

#define TARGET
#define INLINE static inline __attribute__((always_inline))

#define MAXR 4
#define MAXC 2

INLINE float h2f(const uint8_t *p)
{
	__fp16 h;
	memcpy(&h, p, 2);
	return (float)h;
}

INLINE uint32_t load32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* 16 in byte e of the result where bit e (+ 16 for hi) of qh is set. */
INLINE uint8x16_t fifth_bits(uint32_t qh, int hi)
{
	static const uint8_t spread[2][16] = {
		{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1},
		{2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3},
	};
	static const uint8_t bit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
	uint8x16_t v = vqtbl1q_u8(vreinterpretq_u8_u32(vdupq_n_u32(qh)), vld1q_u8(spread[hi]));
	return vandq_u8(vtstq_u8(v, vld1q_u8(bit)), vdupq_n_u8(16));
}

/* ---- one 32-block of weights as signed bytes ----
 *
 * q[0]: elements 0-15, q[1]: 16-31; d and m such that weight e is
 * d * q[e] + m (legacy blocks; Q4_0/Q5_0 offsets removed from the quants).
 * K-quants: block j (0..7) of super-block b, Q4_K/Q5_K with d * sc and
 * -dmin * m of the sub-block; Q6_K's quants minus 32 with the two 16-element
 * sub-blocks' scales in sc[0], sc[1] (d the super-block's). */
INLINE void block_legacy(const enum ggml_type t, const uint8_t *w, int8x16_t q[2], float *d, float *m)
{
	*d = h2f(w);
	*m = t == GGML_Q4_1 || t == GGML_Q5_1 ? h2f(w + 2) : 0;
	if (t == GGML_Q8_0) {
		q[0] = vld1q_s8((const int8_t *)(w + 2));
		q[1] = vld1q_s8((const int8_t *)(w + 18));
		return;
	}
	const size_t qs = t == GGML_Q4_0 ? 2 : t == GGML_Q4_1 ? 4 : t == GGML_Q5_0 ? 6 : 8;
	uint8x16_t x = vld1q_u8(w + qs);
	uint8x16_t lo = vandq_u8(x, vdupq_n_u8(15)), hi = vshrq_n_u8(x, 4);
	if (t == GGML_Q5_0 || t == GGML_Q5_1) {
		uint32_t h = load32(w + (t == GGML_Q5_0 ? 2 : 4));
		lo = vorrq_u8(lo, fifth_bits(h, 0));
		hi = vorrq_u8(hi, fifth_bits(h, 1));
	}
	if (t == GGML_Q4_0 || t == GGML_Q5_0) {
		const uint8x16_t off = vdupq_n_u8(t == GGML_Q4_0 ? 8 : 16);
		lo = vsubq_u8(lo, off);
		hi = vsubq_u8(hi, off);
	}
	q[0] = vreinterpretq_s8_u8(lo);
	q[1] = vreinterpretq_s8_u8(hi);
}

INLINE void block_kq45(const enum ggml_type t, const uint8_t *b, int j, int8x16_t q[2], float *d, float *m)
{
	const uint8_t *qs = b + (t == GGML_Q4_K ? 16 : 48) + 32 * (j / 2);
	int sc, mn;
	for (int k = 0; k < 2; k++) {
		uint8x16_t x = vld1q_u8(qs + 16 * k);
		x = j & 1 ? vshrq_n_u8(x, 4) : vandq_u8(x, vdupq_n_u8(15));
		if (t == GGML_Q5_K)  /* bit j of qh[e] */
			x = vorrq_u8(x, vandq_u8(vtstq_u8(vld1q_u8(b + 16 + 16 * k), vdupq_n_u8((uint8_t)(1 << j))),
						 vdupq_n_u8(16)));
		q[k] = vreinterpretq_s8_u8(x);
	}
	kq_scale_min(b + 4, j, &sc, &mn);
	*d = h2f(b) * (float)sc;
	*m = -h2f(b + 2) * (float)mn;
}

INLINE void block_q6k(const uint8_t *b, int j, int8x16_t q[2], int sc[2], float *d)
{
	const int h = j / 4, g = j % 4;
	for (int k = 0; k < 2; k++) {
		uint8x16_t l = vld1q_u8(b + 64 * h + 32 * (g & 1) + 16 * k);
		uint8x16_t u = vld1q_u8(b + 128 + 32 * h + 16 * k);
		l = g < 2 ? vandq_u8(l, vdupq_n_u8(15)) : vshrq_n_u8(l, 4);
		u = vandq_u8(vshlq_u8(u, vdupq_n_s8((int8_t)(4 - 2 * g))), vdupq_n_u8(0x30));
		q[k] = vreinterpretq_s8_u8(vsubq_u8(vorrq_u8(l, u), vdupq_n_u8(32)));
		sc[k] = (int8_t)b[192 + 2 * j + k];
	}
	*d = h2f(b + 208);
}

/* ---- 8-bit activations (quant_matmul) ---- */

/* acc + the 16 products of a and b, summed four by four */
INLINE int32x4_t dot16(int32x4_t acc, int8x16_t a, int8x16_t b)
{
#ifdef NEON_DOT
	return vdotq_s32(acc, a, b);
#else
	int16x8_t p = vmull_s8(vget_low_s8(a), vget_low_s8(b));
	p = vmlal_high_s8(p, a, b);
	return vpadalq_s16(acc, p);
#endif
}

INLINE void tile_legacy(const enum ggml_type t, const uint8_t *W, size_t rb, int n, const uint8_t *X, size_t xs,
			float *Y, int ldy, const int R, const int C)
{
	const size_t wsz = blk_bytes(t);
	const int with_sum = t == GGML_Q4_1 || t == GGML_Q5_1;
	const size_t asz = with_sum ? sizeof(struct blk_q8_1) : sizeof(struct blk_q8_0), qoff = with_sum ? 4 : 2;
	float32x4_t acc[MAXR][MAXC];
	float msum[MAXR][MAXC];

	for (int r = 0; r < R; r++)
		for (int c = 0; c < C; c++) {
			acc[r][c] = vdupq_n_f32(0);
			msum[r][c] = 0;
		}
	for (int i = 0; i < n / QK; i++) {
		for (int r = 0; r < R; r++) {
			int8x16_t q[2];
			float d, m;
			block_legacy(t, W + r * rb + (size_t)i * wsz, q, &d, &m);
			for (int c = 0; c < C; c++) {
				const uint8_t *a = X + c * xs + (size_t)i * asz;
				int32x4_t s = dot16(dot16(vdupq_n_s32(0), q[0], vld1q_s8((const int8_t *)(a + qoff))), q[1],
						    vld1q_s8((const int8_t *)(a + qoff + 16)));
				acc[r][c] = vfmaq_n_f32(acc[r][c], vcvtq_f32_s32(s), d * h2f(a));
				if (with_sum)
					msum[r][c] += m * h2f(a + 2);
			}
		}
	}
	for (int r = 0; r < R; r++)
		for (int c = 0; c < C; c++)
			Y[(size_t)c * ldy + r] = vaddvq_f32(acc[r][c]) + msum[r][c];
}

INLINE void tile_kquant(const enum ggml_type t, const uint8_t *W, size_t rb, int n, const uint8_t *X, size_t xs,
			float *Y, int ldy, const int R, const int C)
{
	const size_t wsz = blk_bytes(t);
	float32x4_t acc[MAXR][MAXC];

	for (int r = 0; r < R; r++)
		for (int c = 0; c < C; c++)
			acc[r][c] = vdupq_n_f32(0);
	for (int i = 0; i < n / QK_K; i++) {
		for (int r = 0; r < R; r++) {
			const uint8_t *b = W + r * rb + (size_t)i * wsz;
			int32x4_t s[MAXC];
			int msum[MAXC] = {0};
			float d = 0, dmin = 0;
			for (int c = 0; c < C; c++)
				s[c] = vdupq_n_s32(0);
			for (int j = 0; j < 8; j++) {
				int8x16_t q[2];
				int sc2[2], sc = 0, mn = 0;
				float dj, mj;
				if (t == GGML_Q6_K) {
					block_q6k(b, j, q, sc2, &d);
				} else {
					block_kq45(t, b, j, q, &dj, &mj);
					kq_scale_min(b + 4, j, &sc, &mn);
					d = h2f(b);
					dmin = h2f(b + 2);
				}
				for (int c = 0; c < C; c++) {
					const struct blk_q8_k *a = (const void *)(X + c * xs + (size_t)i * sizeof(struct blk_q8_k));
					int32x4_t p0 = dot16(vdupq_n_s32(0), q[0], vld1q_s8(a->qs + 32 * j));
					int32x4_t p1 = dot16(vdupq_n_s32(0), q[1], vld1q_s8(a->qs + 32 * j + 16));
					if (t == GGML_Q6_K) {
						s[c] = vmlaq_n_s32(vmlaq_n_s32(s[c], p0, sc2[0]), p1, sc2[1]);
					} else {
						s[c] = vmlaq_n_s32(s[c], vaddq_s32(p0, p1), sc);
						msum[c] += mn * (a->bsums[2 * j] + a->bsums[2 * j + 1]);
					}
				}
			}
			for (int c = 0; c < C; c++) {
				const struct blk_q8_k *a = (const void *)(X + c * xs + (size_t)i * sizeof(struct blk_q8_k));
				acc[r][c] = vfmaq_n_f32(acc[r][c], vcvtq_f32_s32(s[c]), d * a->d);
				acc[r][c] = vsetq_lane_f32(vgetq_lane_f32(acc[r][c], 0) - dmin * a->d * (float)msum[c], acc[r][c], 0);
			}
		}
	}
	for (int r = 0; r < R; r++)
		for (int c = 0; c < C; c++)
			Y[(size_t)c * ldy + r] = vaddvq_f32(acc[r][c]);
}

/* ---- float weights ---- */

/* Four float weights (F32, F16, BF16) at p. */
INLINE float32x4_t float4(const enum ggml_type t, const uint8_t *p)
{
	if (t == GGML_F32)
		return vld1q_f32((const float *)p);
	if (t == GGML_F16)
		return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)p)));
	return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t *)p), 16));
}

INLINE float float1(const enum ggml_type t, const uint8_t *p)
{
	uint16_t h;
	float f;
	if (t == GGML_F32) {
		memcpy(&f, p, 4);
		return f;
	}
	memcpy(&h, p, 2);
	return t == GGML_F16 ? h2f(p) : bf16_to_f32(h);
}

/* Weights k..k+31 of a quantized row as floats in w[0..8), exactly as
 * dequant_row() computes them (k a multiple of 32). */
INLINE void weights32(const enum ggml_type t, const uint8_t *row, int k, float32x4_t w[8])
{
	int8x16_t q[2];
	float d, m = 0;
	int sc[2] = {1, 1};

	if (t == GGML_Q4_K || t == GGML_Q5_K)
		block_kq45(t, row + (size_t)(k / QK_K) * blk_bytes(t), k % QK_K / 32, q, &d, &m);
	else if (t == GGML_Q6_K)
		block_q6k(row + (size_t)(k / QK_K) * blk_bytes(t), k % QK_K / 32, q, sc, &d);
	else
		block_legacy(t, row + (size_t)(k / QK) * blk_bytes(t), q, &d, &m);
	for (int h = 0; h < 2; h++) {
		int16x8_t lo = vmovl_s8(vget_low_s8(q[h])), hi = vmovl_high_s8(q[h]);
		float dd = d * (float)sc[h];  /* Q6_K: d * scale, as dequant_row() */
		int16x4_t v[4] = {vget_low_s16(lo), vget_high_s16(lo), vget_low_s16(hi), vget_high_s16(hi)};
		for (int i = 0; i < 4; i++)
			w[4 * h + i] = vaddq_f32(vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(v[i])), dd), vdupq_n_f32(m));
	}
}

/* Tiles of float activations (quant_matmul_float below GP_MIN, and
 * quant_matmul for float weights). */
INLINE void tile_float(const enum ggml_type t, const uint8_t *W, size_t rb, int n, const uint8_t *X, size_t xs,
		       float *Y, int ldy, const int R, const int C)
{
	float32x4_t acc[MAXR][MAXC];
	int i = 0;

	for (int r = 0; r < R; r++)
		for (int c = 0; c < C; c++)
			acc[r][c] = vdupq_n_f32(0);
	if (t == GGML_F32 || t == GGML_F16 || t == GGML_BF16) {
		const size_t es = t == GGML_F32 ? 4 : 2;
		for (; i + 4 <= n; i += 4)
			for (int r = 0; r < R; r++) {
				float32x4_t w = float4(t, W + r * rb + (size_t)i * es);
				for (int c = 0; c < C; c++)
					acc[r][c] = vfmaq_f32(acc[r][c], w, vld1q_f32((const float *)(X + c * xs) + i));
			}
		for (int r = 0; r < R; r++)
			for (int c = 0; c < C; c++) {
				float tail = 0;
				for (int e = i; e < n; e++)
					tail += float1(t, W + r * rb + (size_t)e * es) * ((const float *)(X + c * xs))[e];
				Y[(size_t)c * ldy + r] = vaddvq_f32(acc[r][c]) + tail;
			}
		return;
	}
	for (; i < n; i += 32)
		for (int r = 0; r < R; r++) {
			float32x4_t w[8];
			weights32(t, W + r * rb, i, w);
			for (int c = 0; c < C; c++)
				for (int e = 0; e < 8; e++)
					acc[r][c] = vfmaq_f32(acc[r][c], w[e], vld1q_f32((const float *)(X + c * xs) + i + 4 * e));
		}
	for (int r = 0; r < R; r++)
		for (int c = 0; c < C; c++)
			Y[(size_t)c * ldy + r] = vaddvq_f32(acc[r][c]);
}

/* ---- 16-bit activations (quant_matmul_a16) ----
 *
 * The activation layout of quant_a16_row(): per pair of 32-blocks, the
 * first halves (16 int16) of blocks 0 and 1, then their second halves.
 * A weight block's quants widened to int16 meet them by VMLAL (4 products
 * per int32 lane at most 8 deep: 8 * 4096 * 32767 < 2^31), the block's
 * sum is scaled by d_w * d_a into a float accumulator and its min (or
 * offset) m_w * s_a added apart. */

/* acc + the 16 products of the int8 quants q (widened) and the int16
 * activations a[0..16) */
INLINE int32x4_t mla16(int32x4_t acc, int8x16_t q, const int16_t *a)
{
	int16x8_t lo = vmovl_s8(vget_low_s8(q)), hi = vmovl_high_s8(q);
	int16x8_t a0 = vld1q_s16(a), a1 = vld1q_s16(a + 8);
	acc = vmlal_s16(acc, vget_low_s16(lo), vget_low_s16(a0));
	acc = vmlal_high_s16(acc, lo, a0);
	acc = vmlal_s16(acc, vget_low_s16(hi), vget_low_s16(a1));
	return vmlal_high_s16(acc, hi, a1);
}

/* The same with Q6_K's scales: quants times the sub-block's scale in
 * int16 (at most 32 * 128 = 4096 in magnitude). */
INLINE int32x4_t mla16_scaled(int32x4_t acc, int8x16_t q, int sc, const int16_t *a)
{
	int16x8_t lo = vmulq_n_s16(vmovl_s8(vget_low_s8(q)), (int16_t)sc);
	int16x8_t hi = vmulq_n_s16(vmovl_high_s8(q), (int16_t)sc);
	int16x8_t a0 = vld1q_s16(a), a1 = vld1q_s16(a + 8);
	acc = vmlal_s16(acc, vget_low_s16(lo), vget_low_s16(a0));
	acc = vmlal_high_s16(acc, lo, a0);
	acc = vmlal_s16(acc, vget_low_s16(hi), vget_low_s16(a1));
	return vmlal_high_s16(acc, hi, a1);
}

INLINE void tile_a16(const enum ggml_type t, const uint8_t *W, size_t rb, int n, const uint8_t *X, size_t xs,
		     float *Y, int ldy, const int R, const int C)
{
	const int nblk = n / QK, npair = (nblk + 1) / 2;
	const int kquant = t == GGML_Q4_K || t == GGML_Q5_K || t == GGML_Q6_K;
	float32x4_t acc[MAXR][MAXC];
	float accm[MAXR][MAXC];

	for (int r = 0; r < R; r++)
		for (int c = 0; c < C; c++) {
			acc[r][c] = vdupq_n_f32(0);
			accm[r][c] = 0;
		}
	for (int i = 0; i < nblk; i++) {
		/* block i: its halves at pair i / 2, offsets 16 (i % 2) and 32 + 16 (i % 2) */
		const size_t at = (size_t)(i / 2) * 64 + (size_t)(i % 2) * 16;
		for (int r = 0; r < R; r++) {
			const uint8_t *row = W + r * rb;
			int8x16_t q[2];
			int sc[2] = {1, 1};
			float d, m = 0;
			if (t == GGML_Q6_K)
				block_q6k(row + (size_t)(i / 8) * blk_bytes(t), i % 8, q, sc, &d);
			else if (kquant)
				block_kq45(t, row + (size_t)(i / 8) * blk_bytes(t), i % 8, q, &d, &m);
			else
				block_legacy(t, row + (size_t)i * blk_bytes(t), q, &d, &m);
			for (int c = 0; c < C; c++) {
				const int16_t *a = (const int16_t *)(X + c * xs);
				const float *ds = (const float *)(a + 64 * (size_t)npair) + 2 * i;
				int32x4_t s;
				if (t == GGML_Q6_K)
					s = mla16_scaled(mla16_scaled(vdupq_n_s32(0), q[0], sc[0], a + at), q[1], sc[1], a + at + 32);
				else
					s = mla16(mla16(vdupq_n_s32(0), q[0], a + at), q[1], a + at + 32);
				acc[r][c] = vfmaq_n_f32(acc[r][c], vcvtq_f32_s32(s), d * ds[0]);
				accm[r][c] += m * ds[1];
			}
		}
	}
	for (int r = 0; r < R; r++)
		for (int c = 0; c < C; c++)
			Y[(size_t)c * ldy + r] = vaddvq_f32(acc[r][c]) + accm[r][c];
}

/* ---- float activations, batches: panels ----
 *
 * Columns [k0, k0 + GP_K) of GP_ROWS rows dequantized into P[k][GP_ROWS]
 * (in L1), lanes over rows, each activation's value at k multiplied into
 * 2 * GP_ACTS accumulators (no horizontal sums). */
#define GP_ROWS 8
#define GP_K 128
#define GP_ACTS 8
#define GP_MIN 8

/* P[k][r] = W[r][k0 + k] for k < kn (a multiple of 32 for quantized
 * types), r < GP_ROWS (0 for r >= rows) */
INLINE void gp_pack(const enum ggml_type t, const uint8_t *W, size_t rb, int rows, int k0, int kn, float *P)
{
	const int flt = t == GGML_F32 || t == GGML_F16 || t == GGML_BF16;
	for (int r = 0; r < GP_ROWS; r++) {
		const uint8_t *row = W + (size_t)r * rb;
		for (int k = 0; k < kn; k += flt ? 4 : 32) {
			float v[32];
			if (r >= rows)
				memset(v, 0, sizeof v);
			else if (flt)
				vst1q_f32(v, float4(t, row + (size_t)(k0 + k) * (t == GGML_F32 ? 4 : 2)));
			else {
				float32x4_t w[8];
				weights32(t, row, k0 + k, w);
				for (int e = 0; e < 8; e++)
					vst1q_f32(v + 4 * e, w[e]);
			}
			for (int e = 0; e < (flt ? 4 : 32); e++)
				P[(k + e) * GP_ROWS + r] = v[e];
		}
	}
}

INLINE void gp_block(const float *P, int kn, const uint8_t *X, size_t xs, float *Y, int ldy, int rows, int first,
		     const int A)
{
	float32x4_t acc[GP_ACTS][2];

	for (int a = 0; a < A; a++)
		acc[a][0] = acc[a][1] = vdupq_n_f32(0);
	for (int k = 0; k < kn; k++) {
		float32x4_t p0 = vld1q_f32(P + k * GP_ROWS), p1 = vld1q_f32(P + k * GP_ROWS + 4);
		for (int a = 0; a < A; a++) {
			float x = ((const float *)(X + a * xs))[k];
			acc[a][0] = vfmaq_n_f32(acc[a][0], p0, x);
			acc[a][1] = vfmaq_n_f32(acc[a][1], p1, x);
		}
	}
	for (int a = 0; a < A; a++) {
		float v[GP_ROWS], *y = Y + (size_t)a * ldy;
		vst1q_f32(v, acc[a][0]);
		vst1q_f32(v + 4, acc[a][1]);
		for (int r = 0; r < rows; r++)
			y[r] = first ? v[r] : y[r] + v[r];
	}
}

#define GP_TAIL(A) \
	case A: gp_block(P, kn, X, xs, Y, ldy, rows, first, A); break;

INLINE void gemm_float(const enum ggml_type t, const uint8_t *W, size_t rb, int n, const uint8_t *X0, size_t xs,
		       int nb, float *Y0, int ldy, int r0, int r1)
{
	const int flt = t == GGML_F32 || t == GGML_F16 || t == GGML_BF16, kn4 = flt ? n / 4 * 4 : n;
	float P[GP_K * GP_ROWS] __attribute__((aligned(16)));

	for (int r = r0; r < r1; r += GP_ROWS) {
		int rows = r1 - r < GP_ROWS ? r1 - r : GP_ROWS;
		for (int k0 = 0; k0 < kn4; k0 += GP_K) {
			int kn = kn4 - k0 < GP_K ? kn4 - k0 : GP_K, first = k0 == 0, b = 0;
			gp_pack(t, W + (size_t)r * rb, rb, rows, k0, kn, P);
			for (; b + GP_ACTS <= nb; b += GP_ACTS)
				gp_block(P, kn, X0 + (size_t)b * xs + (size_t)k0 * 4, xs, Y0 + (size_t)b * ldy + r, ldy, rows,
					 first, GP_ACTS);
			const uint8_t *X = X0 + (size_t)b * xs + (size_t)k0 * 4;
			float *Y = Y0 + (size_t)b * ldy + r;
			switch (nb - b) {
			GP_TAIL(1) GP_TAIL(2) GP_TAIL(3) GP_TAIL(4) GP_TAIL(5) GP_TAIL(6) GP_TAIL(7)
			}
		}
		/* float types: the last n % 4 columns */
		for (int e = kn4; e < n; e++)
			for (int b = 0; b < nb; b++) {
				const float x = ((const float *)(X0 + (size_t)b * xs))[e];
				for (int i = 0; i < rows; i++) {
					float *y = Y0 + (size_t)b * ldy + r + i;
					float w = float1(t, W + (size_t)(r + i) * rb + (size_t)e * (t == GGML_F32 ? 4 : 2));
					*y = (kn4 == 0 && e == 0 ? 0 : *y) + w * x;
				}
			}
	}
}

KERNEL(mm_f32, tile_float, GGML_F32, 4, 2)
KERNEL(mm_f16, tile_float, GGML_F16, 4, 2)
KERNEL(mm_bf16, tile_float, GGML_BF16, 4, 2)
KERNEL(mm_q4_0, tile_legacy, GGML_Q4_0, 4, 2)
KERNEL(mm_q4_1, tile_legacy, GGML_Q4_1, 4, 2)
KERNEL(mm_q5_0, tile_legacy, GGML_Q5_0, 4, 2)
KERNEL(mm_q5_1, tile_legacy, GGML_Q5_1, 4, 2)
KERNEL(mm_q8_0, tile_legacy, GGML_Q8_0, 4, 2)
KERNEL(mm_q4_k, tile_kquant, GGML_Q4_K, 4, 2)
KERNEL(mm_q5_k, tile_kquant, GGML_Q5_K, 4, 2)
KERNEL(mm_q6_k, tile_kquant, GGML_Q6_K, 4, 2)
KERNEL(mm16_q4_0, tile_a16, GGML_Q4_0, 4, 2)
KERNEL(mm16_q4_1, tile_a16, GGML_Q4_1, 4, 2)
KERNEL(mm16_q5_0, tile_a16, GGML_Q5_0, 4, 2)
KERNEL(mm16_q5_1, tile_a16, GGML_Q5_1, 4, 2)
KERNEL(mm16_q8_0, tile_a16, GGML_Q8_0, 4, 2)
KERNEL(mm16_q4_k, tile_a16, GGML_Q4_K, 4, 2)
KERNEL(mm16_q5_k, tile_a16, GGML_Q5_K, 4, 2)
KERNEL(mm16_q6_k, tile_a16, GGML_Q6_K, 4, 2)
KERNEL(mmt_q4_0, tile_float, GGML_Q4_0, 4, 2)
KERNEL(mmt_q4_1, tile_float, GGML_Q4_1, 4, 2)
KERNEL(mmt_q5_0, tile_float, GGML_Q5_0, 4, 2)
KERNEL(mmt_q5_1, tile_float, GGML_Q5_1, 4, 2)
KERNEL(mmt_q8_0, tile_float, GGML_Q8_0, 4, 2)
KERNEL(mmt_q4_k, tile_float, GGML_Q4_K, 4, 2)
KERNEL(mmt_q5_k, tile_float, GGML_Q5_K, 4, 2)
KERNEL(mmt_q6_k, tile_float, GGML_Q6_K, 4, 2)

/* Float activations: batches of GP_MIN or more go to the panels, smaller
 * ones to the tiles. */
#define FLOAT_KERNEL(name, tiles, type) \
	static void name##_gp(const void *W, size_t rb, int n, const void *X, size_t xs, int nb, float *Y, int ldy, \
			      int r0, int r1) \
	{ \
		gemm_float(type, W, rb, n, X, xs, nb, Y, ldy, r0, r1); \
	} \
	static void name(const void *W, size_t rb, int n, const void *X, size_t xs, int nb, float *Y, int ldy, \
			 int r0, int r1) \
	{ \
		(nb >= GP_MIN ? name##_gp : tiles)(W, rb, n, X, xs, nb, Y, ldy, r0, r1); \
	}
FLOAT_KERNEL(mmf_f32, mm_f32, GGML_F32)
FLOAT_KERNEL(mmf_f16, mm_f16, GGML_F16)
FLOAT_KERNEL(mmf_bf16, mm_bf16, GGML_BF16)
FLOAT_KERNEL(mmf_q4_0, mmt_q4_0, GGML_Q4_0)
FLOAT_KERNEL(mmf_q4_1, mmt_q4_1, GGML_Q4_1)
FLOAT_KERNEL(mmf_q5_0, mmt_q5_0, GGML_Q5_0)
FLOAT_KERNEL(mmf_q5_1, mmt_q5_1, GGML_Q5_1)
FLOAT_KERNEL(mmf_q8_0, mmt_q8_0, GGML_Q8_0)
FLOAT_KERNEL(mmf_q4_k, mmt_q4_k, GGML_Q4_K)
FLOAT_KERNEL(mmf_q5_k, mmt_q5_k, GGML_Q5_K)
FLOAT_KERNEL(mmf_q6_k, mmt_q6_k, GGML_Q6_K)

#ifdef NEON_DOT
static bool cpu_ok(void)
{
	return getauxval(AT_HWCAP) & HWCAP_ASIMDDP;
}
#define FAMILY quant_family_neon_dot
#define FAMILY_NAME "neon-dotprod"
#define FAMILY_ENV "neondot"
#else
static bool cpu_ok(void)
{
	return true;  /* Advanced SIMD is part of every aarch64 CPU */
}
#define FAMILY quant_family_neon
#define FAMILY_NAME "neon"
#define FAMILY_ENV "neon"
#endif

const struct quant_family FAMILY = {
	FAMILY_NAME, FAMILY_ENV, cpu_ok, {
		[GGML_F32] = mm_f32, [GGML_F16] = mm_f16, [GGML_BF16] = mm_bf16,
		[GGML_Q4_0] = mm_q4_0, [GGML_Q4_1] = mm_q4_1, [GGML_Q5_0] = mm_q5_0,
		[GGML_Q5_1] = mm_q5_1, [GGML_Q8_0] = mm_q8_0,
		[GGML_Q4_K] = mm_q4_k, [GGML_Q5_K] = mm_q5_k, [GGML_Q6_K] = mm_q6_k,
	}, NULL, {
		[GGML_Q4_0] = mm16_q4_0, [GGML_Q4_1] = mm16_q4_1, [GGML_Q5_0] = mm16_q5_0,
		[GGML_Q5_1] = mm16_q5_1, [GGML_Q8_0] = mm16_q8_0, [GGML_Q4_K] = mm16_q4_k,
		[GGML_Q5_K] = mm16_q5_k, [GGML_Q6_K] = mm16_q6_k,
	}, {
		[GGML_F32] = mmf_f32, [GGML_F16] = mmf_f16, [GGML_BF16] = mmf_bf16,
		[GGML_Q4_0] = mmf_q4_0, [GGML_Q4_1] = mmf_q4_1, [GGML_Q5_0] = mmf_q5_0,
		[GGML_Q5_1] = mmf_q5_1, [GGML_Q8_0] = mmf_q8_0,
		[GGML_Q4_K] = mmf_q4_k, [GGML_Q5_K] = mmf_q5_k, [GGML_Q6_K] = mmf_q6_k,
	}, GP_MIN, {0}, NULL
};

#endif
