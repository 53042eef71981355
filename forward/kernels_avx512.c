/* kernels_avx512.c - the "avx512-vnni" kernel family: 512-bit integer dot
 * products (VPDPBUSD, VPDPWSSD) over several rows and activations at once.
 *
 * Compiled with target attributes, not -march, so a portable build has it
 * too; quant.c only calls it when the CPU reports AVX512F/BW/VL/DQ, VNNI,
 * FMA and F16C.
 *
 * Shapes used throughout (weights stay in GGUF layout):
 *   legacy 32-blocks: two blocks per 512-bit step, lanes 0-7 block i,
 *     lanes 8-15 block i+1; weights as unsigned bytes (Q4/Q5 quants
 *     without their offset, Q8_0 with its sign bit flipped), the offset
 *     times the sum of the activations subtracted through the accumulator
 *     VPDPBUSD starts from, so the integer sums are exact;
 *   K-quants: 64 elements per step; VPMADDUBSW gives 16-bit pair sums,
 *     VPDPWSSD multiplies them by the sub-block scales into 32 bits;
 *     mins (and Q6_K's offset 32) come from the activation's bsums;
 *   float weights (F32, F16, BF16) with a batch of 8 or more activations:
 *     panels of 32 rows converted and transposed on the fly, lanes over
 *     rows, activations broadcast (no horizontal sums). */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kernels.h"

#define TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))
#define INLINE static inline __attribute__((always_inline)) TARGET

#define MAXR 4
#define MAXC 4
#ifndef PF_TILES
#define PF_TILES 16
#endif

/* [f(h0) x8 | f(h1) x8] from two halves. */
INLINE __m512 halves2(uint16_t h0, uint16_t h1)
{
	__m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128((int)(h0 | (uint32_t)h1 << 16)));
	return _mm512_permutexvar_ps(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
				     _mm512_castps128_ps512(f));
}

INLINE uint32_t load32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

INLINE float load_f16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return _cvtsh_ss(v);
}

/* VPERMW indices for two consecutive Q4_0/Q4_1/Q5_0/Q5_1 blocks loaded
 * into one register: nib[] puts the 16 quant bytes of block 0 in 128-bit
 * lanes 0 and 1, of block 1 in lanes 2 and 3 (lanes 1 and 3 are shifted
 * by 4 for the high nibbles); dm[] puts d0 d1 m0 m1 (Q4_0, Q5_0: d0 d1) in words 0-3.  All
 * fields start at even offsets, so 16-bit granularity suffices. */
#define R8(x) x, x + 1, x + 2, x + 3, x + 4, x + 5, x + 6, x + 7
#define NIB(q0, q1) {R8(q0), R8(q0), R8(q1), R8(q1)}
static const int16_t nib_idx[4][32] __attribute__((aligned(64))) = {
	NIB(1, 10),  /* Q4_0: 18-byte blocks, qs at byte 2 */
	NIB(2, 12),  /* Q4_1: 20, qs at 4 */
	NIB(3, 14),  /* Q5_0: 22, qs at 6 */
	NIB(4, 16),  /* Q5_1: 24, qs at 8 */
};
static const int16_t dm_idx[4][32] __attribute__((aligned(64))) = {
	{0, 9}, {0, 10, 1, 11}, {0, 11}, {0, 12, 1, 13},
};
#undef NIB
#undef R8

INLINE int nibble_type_index(enum ggml_type t)
{
	return t == GGML_Q4_0 ? 0 : t == GGML_Q4_1 ? 1 : t == GGML_Q5_0 ? 2 : 3;
}

/* Blocks w0 and w0 + 1 (if two) of a 4- or 5-bit type: unsigned quants in
 * element order (block 0 in lanes 0-7, block 1 in 8-15), d and m. */
INLINE void nibble_pair(const enum ggml_type t, const uint8_t *w0, const int two,
			__m512i *q, __m512 *wd, __m128 *dm4)
{
	const size_t wsz = blk_bytes(t);
	const int k = nibble_type_index(t);
	const __m512i shift = _mm512_inserti64x4(
		_mm512_castsi256_si512(_mm256_set_epi64x(0x0004000400040004, 0x0004000400040004, 0, 0)),
		_mm256_set_epi64x(0x0004000400040004, 0x0004000400040004, 0, 0), 1);
	__m512i v = _mm512_maskz_loadu_epi8(two ? (1ull << 2 * wsz) - 1 : (1ull << wsz) - 1, w0);
	__m512i x = _mm512_permutexvar_epi16(_mm512_load_si512(nib_idx[k]), v);
	*q = _mm512_and_si512(_mm512_srlv_epi16(x, shift), _mm512_set1_epi8(15));
	if (t == GGML_Q5_0 || t == GGML_Q5_1) {
		size_t qh = t == GGML_Q5_0 ? 2 : 4;
		__mmask64 h = load32(w0 + qh) | (two ? (uint64_t)load32(w0 + wsz + qh) << 32 : 0);
		*q = _mm512_or_si512(*q, _mm512_maskz_mov_epi8(h, _mm512_set1_epi8(16)));
	}
	*dm4 = _mm_cvtph_ps(_mm512_castsi512_si128(_mm512_permutexvar_epi16(_mm512_load_si512(dm_idx[k]), v)));
	if (t == GGML_Q4_0 || t == GGML_Q5_0)
		*wd = _mm512_permutexvar_ps(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
					    _mm512_castps128_ps512(*dm4));
}

/* The weight rows stream from memory in tiles of R short rows, too short
 * for the hardware prefetcher to follow, and one tile is too short to hide
 * the memory latency: while a step reads `bytes` at w, fetch the same
 * bytes of the same row PF_TILES tiles ahead (measured on SmolLM2 decode:
 * 8 to 32 tiles read about 25% faster than 1; a prefetch past the end of
 * the matrix is harmless). */
INLINE void prefetch_next_tile(const uint8_t *w, size_t rb, const int R, const size_t bytes)
{
	for (size_t o = 0; o < bytes; o += 64)
		_mm_prefetch((const char *)(w + PF_TILES * R * rb + o), _MM_HINT_T0);
}

/* Offset of the unsigned weight quants: 8 (Q4_0), 16 (Q5_0), 128 (Q8_0). */
INLINE int legacy_offset_log2(enum ggml_type t)
{
	return t == GGML_Q4_0 ? 3 : t == GGML_Q5_0 ? 4 : t == GGML_Q8_0 ? 7 : -1;
}

/* Blocks i and i+1 (if two) of the tile's rows and activations. */
INLINE void legacy_step(const enum ggml_type t, const uint8_t *W, size_t rb, const uint8_t *X, size_t xs,
			int i, const int two, __m512 acc[MAXR][MAXC], const int R, const int C)
{
	const size_t wsz = blk_bytes(t);
	const int with_sum = t == GGML_Q4_1 || t == GGML_Q5_1, off = legacy_offset_log2(t);
	const size_t asz = with_sum ? sizeof(struct blk_q8_1) : sizeof(struct blk_q8_0);
	__m512i aq[MAXC], aoff[MAXC];
	__m512 ad[MAXC];
	__m128 ds[MAXC];

	_Pragma("GCC unroll 4")
	for (int c = 0; c < C; c++) {
		const uint8_t *a0 = X + c * xs + (size_t)i * asz, *a1 = a0 + asz;
		const struct blk_q8_1 *b0 = (const void *)a0, *b1 = (const void *)a1;
		const size_t qoff = with_sum ? 4 : 2;
		__m256i lo = _mm256_loadu_si256((const void *)(a0 + qoff));
		__m256i hi = two ? _mm256_loadu_si256((const void *)(a1 + qoff)) : _mm256_setzero_si256();
		aq[c] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
		if (with_sum)  /* d0 d1 s0 s1, to multiply by the weights' d0 d1 m0 m1 */
			ds[c] = _mm_cvtph_ps(_mm_unpacklo_epi16(_mm_cvtsi32_si128((int)load32(a0)),
								_mm_cvtsi32_si128(two ? (int)load32(a1) : 0)));
		else
			ad[c] = halves2(b0->d, two ? b1->d : 0);
		if (off >= 0) {
			__m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1), aq[c]);
			aoff[c] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(s, off));
		}
	}
	_Pragma("GCC unroll 4")
	for (int r = 0; r < R; r++) {
		const uint8_t *w0 = W + r * rb + (size_t)i * wsz, *w1 = w0 + wsz;
		__m512i q;
		prefetch_next_tile(w0, rb, R, 2 * wsz);
		__m512 wd = _mm512_setzero_ps();
		__m128 dm = _mm_setzero_ps();
		switch (t) {
		case GGML_Q4_0: case GGML_Q4_1: case GGML_Q5_0: case GGML_Q5_1:
			nibble_pair(t, w0, two, &q, &wd, &dm);
			break;
		default: {  /* Q8_0 */
			const struct blk_q8_0 *b0 = (const void *)w0, *b1 = (const void *)w1;
			__m256i lo = _mm256_loadu_si256((const void *)b0->qs);
			__m256i hi = two ? _mm256_loadu_si256((const void *)b1->qs) : _mm256_setzero_si256();
			q = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), _mm512_set1_epi8(-128));
			wd = halves2(b0->d, two ? b1->d : 0);
			break;
		}
		}
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++) {
			__m512i s = _mm512_dpbusd_epi32(off >= 0 ? aoff[c] : _mm512_setzero_si512(), q, aq[c]);
			if (with_sum) {
				/* p = d0*da0 d1*da1 m0*s0 m1*s1: the block scales for lanes
				 * 0-7 and 8-15, and the two min terms, added to lanes 2, 3 */
				__m512 p = _mm512_castps128_ps512(_mm_mul_ps(dm, ds[c]));
				__m512 sc = _mm512_permutexvar_ps(
					_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0), p);
				acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), sc, acc[r][c]);
				acc[r][c] = _mm512_mask_add_ps(acc[r][c], 0xc, acc[r][c], p);
			} else {
				acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(wd, ad[c]), acc[r][c]);
			}
		}
	}
}

INLINE void store_tile(__m512 acc[MAXR][MAXC], float *Y, int ldy, const int R, const int C)
{
	_Pragma("GCC unroll 4")
	for (int r = 0; r < R; r++)
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++)
			Y[(size_t)c * ldy + r] = _mm512_reduce_add_ps(acc[r][c]);
}

INLINE void tile_legacy(const enum ggml_type t, const uint8_t *W, size_t rb, int n, const uint8_t *X, size_t xs,
			float *Y, int ldy, const int R, const int C)
{
	__m512 acc[MAXR][MAXC];
	int nblk = n / QK, i = 0;

	_Pragma("GCC unroll 4")
	for (int r = 0; r < R; r++)
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++)
			acc[r][c] = _mm512_setzero_ps();
	for (; i + 1 < nblk; i += 2)
		legacy_step(t, W, rb, X, xs, i, 1, acc, R, C);
	if (i < nblk)
		legacy_step(t, W, rb, X, xs, i, 0, acc, R, C);
	store_tile(acc, Y, ldy, R, C);
}

/* Index vectors for VPERMW: the scale of each 16-bit lane of a 64-element
 * step.  Q4_K/Q5_K step k covers sub-blocks 2k, 2k+1 (32 elements each,
 * 16 lanes); Q6_K step k covers sub-blocks 4k..4k+3 (16 elements, 8 lanes). */
static const int16_t kq4_idx[4][32] __attribute__((aligned(64))) = {
#define H(a, b) {a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a, b,b,b,b,b,b,b,b,b,b,b,b,b,b,b,b}
	H(0, 1), H(2, 3), H(4, 5), H(6, 7),
#undef H
};
static const int16_t kq6_idx[4][32] __attribute__((aligned(64))) = {
#define Q(a) {a,a,a,a,a,a,a,a, a+1,a+1,a+1,a+1,a+1,a+1,a+1,a+1, a+2,a+2,a+2,a+2,a+2,a+2,a+2,a+2, a+3,a+3,a+3,a+3,a+3,a+3,a+3,a+3}
	Q(0), Q(4), Q(8), Q(12),
#undef Q
};

/* The 6-bit scales (bytes 0-7) and mins (bytes 8-15) of a Q4_K/Q5_K
 * super-block, four at a time (formats.md 2.2). */
INLINE __m128i kq_scales_mins(const uint8_t *b)
{
	uint32_t w0 = load32(b), w1 = load32(b + 4), w2 = load32(b + 8);
	uint32_t sc_lo = w0 & 0x3f3f3f3f, m_lo = w1 & 0x3f3f3f3f;
	uint32_t sc_hi = (w2 & 0x0f0f0f0f) | ((w0 >> 6) & 0x03030303) << 4;
	uint32_t m_hi = ((w2 >> 4) & 0x0f0f0f0f) | ((w1 >> 6) & 0x03030303) << 4;
	return _mm_set_epi32((int)m_hi, (int)m_lo, (int)sc_hi, (int)sc_lo);
}

INLINE void tile_kquant(const enum ggml_type t, const uint8_t *W, size_t rb, int n, const uint8_t *X, size_t xs,
			float *Y, int ldy, const int R, const int C)
{
	const size_t wsz = blk_bytes(t);
	__m512 acc[MAXR][MAXC];

	_Pragma("GCC unroll 4")
	for (int r = 0; r < R; r++)
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++)
			acc[r][c] = _mm512_setzero_ps();
	for (int i = 0; i < n / QK_K; i++) {
		_Pragma("GCC unroll 4")
		for (int r = 0; r < R; r++) {
			const uint8_t *w = W + r * rb + (size_t)i * wsz;
			__m512i q[4], scv[4];
			prefetch_next_tile(w, rb, R, wsz);
			__m256i mins = _mm256_setzero_si256(), sc16 = _mm256_setzero_si256();
			float d, dmin = 0;

			if (t == GGML_Q6_K) {
				const struct blk_q6_k *b = (const void *)w;
				const __m512i lo4 = _mm512_set1_epi8(15), hi2 = _mm512_set1_epi8(0x30);
				const __m512i sl = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
				const __m512i sr = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
				d = _cvtsh_ss(b->d);
				sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const void *)b->scales));
				for (int h = 0; h < 2; h++) {
					__m512i l = _mm512_loadu_si512((const void *)(b->ql + 64 * h));
					__m256i qh = _mm256_loadu_si256((const void *)(b->qh + 32 * h));
					__m512i hh = _mm512_inserti64x4(_mm512_castsi256_si512(qh), qh, 1);
					q[2 * h] = _mm512_or_si512(_mm512_and_si512(l, lo4),
								   _mm512_and_si512(_mm512_sllv_epi16(hh, sl), hi2));
					q[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), lo4),
								       _mm512_and_si512(_mm512_srlv_epi16(hh, sr), hi2));
				}
				for (int k = 0; k < 4; k++)
					scv[k] = _mm512_permutexvar_epi16(_mm512_load_si512(kq6_idx[k]),
									  _mm512_castsi256_si512(sc16));
			} else {
				const struct blk_q4_k *b4 = (const void *)w;
				const struct blk_q5_k *b5 = (const void *)w;
				const uint8_t *qs = t == GGML_Q4_K ? b4->qs : b5->qs;
				__m128i sm = kq_scales_mins(b4->scales);
				__m512i sc = _mm512_castsi128_si512(_mm_cvtepu8_epi16(sm));
				d = _cvtsh_ss(b4->d);
				dmin = _cvtsh_ss(b4->dmin);
				mins = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm));  /* m0 m0 m1 m1 ... */
				__m256i qh = t == GGML_Q5_K ? _mm256_loadu_si256((const void *)b5->qh) : _mm256_setzero_si256();
				__m512i hh = _mm512_inserti64x4(_mm512_castsi256_si512(qh), qh, 1);
				for (int k = 0; k < 4; k++) {
					__m256i x = _mm256_loadu_si256((const void *)(qs + 32 * k));
					__m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(x), _mm256_srli_epi16(x, 4), 1);
					q[k] = _mm512_and_si512(v, _mm512_set1_epi8(15));
					if (t == GGML_Q5_K) {
						__m512i bit = _mm512_inserti64x4(_mm512_set1_epi8((char)(1 << (2 * k))),
										 _mm256_set1_epi8((char)(1 << (2 * k + 1))), 1);
						__mmask64 m = _mm512_test_epi8_mask(hh, bit);
						q[k] = _mm512_mask_add_epi8(q[k], m, q[k], _mm512_set1_epi8(16));
					}
					scv[k] = _mm512_permutexvar_epi16(_mm512_load_si512(kq4_idx[k]), sc);
				}
			}
			_Pragma("GCC unroll 4")
			for (int c = 0; c < C; c++) {
				const struct blk_q8_k *a = (const void *)(X + c * xs + (size_t)i * sizeof(struct blk_q8_k));
				__m256i bsums = _mm256_loadu_si256((const void *)a->bsums);
				__m512i s = _mm512_setzero_si512();
				for (int k = 0; k < 4; k++) {
					__m512i p = _mm512_maddubs_epi16(q[k], _mm512_loadu_si512((const void *)(a->qs + 64 * k)));
					s = _mm512_dpwssd_epi32(s, p, scv[k]);
				}
				if (t == GGML_Q6_K) {  /* quants were stored +32: take 32 * sum(scale * bsum) off */
					__m256i o = _mm256_slli_epi32(_mm256_madd_epi16(bsums, sc16), 5);
					s = _mm512_sub_epi32(s, _mm512_zextsi256_si512(o));
				}
				acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_set1_ps(d * a->d), acc[r][c]);
				if (t != GGML_Q6_K) {
					__m256i m = _mm256_madd_epi16(bsums, mins);
					acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_zextsi256_si512(m)),
								    _mm512_set1_ps(-(dmin * a->d)), acc[r][c]);
				}
			}
		}
	}
	store_tile(acc, Y, ldy, R, C);
}

