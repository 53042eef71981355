/* kernels_avx2.c - the "avx2" kernel family: 256-bit integer dot products
 * with VPMADDUBSW/VPMADDWD, for x86-64 CPUs without AVX-512 VNNI.
 *
 * Compiled with target attributes, not -march, so a portable build has it
 * too; quant.c only calls it when the CPU reports AVX2, FMA and F16C.
 *
 * VPMADDUBSW multiplies unsigned by signed bytes and adds pairs into
 * saturating 16 bits, so the weight operand must be unsigned and small
 * enough: signed legacy quants go through the sign trick
 * (|w| * sign(a, w)), at most 128 * 127 * 2 = 32512 per pair; unsigned
 * quants (Q4_1, Q5_1, K-quants, Q6_K stored +32) go in as they are, at
 * most 63 * 127 * 2 = 16002.  Activations never hold -128. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kernels.h"

#define TARGET __attribute__((target("avx2,fma,f16c")))
#define INLINE static inline __attribute__((always_inline)) TARGET

#define MAXR 4
#define MAXC 2
/* Prefetch distance in tiles (as in the AVX-512 family). */
#define PF_TILES 16

/* A buffer that 32-byte vector loads read, never across a cache line
 * (malloc() aligns to 16); dies when memory is out, as xmalloc(). */
static void *xalloc32(size_t n)
{
	void *p = aligned_alloc(32, ((n ? n : 1) + 31) & ~(size_t)31);
	if (!p)
		die("quant: out of memory (%zu bytes)", n);
	return p;
}

INLINE float hsum(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

INLINE uint32_t load32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* The 32 nibbles of a legacy block in element order (low nibbles are
 * elements 0-15, high nibbles 16-31). */
INLINE __m256i nibbles(const uint8_t *qs)
{
	__m128i x = _mm_loadu_si128((const void *)qs);
	return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(x, 4), x), _mm256_set1_epi8(15));
}

/* 0x10 in byte e where bit e of the Q5 high-bit word is set. */
INLINE __m256i fifth_bits(uint32_t qh)
{
	const __m256i spread = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
						 0x0101010101010101, 0x0000000000000000);
	const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
	__m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), spread);
	v = _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
	return _mm256_and_si256(v, _mm256_set1_epi8(16));
}

/* The 32 quants of legacy block w in element order: signed (Q4_0, Q5_0,
 * Q8_0) or unsigned with m_w in *mw (Q4_1, Q5_1). */
INLINE __m256i legacy_q8(const enum ggml_type t, const uint8_t *w, float *mw)
{
	switch (t) {
	case GGML_Q4_0:
		return _mm256_sub_epi8(nibbles(((const struct blk_q4_0 *)w)->qs), _mm256_set1_epi8(8));
	case GGML_Q4_1:
		*mw = _cvtsh_ss(((const struct blk_q4_1 *)w)->m);
		return nibbles(((const struct blk_q4_1 *)w)->qs);
	case GGML_Q5_0: {
		const struct blk_q5_0 *b = (const void *)w;
		return _mm256_sub_epi8(_mm256_or_si256(nibbles(b->qs), fifth_bits(load32(b->qh))), _mm256_set1_epi8(16));
	}
	case GGML_Q5_1: {
		const struct blk_q5_1 *b = (const void *)w;
		*mw = _cvtsh_ss(b->m);
		return _mm256_or_si256(nibbles(b->qs), fifth_bits(load32(b->qh)));
	}
	default:  /* Q8_0 */
		return _mm256_loadu_si256((const void *)((const struct blk_q8_0 *)w)->qs);
	}
}

/* R rows from W (row i at W + i * rs; each fetching pf bytes ahead of its
 * own, if pf is not 0) against C activations, into Y[c * ldy + i * ys]. */
INLINE void legacy_tile(const enum ggml_type t, const uint8_t *W, size_t rs, size_t pf, int n, const uint8_t *X,
			size_t xs, float *Y, int ldy, size_t ys, const int R, const int C)
{
	const size_t wsz = blk_bytes(t);
	const int with_sum = t == GGML_Q4_1 || t == GGML_Q5_1;
	const size_t asz = with_sum ? sizeof(struct blk_q8_1) : sizeof(struct blk_q8_0), qoff = with_sum ? 4 : 2;
	const __m256i ones16 = _mm256_set1_epi16(1);
	__m256 acc[MAXR][MAXC];
	float msum[MAXR][MAXC];

	_Pragma("GCC unroll 4")
	for (int r = 0; r < R; r++)
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++) {
			acc[r][c] = _mm256_setzero_ps();
			msum[r][c] = 0;
		}
	for (int i = 0; i < n / QK; i++) {
		__m256i aq[MAXC];
		float ad[MAXC], as[MAXC];
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++) {
			const uint8_t *a = X + c * xs + (size_t)i * asz;
			const struct blk_q8_1 *b = (const void *)a;
			aq[c] = _mm256_loadu_si256((const void *)(a + qoff));
			ad[c] = _cvtsh_ss(b->d);
			as[c] = with_sum ? _cvtsh_ss(b->s) : 0;
		}
		_Pragma("GCC unroll 4")
		for (int r = 0; r < R; r++) {
			const uint8_t *w = W + r * rs + (size_t)i * wsz;
			float dw = _cvtsh_ss(*(const uint16_t *)w), mw = 0;
			if (pf)
				_mm_prefetch((const char *)(w + pf), _MM_HINT_T0);
			__m256i q = legacy_q8(t, w, &mw);
			__m256i qa = with_sum ? q : _mm256_sign_epi8(q, q);
			_Pragma("GCC unroll 4")
			for (int c = 0; c < C; c++) {
				__m256i a = with_sum ? aq[c] : _mm256_sign_epi8(aq[c], q);
				__m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(qa, a), ones16);
				acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(dw * ad[c]), acc[r][c]);
				if (with_sum)
					msum[r][c] += mw * as[c];
			}
		}
	}
	_Pragma("GCC unroll 4")
	for (int r = 0; r < R; r++)
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++)
			Y[(size_t)c * ldy + r * ys] = hsum(acc[r][c]) + msum[r][c];
}

/* The tiles of quant_tile_drive(): neighbouring rows, fetching the next
 * tile's. */
INLINE void tile_legacy(const enum ggml_type t, const uint8_t *W, size_t rb, int n, const uint8_t *X, size_t xs,
			float *Y, int ldy, const int R, const int C)
{
	legacy_tile(t, W, rb, R * rb, n, X, xs, Y, ldy, 1, R, C);
}

/* ---- 8-bit activations, legacy types, rows unpacked once ----
 *
 * From Q8U_MIN activations (a prompt, a step of several sequences)
 * tile_legacy() unpacked every row again for each MAXC activations and
 * prefetched per block.  Here a panel of Q8U_ROWS rows is unpacked once
 * into L1 (per block the 32 quants as VPMADDUBSW's unsigned operand, and
 * for the signed types the quants again for VPSIGNB; d_w and m_w as
 * floats), and each row, its block in registers, meets Q8U_ACTS
 * activations read where quant_act_row() put them.  d_a and s_a of a group
 * of activations are taken out once per call as floats, 8 to a vector per
 * block.  Every output gets tile_legacy()'s float operations in its order:
 * per block the 8 int32 lane sums converted and multiplied-added with
 * d_w * d_a (VMULPS of the broadcasts: the same float), then the
 * horizontal sum plus the chain of m_w * s_a over the blocks (here summed
 * 8 activations to a vector), so a row has the same bits in any batch
 * (test-batch).  lm-step --quant-act, 512-token prompt, 1 thread (Zen 3,
 * CPU time, loaded machine): SmolLM2 Q4_1 3.0 s before, 1.7 s (exact
 * products 1.8 s); Qwen2.5-Coder 0.5B (Q5_0 mostly) 10.5-12.1 s, 6.0-6.4 s
 * (exact 5.4-6.4).  batch-bench SmolLM2 prefill at 16 sequences of 128:
 * the activations' quants read in place (a 32-byte load of a 36-byte
 * block often split across lines) 260-280 tokens/s; copied once per call
 * to aligned vectors 315-330; d_w * d_a then made 8 activations a VMULPS
 * per slice rather than one per activation 345 (exact 335-370). */
#ifndef Q8U_MIN
#define Q8U_MIN 4
#endif
#ifndef Q8U_ROWS
#define Q8U_ROWS 8
#endif
#ifndef Q8U_ACTS
#define Q8U_ACTS 8
#endif
#ifndef Q8U_L1
#define Q8U_L1 (20 * 1024)  /* bytes of a slice of the panel and the group's activations */
#endif
/* Signed quants: a panel row holds two vectors per block, the unsigned
 * operand and the quants for the signs. */
#define Q8U_SIGNED(t) ((t) != GGML_Q4_1 && (t) != GGML_Q5_1)
#define Q8U_PF 4            /* rows fetched ahead while unpacking */
/* blocks in a slice (at most: the unsigned types' panel rows are half) */
#define Q8U_KS(t) (Q8U_L1 / ((Q8U_ROWS * (Q8U_SIGNED(t) ? 2 : 1) + Q8U_ACTS) * sizeof(__m256i)))
#define Q8U_KS_MAX (Q8U_L1 / ((Q8U_ROWS + Q8U_ACTS) * sizeof(__m256i)))
_Static_assert(Q8U_ACTS <= 8, "q8u_matmul() keeps 8 activations' scales to a vector");


/* Blocks [k0, k1) of the unpacked row P (d_w in Dw) against C activations
 * of a group (quants of activation c and block k at A[Q8U_ACTS k + c],
 * d_a at G[16 k + c]), continuing acc[c], or starting it at zero when k0
 * is 0. */
INLINE void q8u_tile(const enum ggml_type t, const __m256i *P, const float *Dw, const __m256i *A,
		     const float *G, int k0, int k1, __m256 *acc, const int C)
{
	const int sgn = Q8U_SIGNED(t), pv = sgn ? 2 : 1;
	const __m256i ones16 = _mm256_set1_epi16(1);
	__m256 s8[Q8U_ACTS];

	_Pragma("GCC unroll 8")
	for (int c = 0; c < C; c++)
		s8[c] = k0 ? acc[c] : _mm256_setzero_ps();
	/* d_w * d_a of the slice's blocks, 8 activations a VMULPS */
	_Alignas(32) float da[Q8U_KS_MAX][8];
	for (int k = k0; k < k1; k++)
		_mm256_store_ps(da[k - k0], _mm256_mul_ps(_mm256_broadcast_ss(Dw + k), _mm256_load_ps(G + 16 * (size_t)k)));
	for (int k = k0; k < k1; k++) {
		const __m256i qa = _mm256_load_si256(P + (size_t)pv * k);
		const __m256i q = sgn ? _mm256_load_si256(P + (size_t)pv * k + 1) : qa;
		const __m256i *x = A + (size_t)Q8U_ACTS * k;
		_Pragma("GCC unroll 8")
		for (int c = 0; c < C; c++) {
			__m256i a = _mm256_load_si256(x + c);
			if (sgn)
				a = _mm256_sign_epi8(a, q);
			__m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(qa, a), ones16);
			s8[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_broadcast_ss(&da[k - k0][c]), s8[c]);
		}
	}
	_Pragma("GCC unroll 8")
	for (int c = 0; c < C; c++)
		acc[c] = s8[c];
}

INLINE void q8u_matmul(const enum ggml_type t, const void *W, size_t rb, int n, const void *xq, size_t xs, int nb,
		       float *Y, int ldy, int r0, int r1)
{
	const int sgn = Q8U_SIGNED(t), pv = sgn ? 2 : 1, nblk = n / QK, ng = (nb + Q8U_ACTS - 1) / Q8U_ACTS;
	const size_t wsz = blk_bytes(t), asz = sgn ? sizeof(struct blk_q8_0) : sizeof(struct blk_q8_1), qoff = sgn ? 2 : 4;
	const size_t pb = ((size_t)Q8U_ROWS * pv + (size_t)ng * Q8U_ACTS) * nblk * sizeof(__m256i);
	const size_t fb = ((size_t)Q8U_ROWS * nblk * 2 + (size_t)ng * nblk * 16) * sizeof(float);
	int ks = (int)Q8U_KS(t);
	/* the panel, the activations' quants (per group and block those of
	 * Q8U_ACTS activations: aligned, none split across lines), d_w and m_w
	 * of the panel's rows, then per group and block d_a of 8 activations
	 * and s_a of 8 */
	__m256i *P = xalloc32(pb + fb);
	__m256i *A = P + (size_t)Q8U_ROWS * pv * nblk;
	float *Dw = (float *)((uint8_t *)P + pb), *Mw = Dw + (size_t)Q8U_ROWS * nblk, *G = Mw + (size_t)Q8U_ROWS * nblk;
	__m256 acc[Q8U_ROWS][Q8U_ACTS];

	if (ks < 1)
		ks = 1;
	memset(Dw, 0, fb);  /* (a last group's missing activations, a short panel's missing rows) */
	for (int b = 0; b < nb; b++)
		for (int k = 0; k < nblk; k++) {
			const struct blk_q8_1 *a = (const void *)((const uint8_t *)xq + (size_t)b * xs + (size_t)k * asz);
			float *g = G + ((size_t)(b / Q8U_ACTS) * nblk + k) * 16 + b % Q8U_ACTS;
			g[0] = _cvtsh_ss(a->d);
			g[8] = sgn ? 0 : _cvtsh_ss(a->s);
			_mm256_store_si256(A + ((size_t)(b / Q8U_ACTS) * nblk + k) * Q8U_ACTS + b % Q8U_ACTS,
					   _mm256_loadu_si256((const void *)((const uint8_t *)a + qoff)));
		}
	for (int r = r0; r < r1; r += Q8U_ROWS) {
		const int R = r1 - r < Q8U_ROWS ? r1 - r : Q8U_ROWS;
		for (int i = 0; i < R; i++) {
			const uint8_t *w = (const uint8_t *)W + (size_t)(r + i) * rb;
			__m256i *Pi = P + (size_t)i * nblk * pv;
			for (size_t o = 0; o < rb; o += 64)  /* the row Q8U_PF rows ahead */
				_mm_prefetch((const char *)(w + Q8U_PF * rb + o), _MM_HINT_T0);
			for (int k = 0; k < nblk; k++) {
				const uint8_t *b = w + (size_t)k * wsz;
				float mw = 0;
				__m256i q = legacy_q8(t, b, &mw);
				Dw[(size_t)i * nblk + k] = _cvtsh_ss(*(const uint16_t *)b);
				Mw[(size_t)i * nblk + k] = mw;
				_mm256_store_si256(Pi + (size_t)pv * k, sgn ? _mm256_sign_epi8(q, q) : q);
				if (sgn)
					_mm256_store_si256(Pi + (size_t)pv * k + 1, q);
			}
		}
		for (int b0 = 0; b0 < nb; b0 += Q8U_ACTS) {
			const int C = nb - b0 < Q8U_ACTS ? nb - b0 : Q8U_ACTS;
			const __m256i *Ag = A + (size_t)(b0 / Q8U_ACTS) * nblk * Q8U_ACTS;
			const float *Gg = G + (size_t)(b0 / Q8U_ACTS) * nblk * 16;
			for (int k0 = 0; k0 < nblk; k0 += ks) {
				const int k1 = nblk - k0 < ks ? nblk : k0 + ks;
				for (int i = 0; i < R; i++) {
					const __m256i *Pi = P + (size_t)i * nblk * pv;
					const float *Dwi = Dw + (size_t)i * nblk;
					switch (C) {
#define Q8U_C(j) case j: if (j <= Q8U_ACTS) q8u_tile(t, Pi, Dwi, Ag, Gg, k0, k1, acc[i], j); break;
					Q8U_C(1) Q8U_C(2) Q8U_C(3) Q8U_C(4) Q8U_C(5) Q8U_C(6) Q8U_C(7) Q8U_C(8)
#undef Q8U_C
					}
				}
			}
			/* the chains msum += m_w * s_a of tile_legacy(), 8
			 * activations a vector, the rows' chains side by side */
			float m[Q8U_ROWS][8];
			__m256 sm[Q8U_ROWS];
			for (int i = 0; i < Q8U_ROWS; i++)
				sm[i] = _mm256_setzero_ps();
			if (!sgn)
				for (int k = 0; k < nblk; k++) {
					const __m256 sa = _mm256_load_ps(Gg + 16 * (size_t)k + 8);
					for (int i = 0; i < Q8U_ROWS; i++)
						sm[i] = _mm256_add_ps(sm[i], _mm256_mul_ps(_mm256_broadcast_ss(Mw + (size_t)i * nblk + k), sa));
				}
			for (int i = 0; i < R; i++) {
				_mm256_storeu_ps(m[i], sm[i]);
				for (int c = 0; c < C; c++)
					Y[(size_t)(b0 + c) * ldy + r + i] = hsum(acc[i][c]) + m[i][c];
			}
		}
	}
	free(P);
}

