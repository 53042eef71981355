/* vec8.h - 8-lane float vectors (GCC vector extensions): SIMD code on any
 * target, AVX2 or AVX-512 registers with -march=native; and e^x on them. */
#ifndef LMU_VEC8_H
#define LMU_VEC8_H

#include <stdint.h>
#include <string.h>

typedef float v8 __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

/* 8 floats from p, which need not be aligned. */
static inline v8 load8(const float *p)
{
	v8 v;
	memcpy(&v, p, sizeof v);
	return v;
}

/* e^x, 8 lanes: x = n ln2 + r with |r| <= ln2/2, e^r by its Taylor
 * series to r^6 (relative error below 2e-7), times 2^n built in the
 * exponent bits.  x is clamped to [-87, 88]: e^-87 (about 1.6e-38) is
 * negligible beside e^0 (softmax beside its maximum, SiLU beside 1), and
 * e^88 stays finite.  VEXP_IN_PLACE is the same on a vector variable x of
 * any width (VF floats, VI as many int32): the same value in every lane.
 * Wider than 8 lanes, mind the targets without AVX-512: GCC split a
 * 16-lane loop's comparisons into scalar code there (common/stream.c's
 * log-sum-exp, now in 8 lanes), and a function may not take or return a
 * 64-byte vector (-Wpsabi). */
#define VEXP_IN_PLACE(VF, VI, x)                                                              \
	do {                                                                                  \
		const VF lo_ = (VF){0} - 87, hi_ = (VF){0} + 88;                              \
		VI below_ = x < lo_, above_ = x > hi_;                                        \
		x = (VF)(((VI)x & ~below_) | ((VI)lo_ & below_));                             \
		x = (VF)(((VI)x & ~above_) | ((VI)hi_ & above_));                             \
		VF n_ = x * 1.44269504088896341f + 12582912.0f; /* round(x / ln2) + 1.5 * 2^23 */ \
		n_ -= 12582912.0f;                                                            \
		VF r_ = x - n_ * 0.693145751953125f - n_ * 1.42860682030941723e-6f; /* ln2 in two parts */ \
		VF p_ = r_ * (1.0f / 720) + 1.0f / 120;                                       \
		p_ = p_ * r_ + 1.0f / 24;                                                     \
		p_ = p_ * r_ + 1.0f / 6;                                                      \
		p_ = p_ * r_ + 0.5f;                                                          \
		p_ = p_ * r_ + 1.0f;                                                          \
		p_ = p_ * r_ + 1.0f;                                                          \
		VI e_ = (__builtin_convertvector(n_, VI) + 127) << 23;                        \
		x = p_ * (VF)e_;                                                              \
	} while (0)

static inline v8 exp8(v8 x)
{
	VEXP_IN_PLACE(v8, v8i, x);
	return x;
}

#endif
