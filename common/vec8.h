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
 * e^88 stays finite. */
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

#endif
