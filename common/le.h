/* le.h - little-endian integers in byte buffers, whatever the host: the
 * byte order of every file and stream lmutils reads and writes (GGUF,
 * safetensors, logits frames, state files). */
#ifndef LMU_LE_H
#define LMU_LE_H

#include <stdint.h>

/* Store the low n bytes of v at p, least significant first. */
static inline void put_le(void *p, uint64_t v, int n)
{
	uint8_t *b = p;
	for (int i = 0; i < n; i++, v >>= 8)
		b[i] = (uint8_t)v;
}

/* The n-byte (n <= 8) little-endian unsigned integer at p. */
static inline uint64_t get_le(const void *p, int n)
{
	const uint8_t *b = p;
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

#endif
