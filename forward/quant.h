/* TEMPORARY STUB (untracked) until branch kern lands. */
#ifndef LMU_QUANT_H
#define LMU_QUANT_H
#include <stdbool.h>
#include <stddef.h>
#include "gguf.h"
enum ggml_type quant_act_type(enum ggml_type wtype);
bool quant_supported(enum ggml_type wtype);
size_t quant_act_row_bytes(enum ggml_type wtype, size_t n);
void quant_act_row(enum ggml_type wtype, const float *x, void *dst, size_t n);
void dequant_row(enum ggml_type type, const void *src, float *dst, size_t n);
void quant_matmul(enum ggml_type wtype, const void *W, size_t row_bytes, size_t n,
		  const void *xq, size_t xq_stride, size_t nb, float *Y, size_t ldy, size_t r0, size_t r1);
const char *quant_kernel_name(void);
#endif
