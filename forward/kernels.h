/* kernels.h - internals shared by quant.c, the SIMD kernel families
 * (kernels_*.c) and the unit tests: block layouts, half-precision
 * conversion, the family table.  Users of the kernels include quant.h.
 *
 * Block layouts are formats.md 2.1/2.2 in on-disk field order; every field
 * is naturally aligned inside its block, and blocks are 2-byte (Q8_K:
 * 4-byte) aligned in a GGUF row, so they are read through these structs. */
#ifndef LMU_KERNELS_H
#define LMU_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "half.h"
#include "quant.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
/* F16C (CPUID leaf 1, ECX bit 29), asked of the CPU itself: not every
 * compiler's __builtin_cpu_supports() knows the name. */
static inline bool cpu_has_f16c(void)
{
	unsigned a, b, c, d;
	return __get_cpuid(1, &a, &b, &c, &d) && (c >> 29 & 1);
}
#endif

#define QK 32    /* elements per legacy block */
#define QK_K 256 /* elements per K-quant super-block */

struct blk_q4_0 { uint16_t d; uint8_t qs[16]; };
struct blk_q4_1 { uint16_t d, m; uint8_t qs[16]; };
struct blk_q5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; };
struct blk_q5_1 { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; };
struct blk_q8_0 { uint16_t d; int8_t qs[32]; };
struct blk_q8_1 { uint16_t d, s; int8_t qs[32]; };  /* s = d * sum(qs) */
struct blk_q4_k { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; };
struct blk_q5_k { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; };
struct blk_q6_k { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; };
struct blk_q8_k { float d; int8_t qs[256]; int16_t bsums[16]; };  /* bsums[i] = sum of qs[16i..16i+15] */

_Static_assert(sizeof(struct blk_q4_0) == 18, "q4_0");
_Static_assert(sizeof(struct blk_q4_1) == 20, "q4_1");
_Static_assert(sizeof(struct blk_q5_0) == 22, "q5_0");
_Static_assert(sizeof(struct blk_q5_1) == 24, "q5_1");
_Static_assert(sizeof(struct blk_q8_0) == 34, "q8_0");
_Static_assert(sizeof(struct blk_q8_1) == 36, "q8_1");
_Static_assert(sizeof(struct blk_q4_k) == 144, "q4_k");
_Static_assert(sizeof(struct blk_q5_k) == 176, "q5_k");
_Static_assert(sizeof(struct blk_q6_k) == 210, "q6_k");
_Static_assert(sizeof(struct blk_q8_k) == 292, "q8_k");

/* Bytes per block of a supported weight type, as a constant the compiler
 * can fold into the kernels (ggml_type_size() is the checked table). */
static inline size_t blk_bytes(enum ggml_type t)
{
	switch (t) {
	case GGML_F32: return 4;
	case GGML_F16: case GGML_BF16: return 2;
	case GGML_Q4_0: return sizeof(struct blk_q4_0);
	case GGML_Q4_1: return sizeof(struct blk_q4_1);
	case GGML_Q5_0: return sizeof(struct blk_q5_0);
	case GGML_Q5_1: return sizeof(struct blk_q5_1);
	case GGML_Q8_0: return sizeof(struct blk_q8_0);
	case GGML_Q4_K: return sizeof(struct blk_q4_k);
	case GGML_Q5_K: return sizeof(struct blk_q5_k);
	case GGML_Q6_K: return sizeof(struct blk_q6_k);
	default: return 0;
	}
}

/* The scale of a Q8_0/Q8_1 block with largest magnitude amax: the half
 * amax/127, and 1/d of that half (0 when it is 0): quants are rounded
 * with the stored scale, so d * q is as close to x as that scale allows. */
void q8_scale(float amax, uint16_t *dh, float *id);


/* The 6-bit scale and min of sub-block j of a Q4_K/Q5_K super-block
 * (formats.md 2.2). */
static inline void kq_scale_min(const uint8_t *b, int j, int *sc, int *m)
{
	if (j < 4) {
		*sc = b[j] & 63;
		*m = b[j + 4] & 63;
	} else {
		*sc = (b[j + 4] & 0x0F) | ((b[j - 4] >> 6) << 4);
		*m = (b[j + 4] >> 4) | ((b[j] >> 6) << 4);
	}
}

/* Reference dot product of one weight row with one quantized activation row
 * (n elements).  If abssum is not NULL it receives a bound on the sum of the
 * magnitudes of every float term any summation order can meet (products of
 * scales with partial integer sums): the tests derive their tolerance from
 * it. */
float quant_dot_ref(enum ggml_type wtype, const void *w, const void *xq, int n, float *abssum);

/* The same for 16-bit activations (one row of quant_a16_row(), n
 * elements). */
