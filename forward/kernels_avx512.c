/* kernels_avx512.c - placeholder */
#include "kernels.h"
static bool cpu_ok(void) { return false; }
const struct quant_family quant_family_avx512 = { "avx512-vnni", "avx512", cpu_ok, {0} };