/* Float weights (F32, F16, BF16) of 16 elements at p, the first `left`. */
INLINE __m512 float16(const enum ggml_type t, const uint8_t *p, __mmask16 m)
{
	if (t == GGML_F32)
		return _mm512_maskz_loadu_ps(m, p);
	__m256i h = _mm256_maskz_loadu_epi16(m, p);
	if (t == GGML_F16)
		return _mm512_cvtph_ps(h);
	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* Bytes of the first k weights of a row (for prefetching: k need not end
 * a block) */
INLINE size_t weight_bytes(const enum ggml_type t, size_t k)
{
	const size_t per_block = t == GGML_F32 || t == GGML_F16 || t == GGML_BF16	? 1
				 : t == GGML_Q4_K || t == GGML_Q5_K || t == GGML_Q6_K ? QK_K : QK;
	return k * blk_bytes(t) / per_block;
}

/* Per 16-weight chunk c of a K-quant super-block b, the scale and the
 * offset of its weights, w = dsc[c] * q - dmn[c] as dequant_row() has
 * them: Q4_K/Q5_K d * sc and dmin * m of sub-block c / 2 (6-bit scale and
 * min), Q6_K d * scales[c] and 0. */
INLINE void kq_chunk_scales(const enum ggml_type t, const uint8_t *b, float dsc[16], float dmn[16])
{
	if (t == GGML_Q6_K) {
		const float d = load_f16(b + 208);
		for (int c = 0; c < 16; c++)
			dsc[c] = d * (float)(int8_t)b[192 + c], dmn[c] = 0;
		return;
	}
	const float d = load_f16(b), dmin = load_f16(b + 2);
	for (int j = 0; j < 8; j++) {
		int sc, mn;
		kq_scale_min(b + 4, j, &sc, &mn);
		dsc[2 * j] = dsc[2 * j + 1] = d * (float)sc;
		dmn[2 * j] = dmn[2 * j + 1] = dmin * (float)mn;
	}
}

/* The quants of weights e..e+15 (e a multiple of 16) of a K-quant
 * super-block b: Q4_K/Q5_K unsigned, Q6_K minus its offset 32. */
INLINE __m512i kquants16(const enum ggml_type t, const uint8_t *b, int e)
{
	if (t == GGML_Q6_K) {  /* ql[128] qh[64] scales[16] d; e = 128 n + 32 g + l */
		const int n = e / 128, g = e % 128 / 32, l = e % 32;
		__m512i lo = _mm512_cvtepu8_epi32(_mm_loadu_si128((const void *)(b + 64 * n + l + 32 * (g & 1))));
		__m512i hi = _mm512_cvtepu8_epi32(_mm_loadu_si128((const void *)(b + 128 + 32 * n + l)));
		lo = g < 2 ? _mm512_and_si512(lo, _mm512_set1_epi32(15)) : _mm512_srli_epi32(lo, 4);
		hi = _mm512_and_si512(_mm512_srli_epi32(hi, 2 * g), _mm512_set1_epi32(3));
		return _mm512_sub_epi32(_mm512_or_si512(lo, _mm512_slli_epi32(hi, 4)), _mm512_set1_epi32(32));
	}
	/* Q4_K, Q5_K: d dmin scales[12] (qh[32]) qs[128]; sub-block j = e / 32
	 * is the low (j even) or high nibbles of qs[32 (j / 2) ..] */
	const int j = e / 32, l = e % 32;
	const uint8_t *qs = b + (t == GGML_Q4_K ? 16 : 48);
	__m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128((const void *)(qs + 32 * (j / 2) + l)));
	q = j & 1 ? _mm512_srli_epi32(q, 4) : _mm512_and_si512(q, _mm512_set1_epi32(15));
	if (t == GGML_Q5_K) {  /* bit 4 of element 32 j + l is bit j of qh[l] */
		__m512i h = _mm512_cvtepu8_epi32(_mm_loadu_si128((const void *)(b + 16 + l)));
		q = _mm512_mask_add_epi32(q, _mm512_test_epi32_mask(h, _mm512_set1_epi32(1 << j)), q,
					  _mm512_set1_epi32(16));
	}
	return q;
}

/* Weights e..e+15 of a K-quant super-block b as floats. */
INLINE __m512 kweights16(const enum ggml_type t, const uint8_t *b, int e)
{
	float dsc[16], dmn[16];
	kq_chunk_scales(t, b, dsc, dmn);
	return _mm512_fmsub_ps(_mm512_cvtepi32_ps(kquants16(t, b, e)), _mm512_set1_ps(dsc[e / 16]),
			       _mm512_set1_ps(dmn[e / 16]));
}

/* Weights k..k+15 of a row as floats (m: the elements present; k a
 * multiple of 16): float types converted, legacy 32-blocks dequantized,
 * d * q (+ m for Q4_1, Q5_1), exactly as dequant_row(). */
INLINE __m512 weights16(const enum ggml_type t, const uint8_t *row, int k, __mmask16 m)
{
	if (t == GGML_F32 || t == GGML_F16 || t == GGML_BF16)
		return float16(t, row + (size_t)k * (t == GGML_F32 ? 4 : 2), m);
	if (t == GGML_Q4_K || t == GGML_Q5_K || t == GGML_Q6_K)
		return kweights16(t, row + (size_t)(k / QK_K) * blk_bytes(t), k % QK_K);
	const uint8_t *b = row + (size_t)(k / QK) * blk_bytes(t);
	const int half = k / 16 % 2;
	const int with_min = t == GGML_Q4_1 || t == GGML_Q5_1;
	const size_t qs = t == GGML_Q4_0 || t == GGML_Q8_0 ? 2 : t == GGML_Q4_1 ? 4 : t == GGML_Q5_0 ? 6 : 8;
	const __m512 d = _mm512_set1_ps(load_f16(b));
	__m512i q;

	if (t == GGML_Q8_0) {
		q = _mm512_cvtepi8_epi32(_mm_loadu_si128((const void *)(b + qs + 16 * half)));
	} else {
		q = _mm512_cvtepu8_epi32(_mm_loadu_si128((const void *)(b + qs)));
		q = half ? _mm512_srli_epi32(q, 4) : _mm512_and_si512(q, _mm512_set1_epi32(15));
		if (t == GGML_Q5_0 || t == GGML_Q5_1)  /* bit 4 of element e is bit e of qh */
			q = _mm512_mask_add_epi32(q, (__mmask16)(load32(b + (t == GGML_Q5_0 ? 2 : 4)) >> (16 * half)), q,
						  _mm512_set1_epi32(16));
		if (t == GGML_Q4_0 || t == GGML_Q5_0)
			q = _mm512_sub_epi32(q, _mm512_set1_epi32(t == GGML_Q4_0 ? 8 : 16));
	}
	__m512 w = _mm512_mul_ps(d, _mm512_cvtepi32_ps(q));
	if (with_min)
		w = _mm512_add_ps(w, _mm512_set1_ps(load_f16(b + 2)));
	return w;
}

INLINE void float_step(const enum ggml_type t, const uint8_t *W, size_t rb, const uint8_t *X, size_t xs, int i,
		       __mmask16 m, __m512 acc[MAXR][MAXC], const int R, const int C)
{
	const size_t at = weight_bytes(t, i), bytes = weight_bytes(t, 16);  /* of weights i.. */
	__m512 a[MAXC];

	_Pragma("GCC unroll 4")
	for (int c = 0; c < C; c++)
		a[c] = _mm512_maskz_loadu_ps(m, X + c * xs + (size_t)i * 4);
	_Pragma("GCC unroll 4")
	for (int r = 0; r < R; r++) {
		prefetch_next_tile(W + r * rb + at, rb, R, bytes);
		__m512 w = weights16(t, W + r * rb, i, m);
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++)
			acc[r][c] = _mm512_fmadd_ps(w, a[c], acc[r][c]);
	}
}

/* K-quants: the scales of a super-block are unpacked once for its 16
 * chunks of 16 weights. */
INLINE void kquant_float_steps(const enum ggml_type t, const uint8_t *W, size_t rb, int n, const uint8_t *X,
			       size_t xs, __m512 acc[MAXR][MAXC], const int R, const int C)
{
	const size_t bsz = blk_bytes(t);

	for (int sb = 0; sb < n / QK_K; sb++) {
		float dsc[MAXR][16], dmn[MAXR][16];
		_Pragma("GCC unroll 4")
		for (int r = 0; r < R; r++)
			kq_chunk_scales(t, W + r * rb + sb * bsz, dsc[r], dmn[r]);
		for (int c16 = 0; c16 < 16; c16++) {
			const int i = sb * QK_K + 16 * c16;
			__m512 a[MAXC];
			_Pragma("GCC unroll 4")
			for (int c = 0; c < C; c++)
				a[c] = _mm512_loadu_ps(X + c * xs + (size_t)i * 4);
			_Pragma("GCC unroll 4")
			for (int r = 0; r < R; r++) {
				const uint8_t *b = W + r * rb + sb * bsz;
				prefetch_next_tile(b + c16 * bsz / 16, rb, R, bsz / 16);
				__m512 w = _mm512_fmsub_ps(_mm512_cvtepi32_ps(kquants16(t, b, 16 * c16)),
							   _mm512_set1_ps(dsc[r][c16]), _mm512_set1_ps(dmn[r][c16]));
				_Pragma("GCC unroll 4")
				for (int c = 0; c < C; c++)
					acc[r][c] = _mm512_fmadd_ps(w, a[c], acc[r][c]);
			}
		}
	}
}

INLINE void tile_float(const enum ggml_type t, const uint8_t *W, size_t rb, int n, const uint8_t *X, size_t xs,
		       float *Y, int ldy, const int R, const int C)
{
	__m512 acc[MAXR][MAXC];
	int i = 0;

	_Pragma("GCC unroll 4")
	for (int r = 0; r < R; r++)
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++)
			acc[r][c] = _mm512_setzero_ps();
	if (t == GGML_Q4_K || t == GGML_Q5_K || t == GGML_Q6_K) {
		kquant_float_steps(t, W, rb, n, X, xs, acc, R, C);
		i = n;
	}
	for (; i + 16 <= n; i += 16)
		float_step(t, W, rb, X, xs, i, 0xffff, acc, R, C);
	if (i < n)
		float_step(t, W, rb, X, xs, i, (__mmask16)((1u << (n - i)) - 1), acc, R, C);
	store_tile(acc, Y, ldy, R, C);
}


/* ---- float weights, a batch of activations: panels ----
 *
 * With many activations the tiles above spend a horizontal reduction on
 * every output.  Here lanes run over weight rows instead: columns
 * [k0, k0 + GP_K) of GP_ROWS rows are converted to float and transposed
 * into a panel P[k][GP_ROWS] that stays in L1 and serves the whole batch,
 * Y[b][r..r + 32] += X[b][k] (broadcast) * P[k][0..32], GP_ACTS
 * activations at a time in 2 * GP_ACTS registers; the sums of a k block
 * are added to those of the previous ones in Y. */
#define GP_ROWS 32
#define GP_K 128
#define GP_ACTS 12

/* Transpose the 16 x 16 matrix in r[] (row i in r[i]) in place:
 * interleave pairs of rows, then pairs of pairs, then 128-bit lanes. */
INLINE void transpose16(__m512 r[16])
{
	__m512 t[16], u[16];

	for (int i = 0; i < 16; i += 2) {
		t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);      /* a0 b0 a1 b1 per lane */
		t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);  /* a2 b2 a3 b3 */
	}
	for (int i = 0; i < 16; i += 4)
		for (int h = 0; h < 2; h++) {
			__m512d x = _mm512_castps_pd(t[i + h]), y = _mm512_castps_pd(t[i + h + 2]);
			u[i + 2 * h] = _mm512_castpd_ps(_mm512_unpacklo_pd(x, y));      /* column 2h of the lane */
			u[i + 2 * h + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(x, y));  /* column 2h + 1 */
		}
	/* u[4i + j], lane L: column 4L + j of rows 4i..4i+3 */
	for (int j = 0; j < 4; j++) {
		__m512 v0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88), w0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xdd);
		__m512 v1 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
		__m512 w1 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xdd);
		r[j] = _mm512_shuffle_f32x4(v0, v1, 0x88);
		r[4 + j] = _mm512_shuffle_f32x4(w0, w1, 0x88);
		r[8 + j] = _mm512_shuffle_f32x4(v0, v1, 0xdd);
		r[12 + j] = _mm512_shuffle_f32x4(w0, w1, 0xdd);
	}
}

/* P[k][r] = W[r][k0 + k] for k < kn, r < GP_ROWS (0 for r >= rows) */
INLINE void gp_pack(const enum ggml_type t, const uint8_t *W, size_t rb, int rows, int k0, int kn, float *P)
{
	for (int g = 0; g < GP_ROWS; g += 16)
		for (int k = 0; k < kn; k += 16) {
			__mmask16 m = (__mmask16)(kn - k < 16 ? (1u << (kn - k)) - 1 : 0xffff);
			__m512 v[16];
			_Pragma("GCC unroll 16")
			for (int i = 0; i < 16; i++)
				v[i] = g + i < rows ? weights16(t, W + (size_t)(g + i) * rb, k0 + k, m) : _mm512_setzero_ps();
			transpose16(v);
			for (int j = 0; j < 16 && k + j < kn; j++)
				_mm512_store_ps(P + (k + j) * GP_ROWS + g, v[j]);
		}
}