float quant_dot_a16_ref(enum ggml_type wtype, const void *w, const void *xq, int n, float *abssum);

/* A matmul kernel of one family for one weight type: the contract of
 * quant_matmul(). */
typedef void quant_matmul_fn(const void *W, size_t row_bytes, int n,
			     const void *xq, size_t xq_stride, int nb, float *Y, int ldy, int r0, int r1);

/* SIMD families compute a tile: R rows of W against C activations over all
 * n elements, Y[c*ldy + r] for r < R, c < C (Y already offset to the
 * tile's first row and activation).  Each type has four tile shapes: R x C,
 * R x 1 (decode, and the batch remainder), 1 x C and 1 x 1 (the row
 * remainder). */
typedef void quant_tile_fn(const uint8_t *W, size_t row_bytes, int n,
			   const uint8_t *X, size_t xq_stride, float *Y, int ldy);
struct quant_tiles {
	int rows, acts;  /* R and C of the full tile */
	quant_tile_fn *full, *rows_only, *acts_only, *one;
};

/* quant_matmul() over tiles: activations in groups that stay in cache,
 * rows in tiles of R within a group, activations in tiles of C. */
void quant_tile_drive(const struct quant_tiles *k, const void *W, size_t row_bytes, int n,
		      const void *xq, size_t xq_stride, int nb, float *Y, int ldy, int r0, int r1);

/* KERNEL(name, tile, type, R, C): the four tile shapes of one weight type
 * from a tile function tile(type, W, rb, n, X, xs, Y, ldy, rows, acts)
 * (inlined, with the shape as constants), and name(), its quant_matmul
 * entry.  Each kernel family defines TARGET (its target attribute) before
 * using it. */
#define TILE_ARGS const uint8_t *W, size_t rb, int n, const uint8_t *X, size_t xs, float *Y, int ldy
#define KERNEL(name, tile, type, RT, CT) \
	TARGET static void name##_full(TILE_ARGS) { tile(type, W, rb, n, X, xs, Y, ldy, RT, CT); } \
	TARGET static void name##_rows(TILE_ARGS) { tile(type, W, rb, n, X, xs, Y, ldy, RT, 1); } \
	TARGET static void name##_acts(TILE_ARGS) { tile(type, W, rb, n, X, xs, Y, ldy, 1, CT); } \
	TARGET static void name##_one(TILE_ARGS) { tile(type, W, rb, n, X, xs, Y, ldy, 1, 1); } \
	static const struct quant_tiles name##_tiles = { RT, CT, name##_full, name##_rows, name##_acts, name##_one }; \
	static void name(const void *W, size_t rb, int n, const void *xq, size_t xs, int nb, float *Y, int ldy, \
			 int r0, int r1) \
	{ \
		quant_tile_drive(&name##_tiles, W, rb, n, xq, xs, nb, Y, ldy, r0, r1); \
	}

struct quant_family {
	const char *name;   /* as quant_kernel_name() reports it */
	const char *env;    /* as LMU_KERNELS names it */
	bool (*cpu_ok)(void);
	quant_matmul_fn *mm[GGML_NTYPES];  /* NULL: the reference serves */
	/* Activation quantization to Q8_0, Q8_1 or Q8_K (act), bit for bit
	 * the scalar one; NULL: the scalar one serves. */
	void (*act)(enum ggml_type act, const float *x, void *dst, int n);
	/* Products with 16-bit activations (quant_matmul_a16); NULL: the
	 * reference serves. */
	quant_matmul_fn *mm16[GGML_NTYPES];
	/* Products with float activations (quant_matmul_float), and the
	 * batch from which they beat 16-bit activations (quant_float_batch);
	 * NULL: the reference serves. */
	quant_matmul_fn *mmf[GGML_NTYPES];
	int mmf_min;
	/* Types whose 16-bit product is faster than float activations at
	 * every batch size: quant_float_batch() is 0 for them. */
	bool a16_always[GGML_NTYPES];
	/* 16-bit activation quantization (quant_a16_row), bit for bit the
	 * scalar one; NULL: the scalar one serves. */
	void (*act16)(const float *x, void *dst, int n);
};

extern const struct quant_family quant_family_scalar;
#if defined(__x86_64__) || defined(__i386__)
extern const struct quant_family quant_family_avx2, quant_family_avx512;
#endif
#if defined(__aarch64__)
extern const struct quant_family quant_family_neon, quant_family_neon_dot;
#endif

/* The families built for this target, best first, then NULL; the first
 * whose cpu_ok() says yes is the default. */
extern const struct quant_family *const quant_families[];

/* For the tests: use the family LMU_KERNELS would name env; false if it is
 * unknown or this CPU lacks it (the family in use is then unchanged). */
bool quant_force(const char *env);

#endif