/* The legacy types' entries, 8-bit (tile_legacy(), legacy_tile(),
 * q8u_matmul(), from Q8U_MIN) and 16-bit activations (tile_a16(),
 * a16_tile(), a16u_matmul(), from A16U_MIN): a decode as row_streams()
 * of the stream tile, a few activations over quant_tile_drive()'s tiles,
 * more against rows unpacked once by the unpacked product. */
#define LEGACY_KERNEL(name, type, tile, stile, unpacked, min) \
	KERNEL(name##_drive, tile, type, MAXR, MAXC) \
	TARGET static void name##_streams(const void *W, size_t rb, int n, const void *xq, float *Y, int r0, int r1) \
	{ \
		row_streams(stile, type, W, rb, n, xq, Y, r0, r1); \
	} \
	TARGET static void name##_unpacked(const void *W, size_t rb, int n, const void *xq, size_t xs, int nb, \
					   float *Y, int ldy, int r0, int r1) \
	{ \
		unpacked(type, W, rb, n, xq, xs, nb, Y, ldy, r0, r1); \
	} \
	static void name(const void *W, size_t rb, int n, const void *xq, size_t xs, int nb, float *Y, int ldy, \
			 int r0, int r1) \
	{ \
		if (nb == 1) \
			name##_streams(W, rb, n, xq, Y, r0, r1); \
		else if (nb >= (min)) \
			name##_unpacked(W, rb, n, xq, xs, nb, Y, ldy, r0, r1); \
		else \
			name##_drive(W, rb, n, xq, xs, nb, Y, ldy, r0, r1); \
	}
#define Q8_KERNEL(name, type) LEGACY_KERNEL(name, type, tile_legacy, legacy_tile, q8u_matmul, Q8U_MIN)

/* The 6-bit scales (bytes 0-7) and mins (bytes 8-15) of a Q4_K/Q5_K
 * super-block (formats.md 2.2), four at a time, in a register (built in
 * memory by halves, they stall a 16-byte load that follows). */
INLINE __m128i kq_scales_mins(const uint8_t *b)
{
	uint32_t w0 = load32(b), w1 = load32(b + 4), w2 = load32(b + 8);
	return _mm_setr_epi32((int)(w0 & 0x3f3f3f3f), (int)((w2 & 0x0f0f0f0f) | ((w0 >> 6) & 0x03030303) << 4),
			      (int)(w1 & 0x3f3f3f3f), (int)(((w2 >> 4) & 0x0f0f0f0f) | ((w1 >> 6) & 0x03030303) << 4));
}

/* The K-quants' 8-bit tiles: one row against 8 activations, its
 * super-block unpacked once for all 8 (4 rows x 2 activations unpacked it
 * for every 2: Qwen2.5-Coder 1.5B Q4_K_M, batch-bench -a -t 1 -p 32,
 * prefill 17-23 tokens/s then 22-32; decode 9.9 then 11.5-12.4 tokens/s,
 * 8 sequences 14.5-17.5 then 20.6-27.3 (Zen 3, loaded machine; 2 rows x
 * 4 activations in between). */
#define KQ_ROWS 1
#define KQ_ACTS 8
INLINE void tile_kquant(const enum ggml_type t, const uint8_t *W, size_t rb, int n, const uint8_t *X, size_t xs,
			float *Y, int ldy, const int R, const int C)
{
	const size_t wsz = blk_bytes(t);
	__m256 acc[KQ_ROWS][KQ_ACTS];

	_Pragma("GCC unroll 8")
	for (int r = 0; r < R; r++)
		_Pragma("GCC unroll 8")
		for (int c = 0; c < C; c++)
			acc[r][c] = _mm256_setzero_ps();
	for (int i = 0; i < n / QK_K; i++) {
		const struct blk_q8_k *a[KQ_ACTS];
		_Pragma("GCC unroll 8")
		for (int c = 0; c < C; c++)
			a[c] = (const void *)(X + c * xs + (size_t)i * sizeof(struct blk_q8_k));
		_Pragma("GCC unroll 8")
		for (int r = 0; r < R; r++) {
			const uint8_t *w = W + r * rb + (size_t)i * wsz;
			__m256i s[KQ_ACTS];
			_Pragma("GCC unroll 8")
			for (int c = 0; c < C; c++)
				s[c] = _mm256_setzero_si256();
			for (size_t o = 0; o < wsz; o += 64)
				_mm_prefetch((const char *)(w + R * rb + o), _MM_HINT_T0);

			if (t == GGML_Q6_K) {
				const struct blk_q6_k *b = (const void *)w;
				const __m256i lo4 = _mm256_set1_epi8(15), hi2 = _mm256_set1_epi8(0x30);
				for (int h = 0; h < 2; h++) {
					__m256i ql0 = _mm256_loadu_si256((const void *)(b->ql + 64 * h));
					__m256i ql1 = _mm256_loadu_si256((const void *)(b->ql + 64 * h + 32));
					__m256i qh = _mm256_loadu_si256((const void *)(b->qh + 32 * h));
					for (int g = 0; g < 4; g++) {
						__m256i l = g & 1 ? ql1 : ql0;
						l = g < 2 ? _mm256_and_si256(l, lo4) : _mm256_and_si256(_mm256_srli_epi16(l, 4), lo4);
						__m256i hb = g == 0 ? _mm256_slli_epi16(qh, 4) : g == 1 ? _mm256_slli_epi16(qh, 2) :
							     g == 2 ? qh : _mm256_srli_epi16(qh, 2);
						__m256i q = _mm256_or_si256(l, _mm256_and_si256(hb, hi2));
						int k = 8 * h + 2 * g;  /* the two 16-element sub-blocks of q */
						__m256i sc = _mm256_set_m128i(_mm_set1_epi16(b->scales[k + 1]),
									      _mm_set1_epi16(b->scales[k]));
						_Pragma("GCC unroll 8")
						for (int c = 0; c < C; c++) {
							__m256i p = _mm256_maddubs_epi16(
								q, _mm256_loadu_si256((const void *)(a[c]->qs + 128 * h + 32 * g)));
							s[c] = _mm256_add_epi32(s[c], _mm256_madd_epi16(p, sc));
						}
					}
				}
				__m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const void *)b->scales));
				float d = _cvtsh_ss(b->d);
				_Pragma("GCC unroll 8")
				for (int c = 0; c < C; c++) {
					/* quants were stored +32: take 32 * sum(scale * bsum) off */
					__m256i bs = _mm256_loadu_si256((const void *)a[c]->bsums);
					s[c] = _mm256_sub_epi32(s[c], _mm256_slli_epi32(_mm256_madd_epi16(bs, sc16), 5));
					acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[c]), _mm256_set1_ps(d * a[c]->d), acc[r][c]);
				}
			} else {
				const struct blk_q4_k *b4 = (const void *)w;
				const struct blk_q5_k *b5 = (const void *)w;
				const uint8_t *qs = t == GGML_Q4_K ? b4->qs : b5->qs;
				uint8_t sm[16];
				_mm_storeu_si128((void *)sm, kq_scales_mins(b4->scales));
				__m256i qh = t == GGML_Q5_K ? _mm256_loadu_si256((const void *)b5->qh) : _mm256_setzero_si256();
				for (int j = 0; j < 8; j++) {
					__m256i x = _mm256_loadu_si256((const void *)(qs + 32 * (j / 2)));
					__m256i q = _mm256_and_si256(j & 1 ? _mm256_srli_epi16(x, 4) : x, _mm256_set1_epi8(15));
					if (t == GGML_Q5_K)
						q = _mm256_or_si256(q, _mm256_slli_epi16(
							_mm256_and_si256(_mm256_srli_epi16(qh, j), _mm256_set1_epi8(1)), 4));
					__m256i sc = _mm256_set1_epi16(sm[j]);
					_Pragma("GCC unroll 8")
					for (int c = 0; c < C; c++) {
						__m256i p = _mm256_maddubs_epi16(q, _mm256_loadu_si256((const void *)(a[c]->qs + 32 * j)));
						s[c] = _mm256_add_epi32(s[c], _mm256_madd_epi16(p, sc));
					}
				}
				__m128i m8 = _mm_loadl_epi64((const void *)(sm + 8));
				__m256i mins = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));  /* m0 m0 m1 m1 ... */
				float d = _cvtsh_ss(b4->d), dmin = _cvtsh_ss(b4->dmin);
				_Pragma("GCC unroll 8")
				for (int c = 0; c < C; c++) {
					__m256i bs = _mm256_loadu_si256((const void *)a[c]->bsums);
					__m256i m = _mm256_madd_epi16(bs, mins);
					acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[c]), _mm256_set1_ps(d * a[c]->d), acc[r][c]);
					acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(m), _mm256_set1_ps(-(dmin * a[c]->d)), acc[r][c]);
				}
			}
		}
	}
	_Pragma("GCC unroll 8")
	for (int r = 0; r < R; r++)
		_Pragma("GCC unroll 8")
		for (int c = 0; c < C; c++)
			Y[(size_t)c * ldy + r] = hsum(acc[r][c]);
}

/* Eight float weights (F32, F16, BF16) at p. */
INLINE __m256 float8(const enum ggml_type t, const uint8_t *p)
{
	if (t == GGML_F32)
		return _mm256_loadu_ps((const float *)p);
	__m128i h = _mm_loadu_si128((const void *)p);
	if (t == GGML_F16)
		return _mm256_cvtph_ps(h);
	return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
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
	return t == GGML_F16 ? _cvtsh_ss(h) : bf16_to_f32(h);
}

/* R rows from W (row i at W + i * rs, each fetching pf bytes ahead of its
 * own, if pf is not 0) against C activations, into Y[c * ldy + i * ys].  One prefetch per
 * row and 64-byte line, not per 8 weights (for 16-bit weights that was
 * four times per line).  A row's float operations do not depend on R, C
 * or the strides: one 8-lane sum, a multiply-add per 8 weights in column
 * order, then the horizontal sum and the n % 8 columns left (test-batch:
 * a decode's streams and a small batch's tiles give a row the same
 * bits). */
INLINE void float_step(const enum ggml_type t, const uint8_t *W, size_t rs, int i, const uint8_t *X, size_t xs,
		       __m256 acc[MAXR][MAXC], const int R, const int C)
{
	const size_t es = t == GGML_F32 ? 4 : 2;
	__m256 a[MAXC];
	_Pragma("GCC unroll 4")
	for (int c = 0; c < C; c++)
		a[c] = _mm256_loadu_ps((const float *)(X + c * xs) + i);
	_Pragma("GCC unroll 4")
	for (int r = 0; r < R; r++) {
		__m256 x = float8(t, W + r * rs + (size_t)i * es);
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++)
			acc[r][c] = _mm256_fmadd_ps(x, a[c], acc[r][c]);
	}
}

INLINE void float_tile(const enum ggml_type t, const uint8_t *W, size_t rs, size_t pf, int n, const uint8_t *X,
		       size_t xs, float *Y, int ldy, size_t ys, const int R, const int C)
{
	const size_t es = t == GGML_F32 ? 4 : 2;
	const int line = (int)(64 / es);  /* weights per 64-byte line */
	__m256 acc[MAXR][MAXC];
	int i = 0;

	_Pragma("GCC unroll 4")
	for (int r = 0; r < R; r++)
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++)
			acc[r][c] = _mm256_setzero_ps();
	for (; i + line <= n; i += line) {
		_Pragma("GCC unroll 4")
		for (int r = 0; r < R; r++)
			if (pf)
				_mm_prefetch((const char *)(W + r * rs + (size_t)i * es + pf), _MM_HINT_T0);
		_Pragma("GCC unroll 4")
		for (int j = 0; j < line; j += 8)
			float_step(t, W, rs, i + j, X, xs, acc, R, C);
	}
	for (; i + 8 <= n; i += 8)
		float_step(t, W, rs, i, X, xs, acc, R, C);
	_Pragma("GCC unroll 4")
	for (int r = 0; r < R; r++)
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++) {
			float tail = 0;
			for (int e = i; e < n; e++)
				tail += float1(t, W + r * rs + (size_t)e * es) * ((const float *)(X + c * xs))[e];
			Y[(size_t)c * ldy + r * ys] = hsum(acc[r][c]) + tail;
		}
}