/* A activations (rows of X) against the panel; first: Y starts at 0 */
INLINE void gp_block(const float *P, int kn, const uint8_t *X, size_t xs, float *Y, int ldy, __mmask16 m0,
		     __mmask16 m1, int first, const int A)
{
	__m512 acc[GP_ACTS][2];

	_Pragma("GCC unroll 12")
	for (int a = 0; a < A; a++) {
		acc[a][0] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m0, Y + (size_t)a * ldy);
		acc[a][1] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m1, Y + (size_t)a * ldy + 16);
	}
	for (int k = 0; k < kn; k++) {
		__m512 p0 = _mm512_load_ps(P + k * GP_ROWS), p1 = _mm512_load_ps(P + k * GP_ROWS + 16);
		_Pragma("GCC unroll 12")
		for (int a = 0; a < A; a++) {
			__m512 x = _mm512_set1_ps(((const float *)(X + a * xs))[k]);
			acc[a][0] = _mm512_fmadd_ps(x, p0, acc[a][0]);
			acc[a][1] = _mm512_fmadd_ps(x, p1, acc[a][1]);
		}
	}
	_Pragma("GCC unroll 12")
	for (int a = 0; a < A; a++) {
		_mm512_mask_storeu_ps(Y + (size_t)a * ldy, m0, acc[a][0]);
		_mm512_mask_storeu_ps(Y + (size_t)a * ldy + 16, m1, acc[a][1]);
	}
}

#define GP_TAIL(A) \
	case A: gp_block(P, kn, X, xs, Y, ldy, m0, m1, first, A); break;

INLINE void gemm_float(const enum ggml_type t, const uint8_t *W, size_t rb, int n, const uint8_t *X0, size_t xs,
		       int nb, float *Y0, int ldy, int r0, int r1)
{
	const size_t kbytes = weight_bytes(t, GP_K);
	float P[GP_K * GP_ROWS] __attribute__((aligned(64)));

	for (int r = r0; r < r1; r += GP_ROWS) {
		int rows = r1 - r < GP_ROWS ? r1 - r : GP_ROWS;
		__mmask16 m0 = (__mmask16)(rows >= 16 ? 0xffff : (1u << rows) - 1);
		__mmask16 m1 = (__mmask16)(rows >= 32 ? 0xffff : rows > 16 ? (1u << (rows - 16)) - 1 : 0);
		for (int k0 = 0; k0 < n; k0 += GP_K) {
			int kn = n - k0 < GP_K ? n - k0 : GP_K, first = k0 == 0, b = 0;
			gp_pack(t, W + (size_t)r * rb, rb, rows, k0, kn, P);
			/* the next panel's weights arrive while this one is used */
			const uint8_t *next = k0 + GP_K < n ? W + (size_t)r * rb + (size_t)(k0 / GP_K + 1) * kbytes
							    : W + (size_t)(r + GP_ROWS) * rb;
			for (int i = 0; i < GP_ROWS && r + (k0 + GP_K < n ? 0 : GP_ROWS) + i < r1; i++)
				for (size_t o = 0; o < kbytes; o += 64)
					_mm_prefetch((const char *)(next + (size_t)i * rb + o), _MM_HINT_T0);
			for (; b + GP_ACTS <= nb; b += GP_ACTS)
				gp_block(P, kn, X0 + (size_t)b * xs + (size_t)k0 * 4, xs, Y0 + (size_t)b * ldy + r, ldy,
					 m0, m1, first, GP_ACTS);
			const uint8_t *X = X0 + (size_t)b * xs + (size_t)k0 * 4;
			float *Y = Y0 + (size_t)b * ldy + r;
			switch (nb - b) {
			GP_TAIL(1) GP_TAIL(2) GP_TAIL(3) GP_TAIL(4) GP_TAIL(5) GP_TAIL(6)
			GP_TAIL(7) GP_TAIL(8) GP_TAIL(9) GP_TAIL(10) GP_TAIL(11)
			}
		}
	}
}

/* ---- 16-bit activations (quant_matmul_a16) ----
 *
 * Two 32-blocks per step, in the activation layout of quant_a16_row(): the
 * 16 quant bytes of both weight blocks widened to 32 int16 give their
 * first halves (low nibbles) and second halves (high nibbles); two
 * VPDPWSSD against the activation halves give 16 exact int32 sums, lanes
 * 0-7 of block 2p and 8-15 of block 2p+1, scaled by d_w*d_a of each block
 * into the float accumulator; Q4_1/Q5_1 add m_w*s_a in lanes 1 and 3. */

INLINE __m256i two128(const uint8_t *p0, const uint8_t *p1, const int two)
{
	__m128i hi = two ? _mm_loadu_si128((const void *)p1) : _mm_setzero_si128();
	return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const void *)p0)), hi, 1);
}

/* Quants of blocks w0, w1 (w1 absent: zero, not read) as first halves lo
 * and second halves hi; dm = d0 m0 d1 m1 (Q4_0, Q5_0, Q8_0: d0 0 d1 0). */
INLINE void a16_pair(const enum ggml_type t, const uint8_t *w0, const uint8_t *w1, const int two,
		     __m512i *lo, __m512i *hi, __m128 *dm)
{
	const int with_min = t == GGML_Q4_1 || t == GGML_Q5_1;
	__m128i h = _mm_unpacklo_epi32(_mm_cvtsi32_si128(with_min ? (int)load32(w0) : *(const uint16_t *)w0),
				       _mm_cvtsi32_si128(!two ? 0 : with_min ? (int)load32(w1) : *(const uint16_t *)w1));
	*dm = _mm_cvtph_ps(h);
	if (t == GGML_Q8_0) {
		*lo = _mm512_cvtepi8_epi16(two128(w0 + 2, w1 + 2, two));
		*hi = _mm512_cvtepi8_epi16(two128(w0 + 18, w1 + 18, two));
		return;
	}
	const size_t qs = t == GGML_Q4_0 ? 2 : t == GGML_Q4_1 ? 4 : t == GGML_Q5_0 ? 6 : 8;
	__m512i x = _mm512_cvtepu8_epi16(two128(w0 + qs, w1 + qs, two));
	*lo = _mm512_and_si512(x, _mm512_set1_epi16(15));
	*hi = _mm512_srli_epi16(x, 4);
	if (t == GGML_Q5_0 || t == GGML_Q5_1) {  /* the fifth bits of lo and hi */
		const size_t o = t == GGML_Q5_0 ? 2 : 4;
		uint32_t h0 = load32(w0 + o), h1 = two ? load32(w1 + o) : 0;
		uint32_t ml = (h0 & 0xffff) | h1 << 16, mh = h0 >> 16 | (h1 & 0xffff0000);
		if (t == GGML_Q5_1) {
			*lo = _mm512_mask_add_epi16(*lo, ml, *lo, _mm512_set1_epi16(16));
			*hi = _mm512_mask_add_epi16(*hi, mh, *hi, _mm512_set1_epi16(16));
		} else {  /* q + 16 bit - 16: 16 off where the bit is clear */
			*lo = _mm512_mask_sub_epi16(*lo, ~ml, *lo, _mm512_set1_epi16(16));
			*hi = _mm512_mask_sub_epi16(*hi, ~mh, *hi, _mm512_set1_epi16(16));
		}
	}
	if (t == GGML_Q4_0) {
		*lo = _mm512_sub_epi16(*lo, _mm512_set1_epi16(8));
		*hi = _mm512_sub_epi16(*hi, _mm512_set1_epi16(8));
	}
}

/* The activations of block pair p for C rows of X: both blocks' first
 * halves (alo), second halves (ahi) and (d, s) of both (ds). */
INLINE void a16_acts(const uint8_t *X, size_t xs, int npair, int p, __m512i alo[MAXC], __m512i ahi[MAXC],
		     __m128 ds[MAXC], const int C)
{
	_Pragma("GCC unroll 4")
	for (int c = 0; c < C; c++) {
		const uint8_t *x = X + c * xs;
		alo[c] = _mm512_loadu_si512((const void *)(x + 128 * (size_t)p));
		ahi[c] = _mm512_loadu_si512((const void *)(x + 128 * (size_t)p + 64));
		ds[c] = _mm_loadu_ps((const float *)(x + 128 * (size_t)npair) + 4 * p);
	}
}

/* acc[c] += one weight row's block pair (quants lo, hi as int16, dm = d0 m0
 * d1 m1) times the C activations: two VPDPWSSD give 16 exact int32 sums,
 * lanes 0-7 block 0 and 8-15 block 1, scaled by d_w*d_a of each block;
 * with_min adds m_w*s_a of both blocks in lanes 1 and 3. */
INLINE void a16_accumulate(__m512 acc[MAXC], __m512i lo, __m512i hi, __m128 dm, const __m512i alo[MAXC],
			   const __m512i ahi[MAXC], const __m128 ds[MAXC], const int with_min, const int C)
{
	const __m512i bcast = _mm512_set_epi32(2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0);

	_Pragma("GCC unroll 4")
	for (int c = 0; c < C; c++) {
		__m512i s = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(_mm512_setzero_si512(), lo, alo[c]), hi, ahi[c]);
		__m128 sc = _mm_mul_ps(dm, ds[c]);  /* d_w*d_a, m_w*s_a of both blocks */
		acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_permutexvar_ps(bcast, _mm512_castps128_ps512(sc)),
					 acc[c]);
		if (with_min)
			acc[c] = _mm512_mask_add_ps(acc[c], 0xa, acc[c], _mm512_castps128_ps512(sc));
	}
}

/* Block pair p of the tile's rows (two: both blocks present). */
INLINE void a16_step(const enum ggml_type t, const uint8_t *W, size_t rb, const uint8_t *X, size_t xs, int npair,
		     int p, const int two, __m512 acc[MAXR][MAXC], const int with_min, const int R, const int C)
{
	const size_t wsz = blk_bytes(t), ahead = (size_t)R * rb * PF_TILES;  /* as prefetch_next_tile() */
	__m512i alo[MAXC], ahi[MAXC];
	__m128 ds[MAXC];

	a16_acts(X, xs, npair, p, alo, ahi, ds, C);
	_Pragma("GCC unroll 4")
	for (int r = 0; r < R; r++) {
		const uint8_t *w0 = W + r * rb + (size_t)(2 * p) * wsz;
		__m512i lo, hi;
		__m128 dm;
		_mm_prefetch((const char *)(w0 + ahead), _MM_HINT_T0);
		a16_pair(t, w0, w0 + wsz, two, &lo, &hi, &dm);
		a16_accumulate(acc[r], lo, hi, dm, alo, ahi, ds, with_min, C);
	}
}

INLINE void tile_a16(const enum ggml_type t, const uint8_t *W, size_t rb, int n, const uint8_t *X, size_t xs,
		     float *Y, int ldy, const int R, const int C)
{
	const int with_min = t == GGML_Q4_1 || t == GGML_Q5_1, nblk = n / QK, npair = (nblk + 1) / 2;
	__m512 acc[MAXR][MAXC];

	_Pragma("GCC unroll 4")
	for (int r = 0; r < R; r++)
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++)
			acc[r][c] = _mm512_setzero_ps();
	for (int p = 0; p < npair; p++)
		if (2 * p + 1 < nblk)  /* two blocks, or the last one alone */
			a16_step(t, W, rb, X, xs, npair, p, 1, acc, with_min, R, C);
		else
			a16_step(t, W, rb, X, xs, npair, p, 0, acc, with_min, R, C);
	store_tile(acc, Y, ldy, R, C);
}


/* Per super-block b of a Q4_K/Q5_K row: d * sc_j and -dmin * m_j of its
 * eight sub-blocks j, interleaved (lane 2j, 2j + 1), as a legacy block's
 * d and m; multiplied by the activation's (d_a, s_a) of the same blocks
 * (16 floats in a row) it gives the scale of each block's integer sum and
 * its min term. */
INLINE __m512 kq_dm16(const uint8_t *b)
{
	__m128i sm = kq_scales_mins(b + 4);  /* sc0..7 m0..7 */
	__m512 v = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_unpacklo_epi8(sm, _mm_srli_si128(sm, 8))));
	__m512 f = _mm512_permutexvar_ps(_mm512_set_epi32(1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0),
					 _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi32_si128((int)load32(b)))));
	return _mm512_mul_ps(v, _mm512_xor_ps(f, _mm512_castsi512_ps(_mm512_set1_epi64(
		(long long)0x8000000000000000ull))));  /* d, -dmin */
}

/* Q4_K/Q5_K against 16-bit activations: sub-blocks 2g and 2g + 1 of a
 * super-block are the low and high nibbles of the same 32 bytes; widened
 * to int16 they give both sub-blocks whole, and two 256-bit shuffles put
 * them in the activation layout (first halves of both, then second
 * halves).  Scales per super-block as kq_dm16(); the min terms go into
 * the odd lanes of the accumulator.  Q5_K's fifth bit of element e in
 * sub-block j is bit j of qh[e], widened once per super-block. */
INLINE void tile_a16_kq45(const enum ggml_type t, const uint8_t *W, size_t rb, int n, const uint8_t *X, size_t xs,
			  float *Y, int ldy, const int R, const int C)
{
	const int npair = n / 64;
	const __m512i nib = _mm512_set1_epi16(15), sixteen = _mm512_set1_epi16(16);
	const size_t bsz = blk_bytes(t), qs0 = t == GGML_Q4_K ? 16 : 48, ahead = (size_t)R * rb * PF_TILES;
	__m512 acc[MAXR][MAXC];

	_Pragma("GCC unroll 4")
	for (int r = 0; r < R; r++)
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++)
			acc[r][c] = _mm512_setzero_ps();
	for (int sb = 0; sb < n / QK_K; sb++) {
		__m512 P[MAXR][MAXC];
		__m512i qh[MAXR];
		_Pragma("GCC unroll 4")
		for (int r = 0; r < R; r++) {
			const uint8_t *b = W + r * rb + sb * bsz;
			for (size_t o = 0; o < bsz; o += 64)
				_mm_prefetch((const char *)(b + ahead + o), _MM_HINT_T0);
			__m512 dm = kq_dm16(b);
			if (t == GGML_Q5_K)
				qh[r] = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const void *)(b + 16)));
			_Pragma("GCC unroll 4")
			for (int c = 0; c < C; c++) {
				P[r][c] = _mm512_mul_ps(dm, _mm512_loadu_ps((const float *)(X + c * xs + 128 * (size_t)npair) +
									     16 * sb));
				acc[r][c] = _mm512_mask_add_ps(acc[r][c], 0xaaaa, acc[r][c], P[r][c]);
			}
		}
		for (int g = 0; g < 4; g++) {
			/* lanes 0-7: the scale of sub-block 2g (lane 4g of P), 8-15: 2g + 1 */
			const __m512i sidx = _mm512_inserti64x4(_mm512_set1_epi32(4 * g), _mm256_set1_epi32(4 * g + 2), 1);
			_Pragma("GCC unroll 4")
			for (int r = 0; r < R; r++) {
				const uint8_t *qs = W + r * rb + sb * bsz + qs0 + 32 * g;
				__m512i z = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const void *)qs));
				__m512i q0 = _mm512_and_si512(z, nib), q1 = _mm512_srli_epi16(z, 4);
				if (t == GGML_Q5_K) {
					q0 = _mm512_mask_add_epi16(q0, _mm512_test_epi16_mask(qh[r], _mm512_set1_epi16((short)(1 << 2 * g))),
								   q0, sixteen);
					q1 = _mm512_mask_add_epi16(q1, _mm512_test_epi16_mask(qh[r], _mm512_set1_epi16((short)(2 << 2 * g))),
								   q1, sixteen);
				}
				__m512i lo = _mm512_shuffle_i64x2(q0, q1, 0x44), hi = _mm512_shuffle_i64x2(q0, q1, 0xee);
				_Pragma("GCC unroll 4")
				for (int c = 0; c < C; c++) {
					const uint8_t *a = X + c * xs + 128 * (size_t)(4 * sb + g);
					__m512i s = _mm512_dpwssd_epi32(_mm512_setzero_si512(), lo, _mm512_loadu_si512((const void *)a));
					s = _mm512_dpwssd_epi32(s, hi, _mm512_loadu_si512((const void *)(a + 64)));
					acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_permutexvar_ps(sidx, P[r][c]),
								    acc[r][c]);
				}
			}
		}
	}
	store_tile(acc, Y, ldy, R, C);
}

