/* kernels_neon_dot.c - the "neon-dotprod" kernel family: kernels_neon.c
 * compiled with the dot-product instructions (ARMv8.2-A SDOT) for its
 * 8-bit products; quant.c uses it on aarch64 CPUs that report them. */
#if defined(__aarch64__)
#pragma GCC target("arch=armv8.2-a+dotprod")
#define NEON_DOT 1
#include "kernels_neon.c"
#endif
