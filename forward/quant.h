/* quant.h - weight formats and the matrix products of the forward pass.
 *
 * Weights stay in their GGUF block layout (formats.md 2.1-2.2).  A
 * product W x a quantizes the activations a first, to the format that pairs
 * with the weight type (formats.md 2.3), so that the inner loops are integer
 * dot products; the block scales are applied once per block.
 *
 * Kernel families: "scalar" (plain C, the reference, everywhere),
 * "avx512-vnni" and "avx2" on x86-64, "neon-dotprod" and "neon" on
 * aarch64, picked at run time from the CPU (LMU_KERNELS in the
 * environment forces one).  Every family gives the reference's result up to
 * float rounding: the integer parts are exact in all of them.  The SIMD
 * families have every product for every weight type; where one lacks a
 * kernel, the reference serves and the program says so once on stderr.
 *
 * Use, for a GGUF tensor W of `rows` rows of n elements and a batch of nb
 * activation rows x (nb x n floats), Y (nb x rows):
 *
 *	size_t ab = quant_act_row_bytes(W->type, n);
 *	for (int b = 0; b < nb; b++)          (once per input, shared by every
 *		quant_act_row(W->type, x + b * n, xq + b * ab, n);   W of its type)
 *	quant_matmul(W->type, W->data, W->row_bytes, n, xq, ab, nb, Y, rows, r0, r1);
 *
 * with each thread taking its own rows [r0, r1).  All functions are
 * thread-safe; the buffers are the caller's. */
#ifndef LMU_QUANT_H
#define LMU_QUANT_H

#include <stdbool.h>
#include <stddef.h>

#include "gguf.h"

/* Activation format that pairs with a weight type for integer dot products
 * (formats.md 2.3): Q4_0/Q5_0/Q8_0 -> Q8_0, Q4_1/Q5_1 -> Q8_1,
 * Q4_K/Q5_K/Q6_K -> Q8_K; F32/F16/BF16 -> F32.  Unsupported types: F32 too
 * (check quant_supported() first). */
enum ggml_type quant_act_type(enum ggml_type wtype);

/* True for the weight types the kernels handle: F32 F16 BF16 Q8_0 Q4_0 Q4_1
 * Q5_0 Q5_1 Q4_K Q5_K Q6_K. */
bool quant_supported(enum ggml_type wtype);

/* Bytes of one quantized activation row of n elements for weight type wtype.
 * n must be a multiple of the weight type's block size (32 or 256). */
size_t quant_act_row_bytes(enum ggml_type wtype, int n);

/* Quantize the activation row x[n] into dst (quant_act_row_bytes() bytes)
 * in the format quant_act_type(wtype).  Q8_0/Q8_1/Q8_K use d = amax/127 and
 * round to nearest, so every quant lies in [-127, 127].  dst must be 4-byte
 * aligned. */
void quant_act_row(enum ggml_type wtype, const float *x, void *dst, int n);

/* Dequantize n elements of one row of type t (any supported weight type and
 * also Q8_0, Q8_1, Q8_K) into dst.  n must be a multiple of the block size. */
void dequant_row(enum ggml_type t, const void *src, float *dst, int n);

/* Y[b*ldy + r] = dot(row r of W, activation b) for rows r in [r0, r1) and
 * b in [0, nb).  W rows are row_bytes apart (GGUF layout, n elements each);
 * activations were quantized by quant_act_row() and are xq_stride bytes
 * apart (at least quant_act_row_bytes(); even, and a multiple of 4 for
 * Q8_K and F32 activations, so every block stays aligned).  Uses the kernel family of quant_kernel_name():
 * several rows at once for nb == 1 (decode), a blocked matrix x matrix for
 * larger nb (prefill).  Threads split [r0, r1) between them. */
void quant_matmul(enum ggml_type wtype, const void *W, size_t row_bytes, int n,
		  const void *xq, size_t xq_stride, int nb, float *Y, int ldy, int r0, int r1);