/* Q6_K against 16-bit activations: 32-block 4h + g of a super-block
 * (h = 0, 1; g = 0..3) is made of the 16-element sub-blocks 8h + 2g and
 * 8h + 2g + 1; element l has its low four bits in ql[64h + 32(g & 1) + l]
 * (low nibble for g < 2, else high) and its top two in bits 2g, 2g + 1 of
 * qh[32h + l].  Each block is widened whole to int16; the quants minus 32
 * are multiplied by their sub-block's scale in int16 (at most 32 * 128 =
 * 4096 in magnitude, and a VPDPWSSD lane adds 4 products of 32767 by
 * that), so each block's d_w is d; two 256-bit shuffles put the pair
 * (blocks g0 = 2(p % 2) and g0 + 1 of half h = p / 2) in the activation
 * layout. */
static const int16_t q6a16_idx[16][32] __attribute__((aligned(64))) = {
#define S16(a) a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a
#define B(j) {S16(2 * j), S16(2 * j + 1)}  /* elements 0-15: sub-block 2j, 16-31: 2j + 1 */
	B(0), B(1), B(2), B(3), B(4), B(5), B(6), B(7),
#undef B
#undef S16
};

INLINE void tile_a16_q6k(const enum ggml_type t, const uint8_t *W, size_t rb, int n, const uint8_t *X, size_t xs,
			 float *Y, int ldy, const int R, const int C)
{
	const int npair = n / 64;
	const size_t bsz = blk_bytes(GGML_Q6_K), ahead = (size_t)R * rb * PF_TILES;
	const __m512i lo4 = _mm512_set1_epi16(15), hi2 = _mm512_set1_epi16(0x30), off = _mm512_set1_epi16(32);
	__m512 acc[MAXR][MAXC];

	(void)t;
	_Pragma("GCC unroll 4")
	for (int r = 0; r < R; r++)
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++)
			acc[r][c] = _mm512_setzero_ps();
	for (int sb = 0; sb < n / QK_K; sb++) {
		__m512i sc[MAXR];
		_Pragma("GCC unroll 4")
		for (int r = 0; r < R; r++) {
			const uint8_t *b = W + r * rb + sb * bsz;
			for (size_t o = 0; o < bsz; o += 64)
				_mm_prefetch((const char *)(b + ahead + o), _MM_HINT_T0);
			sc[r] = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(_mm_loadu_si128((const void *)(b + 192))));
		}
		for (int h = 0; h < 2; h++) {
			__m512i qh[MAXR];
			_Pragma("GCC unroll 4")
			for (int r = 0; r < R; r++)
				qh[r] = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const void *)(W + r * rb + sb * bsz + 128 + 32 * h)));
			for (int g0 = 0; g0 < 4; g0 += 2) {
				const int p = 4 * sb + 2 * h + g0 / 2;
				_Pragma("GCC unroll 4")
				for (int r = 0; r < R; r++) {
					const uint8_t *b = W + r * rb + sb * bsz;
					__m512i q[2];
					for (int k = 0; k < 2; k++) {  /* block g = g0 + k */
						const int g = g0 + k;
						__m512i l = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const void *)(b + 64 * h + 32 * k)));
						l = g < 2 ? _mm512_and_si512(l, lo4) : _mm512_srli_epi16(l, 4);
						__m512i u = g < 2 ? _mm512_slli_epi16(qh[r], 4 - 2 * g) : _mm512_srli_epi16(qh[r], 2 * g - 4);
						__m512i sv = _mm512_permutexvar_epi16(_mm512_load_si512(q6a16_idx[4 * h + g]), sc[r]);
						q[k] = _mm512_mullo_epi16(_mm512_sub_epi16(_mm512_ternarylogic_epi32(l, u, hi2, 0xf8), off), sv);
					}
					__m512i lo = _mm512_shuffle_i64x2(q[0], q[1], 0x44), hi = _mm512_shuffle_i64x2(q[0], q[1], 0xee);
					const float d = load_f16(b + 208);
					_Pragma("GCC unroll 4")
					for (int c = 0; c < C; c++) {
						const uint8_t *a = X + c * xs + 128 * (size_t)p;
						__m512i s = _mm512_dpwssd_epi32(_mm512_setzero_si512(), lo, _mm512_loadu_si512((const void *)a));
						s = _mm512_dpwssd_epi32(s, hi, _mm512_loadu_si512((const void *)(a + 64)));
						__m128 da = _mm_loadu_ps((const float *)(X + c * xs + 128 * (size_t)npair) + 4 * p);
						__m512 scale = _mm512_permutexvar_ps(_mm512_set_epi32(2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0),
										     _mm512_castps128_ps512(_mm_mul_ps(da, _mm_set1_ps(d))));
						acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), scale, acc[r][c]);
					}
				}
			}
		}
	}
	store_tile(acc, Y, ldy, R, C);
}


/* Tiles of R rows x 4 activations.  Decode (one activation) streams R
 * rows at once: for F16 and for Q8_0 with 16-bit activations one row at a
 * time measured fastest (SmolLM2, 1 and 2 threads, alternating runs:
 * F16 94 against 88 t/s, Q8_0 158 against 119 t/s with 4 rows), for Q4_1
 * four rows (199 against 179 t/s with one); the other types keep 4 rows. */
KERNEL(mmt_f32, tile_float, GGML_F32, 4, 4)
KERNEL(mmt_f16, tile_float, GGML_F16, 1, 4)
KERNEL(mmt_bf16, tile_float, GGML_BF16, 4, 4)

/* Batches of GP_MIN activations or more go to the panels, smaller ones
 * (decode) to the tiles, which stream the rows once. */
#define GP_MIN 8
#define FLOAT_KERNEL(name, tiles, type) \
	TARGET static void name##_gp(const void *W, size_t rb, int n, const void *X, size_t xs, int nb, float *Y, \
				     int ldy, int r0, int r1) \
	{ \
		gemm_float(type, W, rb, n, X, xs, nb, Y, ldy, r0, r1); \
	} \
	static void name(const void *W, size_t rb, int n, const void *X, size_t xs, int nb, float *Y, int ldy, \
			 int r0, int r1) \
	{ \
		(nb >= GP_MIN ? name##_gp : tiles)(W, rb, n, X, xs, nb, Y, ldy, r0, r1); \
	}
FLOAT_KERNEL(mm_f32, mmt_f32, GGML_F32)
FLOAT_KERNEL(mm_f16, mmt_f16, GGML_F16)
FLOAT_KERNEL(mm_bf16, mmt_bf16, GGML_BF16)

/* Float activations against quantized weights (quant_matmul_float):
 * the same tiles and panels, the weights dequantized 16 at a time. */
KERNEL(mmt_q4_0, tile_float, GGML_Q4_0, 4, 4)
KERNEL(mmt_q4_1, tile_float, GGML_Q4_1, 4, 4)
KERNEL(mmt_q5_0, tile_float, GGML_Q5_0, 4, 4)
KERNEL(mmt_q5_1, tile_float, GGML_Q5_1, 4, 4)
KERNEL(mmt_q8_0, tile_float, GGML_Q8_0, 4, 4)
KERNEL(mmt_q4_k, tile_float, GGML_Q4_K, 4, 4)
KERNEL(mmt_q5_k, tile_float, GGML_Q5_K, 4, 4)
KERNEL(mmt_q6_k, tile_float, GGML_Q6_K, 4, 4)
FLOAT_KERNEL(mmf_q4_0, mmt_q4_0, GGML_Q4_0)
FLOAT_KERNEL(mmf_q4_1, mmt_q4_1, GGML_Q4_1)
FLOAT_KERNEL(mmf_q5_0, mmt_q5_0, GGML_Q5_0)
FLOAT_KERNEL(mmf_q5_1, mmt_q5_1, GGML_Q5_1)
FLOAT_KERNEL(mmf_q8_0, mmt_q8_0, GGML_Q8_0)
FLOAT_KERNEL(mmf_q4_k, mmt_q4_k, GGML_Q4_K)
FLOAT_KERNEL(mmf_q5_k, mmt_q5_k, GGML_Q5_K)
FLOAT_KERNEL(mmf_q6_k, mmt_q6_k, GGML_Q6_K)

KERNEL(mm_q4_0, tile_legacy, GGML_Q4_0, 4, 4)
KERNEL(mm_q4_1, tile_legacy, GGML_Q4_1, 4, 4)
KERNEL(mm_q5_0, tile_legacy, GGML_Q5_0, 4, 4)
KERNEL(mm_q5_1, tile_legacy, GGML_Q5_1, 4, 4)
KERNEL(mm_q8_0, tile_legacy, GGML_Q8_0, 4, 4)
KERNEL(mm_q4_k, tile_kquant, GGML_Q4_K, 4, 4)
KERNEL(mm_q5_k, tile_kquant, GGML_Q5_K, 4, 4)
KERNEL(mm_q6_k, tile_kquant, GGML_Q6_K, 4, 4)
KERNEL(mm16_q4_0, tile_a16, GGML_Q4_0, 4, 4)
KERNEL(mm16_q4_1_pairs, tile_a16, GGML_Q4_1, 4, 4)
KERNEL(mm16_q5_0_pairs, tile_a16, GGML_Q5_0, 4, 4)
KERNEL(mm16_q5_1, tile_a16, GGML_Q5_1, 4, 4)
KERNEL(mm16_q8_0_pairs, tile_a16, GGML_Q8_0, 1, 4)
KERNEL(mm16_q4_k_tiles, tile_a16_kq45, GGML_Q4_K, 4, 4)
KERNEL(mm16_q5_k_tiles, tile_a16_kq45, GGML_Q5_K, 4, 4)
KERNEL(mm16_q6_k_tiles, tile_a16_q6k, GGML_Q6_K, 1, 4)

/* ---- 16-bit activations, blocks in lanes (Q4_1, Q5_0, Q8_0) ----
 *
 * The tiles above give each 32-lane VPDPWSSD step two blocks, so every
 * step needs its own float scaling (and Q4_1 its min term) for every row
 * and activation: seven instructions for two of multiplying, which bound
 * decoding many sequences at once.  Here a group of 16 blocks is laid
 * across the 16 dword lanes instead, lane j holding two elements of block
 * j; sixteen VPDPWSSD steps (elements 2m, 2m + 1 of every block in step
 * m) leave each lane the exact integer sum of its block, scaled once per
 * group: per row and activation one float multiply-add for the scales (and
 * Q4_1 one for the mins) per 512 weights.
 *
 * The activations are rearranged so for each call (all rows use them):
 * per group, the 16 steps (64 bytes each), then d and s of its 16 blocks
 * (blocks past the row's end zero).  The weights of a row are moved into
 * lanes per group (Q4_1, five dwords a block: dword permutes; Q5_0, Q8_0:
 * 16-byte loads and a transpose) and widened by byte shuffles.
 *
 * Each row's result is the same float operations in the same order
 * whatever the number of activations of the call (tests/unit/test-batch.c),
 * so a sequence gives the same logits in a batch as alone. */
#define BL_BUF (128 * 1024)  /* stack bytes for the rearranged activations */
#define BL_ACTS 8            /* activations per tile of bl_tile() and kl_tile() */
#define BL_WIDE 16           /* ... of bl_row() and bl_quad(), at most */
#define BL_GROUP_BYTES (16 * 64 + 2 * 64)
#ifndef BL_PF
#define BL_PF 16             /* rows fetched ahead */
#endif
#define BL_TAIL_MIN 6        /* fewer blocks left: pairs of blocks as the tiles above */
#define BL_RED (16 * 16)     /* floats per activation: the lane sums of 16 rows */

/* Groups of 16 blocks of a row of nblk blocks: the whole ones, and the
 * last short one if it has BL_TAIL_MIN blocks or more (it costs as much as
 * a whole one); the blocks after them go by pairs. */
static int bl_groups(int nblk)
{
	return nblk / 16 + (nblk % 16 >= BL_TAIL_MIN);
}

/* One activation row of quant_a16_row() (nblk blocks) into the layout
 * above at dst: its first ngrp groups. */
INLINE void bl_acts(const uint8_t *x, int nblk, int ngrp, uint8_t *dst)
{
	const int npair = (nblk + 1) / 2;
	const float *ds = (const float *)(x + 128 * (size_t)npair);
	const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
	const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));

	for (int g = 0; g < ngrp; g++, dst += BL_GROUP_BYTES) {
		__m512 b[16];
		for (int p = 0; p < 8; p++) {  /* pair 8g + p: blocks 16g + 2p, + 1 */
			const int pp = 8 * g + p;
			__m512i z0 = _mm512_setzero_si512(), z1 = _mm512_setzero_si512();
			if (pp < npair) {
				z0 = _mm512_loadu_si512((const void *)(x + 128 * (size_t)pp));
				z1 = _mm512_loadu_si512((const void *)(x + 128 * (size_t)pp + 64));
			}
			/* a block's first halves then its second halves: dword m is
			 * its elements 2m, 2m + 1 */
			b[2 * p] = _mm512_castsi512_ps(_mm512_shuffle_i64x2(z0, z1, 0x44));
			b[2 * p + 1] = _mm512_castsi512_ps(_mm512_shuffle_i64x2(z0, z1, 0xee));
		}
		transpose16(b);  /* b[m], lane j: dword m of block j */
		for (int m = 0; m < 16; m++)
			_mm512_store_ps(dst + 64 * m, b[m]);
		/* (d, s) of blocks 16g.. (the array has 2 * npair of them) */
		const int left = 2 * npair - 16 * g, nf = left >= 16 ? 32 : 2 * left;
		__m512 lo = _mm512_maskz_loadu_ps((__mmask16)(nf >= 16 ? 0xffff : (1u << nf) - 1), ds + 32 * g);
		__m512 hi = _mm512_maskz_loadu_ps((__mmask16)(nf > 16 ? (1u << (nf - 16)) - 1 : 0), ds + 32 * g + 16);
		_mm512_store_ps(dst + 1024, _mm512_permutex2var_ps(lo, even, hi));
		_mm512_store_ps(dst + 1088, _mm512_permutex2var_ps(lo, odd, hi));
	}
}

/* Dword q of each of the 16 Q4_1 blocks in z[5] (80 dwords, block j from
 * dword 5j) into lane j. */
INLINE __m512i bl_q41_dword(const __m512i z[5], int q)
{
	const __m512i idx = _mm512_set_epi32(75 + q, 70 + q, 65 + q, 60 + q, 55 + q, 50 + q, 45 + q, 40 + q,
					     35 + q, 30 + q, 25 + q, 20 + q, 15 + q, 10 + q, 5 + q, q);
	unsigned k2 = 0, k4 = 0;  /* lanes whose dword is in z[2..3], z[4]: constants once q is */
	for (int j = 0; j < 16; j++)
		k2 |= (5 * j + q >= 32) << j, k4 |= (5 * j + q >= 64) << j;
	__m512i v = _mm512_permutex2var_epi32(z[0], idx, z[1]);  /* indices mod 32 */
	v = _mm512_mask_blend_epi32((__mmask16)k2, v, _mm512_permutex2var_epi32(z[2], idx, z[3]));
	return _mm512_mask_permutexvar_epi32(v, (__mmask16)k4, idx, z[4]);  /* mod 16 */
}