/* The tiles of quant_tile_drive(): neighbouring rows, fetching the next
 * tile's. */
INLINE void tile_float(const enum ggml_type t, const uint8_t *W, size_t rb, int n, const uint8_t *X, size_t xs,
		       float *Y, int ldy, const int R, const int C)
{
	float_tile(t, W, rb, R * rb, n, X, xs, Y, ldy, 1, R, C);
}

/* Decode (one activation): rows r0..r1 as MAXR sub-ranges of len rows far
 * apart, a tile taking one row of each, so that the thread reads MAXR
 * streams (see kl_streams() below; adjacent rows in one stream left F16
 * decode at 41-62 % of the roofline); the rows past MAXR * len one at a
 * time.  tile is float_tile(), a16_tile() or legacy_tile(), a constant the inlining
 * resolves; a row's float operations are those of any other tile.  No
 * software prefetch (pf 0: the tiles leave it out), as in kl_streams():
 * fetching each stream 2 rows ahead, lm-step decoded in 1.07x the CPU
 * time at 1 thread for Qwen2.5-Coder 0.5B (Q5_0, Q8_0), 1.08x for
 * SmolLM2 F16 (1.11x at 2 threads), SmolLM2 Q4_1 and Q8_0 the same
 * (AVX2=1, Zen 3, loaded machine). */

typedef void row_tile_fn(enum ggml_type t, const uint8_t *W, size_t rs, size_t pf, int n, const uint8_t *X,
			 size_t xs, float *Y, int ldy, size_t ys, int R, int C);

INLINE void row_streams(row_tile_fn *tile, const enum ggml_type t, const void *W, size_t rb, int n, const void *x,
			float *Y, int r0, int r1)
{
	const int len = (r1 - r0) / MAXR;
	const uint8_t *w = W;

	for (int r = r0; r < r0 + len; r++)
		tile(t, w + (size_t)r * rb, (size_t)len * rb, 0, n, x, 0, Y + r, 0, len, MAXR, 1);
	for (int r = r0 + MAXR * len; r < r1; r++)
		tile(t, w + (size_t)r * rb, rb, 0, n, x, 0, Y + r, 0, 1, 1, 1);
}

/* 16-bit weights: a decode as streams, batches over quant_tile_drive()'s
 * tiles (F32 weights, whose products with one activation are mostly the
 * attention's scores against the cached keys, keep the tiles). */
#define FLOAT16_KERNEL(name, type) \
	KERNEL(name##_drive, tile_float, type, MAXR, MAXC) \
	TARGET static void name##_streams(const void *W, size_t rb, int n, const void *x, float *Y, int r0, int r1) \
	{ \
		row_streams(float_tile, type, W, rb, n, x, Y, r0, r1); \
	} \
	static void name(const void *W, size_t rb, int n, const void *x, size_t xs, int nb, float *Y, int ldy, \
			 int r0, int r1) \
	{ \
		if (nb == 1) \
			name##_streams(W, rb, n, x, Y, r0, r1); \
		else \
			name##_drive(W, rb, n, x, xs, nb, Y, ldy, r0, r1); \
	}

KERNEL(mm_f32, tile_float, GGML_F32, 4, 2)
FLOAT16_KERNEL(mm_f16, GGML_F16)
FLOAT16_KERNEL(mm_bf16, GGML_BF16)
Q8_KERNEL(mm_q4_0, GGML_Q4_0)
Q8_KERNEL(mm_q4_1, GGML_Q4_1)
Q8_KERNEL(mm_q5_0, GGML_Q5_0)
Q8_KERNEL(mm_q5_1, GGML_Q5_1)
Q8_KERNEL(mm_q8_0, GGML_Q8_0)
KERNEL(mm_q4_k, tile_kquant, GGML_Q4_K, KQ_ROWS, KQ_ACTS)
KERNEL(mm_q5_k, tile_kquant, GGML_Q5_K, KQ_ROWS, KQ_ACTS)
KERNEL(mm_q6_k, tile_kquant, GGML_Q6_K, KQ_ROWS, KQ_ACTS)

/* ---- 16-bit activations (quant_matmul_a16), legacy types ----
 *
 * The activation layout of quant_a16_row() gives, per pair of 32-blocks,
 * four vectors of 16 int16: the first halves (elements 0-15) of blocks 0
 * and 1, then their second halves.  A weight block becomes two vectors of
 * int16 quants in the same order; VPMADDWD against the activation halves
 * gives 8 exact int32 sums per block (at most 4 products of 32767 by
 * 4096 per lane), VPHADDD folds the two blocks of the pair into one vector
 * (lanes 0, 1, 4, 5 block 0; 2, 3, 6, 7 block 1) that is scaled by
 * d_w * d_a of each block into the float accumulator.  Offsets and mins
 * act per block as m_w * s_a (s_a = d_a * sum of the activation quants):
 * Q4_1/Q5_1 m, Q4_0 -8 d and Q5_0 -16 d (the quants go in unsigned);
 * they are summed in a vector of four floats per output (lanes 1 and
 * 3).  The K-quants have their own layout, below. */

/* A weight block pair in the activation order (q[0], q[1]: elements 0-15
 * of blocks 0 and 1; q[2], q[3]: elements 16-31), dm = d0 m0 d1 m1. */
struct a16w {
	__m256i q[4];
	__m128 dm;
};

/* 16 in int16 lane e of *lo where bit e of the Q5 high-bit word at qh is
 * set, and in lane e of *hi where bit 16 + e is: one broadcast load, then
 * per vector a byte shuffle (lane e's low byte: byte e / 8 of the word),
 * a mask (bit e % 8) and VPSIGNW, which turns the masked bit (0 or a
 * small positive word) into 0 or 16.  Was (per 16 lanes) the word moved
 * from a general register and broadcast, a mask, a compare and an AND:
 * 2 more vector operations a vector, and the moves.  fifth_bits() is the
 * byte form (the 8-bit products'); widening its bytes to these lanes
 * (two VPMOVZXBW, one across the halves) took Q5_0/Q5_1 decode rows
 * 1.21-1.27x the time of this (kernels-bench a16, Zen 3). */
INLINE void fifth16(const uint8_t *qh, __m256i *lo, __m256i *hi)
{
	const __m256i x = _mm256_set1_epi32((int)load32(qh));
	const __m256i bit = _mm256_setr_epi16(1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128);
	const __m256i sixteen = _mm256_set1_epi16(16);
	const __m256i b01 = _mm256_setr_epi64x(0, 0, 0x0101010101010101ll, 0x0101010101010101ll);
	const __m256i b23 = _mm256_add_epi8(b01, _mm256_set1_epi8(2));
	*lo = _mm256_sign_epi16(sixteen, _mm256_and_si256(_mm256_shuffle_epi8(x, b01), bit));
	*hi = _mm256_sign_epi16(sixteen, _mm256_and_si256(_mm256_shuffle_epi8(x, b23), bit));
}

INLINE __m256i u8x16(const uint8_t *p)
{
	return _mm256_cvtepu8_epi16(_mm_loadu_si128((const void *)p));
}

/* Legacy blocks w0 and w0 + 1 (if two; else zeros, not read). */
INLINE void a16_legacy(const enum ggml_type t, const uint8_t *w0, const int two, struct a16w *w)
{
	const size_t wsz = blk_bytes(t);
	const int with_min = t == GGML_Q4_1 || t == GGML_Q5_1;
	const size_t qs = t == GGML_Q4_0 || t == GGML_Q8_0 ? 2 : t == GGML_Q4_1 ? 4 : t == GGML_Q5_0 ? 6 : 8;

	for (int b = 0; b < 2; b++) {
		const uint8_t *p = w0 + b * wsz;
		if (b == 1 && !two) {
			w->q[1] = w->q[3] = _mm256_setzero_si256();
			break;
		}
		if (t == GGML_Q8_0) {
			w->q[b] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const void *)(p + 2)));
			w->q[b + 2] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const void *)(p + 18)));
			continue;
		}
		__m256i x = u8x16(p + qs);
		w->q[b] = _mm256_and_si256(x, _mm256_set1_epi16(15));
		w->q[b + 2] = _mm256_srli_epi16(x, 4);
		if (t == GGML_Q5_0 || t == GGML_Q5_1) {
			__m256i lo, hi;
			fifth16(p + (t == GGML_Q5_0 ? 2 : 4), &lo, &hi);
			w->q[b] = _mm256_or_si256(w->q[b], lo);
			w->q[b + 2] = _mm256_or_si256(w->q[b + 2], hi);
		}
	}
	if (with_min) {
		__m128i h = _mm_unpacklo_epi32(_mm_cvtsi32_si128((int)load32(w0)),
					       _mm_cvtsi32_si128(two ? (int)load32(w0 + wsz) : 0));
		w->dm = _mm_cvtph_ps(h);
	} else {
		/* d0 d0 d1 d1 from one 32-bit word (no chain of word inserts) */
		uint32_t d01 = *(const uint16_t *)w0 | (two ? (uint32_t)*(const uint16_t *)(w0 + wsz) << 16 : 0);
		__m128i h = _mm_cvtsi32_si128((int)d01);
		__m128 d = _mm_cvtph_ps(_mm_unpacklo_epi16(h, h));
		const float off = t == GGML_Q4_0 ? -8.0f : t == GGML_Q5_0 ? -16.0f : 0.0f;
		w->dm = _mm_mul_ps(d, _mm_setr_ps(1, off, 1, off));
	}
}

/* The activations of block pair p of one row x: halves a[0..3], (d, s)
 * of both blocks. */
INLINE void a16_act(const uint8_t *x, int npair, int p, const __m256i **a, __m128 *ds)
{
	*a = (const __m256i *)(x + 128 * (size_t)p);
	*ds = _mm_loadu_ps((const float *)(x + 128 * (size_t)npair) + 4 * p);
}

INLINE void a16_accumulate(__m256 *acc, __m128 *accm, const struct a16w *w, const __m256i *a, __m128 ds,
			   const int with_min)
{
	__m256i s0 = _mm256_add_epi32(_mm256_madd_epi16(w->q[0], _mm256_loadu_si256(a)),
				      _mm256_madd_epi16(w->q[2], _mm256_loadu_si256(a + 2)));
	__m256i s1 = _mm256_add_epi32(_mm256_madd_epi16(w->q[1], _mm256_loadu_si256(a + 1)),
				      _mm256_madd_epi16(w->q[3], _mm256_loadu_si256(a + 3)));
	__m128 sc = _mm_mul_ps(w->dm, ds);  /* d_w*d_a, m_w*s_a of both blocks */
	__m256 scv = _mm256_permute_ps(_mm256_set_m128(sc, sc), 0xa0);
	*acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_hadd_epi32(s0, s1)), scv, *acc);
	if (with_min)
		*accm = _mm_add_ps(*accm, sc);
}

INLINE void a16_store(__m256 acc[MAXR][MAXC], __m128 accm[MAXR][MAXC], float *Y, int ldy, int ys, const int with_min,
		      const int R, const int C)
{
	_Pragma("GCC unroll 4")
	for (int r = 0; r < R; r++)
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++) {
			float m = 0;
			if (with_min) {
				__m128 v = _mm_add_ps(accm[r][c], _mm_movehl_ps(accm[r][c], accm[r][c]));
				m = _mm_cvtss_f32(_mm_movehdup_ps(v));  /* lanes 1 + 3 */
			}
			Y[(size_t)c * ldy + (size_t)r * ys] = hsum(acc[r][c]) + m;
		}
}

/* R rows from W (row i at W + i * rs; each fetching pf bytes ahead of its
 * own, if pf is not 0) against C activations, into Y[c * ldy + i * ys]. */
INLINE void a16_tile(const enum ggml_type t, const uint8_t *W, size_t rs, size_t pf, int n, const uint8_t *X,
		     size_t xs, float *Y, int ldy, size_t ys, const int R, const int C)
{
	const size_t wsz = blk_bytes(t);
	const int with_min = t != GGML_Q8_0, nblk = n / QK, npair = (nblk + 1) / 2;
	__m256 acc[MAXR][MAXC];
	__m128 accm[MAXR][MAXC];

	_Pragma("GCC unroll 4")
	for (int r = 0; r < R; r++)
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++) {
			acc[r][c] = _mm256_setzero_ps();
			accm[r][c] = _mm_setzero_ps();
		}
	for (int p = 0; p < npair; p++) {
		const int two = 2 * p + 1 < nblk;
		_Pragma("GCC unroll 4")
		for (int r = 0; r < R; r++) {
			const uint8_t *w0 = W + r * rs + (size_t)(2 * p) * wsz;
			struct a16w w;
			if (pf)
				_mm_prefetch((const char *)(w0 + pf), _MM_HINT_T0);
			a16_legacy(t, w0, two, &w);
			_Pragma("GCC unroll 4")
			for (int c = 0; c < C; c++) {
				const __m256i *a;
				__m128 ds;
				a16_act(X + c * xs, npair, p, &a, &ds);
				a16_accumulate(&acc[r][c], &accm[r][c], &w, a, ds, with_min);
			}
		}
	}
	a16_store(acc, accm, Y, ldy, ys, with_min, R, C);
}

/* The tiles of quant_tile_drive(): neighbouring rows, one stream fetching
 * PF_TILES tiles ahead. */
INLINE void tile_a16(const enum ggml_type t, const uint8_t *W, size_t rb, int n, const uint8_t *X, size_t xs,
		     float *Y, int ldy, const int R, const int C)
{
	a16_tile(t, W, rb, PF_TILES * R * rb, n, X, xs, Y, ldy, 1, R, C);
}

