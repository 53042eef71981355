/* half.c - 16-bit floats (half.h). */
#include "half.h"

#include <math.h>

float f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 31, m = h & 0x3ff;
	union { uint32_t u; float f; } v;

	if (e == 0) {  /* zero or subnormal: m * 2^-24 */
		v.f = (float)m * 0x1p-24f;
		v.u |= sign;
	} else if (e == 31) {
		v.u = sign | 0x7f800000 | (m << 13);
	} else {
		v.u = sign | ((e + 112) << 23) | (m << 13);
	}
	return v.f;
}

uint16_t f32_to_f16(float f)
{
	union { float f; uint32_t u; } v = { .f = f };
	uint16_t sign = (v.u >> 16) & 0x8000;
	uint32_t x = v.u & 0x7fffffff;

	if (x >= 0x7f800000)  /* inf, nan (kept quiet) */
		return sign | 0x7c00 | (x > 0x7f800000 ? 0x200 : 0);
	if (x >= 0x477ff000)  /* 65520 and up round to inf */
		return sign | 0x7c00;
	if (x < 0x38800000) {  /* below 2^-14: a subnormal half, round(|f| * 2^24) */
		v.u = x;
		return sign | (uint16_t)nearbyintf(v.f * 0x1p24f);
	}
	uint32_t h = ((x >> 23) - 112) << 10 | (x >> 13 & 0x3ff), rem = x & 0x1fff;
	if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
		h++;  /* a carry into the exponent is the right answer */
	return sign | (uint16_t)h;
}