/* Scalar reference of the same (the tests compare every SIMD path with it). */
void quant_matmul_ref(enum ggml_type wtype, const void *W, size_t row_bytes, int n,
		      const void *xq, size_t xq_stride, int nb, float *Y, int ldy, int r0, int r1);

/* 16-bit activations ("A16"): the exact default path in decoding for every
 * quantized weight type: the legacy 32-block ones (Q4_0 Q4_1 Q5_0 Q5_1
 * Q8_0), Q4_K and Q5_K (their 32-element sub-blocks pair with the
 * activation blocks, d * sc and -dmin * m acting as a legacy block's d and
 * m) and Q6_K (a 32-block holds two 16-element sub-blocks: their quants
 * are multiplied by the 8-bit sub-block scales, d acting as d).  Each block of 32
 * activations becomes 32 int16 quants with a float scale d = amax/32767
 * (relative error below 2e-5 of the block's largest value, far under the
 * rounding of the weights themselves), so the products are integer dot
 * products (VPDPWSSD) that still agree with float activations.  A row of n
 * elements is stored as int16 quants by pairs of blocks (128 bytes: the
 * first 16 of each block, then the last 16 of each; an odd block count is
 * completed by a zero block), then per block (d, s) as floats,
 * s = d * sum of the block's quants (for the mins of Q4_1/Q5_1). */
bool quant_a16_supported(enum ggml_type wtype);
size_t quant_a16_row_bytes(int n);               /* n a multiple of 32 */
void quant_a16_row(const float *x, void *dst, int n);  /* dst 4-byte aligned */
/* As quant_matmul(), activations from quant_a16_row() (xq_stride a
 * multiple of 4); and its scalar reference. */
void quant_matmul_a16(enum ggml_type wtype, const void *W, size_t row_bytes, int n,
		      const void *xq, size_t xq_stride, int nb, float *Y, int ldy, int r0, int r1);
void quant_matmul_a16_ref(enum ggml_type wtype, const void *W, size_t row_bytes, int n,
			  const void *xq, size_t xq_stride, int nb, float *Y, int ldy, int r0, int r1);

/* Float activations against any weight type: Y as quant_matmul(), the
 * activations nb rows of n floats xs bytes apart (a multiple of 4).
 * quant_float_supported(): the kernel family has such a product for wtype
 * (AVX-512 and AVX2: weights dequantized 16 or 8 at a time in registers;
 * for batches, into panels that stay in L1); otherwise, and in the
 * reference, each row is dequantized and dotted in float.  quant_float_batch(): the batch from
 * which it is faster than 16-bit activations (0: never). */
bool quant_float_supported(enum ggml_type wtype);
int quant_float_batch(enum ggml_type wtype);
void quant_matmul_float(enum ggml_type wtype, const void *W, size_t row_bytes, int n,
			const float *x, size_t xs, int nb, float *Y, int ldy, int r0, int r1);
void quant_matmul_float_ref(enum ggml_type wtype, const void *W, size_t row_bytes, int n,
			    const float *x, size_t xs, int nb, float *Y, int ldy, int r0, int r1);

/* Weight quantization (lm-step -q, lm-convert): the n floats of x (a
 * multiple of the type's block size, 32 or 256) into blocks of type t at
 * dst, by llama.cpp's reference algorithms (Q8_0: the activation quantizer,
 * which rounds with the stored scale).  Supported: Q8_0 Q4_0 Q4_1 Q4_K. */
bool quant_weight_supported(enum ggml_type t);
void quantize_row(enum ggml_type t, const float *x, void *dst, int n);

/* The kernel family in use (see above), chosen at the first call from the
 * CPU; LMU_KERNELS=scalar|avx2|avx512|neon|neondot in the environment
 * forces one (the program dies if the CPU lacks it or the name is
 * unknown). */
const char *quant_kernel_name(void);

#endif
