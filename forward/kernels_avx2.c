/* kernels_avx2.c - placeholder */
#include "kernels.h"
static bool cpu_ok(void) { return false; }
const struct quant_family quant_family_avx2 = { "avx2", "avx2", cpu_ok, {0} };