/* One group of 16 blocks of a weight row, in lanes: the block scales
 * (and Q4_1's mins), and for q = 0..3 the weights of steps 2q, 2q + 1,
 * 8 + 2q, 9 + 2q (lane j: elements 2m, 2m + 1 of block j in step m).
 * Blocks past gb (a short last group) are neither read nor counted. */
struct bl_weights {
	__m512i z[8];  /* Q4_1: the 16 blocks' 80 dwords; Q8_0, Q5_0: quant dword q of every block in z[q] */
	__m512 d, m;
};

INLINE void bl_load(const enum ggml_type t, const uint8_t *b, int gb, struct bl_weights *bw)
{
	if (t == GGML_Q4_1) {
		for (int k = 0; k < 5; k++) {
			const int nd = gb >= 16 ? 16 : 5 * gb - 16 * k;
			bw->z[k] = nd >= 16 ? _mm512_loadu_si512((const void *)(b + 64 * k))
				   : _mm512_maskz_loadu_epi32((__mmask16)(nd > 0 ? (1u << nd) - 1 : 0), b + 64 * k);
		}
		__m512i dm = bl_q41_dword(bw->z, 0);
		bw->d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dm));
		bw->m = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(dm, 16)));
		return;
	}
	/* Q8_0 (34-byte blocks), Q5_0 (22): per 16 quant bytes at offset o,
	 * z4[a] holds blocks a, a + 4, a + 8, a + 12 in its 128-bit lanes; a
	 * 4 x 4 dword transpose within the lanes puts dword q of block j in
	 * lane j.  Q5_0's fifth bits: the low and the high halves of its qh,
	 * each in both words of lane j (z[4], z[5]). */
	const size_t bs = blk_bytes(t), o = t == GGML_Q5_0 ? 6 : 2;
	const __mmask16 live = (__mmask16)(gb >= 16 ? 0xffff : (1u << gb) - 1);
	const __m512i at = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
					      _mm512_set1_epi32((int)bs));
	for (int h = 0; h < (t == GGML_Q8_0 ? 2 : 1); h++) {
		__m512i z4[4];
		for (int a = 0; a < 4; a++) {
			__m512i v = _mm512_setzero_si512();
#define BL_INSERT(i) \
			if (gb >= 16 || a + 4 * i < gb)  /* the lane an immediate at any optimization */ \
				v = _mm512_inserti32x4(v, _mm_loadu_si128((const void *)(b + (a + 4 * i) * bs + o + 16 * h)), i);
			BL_INSERT(0) BL_INSERT(1) BL_INSERT(2) BL_INSERT(3)
#undef BL_INSERT
			z4[a] = v;
		}
		__m512i t0 = _mm512_unpacklo_epi32(z4[0], z4[1]), t1 = _mm512_unpackhi_epi32(z4[0], z4[1]);
		__m512i t2 = _mm512_unpacklo_epi32(z4[2], z4[3]), t3 = _mm512_unpackhi_epi32(z4[2], z4[3]);
		bw->z[4 * h] = _mm512_unpacklo_epi64(t0, t2);
		bw->z[4 * h + 1] = _mm512_unpackhi_epi64(t0, t2);
		bw->z[4 * h + 2] = _mm512_unpacklo_epi64(t1, t3);
		bw->z[4 * h + 3] = _mm512_unpackhi_epi64(t1, t3);
	}
	__m512i dh = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live, at, b, 1);
	bw->d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dh));
	bw->m = _mm512_setzero_ps();
	if (t == GGML_Q5_0) {
		__m512i qh = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live, at, b + 2, 1);
		bw->z[4] = _mm512_shuffle_epi8(qh, _mm512_broadcast_i32x4(_mm_set_epi8(13, 12, 13, 12, 9, 8, 9, 8, 5, 4, 5, 4, 1, 0, 1, 0)));
		bw->z[5] = _mm512_shuffle_epi8(qh, _mm512_broadcast_i32x4(_mm_set_epi8(15, 14, 15, 14, 11, 10, 11, 10, 7, 6, 7, 6, 3, 2, 3, 2)));
	}
}

INLINE void bl_steps(const enum ggml_type t, const struct bl_weights *bw, int q, __m512i w[4])
{
	if (t == GGML_Q4_1 || t == GGML_Q5_0) {
		/* quant bytes 4q..4q+3: low nibbles elements 4q.., high 4q + 16.. */
		const __m512i sh_a = _mm512_broadcast_i32x4(_mm_set_epi8(-1, 13, -1, 12, -1, 9, -1, 8, -1, 5, -1, 4, -1, 1, -1, 0));
		const __m512i sh_b = _mm512_broadcast_i32x4(_mm_set_epi8(-1, 15, -1, 14, -1, 11, -1, 10, -1, 7, -1, 6, -1, 3, -1, 2));
		const __m512i nib = _mm512_set1_epi16(15);
		__m512i v = t == GGML_Q4_1 ? bl_q41_dword(bw->z, q + 1) : bw->z[q];
		__m512i xa = _mm512_shuffle_epi8(v, sh_a), xb = _mm512_shuffle_epi8(v, sh_b);
		w[0] = _mm512_and_si512(xa, nib), w[1] = _mm512_and_si512(xb, nib);
		w[2] = _mm512_srli_epi16(xa, 4), w[3] = _mm512_srli_epi16(xb, 4);
		if (t == GGML_Q5_0) {  /* q + 16 * bit - 16: 16 off where the bit of element e (bit e of qh) is clear */
			const int m[4] = {2 * q, 2 * q + 1, 8 + 2 * q, 9 + 2 * q};
			for (int k = 0; k < 4; k++) {
				const int e = 2 * m[k] % 16;  /* elements 2m, 2m + 1: bits e, e + 1 of the half */
				__mmask32 clear = _mm512_testn_epi16_mask(bw->z[m[k] < 8 ? 4 : 5],
									  _mm512_set1_epi32((int)(2u << e << 16 | 1u << e)));
				w[k] = _mm512_mask_sub_epi16(w[k], clear, w[k], _mm512_set1_epi16(16));
			}
		}
		return;
	}
	/* Q8_0: quant bytes 4q.. (elements 4q..4q+3) and 16 + 4q.., each
	 * byte put in the high half of a word and shifted down with its sign */
	const __m512i sx_a = _mm512_broadcast_i32x4(_mm_set_epi8(13, -1, 12, -1, 9, -1, 8, -1, 5, -1, 4, -1, 1, -1, 0, -1));
	const __m512i sx_b = _mm512_broadcast_i32x4(_mm_set_epi8(15, -1, 14, -1, 11, -1, 10, -1, 7, -1, 6, -1, 3, -1, 2, -1));
	w[0] = _mm512_srai_epi16(_mm512_shuffle_epi8(bw->z[q], sx_a), 8);
	w[1] = _mm512_srai_epi16(_mm512_shuffle_epi8(bw->z[q], sx_b), 8);
	w[2] = _mm512_srai_epi16(_mm512_shuffle_epi8(bw->z[4 + q], sx_a), 8);
	w[3] = _mm512_srai_epi16(_mm512_shuffle_epi8(bw->z[4 + q], sx_b), 8);
}

/* Row w (nblk blocks of type t; the row pf bytes ahead fetched) against
 * C activations: their first ngrp groups rearranged at T (ts bytes apart),
 * the blocks after them from the rows of quant_a16_row() at X (xs bytes
 * apart); into Y[c * ldy]. */
INLINE void bl_tile(const enum ggml_type t, const uint8_t *w, size_t pf, int nblk, int ngrp, const uint8_t *T,
		    size_t ts, const uint8_t *X, size_t xs, float *Y, int ldy, const int C)
{
	const int npair = (nblk + 1) / 2, with_min = t == GGML_Q4_1;
	const int NS = C >= 8 ? 1 : C >= 4 ? 2 : 4;  /* sums per activation: enough to hide VPDPWSSD's latency */
	const size_t bs = blk_bytes(t);
	__m512 acc[BL_ACTS];

	for (size_t o = 0; o < (size_t)nblk * bs; o += 64)
		_mm_prefetch((const char *)(w + pf + o), _MM_HINT_T0);
	_Pragma("GCC unroll 8")
	for (int c = 0; c < C; c++)
		acc[c] = _mm512_setzero_ps();
	for (int g = 0; g < ngrp; g++) {
		const uint8_t *t8 = T + (size_t)g * BL_GROUP_BYTES;
		struct bl_weights bw;
		__m512i s[BL_ACTS][4];
		bl_load(t, w + (size_t)g * 16 * bs, nblk - 16 * g, &bw);
		_Pragma("GCC unroll 8")
		for (int c = 0; c < C; c++)
			for (int k = 0; k < NS; k++)
				s[c][k] = _mm512_setzero_si512();
		_Pragma("GCC unroll 4")
		for (int q = 0; q < 4; q++) {
			__m512i wq[4];
			const int m[4] = {2 * q, 2 * q + 1, 8 + 2 * q, 9 + 2 * q};
			bl_steps(t, &bw, q, wq);
			_Pragma("GCC unroll 8")
			for (int c = 0; c < C; c++)
				for (int k = 0; k < 4; k++)
					s[c][k % NS] = _mm512_dpwssd_epi32(s[c][k % NS], wq[k],
						_mm512_load_si512((const void *)(t8 + (size_t)c * ts + 64 * m[k])));
		}
		_Pragma("GCC unroll 8")
		for (int c = 0; c < C; c++) {
			const uint8_t *a = t8 + (size_t)c * ts;
			__m512i si = s[c][0];
			for (int k = 1; k < NS; k++)  /* exact: the same sums whatever NS */
				si = _mm512_add_epi32(si, s[c][k]);
			__m512 sc = _mm512_mul_ps(bw.d, _mm512_load_ps((const float *)(a + 1024)));
			acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(si), sc, acc[c]);
			if (with_min)
				acc[c] = _mm512_fmadd_ps(bw.m, _mm512_load_ps((const float *)(a + 1088)), acc[c]);
		}
	}
	for (int p = 8 * ngrp; p < npair; p++) {  /* the blocks after the groups */
		const uint8_t *w0 = w + (size_t)(2 * p) * bs;
		const int two = 2 * p + 1 < nblk;
		__m512i lo, hi, alo[BL_ACTS], ahi[BL_ACTS];
		__m128 dm, ds[BL_ACTS];
		a16_pair(t, w0, w0 + bs, two, &lo, &hi, &dm);
		_Pragma("GCC unroll 8")
		for (int c = 0; c < C; c++)
			a16_acts(X + (size_t)c * xs, 0, npair, p, &alo[c], &ahi[c], &ds[c], 1);
		a16_accumulate(acc, lo, hi, dm, alo, ahi, ds, with_min, C);
	}
	_Pragma("GCC unroll 8")
	for (int c = 0; c < C; c++)
		Y[(size_t)c * ldy] = _mm512_reduce_add_ps(acc[c]);
}

/* The blocks of row w after its ngrp groups, by pairs as in bl_tile(),
 * against C activations (rows of quant_a16_row() at X, xs bytes apart),
 * added to the lanes at R + c * BL_RED. */
INLINE void bl_row_tail(const enum ggml_type t, const uint8_t *w, int nblk, int ngrp, const uint8_t *X, size_t xs,
			float *R, int C)
{
	const int npair = (nblk + 1) / 2, with_min = t == GGML_Q4_1;
	const size_t bs = blk_bytes(t);

	for (int p = 8 * ngrp; p < npair; p++) {
		const uint8_t *w0 = w + (size_t)(2 * p) * bs;
		const int two = 2 * p + 1 < nblk;
		__m512i lo, hi;
		__m128 dm;
		a16_pair(t, w0, w0 + bs, two, &lo, &hi, &dm);
		for (int c = 0; c < C; c++) {
			__m512i alo[MAXC], ahi[MAXC];  /* [0] used */
			__m128 ds[MAXC];
			__m512 f[MAXC] = {_mm512_load_ps(R + (size_t)c * BL_RED)};
			a16_acts(X + (size_t)c * xs, 0, npair, p, alo, ahi, ds, 1);
			a16_accumulate(f, lo, hi, dm, alo, ahi, ds, with_min, 1);
			_mm512_store_ps(R + (size_t)c * BL_RED, f[0]);
		}
	}
}

/* bl_tile() for tiles of more than BL_ACTS activations (C up to
 * BL_WIDE): the row's 16 steps of a group are widened once into
 * registers, then each activation runs through them, four chains of
 * VPDPWSSD whose sum is exact, so that a row's float operations are
 * bl_tile()'s whatever C; the 16 lanes of its sum with activation c go to
 * R + c * BL_RED, for bl_reduce16(). */
INLINE void bl_row(const enum ggml_type t, const uint8_t *w, size_t rb, int nblk, int ngrp, const uint8_t *T,
		   size_t ts, const uint8_t *X, size_t xs, float *R, int C)
{
	const int with_min = t == GGML_Q4_1;
	const size_t bs = blk_bytes(t);
#define acc(c) (*(__m512 *)(R + (size_t)(c) * BL_RED))

	/* the rows stream one after another: fetch the row BL_PF ahead */
	for (size_t o = 0; o < rb; o += 64)
		_mm_prefetch((const char *)(w + BL_PF * rb + o), _MM_HINT_T0);
	for (int c = 0; c < C; c++)
		acc(c) = _mm512_setzero_ps();
	for (int g = 0; g < ngrp; g++) {
		const uint8_t *t8 = T + (size_t)g * BL_GROUP_BYTES;
		struct bl_weights bw;
		__m512i wm[16];  /* step m */
		bl_load(t, w + (size_t)g * 16 * bs, nblk - 16 * g, &bw);
		_Pragma("GCC unroll 4")
		for (int q = 0; q < 4; q++) {
			__m512i wq[4];
			bl_steps(t, &bw, q, wq);
			wm[2 * q] = wq[0], wm[2 * q + 1] = wq[1], wm[8 + 2 * q] = wq[2], wm[9 + 2 * q] = wq[3];
		}
		for (int c = 0; c < C; c++) {
			const uint8_t *a = t8 + (size_t)c * ts;
			__m512i s[4];
			_Pragma("GCC unroll 4")
			for (int k = 0; k < 4; k++)
				s[k] = _mm512_dpwssd_epi32(_mm512_setzero_si512(), wm[k], _mm512_load_si512((const void *)(a + 64 * k)));
			_Pragma("GCC unroll 12")
			for (int m = 4; m < 16; m++)
				s[m % 4] = _mm512_dpwssd_epi32(s[m % 4], wm[m], _mm512_load_si512((const void *)(a + 64 * m)));
			__m512i si = _mm512_add_epi32(_mm512_add_epi32(s[0], s[1]), _mm512_add_epi32(s[2], s[3]));
			__m512 sc = _mm512_mul_ps(bw.d, _mm512_load_ps((const float *)(a + 1024)));
			__m512 f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(si), sc, acc(c));
			if (with_min)
				f = _mm512_fmadd_ps(bw.m, _mm512_load_ps((const float *)(a + 1088)), f);
			acc(c) = f;
		}
	}
	bl_row_tail(t, w, nblk, ngrp, X, xs, R, C);
#undef acc
}