/* ---- 16-bit activations, legacy types, rows unpacked once ----
 *
 * From A16U_MIN activations (a step of several sequences) a16_tile()
 * spent its time on the float side of every block pair (a multiply, an
 * insert and a permute for the scales, VPHADDD) and on unpacking each row
 * again for every MAXC activations.  Here a row is unpacked once into L1
 * and the activations are rearranged once per call, both so that the four
 * VPMADDWD of a block pair add up vertically into the eight int32 sums
 * VPHADDD made (lane i: 8 elements of one block, see a16u_order()); the
 * scales of both blocks are ready as vectors (d_w per lane in the row's,
 * d_a per lane in the activation's) whose one product is the lane's
 * d_w * d_a, and the mins' m_w * s_a are summed per block in a pass of
 * their own, 4 activations to a vector.  So every output is the same
 * float operations in the same order as a16_tile()'s (test-batch).
 *
 * What bounds it on Zen 3 (measured at 16 activations, 2026-12-07): per
 * block pair and activation 4 VPMADDWD, 3 VPADDD, the scales' VMULPS, a
 * conversion and an FMA; VPMADDWD issues 2 a cycle (as VADDPS), and the
 * loop alone, its data in L1, takes about 1.5 ns (some 4.5 cycles) a pair
 * and activation: 85 GFLOP/s, the whole product 65-85.  Tried, not kept:
 * - int16 activations as a signed high and an unsigned low byte against
 *   the weights' bytes with VPMADDUBSW: each product takes two byte
 *   products, so 32 byte products an instruction are 16 multiply-adds,
 *   VPMADDWD's rate, and the halves still need a VPMADDWD each to widen;
 * - the d_w * d_a of both blocks multiplied four pairs to a vector ahead
 *   of the loop and taken as one 64-bit broadcast a pair (the lanes
 *   reordered to alternate the blocks, put back before the sum): exact,
 *   and 8-12 % slower, whether made per slice or per row and group;
 * - 6 activations a tile (fewer spills), or panels of 4 rows: no better
 *   than 8 and 8 (within the noise, some shapes 3-5 % slower). */
#ifndef A16U_MIN
#define A16U_MIN 4
#endif
#ifndef A16U_ROWS
#define A16U_ROWS 8                      /* rows unpacked together */
#endif
/* Activations per tile: a block pair of the row is loaded once for all
 * of them, so a pair costs 5 + 5 C vector loads for 4 C VPMADDWD (Zen 3
 * loads about two a cycle); 8 rather than 4 took Q5_0 896-element rows
 * 1.07x and Q4_1 rows of 1536 1.06x at 16 activations, others even. */
#ifndef A16U_ACTS
#define A16U_ACTS 8
#endif
#ifndef A16U_L1
#define A16U_L1 (20 * 1024)              /* bytes of a slice of the rows and activations */
#endif
#define A16U_PAIR (5 * sizeof(__m256i))  /* bytes per block pair: 4 quant vectors and the scales */
_Static_assert(A16U_ACTS <= 8, "a16u_matmul() has tiles of 1 to 8 activations");
/* floats of s_a per pair and group: a vector of 8 per 4 activations */
#define A16U_SQ ((A16U_ACTS + 3) / 4 * 8)
#ifndef A16U_PF
#define A16U_PF 4                        /* rows fetched ahead */
#endif

/* Four vectors of a block pair in a16w's order (elements 0-15 of blocks
 * 0 and 1, then 16-31) rearranged in place: in each 128-bit half, the
 * even elements of blocks 0 and 1, their odd ones, the same of elements
 * 16-31.  Lane i (i = 0..7) then holds elements e, e + 2 (or e + 1, e + 3)
 * and 16 + those of block (i / 2) % 2, e = 4 (i % 2) + 8 (i / 4): with
 * VPMADDWD the same 8 products as lane i of a16_accumulate()'s VPHADDD. */
INLINE void a16u_order(__m256i q[4])
{
	const __m256i eo = _mm256_broadcastsi128_si256(
		_mm_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15));
	__m256i v[4];
	for (int k = 0; k < 4; k++)
		v[k] = _mm256_shuffle_epi8(q[k], eo);
	q[0] = _mm256_unpacklo_epi64(v[0], v[1]);
	q[1] = _mm256_unpackhi_epi64(v[0], v[1]);
	q[2] = _mm256_unpacklo_epi64(v[2], v[3]);
	q[3] = _mm256_unpackhi_epi64(v[2], v[3]);
}

/* (x0, x1, x2, x3) as (x0, x0, x2, x2) in both halves: each lane the scale
 * of its block, as a16_accumulate() permutes its products. */
INLINE __m256 a16u_lanes(__m128 x)
{
	return _mm256_permute_ps(_mm256_set_m128(x, x), 0xa0);
}

/* Row w (npair block pairs of type t) into P: per pair the four quant
 * vectors in a16u_order() and d_w per lane; m_w of both blocks into
 * M[2p], M[2p + 1] (with_min). */
INLINE void a16u_row(const enum ggml_type t, const uint8_t *w, int nblk, __m256i *P, float *M)
{
	const size_t wsz = blk_bytes(t);
	for (int p = 0; p < (nblk + 1) / 2; p++, P += 5) {
		struct a16w q;
		a16_legacy(t, w + (size_t)(2 * p) * wsz, 2 * p + 1 < nblk, &q);
		a16u_order(q.q);
		for (int k = 0; k < 4; k++)
			_mm256_store_si256(P + k, q.q[k]);
		_mm256_store_ps((float *)(P + 4), a16u_lanes(q.dm));
		_mm_storel_pi((__m64 *)(M + 2 * p), _mm_shuffle_ps(q.dm, q.dm, 0xdd));
	}
}

/* Activation row x of quant_a16_row() (npair pairs) into A in the same
 * order, d_a per lane after each pair's quants; s_a of both blocks into
 * S[A16U_SQ p + 2 c], S[A16U_SQ p + 2 c + 1] (c: its place in its group
 * of A16U_ACTS, whose mins are summed in vectors of four activations). */
INLINE void a16u_act(const uint8_t *x, int npair, __m256i *A, float *S, int c)
{
	for (int p = 0; p < npair; p++, A += 5) {
		const __m256i *a;
		__m128 ds;
		__m256i q[4];
		a16_act(x, npair, p, &a, &ds);
		for (int k = 0; k < 4; k++)
			q[k] = _mm256_loadu_si256(a + k);
		a16u_order(q);
		for (int k = 0; k < 4; k++)
			_mm256_store_si256(A + k, q[k]);
		_mm256_store_ps((float *)(A + 4), a16u_lanes(ds));
		_mm_storel_pi((__m64 *)(S + A16U_SQ * p + 2 * c), _mm_shuffle_ps(ds, ds, 0xdd));
	}
}

/* Pairs [p0, p1) of the unpacked row P against C activations (A,
 * ld vectors apart), continuing the sums acc[c], or starting them at
 * zero when p0 is 0 (the order of a row's float operations does not
 * depend on where the pairs are cut).  The row's pair stays in registers
 * for the C activations, whose quants are memory operands from L1.  (The
 * zeros are made here: zeroing acc[][] in the caller became a REP STOS per
 * row, 15 % of a 16-activation product on Zen 3.)  On Zen 3 VPMADDWD and
 * the float multiply and multiply-add share two pipes (8 independent
 * chains: VPMADDWD alone 0.51-0.56 cycles an instruction, FMA alone
 * 0.56-0.63, the two mixed 1:1 0.60-0.70), and a pair and activation
 * takes six of them: at best 3 cycles per 64 products, which this loop
 * reaches in L1 (2.8-3.2 cycles). */
INLINE void a16u_tile(const __m256i *P, const __m256i *A, size_t ld, int p0, int p1, __m256 *acc, const int C)
{
	__m256 s4[A16U_ACTS];
	_Pragma("GCC unroll 8")
	for (int c = 0; c < C; c++)
		s4[c] = p0 ? acc[c] : _mm256_setzero_ps();
	P += 5 * (size_t)p0, A += 5 * (size_t)p0;
	for (int p = p0; p < p1; p++, P += 5, A += 5) {
		const __m256i w0 = _mm256_load_si256(P), w1 = _mm256_load_si256(P + 1);
		const __m256i w2 = _mm256_load_si256(P + 2), w3 = _mm256_load_si256(P + 3);
		const __m256 dw = _mm256_load_ps((const float *)(P + 4));
		_Pragma("GCC unroll 8")
		for (int c = 0; c < C; c++) {
			const __m256i *a = A + c * ld;
			__m256i s = _mm256_add_epi32(_mm256_add_epi32(_mm256_madd_epi16(w0, _mm256_load_si256(a)),
								      _mm256_madd_epi16(w1, _mm256_load_si256(a + 1))),
						     _mm256_add_epi32(_mm256_madd_epi16(w2, _mm256_load_si256(a + 2)),
								      _mm256_madd_epi16(w3, _mm256_load_si256(a + 3))));
			__m256 sc = _mm256_mul_ps(dw, _mm256_load_ps((const float *)(a + 4)));
			s4[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), sc, s4[c]);
		}
	}
	_Pragma("GCC unroll 8")
	for (int c = 0; c < C; c++)
		acc[c] = s4[c];
}

/* Rows in panels of up to A16U_ROWS, unpacked once; against each group of
 * A16U_ACTS activations the panel's rows take the pairs in slices that
 * keep the slice of the group and of the panel in L1 (A16U_L1 bytes). */
INLINE void a16u_matmul(const enum ggml_type t, const void *W, size_t rb, int n, const void *xq, size_t xs, int nb,
			float *Y, int ldy, int r0, int r1)
{
	const int with_min = t != GGML_Q8_0, nblk = n / QK, npair = (nblk + 1) / 2;
	const int ng = (nb + A16U_ACTS - 1) / A16U_ACTS;
	const size_t ld = (size_t)5 * npair, ab = A16U_PAIR * (size_t)npair, sb = (size_t)ng * npair * A16U_SQ * sizeof(float);
	const size_t mb = ((size_t)A16U_ROWS * npair * 2 * sizeof(float) + 31) & ~(size_t)31;
	int ks = (int)(A16U_L1 / ((A16U_ROWS + A16U_ACTS) * A16U_PAIR));
	/* the activations, the rows after them, the activations' s_a, the rows' m_w */
	__m256i *A = xalloc32(ab * (size_t)(nb + A16U_ROWS) + sb + mb);
	__m256i *P = A + (size_t)nb * ld;
	float *S = (float *)(P + (size_t)A16U_ROWS * ld), *M = S + sb / sizeof(float);
	__m256 acc[A16U_ROWS][A16U_ACTS];

	if (ks < 1)
		ks = 1;
	memset(S, 0, sb);  /* (the lanes of a last group's missing activations) */
	for (int b = 0; b < nb; b++)
		a16u_act((const uint8_t *)xq + (size_t)b * xs, npair, A + (size_t)b * ld,
			 S + (size_t)(b / A16U_ACTS) * npair * A16U_SQ, b % A16U_ACTS);
	for (int r = r0; r < r1; r += A16U_ROWS) {
		const int R = r1 - r < A16U_ROWS ? r1 - r : A16U_ROWS;
		for (int i = 0; i < R; i++) {
			const uint8_t *w = (const uint8_t *)W + (size_t)(r + i) * rb;
			for (size_t o = 0; o < rb; o += 64)  /* the row A16U_PF rows ahead */
				_mm_prefetch((const char *)(w + A16U_PF * rb + o), _MM_HINT_T0);
			a16u_row(t, w, nblk, P + (size_t)i * ld, M + (size_t)i * 2 * npair);
		}
		for (int b0 = 0; b0 < nb; b0 += A16U_ACTS) {
			const int C = nb - b0 < A16U_ACTS ? nb - b0 : A16U_ACTS;
			const __m256i *Ab = A + (size_t)b0 * ld;
			for (int p0 = 0; p0 < npair; p0 += ks) {
				const int p1 = npair - p0 < ks ? npair : p0 + ks;
				for (int i = 0; i < R; i++)
					switch (C) {
#define A16U_C(k) case k: if (k <= A16U_ACTS) a16u_tile(P + (size_t)i * ld, Ab, ld, p0, p1, acc[i], k); break;
					A16U_C(1) A16U_C(2) A16U_C(3) A16U_C(4) A16U_C(5) A16U_C(6) A16U_C(7) A16U_C(8)
#undef A16U_C
					}
			}
			/* the mins: lanes 2 c and 2 c + 1 summed over the pairs as
			 * a16_accumulate() sums lanes 1 and 3 of accm, then added */
			const float *Sg = S + (size_t)(b0 / A16U_ACTS) * npair * A16U_SQ;
			for (int i = 0; i < R; i++) {
				__m256 sm[A16U_SQ / 8];
				const float *Mi = M + (size_t)i * 2 * npair;
				for (int q = 0; q < A16U_SQ / 8; q++)
					sm[q] = _mm256_setzero_ps();
				if (with_min)
					for (int p = 0; p < npair; p++) {
						__m256 mv = _mm256_castpd_ps(_mm256_broadcast_sd((const double *)(Mi + 2 * p)));
						for (int q = 0; q < A16U_SQ / 8; q++)
							sm[q] = _mm256_add_ps(sm[q], _mm256_mul_ps(mv, _mm256_load_ps(Sg + A16U_SQ * p + 8 * q)));
					}
				for (int c = 0; c < C; c++)
					Y[(size_t)(b0 + c) * ldy + r + i] = hsum(acc[i][c]) +
						(with_min ? sm[c / 4][2 * (c % 4)] + sm[c / 4][2 * (c % 4) + 1] : 0);
			}
		}
	}
	free(A);
}

#define A16_KERNEL(name, type) LEGACY_KERNEL(name, type, tile_a16, a16_tile, a16u_matmul, A16U_MIN)

