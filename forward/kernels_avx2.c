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
#include <immintrin.h>
#include <string.h>

#include "kernels.h"

#define TARGET __attribute__((target("avx2,fma,f16c")))
#define INLINE static inline __attribute__((always_inline)) TARGET

#define MAXR 4
#define MAXC 2

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

INLINE void tile_legacy(const enum ggml_type t, const uint8_t *W, size_t rb, int n, const uint8_t *X, size_t xs,
			float *Y, int ldy, const int R, const int C)
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
			const uint8_t *w = W + r * rb + (size_t)i * wsz;
			__m256i q;
			float dw = _cvtsh_ss(*(const uint16_t *)w), mw = 0;
			_mm_prefetch((const char *)(w + R * rb), _MM_HINT_T0);
			switch (t) {
			case GGML_Q4_0:
				q = _mm256_sub_epi8(nibbles(((const struct blk_q4_0 *)w)->qs), _mm256_set1_epi8(8));
				break;
			case GGML_Q4_1:
				q = nibbles(((const struct blk_q4_1 *)w)->qs);
				mw = _cvtsh_ss(((const struct blk_q4_1 *)w)->m);
				break;
			case GGML_Q5_0: {
				const struct blk_q5_0 *b = (const void *)w;
				q = _mm256_or_si256(nibbles(b->qs), fifth_bits(load32(b->qh)));
				q = _mm256_sub_epi8(q, _mm256_set1_epi8(16));
				break;
			}
			case GGML_Q5_1: {
				const struct blk_q5_1 *b = (const void *)w;
				q = _mm256_or_si256(nibbles(b->qs), fifth_bits(load32(b->qh)));
				mw = _cvtsh_ss(b->m);
				break;
			}
			default:  /* Q8_0 */
				q = _mm256_loadu_si256((const void *)((const struct blk_q8_0 *)w)->qs);
				break;
			}
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
			Y[(size_t)c * ldy + r] = hsum(acc[r][c]) + msum[r][c];
}

/* The 6-bit scales (bytes 0-7) and mins (bytes 8-15) of a Q4_K/Q5_K
 * super-block (formats.md 2.2), four at a time. */
INLINE void kq_scales_mins(const uint8_t *b, uint8_t sm[16])
{
	uint32_t w0 = load32(b), w1 = load32(b + 4), w2 = load32(b + 8);
	uint32_t v[4] = {
		w0 & 0x3f3f3f3f,
		(w2 & 0x0f0f0f0f) | ((w0 >> 6) & 0x03030303) << 4,
		w1 & 0x3f3f3f3f,
		((w2 >> 4) & 0x0f0f0f0f) | ((w1 >> 6) & 0x03030303) << 4,
	};
	memcpy(sm, v, 16);
}