/* bl_row() for four rows at once: loading the activations' steps from
 * L1 bounds bl_row(), one load for each VPDPWSSD.  Here the four rows'
 * steps of a group are widened into a buffer, then CB (up to 4)
 * activations at a time run through them, the 4 x CB integer sums in
 * registers: per step 4 + CB loads for 4 * CB VPDPWSSD.  The sums are
 * exact whatever their order, and each is scaled and added to the lanes
 * at R by bl_tile()'s float operations, so a row's result is the same
 * bit for bit. */
INLINE void bl_quad_acts(const __m512i wq[4][16], const __m512 d[4], const __m512 mn[4], const uint8_t *A,
			 size_t ts, float *R, const int with_min, const int CB)
{
	/* named sums, each updated in place by an asm VPDPWSSD: from the
	 * intrinsic on an array GCC made copies of every sum at every step
	 * and spilled some (5.6 against 7.0 ns per row and activation) */
	__m512i s00, s01, s02, s03, s10, s11, s12, s13, s20, s21, s22, s23, s30, s31, s32, s33;
	s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = _mm512_setzero_si512();
	s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = _mm512_setzero_si512();
	_Pragma("GCC unroll 2")
	for (int m = 0; m < 16; m++) {
		const __m512i x0 = _mm512_load_si512((const void *)(A + 64 * m));
		const __m512i x1 = CB > 1 ? _mm512_load_si512((const void *)(A + ts + 64 * m)) : x0;
		const __m512i x2 = CB > 2 ? _mm512_load_si512((const void *)(A + 2 * ts + 64 * m)) : x0;
		const __m512i x3 = CB > 3 ? _mm512_load_si512((const void *)(A + 3 * ts + 64 * m)) : x0;
#define BL_VP(s, w, x) __asm__("vpdpwssd %2, %1, %0" : "+v"(s) : "v"(w), "v"(x))
#define BL_DP(r) { \
			const __m512i w = _mm512_load_si512(&wq[r][m]); \
			BL_VP(s##r##0, w, x0); \
			if (CB > 1) BL_VP(s##r##1, w, x1); \
			if (CB > 2) BL_VP(s##r##2, w, x2); \
			if (CB > 3) BL_VP(s##r##3, w, x3); \
		}
		BL_DP(0) BL_DP(1) BL_DP(2) BL_DP(3)
#undef BL_DP
#undef BL_VP
	}
	const __m512i sums[4][4] = {{s00, s01, s02, s03}, {s10, s11, s12, s13}, {s20, s21, s22, s23}, {s30, s31, s32, s33}};
	_Pragma("GCC unroll 4")
	for (int j = 0; j < CB; j++) {
		const uint8_t *a = A + (size_t)j * ts;
		__m512 da = _mm512_load_ps((const float *)(a + 1024)), sa = _mm512_load_ps((const float *)(a + 1088));
		_Pragma("GCC unroll 4")
		for (int r = 0; r < 4; r++) {
			float *acc = R + (size_t)j * BL_RED + 16 * r;
			__m512 f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums[r][j]), _mm512_mul_ps(d[r], da), _mm512_load_ps(acc));
			if (with_min)
				f = _mm512_fmadd_ps(mn[r], sa, f);
			_mm512_store_ps(acc, f);
		}
	}
}

/* bl_row_tail() for four rows (row i's lanes of activation c at R + c *
 * BL_RED + 16 i): each activation's pairs loaded once for the four. */
INLINE void bl_quad_tail(const enum ggml_type t, const uint8_t *w, size_t rb, int nblk, int ngrp,
			 const uint8_t *X, size_t xs, float *R, int C)
{
	const int npair = (nblk + 1) / 2, with_min = t == GGML_Q4_1;
	const size_t bs = blk_bytes(t);

	for (int p = 8 * ngrp; p < npair; p++) {
		const int two = 2 * p + 1 < nblk;
		__m512i lo[4], hi[4];
		__m128 dm[4];
		_Pragma("GCC unroll 4")
		for (int r = 0; r < 4; r++) {
			const uint8_t *w0 = w + r * rb + (size_t)(2 * p) * bs;
			a16_pair(t, w0, w0 + bs, two, lo + r, hi + r, dm + r);
		}
		for (int c = 0; c < C; c++) {
			__m512i alo[MAXC], ahi[MAXC];  /* [0] used */
			__m128 ds[MAXC];
			a16_acts(X + (size_t)c * xs, 0, npair, p, alo, ahi, ds, 1);
			_Pragma("GCC unroll 4")
			for (int r = 0; r < 4; r++) {
				__m512 f[MAXC] = {_mm512_load_ps(R + (size_t)c * BL_RED + 16 * r)};
				a16_accumulate(f, lo[r], hi[r], dm[r], alo, ahi, ds, with_min, 1);
				_mm512_store_ps(R + (size_t)c * BL_RED + 16 * r, f[0]);
			}
		}
	}
}

#define BL_QUAD(k) case k: bl_quad_acts(wq, d, mn, t8 + (size_t)c0 * ts, ts, R + (size_t)c0 * BL_RED, with_min, k); break;

/* Rows w .. w + 3 rb against C activations (as bl_row()); row i's lanes
 * of activation c at R + c * BL_RED + 16 i. */
INLINE void bl_quad(const enum ggml_type t, const uint8_t *w, size_t rb, int nblk, int ngrp, const uint8_t *T,
		    size_t ts, const uint8_t *X, size_t xs, float *R, int C)
{
	const int with_min = t == GGML_Q4_1;
	const size_t bs = blk_bytes(t);
	__m512i wq[4][16] __attribute__((aligned(64)));
	__m512 d[4], mn[4];

	/* no prefetching: the hardware's streams the rows (fetching BL_PF
	 * rows ahead as bl_row() does made the output head 20 % slower) */
	for (int r = 0; r < 4; r++)
		for (int c = 0; c < C; c++)
			_mm512_store_ps(R + (size_t)c * BL_RED + 16 * r, _mm512_setzero_ps());
	for (int g = 0; g < ngrp; g++) {
		const uint8_t *t8 = T + (size_t)g * BL_GROUP_BYTES;
		_Pragma("GCC unroll 4")
		for (int r = 0; r < 4; r++) {
			struct bl_weights bw;
			bl_load(t, w + r * rb + (size_t)g * 16 * bs, nblk - 16 * g, &bw);
			_Pragma("GCC unroll 4")
			for (int q = 0; q < 4; q++) {
				__m512i v[4];
				bl_steps(t, &bw, q, v);
				wq[r][2 * q] = v[0], wq[r][2 * q + 1] = v[1], wq[r][8 + 2 * q] = v[2], wq[r][9 + 2 * q] = v[3];
			}
			d[r] = bw.d, mn[r] = bw.m;
		}
		for (int c0 = 0; c0 < C; c0 += 4)
			switch (C - c0 < 4 ? C - c0 : 4) {
			BL_QUAD(1) BL_QUAD(2) BL_QUAD(3) BL_QUAD(4)
			}
	}
	bl_quad_tail(t, w, rb, nblk, ngrp, X, xs, R, C);
}
#undef BL_QUAD

/* The sums of the 16 lanes of nr (1 to 16) vectors at R into y[0..nr):
 * each the tree of _mm512_reduce_add_ps (lanes i and i + 8, then i and
 * i + 4 of those, then i and i + 2, then the two left), done for 16 rows
 * at once: a row gives the same float whatever rows come with it. */
INLINE void bl_reduce16(const float *R, int nr, float *y)
{
	__m512 v[8], u[4], e[2];

	_Pragma("GCC unroll 8")
	for (int k = 0; k < 8; k++) {  /* row 2k in 128-bit lanes 0-1, 2k + 1 in 2-3 */
		__m512 a = 2 * k < nr ? _mm512_load_ps(R + 32 * k) : _mm512_setzero_ps();  /* rows past nr: not read */
		__m512 b = 2 * k + 1 < nr ? _mm512_load_ps(R + 32 * k + 16) : _mm512_setzero_ps();
		v[k] = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xee));
	}
	_Pragma("GCC unroll 4")
	for (int k = 0; k < 4; k++)  /* rows 4k + l in 128-bit lane l */
		u[k] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0x88),
				     _mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0xdd));
	_Pragma("GCC unroll 2")
	for (int k = 0; k < 2; k++)  /* lane l: rows 8k + l (elements 0, 1), 8k + 4 + l (2, 3) */
		e[k] = _mm512_add_ps(_mm512_shuffle_ps(u[2 * k], u[2 * k + 1], 0x44),
				     _mm512_shuffle_ps(u[2 * k], u[2 * k + 1], 0xee));
	/* element 4l + m: row 4m + l */
	__m512 z = _mm512_add_ps(_mm512_shuffle_ps(e[0], e[1], 0x88), _mm512_shuffle_ps(e[0], e[1], 0xdd));
	z = _mm512_permutexvar_ps(_mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0), z);
	_mm512_mask_storeu_ps(y, (__mmask16)((1u << nr) - 1), z);
}

/* ---- 16-bit activations, K-quants in lanes (Q4_K, Q5_K, Q6_K) ----
 *
 * The same layout for the K-quants: a group of 16 blocks is two
 * super-blocks, lane j holding 32-block j % 8 of super-block j / 8 (for
 * Q4_K and Q5_K its sub-block, with its own scale and min; for Q6_K two
 * sub-blocks of 16 elements, summed apart: with their scales applied in
 * integers the sum of a lane could pass 32 bits).  Per dword q of a
 * 32-block (its elements 4q..4q+3, steps 2q and 2q + 1), two dword
 * permutes gather the quant bytes of all 16 lanes; Q4_K/Q5_K sub-block j
 * is the low (j even) or high (j odd) nibbles of bytes 32 (j / 2).., so
 * each lane shifts by its own count; byte shuffles widen the two steps.
 * The scales are applied once per group in float, as for the legacy
 * types: per row and activation one multiply-add for the scales and one
 * for the mins (Q6_K: one for each half of its blocks).  Rows have whole
 * super-blocks, so a group is whole or (an odd count) one super-block,
 * the lanes of the second zero. */
struct kl_weights {
	__m512i q[4];  /* Q4_K, Q5_K: qs of both super-blocks; Q6_K: ql (as kl_load() arranges them) */
	__m512i h[2];  /* Q5_K: qh of both in h[0]; Q6_K: qh of each */
	__m512 d, m;   /* Q4_K, Q5_K: d * sc, -dmin * m of each lane; Q6_K: d * the scales of its elements 0-15, 16-31 */
};

INLINE uint16_t load_u16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

/* Super-blocks b and (two) the next one. */
INLINE void kl_load(const enum ggml_type t, const uint8_t *b, const int two, struct kl_weights *kw)
{
	const size_t bs = blk_bytes(t), qo = t == GGML_Q4_K ? 16 : t == GGML_Q5_K ? 48 : 0;
	const uint8_t *b1 = b + bs;

	/* A lane reads dword 8r + q of its super-block's 32 (r its region,
	 * 0..3, q the step pair, 0..7): per super-block and half of q one
	 * permute gathers dwords 8r + 4h.. 8r + 4h + 3 of every region, so
	 * each step pair later needs one permute, not two and a blend. */
	const __m512i lo = _mm512_set_epi32(27, 26, 25, 24, 19, 18, 17, 16, 11, 10, 9, 8, 3, 2, 1, 0);
	const __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(4));
	__m512i z0 = _mm512_loadu_si512((const void *)(b + qo)), z1 = _mm512_loadu_si512((const void *)(b + qo + 64));
	kw->q[0] = _mm512_permutex2var_epi32(z0, lo, z1);
	kw->q[2] = _mm512_permutex2var_epi32(z0, hi, z1);
	if (two) {
		z0 = _mm512_loadu_si512((const void *)(b1 + qo)), z1 = _mm512_loadu_si512((const void *)(b1 + qo + 64));
		kw->q[1] = _mm512_permutex2var_epi32(z0, lo, z1);
		kw->q[3] = _mm512_permutex2var_epi32(z0, hi, z1);
	} else {
		kw->q[1] = kw->q[3] = _mm512_setzero_si512();
	}
	if (t == GGML_Q6_K) {
		kw->h[0] = _mm512_loadu_si512((const void *)(b + 128));
		kw->h[1] = two ? _mm512_loadu_si512((const void *)(b1 + 128)) : _mm512_setzero_si512();
		__m128i s1 = two ? _mm_loadu_si128((const void *)(b1 + 192)) : _mm_setzero_si128();
		/* dword j: the 16-bit scales of elements 0-15 and 16-31 of lane j */
		__m512i v = _mm512_cvtepi8_epi16(_mm256_inserti128_si256(
			_mm256_castsi128_si256(_mm_loadu_si128((const void *)(b + 192))), s1, 1));
		__m512 d = halves2(load_u16(b + 208), two ? load_u16(b1 + 208) : 0);
		kw->d = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(v, 16), 16)));
		kw->m = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_srai_epi32(v, 16)));
		return;
	}
	if (t == GGML_Q5_K)
		kw->h[0] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const void *)(b + 16))),
					      two ? _mm256_loadu_si256((const void *)(b1 + 16)) : _mm256_setzero_si256(), 1);
	__m128i sm0 = kq_scales_mins(b + 4), sm1 = two ? kq_scales_mins(b1 + 4) : _mm_setzero_si128();
	__m512 d = halves2(load_u16(b), two ? load_u16(b1) : 0), dmin = halves2(load_u16(b + 2), two ? load_u16(b1 + 2) : 0);
	kw->d = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_unpacklo_epi64(sm0, sm1))));
	kw->m = _mm512_mul_ps(_mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(dmin), _mm512_set1_epi32(INT32_MIN))),
			      _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_unpackhi_epi64(sm0, sm1))));
}

/* Dword 8 r[j] + q of super-block j / 8 into lane j, from kl_load()'s
 * rearrangement. */
INLINE __m512i kl_gather(const __m512i z[4], __m512i r, int q)
{
	const __m512i sb = _mm512_set_epi32(16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0);
	__m512i idx = _mm512_add_epi32(_mm512_add_epi32(sb, _mm512_slli_epi32(r, 2)), _mm512_set1_epi32(q & 3));
	return _mm512_permutex2var_epi32(z[q >> 2 & 1 ? 2 : 0], idx, z[q >> 2 & 1 ? 3 : 1]);
}

/* The weights of steps 2q and 2q + 1 in every lane (elements 4q.. 4q + 1
 * and 4q + 2.. 4q + 3 of its block) as int16.  With x16 (Q4_K) the lanes
 * of odd sub-blocks keep their high nibbles in place, 16 times the quant:
 * one AND instead of a shift and an AND per step pair, the lane sums then
 * 16 times theirs, exactly (32 * 240 * 32767 < 2^31): kl_tile() shifts
 * them back, once per group and activation. */