/* ---- 16-bit activations, K-quants in lanes (Q4_K, Q5_K, Q6_K) ----
 *
 * A super-block goes across the 8 dword lanes in the order its bytes are
 * stored, so no weight byte moves between lanes but for one 4 x 4 dword
 * transpose: Q4_K/Q5_K qs (Q6_K ql) is four chunks of 32 bytes, byte l of
 * chunk k holding element l of two 32-blocks in its nibbles (Q4_K/Q5_K:
 * sub-blocks 2k and 2k + 1; Q6_K: blocks 4 (k / 2) + k % 2 and that + 2).
 * The transpose within 128-bit halves makes u[r] (r = 0..3): lane l < 4
 * dword r of chunk l (elements 4r..4r + 3), lane l + 4 its dword r + 4
 * (elements 16 + 4r..).  Word masks and shifts split u[r] into int16
 * vectors without shuffles: per nibble, the even elements (4r, 4r + 2 of
 * a lane) and the odd ones.  So lane l sums elements 0-15 of its chunk's
 * low-nibble block lo[l] (lane l + 4 elements 16-31) in one int32 vector
 * and of its high-nibble block hi[l] in another: at most 16 products of
 * 32767 by 32 in magnitude a lane, exact.  Q6_K's 16-element sub-blocks
 * then each have lanes of their own.  Q4_K/Q5_K's high nibbles stay 16
 * times their value (masked in place: one shift per dword pair instead
 * of three, the shifts' two pipes being what a decode waits for on Zen
 * 3), and the activations' d_a of hi[] is stored divided by 16: the sum
 * (below 2^28) converts to 16 times the float it was, times a scale 16
 * times smaller, the same product, rounded alike (powers of two are exact
 * but for subnormal floats, which every batch size shares anyway).
 *
 * The activations are rearranged once per call to match (KL_SB_BYTES a
 * super-block): the 16 vectors 4r + 2 nib + odd, lane L the two quants of
 * its elements; then d_a of each lane's low-nibble block and of its
 * high-nibble one, and s_a of lo[0..3], hi[0..3] (for the mins; Q6_K,
 * which has none, instead the int32 sums of each lane's activations times
 * -32, per nibble: a decode's sums start there rather than taking 32 off
 * every quant, and integer sums are exact in any order).  The
 * scales are applied once per super-block in float, per row and
 * activation: two multiply-adds (each lane its scale d * sc, Q6_K
 * d * the scale of its 16 elements) and one for the mins (-dmin * m).
 * Each row's result is the same float operations in the same order
 * whatever the number of activations in the call (test-batch).
 *
 * A call rearranges its activations in groups that stay in L2 (KL_L2
 * bytes) and runs every row against each group, KL_ACTS activations at a
 * time, so a row's weights are unpacked once per KL_ACTS activations and
 * stay in L1 for the next ones.  Fewer activations than that go against
 * KL_ROWS / C rows at a time: an activation vector read once serves
 * several rows (one row at a time, long rows decoded 10-20 % slower: the
 * rearranged activation no longer stayed in L1); a decode's KL_ROWS rows
 * are far apart (kl_streams()).
 *
 * From KL_PAN_MIN activations the rows are unpacked once (kl_panels(),
 * below), and the family uses these products at every batch size
 * (a16_always).  On the AVX-512 host where they were first measured the
 * float panels were about as fast at prefill's batches (a
 * Qwen2.5-Coder-1.5B 512-token prefill took the same CPU time either way,
 * 15.3-16.0 s); on an AVX2-only AMD EPYC (Zen 3) the integer panels ran
 * 1.1-1.3x the float ones at 512 activations (the 1.5B's shapes,
 * activation quantization included) and that prefill took 14-22 % less
 * CPU time at one thread, 5-14 % at two (the AVX2=1 build, loaded
 * machine). */
#define KL_SB_BYTES (16 * 32 + 4 * 32)
#define KL_ACTS 4
#define KL_ROWS 4
#define KL_L2 (192 * 1024)
#ifndef KL_PF
#define KL_PF 16  /* rows fetched ahead, one stream */
#endif

/* lo[l], hi[l]: the blocks of the low and high nibbles of chunk l
 * ([0]: Q4_K/Q5_K, [1]: Q6_K). */
static const uint8_t kl_lo[2][4] = {{0, 2, 4, 6}, {0, 1, 4, 5}}, kl_hi[2][4] = {{1, 3, 5, 7}, {2, 3, 6, 7}};

INLINE void transpose8(__m256 r[8]);

/* One activation row of quant_a16_row() (nsb super-blocks) into the
 * layout above at dst.  A super-block's 256 quants are 16 rows of 16 words
 * (row 4 (b / 2) + 2 h + b % 2: elements 16 h .. 16 h + 15 of block b);
 * vector 4 r + 2 nib + odd takes to lane l + 4 h elements 4 r + odd and
 * 4 r + odd + 2 of row (block (nib ? hi : lo)[l], half h).  So each row's
 * even and odd words are paired into dwords (VPSHUFB), and one 8 x 8
 * dword transpose per nibble gives its 8 vectors. */
TARGET static void kl_acts(int q6, const uint8_t *x, int nsb, uint8_t *dst)
{
	/* column c of the transpose: the vector 4 r + odd of a nibble */
	static const int vec[8] = {0, 4, 1, 5, 8, 12, 9, 13};
	const __m256i pair = _mm256_broadcastsi128_si256(_mm_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15));
	const int16_t *q = (const void *)x;
	const float *ds = (const float *)(x + (size_t)nsb * 512);

	for (int s = 0; s < nsb; s++, q += 256, ds += 16, dst += KL_SB_BYTES) {
		__m256i *o = (__m256i *)dst;
		float *f = (float *)(dst + 512);
		for (int nib = 0; nib < 2; nib++) {
			__m256 v[8];
			for (int L = 0; L < 8; L++) {
				const int b = (nib ? kl_hi : kl_lo)[q6][L % 4], row = 4 * (b / 2) + 2 * (L / 4) + b % 2;
				v[L] = _mm256_castsi256_ps(_mm256_shuffle_epi8(_mm256_loadu_si256((const void *)(q + 16 * row)), pair));
			}
			transpose8(v);
			__m256i m32 = _mm256_setzero_si256();
			for (int c = 0; c < 8; c++) {
				_mm256_storeu_si256(o + vec[c] + 2 * nib, _mm256_castps_si256(v[c]));
				if (q6)
					m32 = _mm256_add_epi32(m32, _mm256_madd_epi16(_mm256_castps_si256(v[c]), _mm256_set1_epi16(-32)));
			}
			if (q6)
				_mm256_storeu_si256(o + 18 + nib, m32);
		}
		for (int L = 0; L < 8; L++) {
			f[L] = ds[2 * kl_lo[q6][L % 4]];
			f[8 + L] = ds[2 * kl_hi[q6][L % 4]] * (q6 ? 1 : 0.0625f);  /* high nibbles 16 times */
			if (!q6)
				f[16 + L] = ds[2 * (L < 4 ? kl_lo[q6][L] : kl_hi[q6][L - 4]) + 1];
		}
	}
}

struct kl_weights {
	__m256i u[4];        /* qs (Q6_K ql) transposed */
	__m256i h[4];        /* Q5_K: the qh dwords of u[r]'s elements; Q6_K: qh transposed as ql */
	__m256 dlo, dhi, m;  /* each lane's scale for the low and high nibbles; dmin * m of lo[], hi[] (subtracted) */
};

/* Dword r of c[0..3] in lanes 0-3 of u[r], dword r + 4 in lanes 4-7. */
INLINE void kl_transpose(const __m256i c[4], __m256i u[4])
{
	__m256i t0 = _mm256_unpacklo_epi32(c[0], c[1]), t1 = _mm256_unpackhi_epi32(c[0], c[1]);
	__m256i t2 = _mm256_unpacklo_epi32(c[2], c[3]), t3 = _mm256_unpackhi_epi32(c[2], c[3]);
	u[0] = _mm256_unpacklo_epi64(t0, t2);
	u[1] = _mm256_unpackhi_epi64(t0, t2);
	u[2] = _mm256_unpacklo_epi64(t1, t3);
	u[3] = _mm256_unpackhi_epi64(t1, t3);
}

/* Bytes sel[0..7] of x as 8 floats times d (signed: as int8). */
INLINE __m256 kl_scale8(__m128i x, __m128i sel, float d, const int sign)
{
	__m128i v = _mm_shuffle_epi8(x, sel);
	__m256i w = sign ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v);
	return _mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(w));
}

/* Q4_K/Q5_K: d, dmin and the 12 bytes of 6-bit scales and mins (the first
 * 16 bytes of the super-block) as dlo, dhi and dmin * m, in vector
 * registers throughout (kq_scales_mins() goes through general registers,
 * about twice the instructions).  The dwords w0, w1, w2 of the 12 bytes
 * give sc[0..3] = w0 & 63, m[0..3] = w1 & 63 and sc[4..7], m[4..7] the low
 * and high nibbles of w2, each with bits 4-5 from the top bits of w0 (sc)
 * or w1 (m); then one byte shuffle puts lo[] and hi[] in lane order. */
INLINE void kl_scales_mins(const uint8_t *b, struct kl_weights *kw)
{
	const __m128i x = _mm_loadu_si128((const void *)b);  /* dwords: d and dmin, w0, w1, w2 */
	const __m128i lo = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi32(x, _MM_SHUFFLE(3, 2, 3, 1)), _mm_setr_epi32(0, 0, 0, 4)),
					 _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
	const __m128i hi = _mm_and_si128(_mm_srli_epi32(_mm_shuffle_epi32(x, _MM_SHUFFLE(2, 2, 1, 1)), 2),
					 _mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
	/* sc[lo[]], sc[hi[]], m[lo[]], m[hi[]] */
	const __m128i v = _mm_shuffle_epi8(_mm_or_si128(lo, hi), _mm_setr_epi8(0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15));
	const __m128 dd = _mm_cvtph_ps(x);  /* d, dmin */
	const __m256 sc = _mm256_mul_ps(_mm256_broadcastss_ps(dd), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v)));
	kw->dlo = _mm256_permute2f128_ps(sc, sc, 0x00);
	kw->dhi = _mm256_permute2f128_ps(sc, sc, 0x11);
	kw->m = _mm256_mul_ps(_mm256_broadcastss_ps(_mm_movehdup_ps(dd)),  /* dmin */
			      _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_unpackhi_epi64(v, v))));
}

INLINE void kl_load(const enum ggml_type t, const uint8_t *b, struct kl_weights *kw)
{
	const uint8_t *q = b + (t == GGML_Q4_K ? 16 : t == GGML_Q5_K ? 48 : 0);
	__m256i c[4];

	for (int k = 0; k < 4; k++)
		c[k] = _mm256_loadu_si256((const void *)(q + 32 * k));
	kl_transpose(c, kw->u);
	if (t == GGML_Q6_K) {  /* ql chunk l has its top bits in qh chunk l / 2; scale of 16 elements j: sc[j] */
		const float d = _cvtsh_ss(*(const uint16_t *)(b + 208));
		/* kl_transpose() of qh0, qh0, qh1, qh1 in 6 operations, not 8 */
		const __m256i qh0 = _mm256_loadu_si256((const void *)(b + 128));
		const __m256i qh1 = _mm256_loadu_si256((const void *)(b + 160));
		const __m256i s0 = _mm256_unpacklo_epi32(qh0, qh1), s1 = _mm256_unpackhi_epi32(qh0, qh1);
		kw->h[0] = _mm256_shuffle_epi32(s0, _MM_SHUFFLE(1, 1, 0, 0));
		kw->h[1] = _mm256_shuffle_epi32(s0, _MM_SHUFFLE(3, 3, 2, 2));
		kw->h[2] = _mm256_shuffle_epi32(s1, _MM_SHUFFLE(1, 1, 0, 0));
		kw->h[3] = _mm256_shuffle_epi32(s1, _MM_SHUFFLE(3, 3, 2, 2));
		const __m128i sc = _mm_loadu_si128((const void *)(b + 192));
		kw->dlo = kl_scale8(sc, _mm_setr_epi8(0, 2, 8, 10, 1, 3, 9, 11, 0, 0, 0, 0, 0, 0, 0, 0), d, 1);
		kw->dhi = kl_scale8(sc, _mm_setr_epi8(4, 6, 12, 14, 5, 7, 13, 15, 0, 0, 0, 0, 0, 0, 0, 0), d, 1);
		return;
	}
	if (t == GGML_Q5_K) {  /* qh dword r in lanes 0-3, r + 4 in lanes 4-7 */
		__m256i qh = _mm256_loadu_si256((const void *)(b + 16));
		for (int r = 0; r < 4; r++)
			kw->h[r] = _mm256_permutevar8x32_epi32(qh, _mm256_setr_epi32(r, r, r, r, r + 4, r + 4, r + 4, r + 4));
	}
	kl_scales_mins(b, kw);
}

/* The even (e) and odd (o) elements of dwords r, r + 4 of the low (nib 0)
 * or high nibbles as int16 (Q4_K/Q5_K's high nibbles times 16, see
 * above).  Q6_K's are stored + 32; off takes the 32 off here, else the
 * caller starts its sums at -32 times the activations' (the partial sums
 * then reach 16 * 63 * 32767 a lane: int32 holds them). */
INLINE void kl_steps(const enum ggml_type t, const struct kl_weights *kw, int r, int nib, __m256i *e, __m256i *o,
		     const int off)
{
	if (t == GGML_Q6_K) {
		const __m256i u = nib ? _mm256_srli_epi16(kw->u[r], 4) : kw->u[r];
		/* the quants as bytes: nibble | the top bits to bits 4-5 (bits
		 * 2g, 2g + 1 of qh for block g of chunk l's half, g = l % 2 +
		 * 2 nib): no bit crosses a byte */
		const __m256i h = nib ? _mm256_srlv_epi32(kw->h[r], _mm256_setr_epi32(0, 2, 0, 2, 0, 2, 0, 2))
				      : _mm256_sllv_epi32(kw->h[r], _mm256_setr_epi32(4, 2, 4, 2, 4, 2, 4, 2));
		const __m256i x = _mm256_or_si256(_mm256_and_si256(u, _mm256_set1_epi8(15)),
						  _mm256_and_si256(h, _mm256_set1_epi8(0x30)));
		*e = _mm256_and_si256(x, _mm256_set1_epi16(0xff));
		*o = _mm256_srli_epi16(x, 8);
		if (off) {
			*e = _mm256_sub_epi16(*e, _mm256_set1_epi16(32));
			*o = _mm256_sub_epi16(*o, _mm256_set1_epi16(32));
		}
		return;
	}
	/* a word's low byte holds an even element, its high byte (shifted
	 * down, the same shift for both nibbles) an odd one */
	const __m256i m = _mm256_set1_epi32(nib ? 0x00f000f0 : 0x000f000f);
	*e = _mm256_and_si256(kw->u[r], m);
	*o = _mm256_and_si256(_mm256_srli_epi16(kw->u[r], 8), m);
	if (t == GGML_Q4_K)
		return;
	/* Q5_K: bit j of qh[e] for sub-block j = 2l + nib to bit 4 (nib 1:
	 * bit 8) of the element's word; qh[e]'s bytes are the dword's */
	const __m256i sh = nib ? _mm256_setr_epi32(1, 3, 5, 7, 1, 3, 5, 7) : _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
	const __m256i top = _mm256_set1_epi32(nib ? 0x01000100 : 0x00100010);
	__m256i h = _mm256_srlv_epi32(kw->h[r], sh);
	*e = _mm256_or_si256(*e, _mm256_and_si256(_mm256_slli_epi16(h, nib ? 8 : 4), top));
	*o = _mm256_or_si256(*o, _mm256_and_si256(nib ? h : _mm256_srli_epi16(h, 4), top));
}

/* A super-block's integer sums of the low and high nibbles (sum[0],
 * sum[1]) against the rearranged activation a, added to acc in float: the
 * lanes' scales, then the mins.  The tiles (kl_tile()) and a decode's
 * super-blocks (kl_dsb()) end here, and the panels (kl_ptile()) take the
 * same operations in the same order from their packed scales, so a row's
 * floats do not depend on the number of activations. */
