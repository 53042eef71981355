/* half.h - IEEE binary16 and bfloat16 <-> binary32: the 16-bit weights of
 * GGUF and safetensors files. */
#ifndef LMU_HALF_H
#define LMU_HALF_H

#include <stdint.h>

/* binary16 <-> binary32, round to nearest even (NaN stays NaN). */
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

static inline float bf16_to_f32(uint16_t h)
{
	union { uint32_t u; float f; } v = { .u = (uint32_t)h << 16 };
	return v.f;
}

#endif