INLINE void kl_steps(const enum ggml_type t, const struct kl_weights *kw, int q, const int x16, __m512i w[2])
{
	const __m512i sh_a = _mm512_broadcast_i32x4(_mm_set_epi8(-1, 13, -1, 12, -1, 9, -1, 8, -1, 5, -1, 4, -1, 1, -1, 0));
	const __m512i sh_b = _mm512_broadcast_i32x4(_mm_set_epi8(-1, 15, -1, 14, -1, 11, -1, 10, -1, 7, -1, 6, -1, 3, -1, 2));
	const __m512i j8 = _mm512_set_epi32(7, 6, 5, 4, 3, 2, 1, 0, 7, 6, 5, 4, 3, 2, 1, 0);  /* block of the super-block */
	const __m512i nib = _mm512_set1_epi8(15);
	__m512i v;

	if (t == GGML_Q6_K) {
		/* block 4h + g: low four bits in ql[64h + 32(g & 1) + l] (high
		 * nibbles for g >= 2), top two in bits 2g, 2g + 1 of qh[32h + l] */
		const __m512i h = _mm512_srli_epi32(j8, 2), g = _mm512_and_si512(j8, _mm512_set1_epi32(3));
		const __m512i qd = _mm512_set1_epi32(q), up = _mm512_set_epi32(16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0);
		__m512i rl = _mm512_add_epi32(_mm512_add_epi32(h, h), _mm512_and_si512(g, _mm512_set1_epi32(1)));
		__m512i ih = _mm512_add_epi32(_mm512_add_epi32(_mm512_slli_epi32(h, 3), qd), up);
		v = _mm512_and_si512(_mm512_srlv_epi32(kl_gather(kw->q, rl, q), _mm512_slli_epi32(_mm512_srli_epi32(g, 1), 2)), nib);
		__m512i u = _mm512_srlv_epi32(_mm512_permutex2var_epi32(kw->h[0], ih, kw->h[1]), _mm512_add_epi32(g, g));
		v = _mm512_ternarylogic_epi32(v, _mm512_slli_epi32(u, 4), _mm512_set1_epi8(0x30), 0xf8);  /* v | u << 4 & 0x30 */
		w[0] = _mm512_sub_epi16(_mm512_shuffle_epi8(v, sh_a), _mm512_set1_epi16(32));
		w[1] = _mm512_sub_epi16(_mm512_shuffle_epi8(v, sh_b), _mm512_set1_epi16(32));
		return;
	}
	/* sub-block j: nibbles of dword 8 (j / 2) + q, low for j even */
	if (x16)
		v = _mm512_and_si512(kl_gather(kw->q, _mm512_srli_epi32(j8, 1), q), _mm512_set_epi32(
			-0x0f0f0f10, 0x0f0f0f0f, -0x0f0f0f10, 0x0f0f0f0f, -0x0f0f0f10, 0x0f0f0f0f, -0x0f0f0f10, 0x0f0f0f0f,
			-0x0f0f0f10, 0x0f0f0f0f, -0x0f0f0f10, 0x0f0f0f0f, -0x0f0f0f10, 0x0f0f0f0f, -0x0f0f0f10, 0x0f0f0f0f));
	else
		v = _mm512_and_si512(_mm512_srlv_epi32(kl_gather(kw->q, _mm512_srli_epi32(j8, 1), q), _mm512_slli_epi32(
			_mm512_and_si512(j8, _mm512_set1_epi32(1)), 2)), nib);
	if (t == GGML_Q5_K) {  /* bit j of qh[e] (dword q of the super-block's qh) to bit 4 */
		const __m512i hi = _mm512_set_epi32(8, 8, 8, 8, 8, 8, 8, 8, 0, 0, 0, 0, 0, 0, 0, 0);
		__m512i u = _mm512_permutexvar_epi32(_mm512_add_epi32(hi, _mm512_set1_epi32(q)), kw->h[0]);
		u = _mm512_srlv_epi16(u, _mm512_or_si512(j8, _mm512_slli_epi32(j8, 16)));
		v = _mm512_ternarylogic_epi32(v, _mm512_slli_epi16(u, 4), _mm512_set1_epi8(0x10), 0xf8);
	}
	w[0] = _mm512_shuffle_epi8(v, sh_a);
	w[1] = _mm512_shuffle_epi8(v, sh_b);
}

/* Group g of row w unpacked at P: kl_steps()'s 16 vectors (without x16),
 * then the scales d and m of its lanes (KL_PVEC vectors). */
#define KL_PVEC 18
INLINE void kl_unpack(const enum ggml_type t, const uint8_t *w, int nblk, int g, __m512i *P)
{
	struct kl_weights kw;

	kl_load(t, w + (size_t)g * 2 * blk_bytes(t), nblk - 16 * g > 8, &kw);
	_Pragma("GCC unroll 8")
	for (int q = 0; q < 8; q++)
		kl_steps(t, &kw, q, 0, P + 2 * q);
	P[16] = _mm512_castps_si512(kw.d);
	P[17] = _mm512_castps_si512(kw.m);
}

/* bl_tile() for the K-quants: row w against C activations rearranged at
 * T (ts bytes apart), its groups g0..g1 of ngrp, fetching the bytes pf
 * ahead of them (of a row to come).  A row's sums run over several calls
 * when a matrix is blocked by groups: the calls after the first start from
 * st[0..C), those before the last leave their sums there (a store and a
 * load, so the float operations are those of one call). */
INLINE void kl_tile(const enum ggml_type t, const uint8_t *w, size_t pf, int nblk, int g0, int g1, int ngrp,
		    const uint8_t *T, size_t ts, __m512 *st, float *Y, int ldy, const int C)
{
	const int q6 = t == GGML_Q6_K;
	const int NS = C >= 8 ? 1 : C >= 4 ? 2 : 4;  /* sums per activation (Q6_K: per half) */
	/* kl_steps()'s x16 where it saves work: a shift per step pair against
	 * one per activation */
	const int x16 = t == GGML_Q4_K && C <= 4;
	const size_t bs = blk_bytes(t);
	__m512 acc[BL_ACTS];

	_Pragma("GCC unroll 8")
	for (int c = 0; c < C; c++)
		acc[c] = g0 ? st[c] : _mm512_setzero_ps();
	for (int g = g0; g < g1; g++) {
		const uint8_t *t8 = T + (size_t)g * BL_GROUP_BYTES;
		struct kl_weights kw;
		__m512i s[BL_ACTS][2][4];
		/* a group at a time (all of a row at its start measured 3-10%
		 * slower decoding) */
		for (size_t o = 0; o < 2 * bs; o += 64)
			_mm_prefetch((const char *)(w + (size_t)g * 2 * bs + pf + o), _MM_HINT_T0);
		kl_load(t, w + (size_t)g * 2 * bs, nblk - 16 * g > 8, &kw);
		_Pragma("GCC unroll 8")
		for (int c = 0; c < C; c++)
			for (int k = 0; k < NS; k++)
				s[c][0][k] = s[c][1][k] = _mm512_setzero_si512();
		_Pragma("GCC unroll 8")
		for (int q = 0; q < 8; q++) {
			__m512i wq[2];
			kl_steps(t, &kw, q, x16, wq);
			_Pragma("GCC unroll 8")
			for (int c = 0; c < C; c++)
				for (int k = 0; k < 2; k++) {
					const int m = 2 * q + k, hf = q6 && q >= 4;
					s[c][hf][m % NS] = _mm512_dpwssd_epi32(s[c][hf][m % NS], wq[k],
						_mm512_load_si512((const void *)(t8 + (size_t)c * ts + 64 * m)));
				}
		}
		_Pragma("GCC unroll 8")
		for (int c = 0; c < C; c++) {
			const uint8_t *a = t8 + (size_t)c * ts;
			const __m512 ad = _mm512_load_ps((const float *)(a + 1024));
			__m512i s0 = s[c][0][0], s1 = s[c][1][0];
			for (int k = 1; k < NS; k++) {  /* exact: the same sums whatever NS */
				s0 = _mm512_add_epi32(s0, s[c][0][k]);
				s1 = _mm512_add_epi32(s1, s[c][1][k]);
			}
			if (x16)
				s0 = _mm512_srav_epi32(s0, _mm512_set_epi32(4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0));
			acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0), _mm512_mul_ps(kw.d, ad), acc[c]);
			if (q6)
				acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1), _mm512_mul_ps(kw.m, ad), acc[c]);
			else
				acc[c] = _mm512_fmadd_ps(kw.m, _mm512_load_ps((const float *)(a + 1088)), acc[c]);
		}
	}
	_Pragma("GCC unroll 8")
	for (int c = 0; c < C; c++)
		if (g1 < ngrp)
			st[c] = acc[c];
		else
			Y[(size_t)c * ldy] = _mm512_reduce_add_ps(acc[c]);
}

/* kl_tile() for rows unpacked by kl_unpack(): NR rows (1 or 2, row i's
 * group g at P + i * KL_PVEC + g * ps) against C activations (up to
 * KL_PACTS), each vector of the activations loaded once for both rows:
 * the loads, not the products, bound the single row.  Each row's integer
 * sums and float operations are kl_tile()'s: Q6_K adds the sums of its
 * blocks' first halves to the float sum before the second halves start
 * (kl_tile() adds them first at the group's end), so the two share the
 * registers. */
#define KL_PACTS 6
INLINE void kl_ptile(const enum ggml_type t, const __m512i *P, size_t ps, int g0, int g1, int ngrp,
		     const uint8_t *T, size_t ts, __m512 (*st)[BL_ACTS], float *Y, int ldy, const int NR, const int C)
{
	const int q6 = t == GGML_Q6_K;
	__m512 acc[2][KL_PACTS];

	_Pragma("GCC unroll 2")
	for (int i = 0; i < NR; i++)
		_Pragma("GCC unroll 6")
		for (int c = 0; c < C; c++)
			acc[i][c] = g0 ? st[i][c] : _mm512_setzero_ps();
	for (int g = g0; g < g1; g++) {
		const uint8_t *t8 = T + (size_t)g * BL_GROUP_BYTES;
		const __m512i *pg = P + (size_t)g * ps;
		__m512i s[2][KL_PACTS];
		_Pragma("GCC unroll 16")
		for (int m = 0; m < 16; m++) {
			if (m == 0 || (q6 && m == 8)) {
				_Pragma("GCC unroll 2")
				for (int i = 0; i < NR; i++)
					_Pragma("GCC unroll 6")
					for (int c = 0; c < C; c++)
						s[i][c] = _mm512_setzero_si512();
			}
			const __m512i w0 = _mm512_load_si512((const void *)(pg + m));
			const __m512i w1 = NR > 1 ? _mm512_load_si512((const void *)(pg + KL_PVEC + m)) : w0;
			_Pragma("GCC unroll 6")
			for (int c = 0; c < C; c++) {
				const __m512i a = _mm512_load_si512((const void *)(t8 + (size_t)c * ts + 64 * m));
				s[0][c] = _mm512_dpwssd_epi32(s[0][c], w0, a);
				if (NR > 1)
					s[1][c] = _mm512_dpwssd_epi32(s[1][c], w1, a);
			}
			if (m != 15 && !(q6 && m == 7))
				continue;
			_Pragma("GCC unroll 2")
			for (int i = 0; i < NR; i++) {
				const __m512 d = _mm512_load_ps((const void *)(pg + i * KL_PVEC + (q6 && m == 15 ? 17 : 16)));
				_Pragma("GCC unroll 6")
				for (int c = 0; c < C; c++) {
					const uint8_t *a = t8 + (size_t)c * ts;
					const __m512 ad = _mm512_load_ps((const float *)(a + 1024));
					acc[i][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[i][c]), _mm512_mul_ps(d, ad), acc[i][c]);
					if (!q6)
						acc[i][c] = _mm512_fmadd_ps(_mm512_load_ps((const void *)(pg + i * KL_PVEC + 17)),
									    _mm512_load_ps((const float *)(a + 1088)), acc[i][c]);
				}
			}
		}
	}
	_Pragma("GCC unroll 2")
	for (int i = 0; i < NR; i++)
		_Pragma("GCC unroll 6")
		for (int c = 0; c < C; c++)
			if (g1 < ngrp)
				st[i][c] = acc[i][c];
			else
				Y[(size_t)c * ldy + i] = _mm512_reduce_add_ps(acc[i][c]);
}

/* The K-quant lanes over a matrix.  Prefill meets each weight row with
 * many activations, and neither their rearranged rows (BL_ACTS of an
 * 8960-element row: 166 KiB) nor the weights stay in L1 on their own; so
 * the products go by blocks: KL_ROWS rows at a time, fewer for long rows
 * unpacked (kl_block_rows(): in L2 while the tiles of activations pass
 * them), and for each tile of activations
 * KL_L1 bytes of their groups at a time (in L1 while the block's rows
 * pass), the sums of each row and activation kept in st between the ranges
 * of groups.  The activations are rearranged KL_CHUNK at a time (each
 * chunk reads the weights from memory once), into a buffer on the heap
 * where the stack's is too small.  Decode (one activation of a row up to
 * 14336 elements) is one range of groups.  A chunk of KL_PAN_MIN or more
 * activations has each block's rows unpacked once (kl_unpack(): 16
 * vectors and the scales per group, 1.1 KiB against 288 to 420 bytes
 * packed, on the heap) rather than once per tile, and takes them two at a
 * time against tiles of KL_PACTS (kl_ptile()): a row's result is the same
 * floats either way. */
#define KL_ROWS 64
#define KL_L1 (32 * 1024)
#define KL_CHUNK 64

/* Decode (one activation): rows r0..r1 as KL_STREAMS sub-ranges walked
 * together, a group of each in turn, each row's sums kept in st between
 * its groups (kl_tile()'s store and load: the float operations of one
 * call).  One thread reading one sequential stream from 4 KiB pages
 * leaves memory bandwidth unused: bwprobe-style reads of 1, 2 and 4
 * streams per thread measured 4.4, 5.6 and 6.6 GB/s here (1 thread, 4 KiB
 * pages), and a Qwen2.5-Coder-1.5B Q4_K_M decode took 21-23 % less CPU
 * time per token with 4 streams (3 similar, 6 and 8 less good) and 15 %
 * less with whole rows in turn instead of groups.  Each stream fetches
 * its row KL_PF ahead (the prefill's BL_PF of 16 rows, 4 times as many
 * bytes ahead with 4 streams, was 13 % slower than 2; 1 like 2, 4 and 8
 * between, none at all 1.7 times as slow). */
#define KL_STREAMS 4
#define KL_PF 2

INLINE void kl_streams(const enum ggml_type t, const void *W, size_t rb, int nblk, int ngrp, const uint8_t *T,
		       float *Y, int r0, int r1)
{
	const int len = (r1 - r0 + KL_STREAMS - 1) / KL_STREAMS;
	__m512 st[KL_STREAMS];

	for (int i = 0; i < len; i++)
		for (int g = 0; g < ngrp; g++)
			for (int s = 0; s < KL_STREAMS; s++) {
				const int r = r0 + s * len + i;
				if (r < r1)
					kl_tile(t, (const uint8_t *)W + (size_t)r * rb, KL_PF * rb, nblk, g, g + 1, ngrp,
						T, 0, &st[s], Y + r, 0, 1);
			}
}

#define KL_TAIL(k) case k: kl_tile(t, w, BL_PF * rb, nblk, g0, g1, ngrp, Tc, ab, st[r - rr], Yc, ldy, k); break;

#define KL_PAN_MIN 9  /* activations of a chunk from which its rows are unpacked once */

/* Rows per block: KL_ROWS, or with unpacked rows as many (an even number)
 * as fill KL_PANEL bytes, so that the block and the chunk's activations
 * stay in L2 together (2 MiB here) while the tiles of activations pass
 * the block.  Of a 1536-element row (3 groups, 3.4 KiB unpacked) 64 rows
 * are 221 KiB; of an 8960-element one (18 groups, 20 KiB) 64 rows were
 * 1.3 MiB next to 1.3 MiB of activations, and 18 rows now.  With 512
 * activations in chunks of 192 rows, 1.5B's down projection (1536 x 8960),
 * one thread, CPU time, best of 3, twice (load 4): Q4_K 139 / 143 GF/s with
 * 64 rows, 153-156 with 256 KiB, 157-162 with 384, 153-159 with 512; Q6_K
 * 132 / 140, 145-147, 151, 147-153. */