INLINE __m256 kl_fold(const enum ggml_type t, const struct kl_weights *kw, const __m256i sum[2], const uint8_t *a,
		      __m256 acc)
{
	const float *f = (const float *)(a + 512);

	acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[0]), _mm256_mul_ps(kw->dlo, _mm256_loadu_ps(f)), acc);
	acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[1]), _mm256_mul_ps(kw->dhi, _mm256_loadu_ps(f + 8)), acc);
	if (t != GGML_Q6_K)
		acc = _mm256_fnmadd_ps(kw->m, _mm256_loadu_ps(f + 16), acc);
	return acc;
}

/* R rows from w (nsb super-blocks, row i at w + i * rs) against C
 * activations rearranged at T (ts bytes apart), into Y[c * ldy + i * ys];
 * each row fetches pf bytes ahead of its own.  A super-block goes one row
 * at a time (its unpacked weights and sums in registers; the activations
 * come again from L1 for each row): the rows side by side (16 unpacked
 * vectors and 8 sums at R = 4) spilled to the stack. */
INLINE void kl_tile(const enum ggml_type t, const uint8_t *w, size_t rs, size_t pf, int nsb, const uint8_t *T,
		    size_t ts, float *Y, int ldy, int ys, const int R, const int C)
{
	const size_t bs = blk_bytes(t);
	__m256 acc[KL_ROWS][KL_ACTS];

	_Pragma("GCC unroll 4")
	for (int i = 0; i < R; i++)
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++)
			acc[i][c] = _mm256_setzero_ps();
	for (int s = 0; s < nsb; s++) {
		_Pragma("GCC unroll 4")
		for (int i = 0; i < R; i++) {
			const uint8_t *b = w + i * rs + (size_t)s * bs;
			struct kl_weights kw;
			__m256i sum[KL_ACTS][2];
			for (size_t o = 0; o < bs; o += 64)
				_mm_prefetch((const char *)(b + pf + o), _MM_HINT_T0);
			kl_load(t, b, &kw);
			_Pragma("GCC unroll 4")
			for (int c = 0; c < C; c++) {
				const uint8_t *f = T + c * ts + (size_t)s * KL_SB_BYTES + 512;
				sum[c][0] = t == GGML_Q6_K ? _mm256_loadu_si256((const void *)(f + 64)) : _mm256_setzero_si256();
				sum[c][1] = t == GGML_Q6_K ? _mm256_loadu_si256((const void *)(f + 96)) : _mm256_setzero_si256();
			}
			_Pragma("GCC unroll 4")
			for (int r = 0; r < 4; r++)
				_Pragma("GCC unroll 2")
				for (int nib = 0; nib < 2; nib++) {
					__m256i e, o;
					kl_steps(t, &kw, r, nib, &e, &o, 0);
					_Pragma("GCC unroll 4")
					for (int c = 0; c < C; c++) {
						const __m256i *a = (const __m256i *)(T + c * ts + (size_t)s * KL_SB_BYTES) + 4 * r + 2 * nib;
						sum[c][nib] = _mm256_add_epi32(sum[c][nib], _mm256_add_epi32(
							_mm256_madd_epi16(e, _mm256_loadu_si256(a)), _mm256_madd_epi16(o, _mm256_loadu_si256(a + 1))));
					}
				}
			_Pragma("GCC unroll 4")
			for (int c = 0; c < C; c++)
				acc[i][c] = kl_fold(t, &kw, sum[c], T + c * ts + (size_t)s * KL_SB_BYTES, acc[i][c]);
		}
	}
	_Pragma("GCC unroll 4")
	for (int i = 0; i < R; i++)
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++)
			Y[(size_t)c * ldy + (size_t)i * ys] = hsum(acc[i][c]);
}

/* A decode's super-block: row super-block b against one activation's
 * rearranged super-block a, added to acc: kl_tile()'s operations for
 * C = 1, in its order.  Tried for Q4_K, not kept: each activation as a
 * signed high and an unsigned low byte (a = 256 ah + al), the nibbles as
 * bytes against both with VPMADDUBSW, the four r's summed in int16 (at
 * most 15360 and 30600), then one VPMADDWD each by 256 and 1 (high
 * nibbles 4096 and 16): the same int32 sums, so the same floats.  Fewer
 * vector operations on paper, but compiled to 100-106 instructions a
 * super-block against 94 (the low bytes, VPMADDUBSW's unsigned operand,
 * take a register each; spills), llvm-mca (znver3) 25.5-28.6 cycles
 * against 27.8, and 1.04-1.20x the time on the Zen 3 host (kernels-bench
 * a16 1 avx2, Q4_K 8960 x 1536 and 1536 x 1536, best of 3 alternating
 * runs; three arrangements of the loop). */
INLINE __m256 kl_dsb(const enum ggml_type t, const uint8_t *b, const uint8_t *a, __m256 acc)
{
	const float *f = (const float *)(a + 512);
	struct kl_weights kw;
	__m256i sum[2];

	kl_load(t, b, &kw);
	sum[0] = t == GGML_Q6_K ? _mm256_loadu_si256((const void *)(f + 16)) : _mm256_setzero_si256();
	sum[1] = t == GGML_Q6_K ? _mm256_loadu_si256((const void *)(f + 24)) : _mm256_setzero_si256();
	_Pragma("GCC unroll 4")
	for (int r = 0; r < 4; r++)
		_Pragma("GCC unroll 2")
		for (int nib = 0; nib < 2; nib++) {
			const __m256i *av = (const __m256i *)a + 4 * r + 2 * nib;
			__m256i e, o;
			kl_steps(t, &kw, r, nib, &e, &o, 0);
			sum[nib] = _mm256_add_epi32(sum[nib], _mm256_add_epi32(_mm256_madd_epi16(e, _mm256_loadu_si256(av)),
									     _mm256_madd_epi16(o, _mm256_loadu_si256(av + 1))));
			__asm__("" : "+x"(sum[nib]));  /* a chain in one register (as kl_ptile()) */
		}
	return kl_fold(t, &kw, sum, a, acc);
}

/* Decode rows w + i * rs (i < R, R at most KL_ROWS), nsb super-blocks
 * each, against the rearranged activation T, into Y[i * ys]: a super-block
 * of each row in turn, no software prefetch (see kl_streams()). */
INLINE void kl_dtile(const enum ggml_type t, const uint8_t *w, size_t rs, int nsb, const uint8_t *T, float *Y,
		     size_t ys, const int R)
{
	const size_t bs = blk_bytes(t);
	__m256 acc[KL_ROWS];

	_Pragma("GCC unroll 4")
	for (int i = 0; i < R; i++)
		acc[i] = _mm256_setzero_ps();
	for (int s = 0; s < nsb; s++, w += bs, T += KL_SB_BYTES)
		_Pragma("GCC unroll 4")
		for (int i = 0; i < R; i++)
			acc[i] = kl_dsb(t, w + i * rs, T, acc[i]);
	_Pragma("GCC unroll 4")
	for (int i = 0; i < R; i++)
		Y[(size_t)i * ys] = hsum(acc[i]);
}

/* Tiles of KL_ACTS activations by one row, or of fewer activations by
 * KL_ROWS / C rows (so a decode reads each activation vector once for
 * KL_ROWS rows) */
#define KL_TILE(r, c) kl_tile(t, w, rb, KL_PF * rb, nsb, T + (size_t)c0 * ab, ab, Yr + (size_t)c0 * ldy, ldy, 1, r, c)

/* Decode (one activation): rows r0..r1 as KL_ROWS sub-ranges of len rows
 * far apart, a tile taking one row of each, so that the thread reads
 * KL_ROWS streams (one sequential stream from 4 KiB pages leaves memory
 * bandwidth unused: see kernels_avx512.c's kl_streams()), one
 * super-block of each in turn (kl_dtile()).  The rows past KL_ROWS * len
 * go one at a time.  A row's float operations are those of any other
 * tile.  No software prefetch: the hardware's follows four sequential
 * streams, and without the prefetches (3-4 per row and super-block) and
 * with each row's integer sums kept as chains of additions (the compiler
 * otherwise sums a super-block's 16 products as a tree that spills) a
 * super-block took 99 instructions for Q4_K, 130 for Q6_K, not 108 and
 * 140 (callgrind), and 0.85-0.90x the CPU time, weights from memory
 * (kernels-bench a16, 151936 x 1536; Zen 3, AVX2=1, loaded machine). */
INLINE void kl_streams(const enum ggml_type t, const void *W, size_t rb, int nsb, const uint8_t *T, float *Y,
		       int r0, int r1)
{
	const int len = (r1 - r0) / KL_ROWS;
	const uint8_t *w = (const uint8_t *)W;

	for (int r = r0; r < r0 + len; r++)
		kl_dtile(t, w + (size_t)r * rb, (size_t)len * rb, nsb, T, Y + r, len, KL_ROWS);
	for (int r = r0 + KL_ROWS * len; r < r1; r++)
		kl_dtile(t, w + (size_t)r * rb, rb, nsb, T, Y + r, 1, 1);
}

/* ---- K-quant lanes at large batches: rows unpacked once ----
 *
 * kl_tile() unpacks a row's super-blocks (kl_load(), kl_steps(): shifts,
 * masks, a transpose) again for every KL_ACTS activations, and loads each
 * activation vector for one row.  A call of KL_PAN_MIN or more
 * activations instead has a block of rows unpacked once into a heap panel
 * (kl_unpack(): per super-block the 16 int16 vectors of kl_steps(), those
 * of the low nibbles first, then dlo, dhi, m: KL_PVEC vectors, 608 bytes
 * against 144 to 210 packed) and kl_ptile() multiplies two rows at a
 * time against tiles of KL_PACTS activations, each activation vector
 * loaded once for both rows.  The integer sums are kl_tile()'s (per lane
 * and nibble 16 products of a quant of magnitude at most 32 by one of at
 * most 32768: below 2^24, exact in any order), and each row's float
 * operations are kl_tile()'s in its order: per super-block the low
 * nibbles' sum times dlo * d_a, the high nibbles' times dhi * d_a, then
 * the mins; so a row gives the same floats at any batch size.  The float
 * accumulators of a tile live in memory (st): with 8 integer sums, 2
 * weight vectors and a product in registers, 8 more would not fit, and
 * they are touched once per 8 products.  The empty asm keeps each sum a
 * chain of additions in one register: the compiler otherwise sums the 8
 * products as a tree, and the tree's 64 vectors spill. */
#define KL_PVEC 19
#define KL_PACTS 4
#define KL_PAN_MIN 8
#define KL_PCHUNK 64              /* activations rearranged at a time */
#define KL_PANEL (256 * 1024)     /* bytes of unpacked rows at a time (L2) */
#define KL_PL1 (16 * 1024)        /* bytes of a tile's activations at a time (L1) */

INLINE void kl_unpack(const enum ggml_type t, const uint8_t *b, __m256i *P)
{
	struct kl_weights kw;

	kl_load(t, b, &kw);
	_Pragma("GCC unroll 4")
	for (int r = 0; r < 4; r++)
		_Pragma("GCC unroll 2")
		for (int nib = 0; nib < 2; nib++)
			kl_steps(t, &kw, r, nib, &P[8 * nib + 2 * r], &P[8 * nib + 2 * r + 1], 1);
	P[16] = _mm256_castps_si256(kw.dlo);
	P[17] = _mm256_castps_si256(kw.dhi);
	P[18] = t == GGML_Q6_K ? _mm256_setzero_si256() : _mm256_castps_si256(kw.m);
}

/* NR rows (1 or 2; row i's super-block s at P + (i * nsb + s) * KL_PVEC)
 * against C activations rearranged at T (ts bytes apart), super-blocks
 * s0..s1; st[i * KL_PACTS + c] the float sums (zero when s0 is 0). */
INLINE void kl_ptile(const enum ggml_type t, const __m256i *P, int nsb, int s0, int s1, const uint8_t *T,
		     size_t ts, __m256 *st, const int NR, const int C)
{
	if (s0 == 0)
		_Pragma("GCC unroll 2")
		for (int i = 0; i < NR; i++)
			_Pragma("GCC unroll 4")
			for (int c = 0; c < C; c++)
				st[i * KL_PACTS + c] = _mm256_setzero_ps();
	for (int s = s0; s < s1; s++) {
		const __m256i *p0 = P + (size_t)s * KL_PVEC, *p1 = p0 + (size_t)nsb * KL_PVEC;
		_Pragma("GCC unroll 2")
		for (int nib = 0; nib < 2; nib++) {
			__m256i sum[2][KL_PACTS];
			_Pragma("GCC unroll 2")
			for (int i = 0; i < NR; i++)
				_Pragma("GCC unroll 4")
				for (int c = 0; c < C; c++)
					sum[i][c] = _mm256_setzero_si256();
			_Pragma("GCC unroll 8")
			for (int j = 0; j < 8; j++) {
				/* vector j of the nibble: r = j / 2, even or odd elements */
				const __m256i w0 = _mm256_load_si256(p0 + 8 * nib + j);
				const __m256i w1 = NR > 1 ? _mm256_load_si256(p1 + 8 * nib + j) : w0;
				_Pragma("GCC unroll 4")
				for (int c = 0; c < C; c++) {
					const __m256i a = _mm256_loadu_si256(
						(const __m256i *)(T + c * ts + (size_t)s * KL_SB_BYTES) + 4 * (j / 2) + 2 * nib + j % 2);
					sum[0][c] = _mm256_add_epi32(sum[0][c], _mm256_madd_epi16(w0, a));
					__asm__("" : "+x"(sum[0][c]));
					if (NR > 1) {
						sum[1][c] = _mm256_add_epi32(sum[1][c], _mm256_madd_epi16(w1, a));
						__asm__("" : "+x"(sum[1][c]));
					}
				}
			}
			_Pragma("GCC unroll 2")
			for (int i = 0; i < NR; i++) {
				const __m256 dw = _mm256_castsi256_ps(_mm256_load_si256((i ? p1 : p0) + 16 + nib));
				_Pragma("GCC unroll 4")
				for (int c = 0; c < C; c++) {
					const float *f = (const float *)(T + c * ts + (size_t)s * KL_SB_BYTES + 512);
					st[i * KL_PACTS + c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[i][c]),
						_mm256_mul_ps(dw, _mm256_loadu_ps(f + 8 * nib)), st[i * KL_PACTS + c]);
				}
			}
		}
		if (t != GGML_Q6_K)
			_Pragma("GCC unroll 2")
			for (int i = 0; i < NR; i++) {
				const __m256 m = _mm256_castsi256_ps(_mm256_load_si256((i ? p1 : p0) + 18));
				_Pragma("GCC unroll 4")
				for (int c = 0; c < C; c++) {
					const float *f = (const float *)(T + c * ts + (size_t)s * KL_SB_BYTES + 512);
					st[i * KL_PACTS + c] = _mm256_fnmadd_ps(m, _mm256_loadu_ps(f + 16), st[i * KL_PACTS + c]);
				}
			}
	}
}