INLINE void tile_kquant(const enum ggml_type t, const uint8_t *W, size_t rb, int n, const uint8_t *X, size_t xs,
			float *Y, int ldy, const int R, const int C)
{
	const size_t wsz = blk_bytes(t);
	__m256 acc[MAXR][MAXC];

	_Pragma("GCC unroll 4")
	for (int r = 0; r < R; r++)
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++)
			acc[r][c] = _mm256_setzero_ps();
	for (int i = 0; i < n / QK_K; i++) {
		const struct blk_q8_k *a[MAXC];
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++)
			a[c] = (const void *)(X + c * xs + (size_t)i * sizeof(struct blk_q8_k));
		_Pragma("GCC unroll 4")
		for (int r = 0; r < R; r++) {
			const uint8_t *w = W + r * rb + (size_t)i * wsz;
			__m256i s[MAXC];
			_Pragma("GCC unroll 4")
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
						_Pragma("GCC unroll 4")
						for (int c = 0; c < C; c++) {
							__m256i p = _mm256_maddubs_epi16(
								q, _mm256_loadu_si256((const void *)(a[c]->qs + 128 * h + 32 * g)));
							s[c] = _mm256_add_epi32(s[c], _mm256_madd_epi16(p, sc));
						}
					}
				}
				__m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const void *)b->scales));
				float d = _cvtsh_ss(b->d);
				_Pragma("GCC unroll 4")
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
				kq_scales_mins(b4->scales, sm);
				__m256i qh = t == GGML_Q5_K ? _mm256_loadu_si256((const void *)b5->qh) : _mm256_setzero_si256();
				for (int j = 0; j < 8; j++) {
					__m256i x = _mm256_loadu_si256((const void *)(qs + 32 * (j / 2)));
					__m256i q = _mm256_and_si256(j & 1 ? _mm256_srli_epi16(x, 4) : x, _mm256_set1_epi8(15));
					if (t == GGML_Q5_K)
						q = _mm256_or_si256(q, _mm256_slli_epi16(
							_mm256_and_si256(_mm256_srli_epi16(qh, j), _mm256_set1_epi8(1)), 4));
					__m256i sc = _mm256_set1_epi16(sm[j]);
					_Pragma("GCC unroll 4")
					for (int c = 0; c < C; c++) {
						__m256i p = _mm256_maddubs_epi16(q, _mm256_loadu_si256((const void *)(a[c]->qs + 32 * j)));
						s[c] = _mm256_add_epi32(s[c], _mm256_madd_epi16(p, sc));
					}
				}
				__m128i m8 = _mm_loadl_epi64((const void *)(sm + 8));
				__m256i mins = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));  /* m0 m0 m1 m1 ... */
				float d = _cvtsh_ss(b4->d), dmin = _cvtsh_ss(b4->dmin);
				_Pragma("GCC unroll 4")
				for (int c = 0; c < C; c++) {
					__m256i bs = _mm256_loadu_si256((const void *)a[c]->bsums);
					__m256i m = _mm256_madd_epi16(bs, mins);
					acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[c]), _mm256_set1_ps(d * a[c]->d), acc[r][c]);
					acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(m), _mm256_set1_ps(-(dmin * a[c]->d)), acc[r][c]);
				}
			}
		}
	}
	_Pragma("GCC unroll 4")
	for (int r = 0; r < R; r++)
		_Pragma("GCC unroll 4")
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

INLINE void tile_float(const enum ggml_type t, const uint8_t *W, size_t rb, int n, const uint8_t *X, size_t xs,
		       float *Y, int ldy, const int R, const int C)
{
	const size_t es = t == GGML_F32 ? 4 : 2;
	__m256 acc[MAXR][MAXC];
	int i = 0;

	_Pragma("GCC unroll 4")
	for (int r = 0; r < R; r++)
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++)
			acc[r][c] = _mm256_setzero_ps();
	for (; i + 8 <= n; i += 8) {
		__m256 a[MAXC];
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++)
			a[c] = _mm256_loadu_ps((const float *)(X + c * xs) + i);
		_Pragma("GCC unroll 4")
		for (int r = 0; r < R; r++) {
			const uint8_t *w = W + r * rb + (size_t)i * es;
			_mm_prefetch((const char *)(w + R * rb), _MM_HINT_T0);
			__m256 x = float8(t, w);
			_Pragma("GCC unroll 4")
			for (int c = 0; c < C; c++)
				acc[r][c] = _mm256_fmadd_ps(x, a[c], acc[r][c]);
		}
	}
	_Pragma("GCC unroll 4")
	for (int r = 0; r < R; r++)
		_Pragma("GCC unroll 4")
		for (int c = 0; c < C; c++) {
			float tail = 0;
			for (int e = i; e < n; e++)
				tail += float1(t, W + r * rb + (size_t)e * es) * ((const float *)(X + c * xs))[e];
			Y[(size_t)c * ldy + r] = hsum(acc[r][c]) + tail;
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
			__m256 m = _mm256_setzero_ps();
			for (int g = 0; g < 32; g++)
				m = _mm256_max_ps(m, abs8(_mm256_loadu_ps(x + 8 * g)));
			float d = hmax(m) / 127, id = d != 0 ? 1 / d : 0;
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
		__m256 m = _mm256_max_ps(_mm256_max_ps(abs8(_mm256_loadu_ps(x)), abs8(_mm256_loadu_ps(x + 8))),
					 _mm256_max_ps(abs8(_mm256_loadu_ps(x + 16)), abs8(_mm256_loadu_ps(x + 24))));
		uint16_t dh;
		float id;
		q8_scale(hmax(m), &dh, &id);
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
	}, act_q8, {0}, {0}, 0
};