#define KL_PANEL (384 * 1024)

static int kl_block_rows(int nb, int ngrp)
{
	int r = KL_PANEL / (ngrp * KL_PVEC * 64) & ~1;
	if (nb < KL_PAN_MIN)
		return KL_ROWS;
	return r < 2 ? 2 : r > KL_ROWS ? KL_ROWS : r;
}

#define KL_PTAIL(k) case k: \
	if (nr == 2) \
		kl_ptile(t, P + (size_t)(r - rr) * KL_PVEC, (size_t)(re - rr) * KL_PVEC, g0, g1, ngrp, Tc, ab, \
			 st + (r - rr), Yc, ldy, 2, k); \
	else \
		kl_ptile(t, P + (size_t)(r - rr) * KL_PVEC, (size_t)(re - rr) * KL_PVEC, g0, g1, ngrp, Tc, ab, \
			 st + (r - rr), Yc, ldy, 1, k); \
	break;

INLINE void kl_matmul(const enum ggml_type t, quant_matmul_fn *tiles, const void *W, size_t rb, int n, const void *xq,
		      size_t xs, int nb, float *Y, int ldy, int r0, int r1)
{
	const int nblk = n / QK, ngrp = bl_groups(nblk), chunk = nb < KL_CHUNK ? nb : KL_CHUNK;
	const size_t ab = (size_t)ngrp * BL_GROUP_BYTES;
	const int kr = kl_block_rows(nb, ngrp);
	uint8_t buf[BL_BUF] __attribute__((aligned(64))), *T = buf;
	__m512 st[KL_ROWS][BL_ACTS];
	__m512i *P = NULL;

	if (ab > BL_BUF) {  /* rows of more than 57344 elements: tiles of blocks */
		tiles(W, rb, n, xq, xs, nb, Y, ldy, r0, r1);
		return;
	}
	if (nb == 1) {  /* decode */
		bl_acts(xq, nblk, ngrp, T);
		kl_streams(t, W, rb, nblk, ngrp, T, Y, r0, r1);
		return;
	}
	if ((size_t)chunk * ab > BL_BUF && !(T = aligned_alloc(64, (size_t)chunk * ab)))
		die("quant: out of memory (%zu bytes)", (size_t)chunk * ab);
	if (nb >= KL_PAN_MIN && !(P = aligned_alloc(64, (size_t)kr * ngrp * KL_PVEC * 64)))
		die("quant: out of memory (%zu bytes)", (size_t)kr * ngrp * KL_PVEC * 64);
	for (int b0 = 0; b0 < nb; b0 += chunk) {
		const int cn = nb - b0 < chunk ? nb - b0 : chunk, pan = cn >= KL_PAN_MIN, tw = pan ? KL_PACTS : BL_ACTS;
		for (int c = 0; c < cn; c++)
			bl_acts((const uint8_t *)xq + (size_t)(b0 + c) * xs, nblk, ngrp, T + (size_t)c * ab);
		for (int rr = r0; rr < r1; rr += kr) {
			const int re = r1 - rr < kr ? r1 : rr + kr;
			/* several tiles of activations: the block's rows unpacked
			 * once for all of them, group-major (a range of groups of
			 * all its rows in one piece) */
			for (int r = rr; pan && r < re; r++)
				for (int g = 0; g < ngrp; g++)
					kl_unpack(t, (const uint8_t *)W + (size_t)r * rb, nblk, g,
						  P + ((size_t)g * (re - rr) + (r - rr)) * KL_PVEC);
			for (int c0 = 0; c0 < cn; c0 += tw) {
				const int C = cn - c0 < tw ? cn - c0 : tw, kg = KL_L1 / (C * BL_GROUP_BYTES);
				const uint8_t *Tc = T + (size_t)c0 * ab;
				for (int g0 = 0; g0 < ngrp; g0 += kg) {
					const int g1 = ngrp - g0 < kg ? ngrp : g0 + kg;
					float *Yc = Y + (size_t)(b0 + c0) * ldy + rr;
					for (int r = rr, nr; r < re; r += nr, Yc += nr) {
						const uint8_t *w = (const uint8_t *)W + (size_t)r * rb;
						nr = pan && re - r >= 2 ? 2 : 1;
						if (pan) {
							switch (C) {
							KL_PTAIL(1) KL_PTAIL(2) KL_PTAIL(3) KL_PTAIL(4) KL_PTAIL(5) KL_PTAIL(6)
							}
						} else {
							switch (C) {
							KL_TAIL(1) KL_TAIL(2) KL_TAIL(3) KL_TAIL(4) KL_TAIL(5) KL_TAIL(6) KL_TAIL(7)
							KL_TAIL(8)
							}
						}
					}
				}
			}
		}
	}
	if (T != buf)
		free(T);
	free(P);
}
#undef KL_TAIL
#undef KL_PTAIL

/* Decode (one activation): rows r0..r1 as KL_STREAMS sub-ranges, a row of
 * each in turn (the rows of the legacy types are short: 360-952 bytes in
 * SmolLM2 and Qwen2.5-Coder-0.5B, about a K-quant group), each fetching
 * BL_SPF rows ahead; see kl_streams(). */
#define BL_SPF 2

INLINE void bl_streams(const enum ggml_type t, const void *W, size_t rb, int nblk, int ngrp, const uint8_t *T,
		       const uint8_t *X, float *Y, int r0, int r1)
{
	const int len = (r1 - r0 + KL_STREAMS - 1) / KL_STREAMS;

	for (int i = 0; i < len; i++)
		for (int s = 0; s < KL_STREAMS; s++) {
			const int r = r0 + s * len + i;
			if (r < r1)
				bl_tile(t, (const uint8_t *)W + (size_t)r * rb, BL_SPF * rb, nblk, ngrp, T, 0, X, 0,
					Y + r, 0, 1);
		}
}

/* the rows stream one after another: each fetches the row BL_PF ahead */
#define BL_TAIL(k) case k: bl_tile(t, w, BL_PF * rb, nblk, ngrp, Tc, ab, Xc, xs, Yc, ldy, k); break;

INLINE void bl_matmul(const enum ggml_type t, quant_matmul_fn *pairs, const void *W, size_t rb, int n, const void *xq,
		      size_t xs, int nb, float *Y, int ldy, int r0, int r1)
{
	const int nblk = n / QK, ngrp = bl_groups(nblk);
	const size_t ab = (size_t)ngrp * BL_GROUP_BYTES;
	uint8_t T[BL_BUF] __attribute__((aligned(64)));
	float R[BL_WIDE * BL_RED] __attribute__((aligned(64)));

	if (ab > BL_BUF) {  /* rows of more than 57344 elements: pairs of blocks */
		pairs(W, rb, n, xq, xs, nb, Y, ldy, r0, r1);
		return;
	}
	if (nb == 1) {
		bl_acts(xq, nblk, ngrp, T);
		bl_streams(t, W, rb, nblk, ngrp, T, xq, Y, r0, r1);
		return;
	}
	const int chunk = ab ? (int)(BL_BUF / ab) : nb;
	for (int b0 = 0; b0 < nb; b0 += chunk) {
		const int cn = nb - b0 < chunk ? nb - b0 : chunk, ntile = (cn + BL_WIDE - 1) / BL_WIDE;
		/* tiles of more than BL_ACTS activations by bl_quad() (and
		 * bl_row() for the rows left over), as even as they go: each
		 * reuses a row's widening.  bl_quad() reads a group of each
		 * activation at a time, so the tile's rearranged rows need not
		 * stay in L1: at 16 activations rows of 1536 (55 KiB of them)
		 * ran 1.15x and rows of 4864 (184 KiB) 1.5x as fast as by two
		 * tiles of bl_tile(), which an L1 limit of 40 KiB gave them */
		const int tile = cn > BL_ACTS ? (cn + ntile - 1) / ntile : BL_ACTS;
		for (int c = 0; c < cn; c++)
			bl_acts((const uint8_t *)xq + (size_t)(b0 + c) * xs, nblk, ngrp, T + (size_t)c * ab);
		/* tile activations against every row: their rearranged rows
		 * stay in L1 while the weights stream */
		for (int c0 = 0; c0 < cn; c0 += tile) {
			const uint8_t *Tc = T + (size_t)c0 * ab, *Xc = (const uint8_t *)xq + (size_t)(b0 + c0) * xs;
			const int cc = cn - c0 < tile ? cn - c0 : tile;
			if (cc <= BL_ACTS) {
				float *Yc = Y + (size_t)(b0 + c0) * ldy + r0;
				for (int r = r0; r < r1; r++, Yc++) {
					const uint8_t *w = (const uint8_t *)W + (size_t)r * rb;
					switch (cc) {
					BL_TAIL(1) BL_TAIL(2) BL_TAIL(3) BL_TAIL(4) BL_TAIL(5) BL_TAIL(6) BL_TAIL(7) BL_TAIL(8)
					}
				}
				continue;
			}
			float *Yc = Y + (size_t)(b0 + c0) * ldy;
			for (int r = r0; r < r1; r += 16) {  /* 16 rows, then their sums */
				const int nr = r1 - r < 16 ? r1 - r : 16;
				int i = 0;
				for (; i + 4 <= nr; i += 4)
					bl_quad(t, (const uint8_t *)W + (size_t)(r + i) * rb, rb, nblk, ngrp, Tc, ab, Xc,
						xs, R + 16 * i, cc);
				for (; i < nr; i++)
					bl_row(t, (const uint8_t *)W + (size_t)(r + i) * rb, rb, nblk, ngrp, Tc, ab, Xc,
					       xs, R + 16 * i, cc);
				for (int c = 0; c < cc; c++)
					bl_reduce16(R + (size_t)c * BL_RED, nr, Yc + (size_t)c * ldy + r);
			}
		}
	}
}

/* The quant_matmul_a16 entry of one type: lanes, and its tiles for rows
 * too long for the buffer. */
#define MM16_LANES(name, type, tiles) \
	TARGET static void name(const void *W, size_t rb, int n, const void *xq, size_t xs, int nb, float *Y, \
				int ldy, int r0, int r1) \
	{ \
		if (type == GGML_Q4_K || type == GGML_Q5_K || type == GGML_Q6_K) \
			kl_matmul(type, tiles, W, rb, n, xq, xs, nb, Y, ldy, r0, r1); \
		else \
			bl_matmul(type, tiles, W, rb, n, xq, xs, nb, Y, ldy, r0, r1); \
	}
MM16_LANES(mm16_q4_1, GGML_Q4_1, mm16_q4_1_pairs)
MM16_LANES(mm16_q5_0, GGML_Q5_0, mm16_q5_0_pairs)
MM16_LANES(mm16_q8_0, GGML_Q8_0, mm16_q8_0_pairs)
MM16_LANES(mm16_q4_k, GGML_Q4_K, mm16_q4_k_tiles)
MM16_LANES(mm16_q5_k, GGML_Q5_K, mm16_q5_k_tiles)
MM16_LANES(mm16_q6_k, GGML_Q6_K, mm16_q6_k_tiles)

/* Activation quantization, bit for bit quant_act_row's scalar code:
 * products x * (1/d) rounded to nearest even by VCVTPS2DQ, clamped. */
INLINE __m512i q8_16(__m512 x, float id)
{
	__m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(x, _mm512_set1_ps(id)));
	return _mm512_min_epi32(_mm512_max_epi32(q, _mm512_set1_epi32(-127)), _mm512_set1_epi32(127));
}

INLINE __m512 abs16(__m512 x)
{
	return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff)));
}

/* The largest |x| of 16 g floats.  A NaN is skipped, as by the scalar
 * absmax: VMAXPS returns its second operand when either is a NaN, here the
 * running maximum, which starts at 0 and so never is one. */
INLINE float absmax16(const float *x, int g)
{
	__m512 m = _mm512_setzero_ps();
	for (int k = 0; k < g; k++)
		m = _mm512_max_ps(abs16(_mm512_loadu_ps(x + 16 * k)), m);
	return _mm512_reduce_max_ps(m);
}

TARGET static void act_q8(enum ggml_type a, const float *x, void *dst, int n)
{
	if (a == GGML_Q8_K) {
		struct blk_q8_k *b = dst;
		for (int i = 0; i < n / QK_K; i++, x += QK_K) {
			float d = absmax16(x, QK_K / 16) / 127, id = d != 0 ? 1 / d : 0;
			b[i].d = d;
			for (int g = 0; g < 16; g++) {
				__m512i q = q8_16(_mm512_loadu_ps(x + 16 * g), id);
				_mm_storeu_si128((void *)(b[i].qs + 16 * g), _mm512_cvtepi32_epi8(q));
				b[i].bsums[g] = (int16_t)_mm512_reduce_add_epi32(q);
			}
		}
		return;
	}
	struct blk_q8_0 *b0 = dst;
	struct blk_q8_1 *b1 = dst;
	for (int i = 0; i < n / QK; i++, x += QK) {
		__m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
		uint16_t dh;
		float id;
		q8_scale(absmax16(x, QK / 16), &dh, &id);
		__m512i q0 = q8_16(x0, id), q1 = q8_16(x1, id);
		__m256i q = _mm256_set_m128i(_mm512_cvtepi32_epi8(q1), _mm512_cvtepi32_epi8(q0));
		if (a == GGML_Q8_1) {
			int sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
			b1[i].d = dh;
			b1[i].s = f32_to_f16(f16_to_f32(dh) * (float)sum);
			_mm256_storeu_si256((void *)b1[i].qs, q);
		} else {
			b0[i].d = dh;
			_mm256_storeu_si256((void *)b0[i].qs, q);
		}
	}
}

static bool cpu_ok(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
	       __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx2") &&
	       __builtin_cpu_supports("fma") && cpu_has_f16c();
}

const struct quant_family quant_family_avx512 = {
	"avx512-vnni", "avx512", cpu_ok, {
		[GGML_F32] = mm_f32, [GGML_F16] = mm_f16, [GGML_BF16] = mm_bf16,
		[GGML_Q4_0] = mm_q4_0, [GGML_Q4_1] = mm_q4_1, [GGML_Q5_0] = mm_q5_0,
		[GGML_Q5_1] = mm_q5_1, [GGML_Q8_0] = mm_q8_0,
		[GGML_Q4_K] = mm_q4_k, [GGML_Q5_K] = mm_q5_k, [GGML_Q6_K] = mm_q6_k,
	}, act_q8, {
		[GGML_Q4_0] = mm16_q4_0, [GGML_Q4_1] = mm16_q4_1, [GGML_Q5_0] = mm16_q5_0,
		[GGML_Q5_1] = mm16_q5_1, [GGML_Q8_0] = mm16_q8_0, [GGML_Q4_K] = mm16_q4_k,
		[GGML_Q5_K] = mm16_q5_k, [GGML_Q6_K] = mm16_q6_k,
	}, {
		[GGML_F32] = mm_f32, [GGML_F16] = mm_f16, [GGML_BF16] = mm_bf16,
		[GGML_Q4_0] = mmf_q4_0, [GGML_Q4_1] = mmf_q4_1, [GGML_Q5_0] = mmf_q5_0,
		[GGML_Q5_1] = mmf_q5_1, [GGML_Q8_0] = mmf_q8_0,
		[GGML_Q4_K] = mmf_q4_k, [GGML_Q5_K] = mmf_q5_k, [GGML_Q6_K] = mmf_q6_k,
	}, GP_MIN, {
		[GGML_Q4_K] = true, [GGML_Q5_K] = true, [GGML_Q6_K] = true,  /* the lanes: 1.6-1.8x the panels at 64 */
	}, NULL
};

#endif