#define KL_PTAIL(k) case k: \
	if (nr == 2) \
		kl_ptile(t, P + (size_t)(r - rr) * nsb * KL_PVEC, nsb, s0, s1, Tc, ab, st[r - rr], 2, k); \
	else \
		kl_ptile(t, P + (size_t)(r - rr) * nsb * KL_PVEC, nsb, s0, s1, Tc, ab, st[r - rr], 1, k); \
	break;

/* kl_matmul() for nb >= KL_PAN_MIN: chunks of KL_PCHUNK activations
 * rearranged; for each, blocks of rows unpacked (at most KL_PANEL bytes,
 * in L2 while the chunk's tiles pass them), and for each tile of
 * activations, ranges of super-blocks of at most KL_PL1 bytes (in L1
 * while the block's rows pass), the float sums kept in st between them. */
INLINE void kl_panels(const enum ggml_type t, const void *W, size_t rb, int n, const void *xq, size_t xs, int nb,
		      float *Y, int ldy, int r0, int r1)
{
	const int nsb = n / QK_K, q6 = t == GGML_Q6_K, chunk = nb < KL_PCHUNK ? nb : KL_PCHUNK;
	const size_t ab = (size_t)nsb * KL_SB_BYTES, prow = (size_t)nsb * KL_PVEC * sizeof(__m256i);
	int rows = (int)(KL_PANEL / prow) / 2 * 2, ks = KL_PL1 / (KL_PACTS * KL_SB_BYTES);
	__m256 st[64][KL_PACTS] __attribute__((aligned(32)));

	if (rows < 2)
		rows = 2;
	if (rows > 64)
		rows = 64;
	if (ks < 1)
		ks = 1;
	uint8_t *T = xalloc32(ab * (size_t)chunk);
	__m256i *P = xalloc32(prow * (size_t)rows);
	for (int b0 = 0; b0 < nb; b0 += chunk) {
		const int cn = nb - b0 < chunk ? nb - b0 : chunk;
		for (int c = 0; c < cn; c++)
			kl_acts(q6, (const uint8_t *)xq + (size_t)(b0 + c) * xs, nsb, T + (size_t)c * ab);
		for (int rr = r0; rr < r1; rr += rows) {
			const int re = r1 - rr < rows ? r1 : rr + rows;
			for (int r = rr; r < re; r++)
				for (int s = 0; s < nsb; s++)
					kl_unpack(t, (const uint8_t *)W + (size_t)r * rb + (size_t)s * blk_bytes(t),
						  P + ((size_t)(r - rr) * nsb + s) * KL_PVEC);
			for (int c0 = 0; c0 < cn; c0 += KL_PACTS) {
				const int C = cn - c0 < KL_PACTS ? cn - c0 : KL_PACTS;
				const uint8_t *Tc = T + (size_t)c0 * ab;
				for (int s0 = 0; s0 < nsb; s0 += ks) {
					const int s1 = nsb - s0 < ks ? nsb : s0 + ks;
					for (int r = rr, nr; r < re; r += nr) {
						nr = re - r >= 2 ? 2 : 1;
						switch (C) {
						KL_PTAIL(1) KL_PTAIL(2) KL_PTAIL(3) KL_PTAIL(4)
						}
					}
				}
				for (int r = rr; r < re; r++)
					for (int c = 0; c < C; c++)
						Y[(size_t)(b0 + c0 + c) * ldy + r] = hsum(st[r - rr][c]);
			}
		}
	}
	free(T);
	free(P);
}
#undef KL_PTAIL

INLINE void kl_matmul(const enum ggml_type t, const void *W, size_t rb, int n, const void *xq, size_t xs, int nb,
		      float *Y, int ldy, int r0, int r1)
{
	const int nsb = n / QK_K, q6 = t == GGML_Q6_K;
	const size_t ab = (size_t)nsb * KL_SB_BYTES;
	int group = ab ? (int)(KL_L2 / ab) / KL_ACTS * KL_ACTS : nb;

	if (nb >= KL_PAN_MIN) {
		kl_panels(t, W, rb, n, xq, xs, nb, Y, ldy, r0, r1);
		return;
	}
	if (group < KL_ACTS)
		group = KL_ACTS;
	if (group > nb)
		group = nb;
	/* aligned: kl_dtile() with 4 rows of 6 super-blocks in L1 took
	 * 1.02-1.16x the time with T 16 bytes off (15 paired runs, Zen 3),
	 * which malloc() gave by chance */
	uint8_t *T = xalloc32(ab * (size_t)group);
	for (int b0 = 0; b0 < nb; b0 += group) {
		const int cn = nb - b0 < group ? nb - b0 : group;
		for (int c = 0; c < cn; c++)
			kl_acts(q6, (const uint8_t *)xq + (size_t)(b0 + c) * xs, nsb, T + (size_t)c * ab);
		if (nb == 1) {
			kl_streams(t, W, rb, nsb, T, Y, r0, r1);
			break;
		}
		for (int r = r0; r < r1;) {
			const uint8_t *w = (const uint8_t *)W + (size_t)r * rb;
			float *Yr = Y + (size_t)b0 * ldy + r;
			int c0 = 0;
			if (cn < KL_ACTS && r + KL_ROWS / cn <= r1) {
				switch (cn) {
				case 1: KL_TILE(KL_ROWS, 1); break;
				case 2: KL_TILE(KL_ROWS / 2, 2); break;
				default: KL_TILE(1, 3); break;
				}
				r += KL_ROWS / cn;
				continue;
			}
			/* the row stays in L1 for the next tiles */
			for (; c0 + KL_ACTS <= cn; c0 += KL_ACTS)
				KL_TILE(1, KL_ACTS);
			switch (cn - c0) {
			case 1: KL_TILE(1, 1); break;
			case 2: KL_TILE(1, 2); break;
			case 3: KL_TILE(1, 3); break;
			}
			r++;
		}
	}
	free(T);
}

#define MM16_LANES(name, type) \
	TARGET static void name(const void *W, size_t rb, int n, const void *xq, size_t xs, int nb, float *Y, \
				int ldy, int r0, int r1) \
	{ \
		kl_matmul(type, W, rb, n, xq, xs, nb, Y, ldy, r0, r1); \
	}
MM16_LANES(mm16_q4_k, GGML_Q4_K)
MM16_LANES(mm16_q5_k, GGML_Q5_K)
MM16_LANES(mm16_q6_k, GGML_Q6_K)

/* ---- float activations (quant_matmul_float) ----
 *
 * Weights dequantized 8 at a time in registers, exactly as dequant_row()
 * computes them (d * q, + m for Q4_1/Q5_1; K-quants d * sc * q - dmin * m).
 * Small batches: tiles of rows x activations as above.  Batches of GP_MIN
 * or more: panels of GP_ROWS rows and GP_K columns converted and
 * transposed into P[k][GP_ROWS] (32 KiB, in L1), lanes over rows,
 * activations broadcast, GP_ACTS at a time in 2 * GP_ACTS registers (12
 * of the 16, no spill).  Panels of 512 columns rather than 128: 1.3-1.4x
 * at batches of 512 (the pieces of activation rows read for a panel are
 * 2 KiB long, not 512 bytes), the same at 64. */

/* The scale and offset of weights k..k+7 of a K-quant super-block b
 * (w = dsc * q - dmn). */
INLINE void kq_scale8(const enum ggml_type t, const uint8_t *b, int k, float *dsc, float *dmn)
{
	if (t == GGML_Q6_K) {
		*dsc = _cvtsh_ss(*(const uint16_t *)(b + 208)) * (float)(int8_t)b[192 + k / 16];
		*dmn = 0;
		return;
	}
	int sc, mn;
	kq_scale_min(b + 4, k / 32, &sc, &mn);
	*dsc = _cvtsh_ss(*(const uint16_t *)b) * (float)sc;
	*dmn = _cvtsh_ss(*(const uint16_t *)(b + 2)) * (float)mn;
}

INLINE __m256i u8x8(const uint8_t *p)
{
	return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const void *)p));
}

/* Weights k..k+7 (k a multiple of 8) of a row as floats. */
INLINE __m256 weights8(const enum ggml_type t, const uint8_t *row, int k)
{
	if (t == GGML_F32 || t == GGML_F16 || t == GGML_BF16)
		return float8(t, row + (size_t)k * (t == GGML_F32 ? 4 : 2));
	if (t == GGML_Q4_K || t == GGML_Q5_K || t == GGML_Q6_K) {
		const uint8_t *b = row + (size_t)(k / QK_K) * blk_bytes(t);
		const int e = k % QK_K;
		float dsc, dmn;
		__m256i q;
		kq_scale8(t, b, e, &dsc, &dmn);
		if (t == GGML_Q6_K) {  /* e = 128 h + 32 g + l */
			const int h = e / 128, g = e % 128 / 32, l = e % 32;
			__m256i lo = u8x8(b + 64 * h + l + 32 * (g & 1));
			__m256i hi = u8x8(b + 128 + 32 * h + l);
			lo = g < 2 ? _mm256_and_si256(lo, _mm256_set1_epi32(15)) : _mm256_srli_epi32(lo, 4);
			hi = _mm256_and_si256(_mm256_srli_epi32(hi, 2 * g), _mm256_set1_epi32(3));
			q = _mm256_sub_epi32(_mm256_or_si256(lo, _mm256_slli_epi32(hi, 4)), _mm256_set1_epi32(32));
		} else {  /* sub-block j = e / 32: low (j even) or high nibbles of qs[32 (j / 2) ..] */
			const int j = e / 32, l = e % 32;
			q = u8x8(b + (t == GGML_Q4_K ? 16 : 48) + 32 * (j / 2) + l);
			q = j & 1 ? _mm256_srli_epi32(q, 4) : _mm256_and_si256(q, _mm256_set1_epi32(15));
			if (t == GGML_Q5_K) {  /* bit j of qh[l] */
				__m256i h = _mm256_and_si256(_mm256_srli_epi32(u8x8(b + 16 + l), j), _mm256_set1_epi32(1));
				q = _mm256_or_si256(q, _mm256_slli_epi32(h, 4));
			}
		}
		return _mm256_fmsub_ps(_mm256_cvtepi32_ps(q), _mm256_set1_ps(dsc), _mm256_set1_ps(dmn));
	}
	const uint8_t *b = row + (size_t)(k / QK) * blk_bytes(t);
	const int part = k % QK / 8;  /* elements 8 part .. 8 part + 7 of the block */
	const size_t qs = t == GGML_Q4_0 || t == GGML_Q8_0 ? 2 : t == GGML_Q4_1 ? 4 : t == GGML_Q5_0 ? 6 : 8;
	__m256i q;
	if (t == GGML_Q8_0) {
		q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const void *)(b + qs + 8 * part)));
	} else {
		q = u8x8(b + qs + 8 * (part & 1));
		q = part >= 2 ? _mm256_srli_epi32(q, 4) : _mm256_and_si256(q, _mm256_set1_epi32(15));
		if (t == GGML_Q5_0 || t == GGML_Q5_1) {  /* bit 4 of element e is bit e of qh */
			const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
			__m256i h = _mm256_and_si256(_mm256_set1_epi32((int)(load32(b + (t == GGML_Q5_0 ? 2 : 4)) >> (8 * part))), bit);
			q = _mm256_or_si256(q, _mm256_and_si256(_mm256_cmpeq_epi32(h, bit), _mm256_set1_epi32(16)));
		}
		if (t == GGML_Q4_0 || t == GGML_Q5_0)
			q = _mm256_sub_epi32(q, _mm256_set1_epi32(t == GGML_Q4_0 ? 8 : 16));
	}
	__m256 w = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(*(const uint16_t *)b)), _mm256_cvtepi32_ps(q));
	if (t == GGML_Q4_1 || t == GGML_Q5_1)
		w = _mm256_add_ps(w, _mm256_set1_ps(_cvtsh_ss(*(const uint16_t *)(b + 2))));
	return w;
}

/* Quantized weights against float activations in tiles (batches below
 * GP_MIN; not the decode path of lm-step, which takes 16-bit activations
 * for these types).  n is a multiple of 32. */
INLINE void tile_fq(const enum ggml_type t, const uint8_t *W, size_t rb, int n, const uint8_t *X, size_t xs,
		    float *Y, int ldy, const int R, const int C)
{
	__m256 acc[MAXR][MAXC];

	_Pragma("GCC unroll 4")
	for (int r = 0; r < R; r++)
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++)
			acc[r][c] = _mm256_setzero_ps();
	for (int i = 0; i < n; i += 8) {
		_Pragma("GCC unroll 4")
		for (int r = 0; r < R; r++) {
			__m256 w = weights8(t, W + r * rb, i);
			_Pragma("GCC unroll 4")
			for (int c = 0; c < C; c++)
				acc[r][c] = _mm256_fmadd_ps(w, _mm256_loadu_ps((const float *)(X + c * xs) + i), acc[r][c]);
		}
	}
	_Pragma("GCC unroll 4")
	for (int r = 0; r < R; r++)
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++)
			Y[(size_t)c * ldy + r] = hsum(acc[r][c]);
}

#define GP_ROWS 16
#define GP_K 512
#define GP_ACTS 6
#define GP_MIN 8

/* Transpose the 8 x 8 matrix in r[] (row i in r[i]) in place. */
INLINE void transpose8(__m256 r[8])
{
	__m256 t[8], u[8];

	for (int i = 0; i < 8; i += 2) {
		t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);      /* a0 b0 a1 b1 | a4 b4 a5 b5 */
		t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);  /* a2 b2 a3 b3 | a6 b6 a7 b7 */
	}
	for (int i = 0; i < 8; i += 4) {
		u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);      /* a0 b0 c0 d0 | a4 b4 c4 d4 */
		u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);  /* a1 b1 c1 d1 | a5 .. */
		u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
		u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
	}
	for (int j = 0; j < 4; j++) {
		r[j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x20);
		r[4 + j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x31);
	}
}

/* P[k][r] = W[r][k0 + k] for k < kn (a multiple of 8), r < GP_ROWS (0 for
 * r >= rows) */
INLINE void gp_pack(const enum ggml_type t, const uint8_t *W, size_t rb, int rows, int k0, int kn, float *P)
{
	for (int g = 0; g < GP_ROWS; g += 8)
		for (int k = 0; k < kn; k += 8) {
			__m256 v[8];
			_Pragma("GCC unroll 8")
			for (int i = 0; i < 8; i++)
				v[i] = g + i < rows ? weights8(t, W + (size_t)(g + i) * rb, k0 + k) : _mm256_setzero_ps();
			transpose8(v);
			_Pragma("GCC unroll 8")
			for (int j = 0; j < 8; j++)
				_mm256_store_ps(P + (k + j) * GP_ROWS + g, v[j]);
		}
}

/* A activations (rows of X) against the panel; first: Y starts at 0.
 * Rows past `rows` are not stored. */
INLINE void gp_block(const float *P, int kn, const uint8_t *X, size_t xs, float *Y, int ldy, int rows, int first,
		     const int A)
{
	__m256 acc[GP_ACTS][2];

	_Pragma("GCC unroll 6")
	for (int a = 0; a < A; a++)
		acc[a][0] = acc[a][1] = _mm256_setzero_ps();
	for (int k = 0; k < kn; k++) {
		__m256 p0 = _mm256_load_ps(P + k * GP_ROWS), p1 = _mm256_load_ps(P + k * GP_ROWS + 8);
		_Pragma("GCC unroll 6")
		for (int a = 0; a < A; a++) {
			__m256 x = _mm256_broadcast_ss((const float *)(X + a * xs) + k);
			acc[a][0] = _mm256_fmadd_ps(x, p0, acc[a][0]);
			acc[a][1] = _mm256_fmadd_ps(x, p1, acc[a][1]);
		}
	}
	_Pragma("GCC unroll 6")
	for (int a = 0; a < A; a++) {
		float *y = Y + (size_t)a * ldy;
		if (rows == GP_ROWS) {
			if (!first) {
				acc[a][0] = _mm256_add_ps(acc[a][0], _mm256_loadu_ps(y));
				acc[a][1] = _mm256_add_ps(acc[a][1], _mm256_loadu_ps(y + 8));
			}
			_mm256_storeu_ps(y, acc[a][0]);
			_mm256_storeu_ps(y + 8, acc[a][1]);
		} else {
			float v[GP_ROWS];
			_mm256_storeu_ps(v, acc[a][0]);
			_mm256_storeu_ps(v + 8, acc[a][1]);
			for (int r = 0; r < rows; r++)
				y[r] = first ? v[r] : y[r] + v[r];
		}
	}
}

#define GP_TAIL(A) \
	case A: gp_block(P, kn, X, xs, Y, ldy, rows, first, A); break;

/* Bytes of the first k weights of a row (k a multiple of the block size
 * or, for float types, any). */
INLINE size_t weight_bytes(const enum ggml_type t, size_t k)
{
	const size_t per_block = t == GGML_F32 || t == GGML_F16 || t == GGML_BF16	? 1
				 : t == GGML_Q4_K || t == GGML_Q5_K || t == GGML_Q6_K ? QK_K : QK;
	return k * blk_bytes(t) / per_block;
}

INLINE void gemm_float(const enum ggml_type t, const uint8_t *W, size_t rb, int n, const uint8_t *X0, size_t xs,
		       int nb, float *Y0, int ldy, int r0, int r1)
{
	const size_t kbytes = weight_bytes(t, GP_K);
	float P[GP_K * GP_ROWS] __attribute__((aligned(32)));
	const int kn8 = n / 8 * 8;

	for (int r = r0; r < r1; r += GP_ROWS) {
		int rows = r1 - r < GP_ROWS ? r1 - r : GP_ROWS;
		for (int k0 = 0; k0 < kn8; k0 += GP_K) {
			int kn = kn8 - k0 < GP_K ? kn8 - k0 : GP_K, first = k0 == 0, b = 0;
			gp_pack(t, W + (size_t)r * rb, rb, rows, k0, kn, P);
			/* the next panel's weights arrive while this one is used */
			const uint8_t *next = k0 + GP_K < kn8 ? W + (size_t)r * rb + (size_t)(k0 / GP_K + 1) * kbytes
							      : W + (size_t)(r + GP_ROWS) * rb;
			for (int i = 0; i < GP_ROWS && r + (k0 + GP_K < kn8 ? 0 : GP_ROWS) + i < r1; i++)
				for (size_t o = 0; o < kbytes; o += 64)
					_mm_prefetch((const char *)(next + (size_t)i * rb + o), _MM_HINT_T0);
			for (; b + GP_ACTS <= nb; b += GP_ACTS)
				gp_block(P, kn, X0 + (size_t)b * xs + (size_t)k0 * 4, xs, Y0 + (size_t)b * ldy + r, ldy,
					 rows, first, GP_ACTS);
			const uint8_t *X = X0 + (size_t)b * xs + (size_t)k0 * 4;
			float *Y = Y0 + (size_t)b * ldy + r;
			switch (nb - b) {
			GP_TAIL(1) GP_TAIL(2) GP_TAIL(3) GP_TAIL(4) GP_TAIL(5)
			}
		}
		/* float types: the last n % 8 columns (none for quantized types) */
		for (int e = kn8; e < n; e++)
			for (int b = 0; b < nb; b++) {
				const float x = ((const float *)(X0 + (size_t)b * xs))[e];
				for (int i = 0; i < rows; i++) {
					float *y = Y0 + (size_t)b * ldy + r + i;
					*y = (kn8 == 0 && e == kn8 ? 0 : *y) + float1(t, W + (size_t)(r + i) * rb + (size_t)e * (t == GGML_F32 ? 4 : 2)) * x;
				}
			}
	}
}

A16_KERNEL(mm16_q4_0, GGML_Q4_0)
A16_KERNEL(mm16_q4_1, GGML_Q4_1)
A16_KERNEL(mm16_q5_0, GGML_Q5_0)
A16_KERNEL(mm16_q5_1, GGML_Q5_1)
A16_KERNEL(mm16_q8_0, GGML_Q8_0)

/* Float activations: batches of GP_MIN or more go to the panels, smaller
 * ones to the tiles, which stream the rows once. */
KERNEL(mmt_q4_0, tile_fq, GGML_Q4_0, 4, 2)
KERNEL(mmt_q4_1, tile_fq, GGML_Q4_1, 4, 2)
KERNEL(mmt_q5_0, tile_fq, GGML_Q5_0, 4, 2)
KERNEL(mmt_q5_1, tile_fq, GGML_Q5_1, 4, 2)
KERNEL(mmt_q8_0, tile_fq, GGML_Q8_0, 4, 2)
KERNEL(mmt_q4_k, tile_fq, GGML_Q4_K, 4, 2)
KERNEL(mmt_q5_k, tile_fq, GGML_Q5_K, 4, 2)
KERNEL(mmt_q6_k, tile_fq, GGML_Q6_K, 4, 2)
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

/* Activation quantization, bit for bit quant_act_row's scalar code:
 * products x * (1/d) rounded to nearest even by VCVTPS2DQ, clamped. */
INLINE __m256i q8_8(__m256 x, float id)
{
	__m256i q = _mm256_cvtps_epi32(_mm256_mul_ps(x, _mm256_set1_ps(id)));
	return _mm256_min_epi32(_mm256_max_epi32(q, _mm256_set1_epi32(-127)), _mm256_set1_epi32(127));
}

INLINE __m256 abs8(__m256 x)
{
	return _mm256_castsi256_ps(_mm256_and_si256(_mm256_castps_si256(x), _mm256_set1_epi32(0x7fffffff)));
}

INLINE float hmax(__m256 v)
{
	__m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	m = _mm_max_ps(m, _mm_movehl_ps(m, m));
	m = _mm_max_ss(m, _mm_movehdup_ps(m));
	return _mm_cvtss_f32(m);
}

/* The largest |x| of 8 g floats.  A NaN is skipped, as by the scalar
 * absmax: MAXPS returns its second operand when either is a NaN, here the
 * running maximum, which starts at 0 and so never is one. */
INLINE float absmax8(const float *x, int g)
{
	__m256 m = _mm256_setzero_ps();
	for (int k = 0; k < g; k++)
		m = _mm256_max_ps(abs8(_mm256_loadu_ps(x + 8 * k)), m);
	return hmax(m);
}

INLINE int hsum_i32(__m256i v)
{
	__m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
	return _mm_cvtsi128_si32(s);
}

/* 32 quants of x (4 x 8) as bytes in order; the int32 quants in q[]. */
INLINE __m256i q8_32(const float *x, float id, __m256i q[4])
{
	for (int k = 0; k < 4; k++)
		q[k] = q8_8(_mm256_loadu_ps(x + 8 * k), id);
	__m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
	return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

TARGET static void act_q8(enum ggml_type a, const float *x, void *dst, int n)
{
	__m256i q[4];

	if (a == GGML_Q8_K) {
		struct blk_q8_k *b = dst;
		for (int i = 0; i < n / QK_K; i++, x += QK_K) {
			float d = absmax8(x, QK_K / 8) / 127, id = d != 0 ? 1 / d : 0;
			b[i].d = d;
			for (int g = 0; g < 8; g++) {
				_mm256_storeu_si256((void *)(b[i].qs + 32 * g), q8_32(x + 32 * g, id, q));
				b[i].bsums[2 * g] = (int16_t)hsum_i32(_mm256_add_epi32(q[0], q[1]));
				b[i].bsums[2 * g + 1] = (int16_t)hsum_i32(_mm256_add_epi32(q[2], q[3]));
			}
		}
		return;
	}
	struct blk_q8_0 *b0 = dst;
	struct blk_q8_1 *b1 = dst;
	for (int i = 0; i < n / QK; i++, x += QK) {
		uint16_t dh;
		float id;
		q8_scale(absmax8(x, QK / 8), &dh, &id);
		__m256i bytes = q8_32(x, id, q);
		if (a == GGML_Q8_1) {
			int sum = hsum_i32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
			b1[i].d = dh;
			b1[i].s = f32_to_f16(f16_to_f32(dh) * (float)sum);
			_mm256_storeu_si256((void *)b1[i].qs, bytes);
		} else {
			b0[i].d = dh;
			_mm256_storeu_si256((void *)b0[i].qs, bytes);
		}
	}
}

/* quant_a16_row(), bit for bit: the largest magnitude of a block with
 * NaN skipped (VMAXPS returns its second operand when one is NaN), the
 * products x * (1/d) clamped to [-32767, 32767] (a NaN to -32767, as
 * q16() does) and rounded to nearest even by VCVTPS2DQ; the 32 int16
 * quants of block i stored as its two halves at the pair's offsets (see
 * quant.h). */
TARGET static void act_a16(const float *x, void *dst, int n)
{
	const int nblk = n / QK;
	int16_t *q = dst;
	float *ds = (float *)(q + 64 * ((nblk + 1) / 2));
	const __m256 lo = _mm256_set1_ps(-32767), hi = _mm256_set1_ps(32767);

	for (int i = 0; i < nblk; i++, x += QK) {
		__m256 v[4], m = _mm256_setzero_ps();
		__m256i qi[4];
		for (int k = 0; k < 4; k++) {
			v[k] = _mm256_loadu_ps(x + 8 * k);
			m = _mm256_max_ps(abs8(v[k]), m);
		}
		const float d = hmax(m) / 32767, id = d != 0 ? 1 / d : 0;
		for (int k = 0; k < 4; k++)
			qi[k] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(v[k], _mm256_set1_ps(id)), lo), hi));
		int16_t *o = q + 64 * (i / 2) + 16 * (i % 2);
		/* VPACKSSDW interleaves 128-bit halves: 0xd8 puts them back in order */
		_mm256_storeu_si256((void *)o, _mm256_permute4x64_epi64(_mm256_packs_epi32(qi[0], qi[1]), 0xd8));
		_mm256_storeu_si256((void *)(o + 32), _mm256_permute4x64_epi64(_mm256_packs_epi32(qi[2], qi[3]), 0xd8));
		const int sum = hsum_i32(_mm256_add_epi32(_mm256_add_epi32(qi[0], qi[1]), _mm256_add_epi32(qi[2], qi[3])));
		ds[2 * i] = d;
		ds[2 * i + 1] = d * (float)sum;
	}
	if (nblk % 2) {  /* the zero block that completes the last pair */
		int16_t *o = q + 64 * (nblk / 2) + 16;
		_mm256_storeu_si256((void *)o, _mm256_setzero_si256());
		_mm256_storeu_si256((void *)(o + 32), _mm256_setzero_si256());
		ds[2 * nblk] = ds[2 * nblk + 1] = 0;
	}
}

static bool cpu_ok(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
}

const struct quant_family quant_family_avx2 = {
	"avx2", "avx2", cpu_ok, {
		[GGML_F32] = mm_f32, [GGML_F16] = mm_f16, [GGML_BF16] = mm_bf16,
		[GGML_Q4_0] = mm_q4_0, [GGML_Q4_1] = mm_q4_1, [GGML_Q5_0] = mm_q5_0,
		[GGML_Q5_1] = mm_q5_1, [GGML_Q8_0] = mm_q8_0,
		[GGML_Q4_K] = mm_q4_k, [GGML_Q5_K] = mm_q5_k, [GGML_Q6_K] = mm_q6_k,
	}, act_q8, {
		[GGML_Q4_0] = mm16_q4_0, [GGML_Q4_1] = mm16_q4_1, [GGML_Q5_0] = mm16_q5_0,
		[GGML_Q5_1] = mm16_q5_1, [GGML_Q8_0] = mm16_q8_0, [GGML_Q4_K] = mm16_q4_k,
		[GGML_Q5_K] = mm16_q5_k, [GGML_Q6_K] = mm16_q6_k,
	}, {
		[GGML_F32] = mmf_f32, [GGML_F16] = mmf_f16, [GGML_BF16] = mmf_bf16,
		[GGML_Q4_0] = mmf_q4_0, [GGML_Q4_1] = mmf_q4_1, [GGML_Q5_0] = mmf_q5_0,
		[GGML_Q5_1] = mmf_q5_1, [GGML_Q8_0] = mmf_q8_0,
		[GGML_Q4_K] = mmf_q4_k, [GGML_Q5_K] = mmf_q5_k, [GGML_Q6_K] = mmf_q6_k,
	}, GP_MIN, {
		[GGML_Q4_K] = true, [GGML_Q5_K] = true, [GGML_Q6_K] = true,  /* the lanes: 1.1-1.3x the panels at 512 (Zen 3) */
	}, act_a16
};

#endif
