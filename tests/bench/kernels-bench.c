/* kernels-bench - speed of the matrix products per weight type and kernel
 * family, one thread.  Not part of make test; run
 * tests/bench/kernels-bench.sh.
 *
 *   kernels-bench [NB [FAMILY]]   prefill batch NB (128); only FAMILY
 *                                 (scalar, avx2, avx512)
 *   DECODE_MIB=M                  decode matrix of M MiB (96); 1 or 2
 *                                 measures the kernels out of L2/L3
 *   kernels-bench a16 NB FAMILY TYPE:ROWSxN...
 *                                 quant_matmul_a16 of each shape against NB
 *                                 activations (quantized once, outside the
 *                                 timing): GFLOP/s, e.g. the products of a
 *                                 batch of NB sequences' decode step;
 *                                 float types (F32, F16, BF16):
 *                                 quant_matmul_float, lm-step's product
 *
 *   decode:  W (larger than the L3 cache) x one activation row: GB/s of
 *            weights streamed, and GFLOP/s (2 n per row); "exact" is
 *            lm-step's default path (16-bit activations where the type has
 *            them, else float), "8-bit" the --quant-act one;
 *   prefill: W (rows x n) x NB activation rows: GFLOP/s, activation
 *            quantization included; "exact" is float activations (the
 *            panels), "8-bit" the --quant-act path.
 * Each figure is the best of several repetitions of at least 0.2 s of this
 * thread's CPU time (the machine is shared: CPU time is less noisy than
 * wall time). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../../forward/kernels.h"
#include "err.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void fill(uint8_t *p, size_t bytes, enum ggml_type t)
{
	uint64_t s = 88172645463325252u;
	for (size_t i = 0; i < bytes; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		p[i] = (uint8_t)(s >> 24);
	}
	/* keep the half-precision scales (and F16 values) finite: clear the
	 * top exponent bit of every 16-bit word; F32 and BF16 values get
	 * exponents near 1 (random ones would be mostly tiny, and products
	 * of subnormals are slow) */
	if (t == GGML_F32)
		for (size_t i = 3; i < bytes; i += 4)
			p[i] = (p[i] & 0x80) | 0x3f;
	else if (t == GGML_BF16)
		for (size_t i = 1; i < bytes; i += 2)
			p[i] = (p[i] & 0x80) | 0x3f;
	else
		for (size_t i = 1; i < bytes; i += 2)
			p[i] &= 0x3f;
}

/* Seconds per call of f: best of 3 runs of at least 0.2 s each. */
#define TIME(expr) ({ \
	double best = 1e30; \
	for (int rep_ = 0; rep_ < 3; rep_++) { \
		int k_ = 0; double t0_ = now(), t_; \
		do { expr; k_++; } while ((t_ = now() - t0_) < 0.2); \
		if (t_ / k_ < best) best = t_ / k_; \
	} \
	best; })

/* kernels-bench a16 NB FAMILY TYPE:ROWSxN... */
static int shapes(int argc, char **argv)
{
	const int nb = atoi(argv[2]);

	if (nb < 1 || !quant_force(argv[3]))
		die("a16: NB %s or family %s not usable", argv[2], argv[3]);
	printf("# kernels-bench a16: %s, %d activations, 1 thread, CPU time\n", quant_kernel_name(), nb);
	printf("%-5s %7s %6s %10s %10s\n", "type", "rows", "n", "ns/row/act", "GFLOP/s");
	for (int i = 4; i < argc; i++) {
		char name[16];
		int rows = 0, n = 0, t = -1;
		if (sscanf(argv[i], "%15[^:]:%dx%d", name, &rows, &n) == 3)
			for (int k = 0; k < 64; k++)
				if (ggml_type_name((enum ggml_type)k) && strcasecmp(ggml_type_name((enum ggml_type)k), name) == 0)
					t = k;
		const int fl = t == GGML_F32 || t == GGML_F16 || t == GGML_BF16;
		if (t < 0 || rows < 1 || n < 1 || !(quant_a16_supported(t) || fl) || n % ggml_block_size(t))
			die("a16: %s: want TYPE:ROWSxN of a type with 16-bit activations or a float type", argv[i]);
		size_t rb = (size_t)n / ggml_block_size(t) * ggml_type_size(t), a16 = quant_a16_row_bytes(n);
		uint8_t *W = xmalloc(rb * rows), *xq = xmalloc(a16 * nb);
		float *x = xmalloc((size_t)n * sizeof *x), *Y = xmalloc((size_t)rows * nb * sizeof *Y);
		float *xf = xmalloc((size_t)n * nb * sizeof *xf);
		fill(W, rb * rows, t);
		for (int b = 0; b < nb; b++) {
			for (int j = 0; j < n; j++)
				x[j] = (float)(((j + 31 * b) * 7919) % 2001 - 1000) / 1000.0f;
			quant_a16_row(x, xq + a16 * b, n);
			memcpy(xf + (size_t)b * n, x, (size_t)n * sizeof *x);
		}
		double s = fl ? TIME(quant_matmul_float(t, W, rb, n, xf, (size_t)n * sizeof *xf, nb, Y, rows, 0, rows))
			      : TIME(quant_matmul_a16(t, W, rb, n, xq, a16, nb, Y, rows, 0, rows));
		printf("%-5s %7d %6d %10.2f %10.1f\n", ggml_type_name(t), rows, n, s * 1e9 / rows / nb,
		       2.0 * n * rows * nb / s / 1e9);
		fflush(stdout);
		free(W), free(xq), free(x), free(xf), free(Y);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const enum ggml_type types[] = {
		GGML_F32, GGML_F16, GGML_BF16, GGML_Q8_0, GGML_Q4_0, GGML_Q4_1,
		GGML_Q5_0, GGML_Q5_1, GGML_Q4_K, GGML_Q5_K, GGML_Q6_K,
	};
	static const char *const fams[] = {"scalar", "avx2", "avx512"};
	const int n = 2048, nb_prefill = argc > 1 ? atoi(argv[1]) : 128, prefill_rows = 512;
	const size_t decode_bytes = (size_t)(getenv("DECODE_MIB") ? atoi(getenv("DECODE_MIB")) : 96) << 20;  /* > 32 MiB L3 */

	lmu_init(argc, argv);
	if (argc > 4 && strcmp(argv[1], "a16") == 0)
		return shapes(argc, argv);
	float *x = xmalloc((size_t)n * nb_prefill * sizeof *x);
	for (int i = 0; i < n * nb_prefill; i++)
		x[i] = (float)((i * 7919) % 2001 - 1000) / 1000.0f;
	printf("# kernels-bench: n = %d, decode W %zu MiB x 1 row, prefill %d rows x %d activations, 1 thread\n",
	       n, decode_bytes >> 20, prefill_rows, nb_prefill);
	printf("%-5s %-12s %12s %12s %15s %15s\n", "type", "family", "dec GB/s", "dec GB/s", "prefill GF/s",
	       "prefill GF/s");
	printf("%-5s %-12s %12s %12s %15s %15s\n", "", "", "exact", "8-bit", "exact", "8-bit");
	for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
		enum ggml_type t = types[k];
		size_t rb = (size_t)n / ggml_block_size(t) * ggml_type_size(t), ab = quant_act_row_bytes(t, n);
		size_t a16 = quant_a16_row_bytes(n);
		int rows = (int)(decode_bytes / rb) > prefill_rows ? (int)(decode_bytes / rb) : prefill_rows;
		uint8_t *W = xmalloc(rb * rows), *xq = xmalloc((ab > a16 ? ab : a16) * nb_prefill);
		float *Y = xmalloc((size_t)rows * nb_prefill * sizeof *Y);

		fill(W, rb * rows, t);
		for (size_t f = 0; f < sizeof fams / sizeof *fams; f++) {
			if ((argc > 2 && strcmp(argv[2], fams[f]) != 0) || !quant_force(fams[f]))
				continue;
			double te, tq, tpe, tpq;
			if (quant_a16_supported(t)) {
				quant_a16_row(x, xq, n);
				te = TIME(quant_matmul_a16(t, W, rb, n, xq, a16, 1, Y, rows, 0, rows));
			} else {
				te = TIME(quant_matmul_float(t, W, rb, n, x, n * sizeof *x, 1, Y, rows, 0, rows));
			}
			quant_act_row(t, x, xq, n);
			tq = TIME(quant_matmul(t, W, rb, n, xq, ab, 1, Y, rows, 0, rows));
			tpe = TIME(quant_matmul_float(t, W, rb, n, x, n * sizeof *x, nb_prefill, Y, prefill_rows, 0,
						      prefill_rows));
			tpq = TIME({
				for (int b = 0; b < nb_prefill; b++)
					quant_act_row(t, x + (size_t)b * n, xq + b * ab, n);
				quant_matmul(t, W, rb, n, xq, ab, nb_prefill, Y, prefill_rows, 0, prefill_rows);
			});
			double flop = 2.0 * n * prefill_rows * nb_prefill;
			printf("%-5s %-12s %12.1f %12.1f %15.1f %15.1f\n", ggml_type_name(t), quant_kernel_name(),
			       rb * rows / te / 1e9, rb * rows / tq / 1e9, flop / tpe / 1e9, flop / tpq / 1e9);
			fflush(stdout);
		}
		free(W), free(xq), free(Y);
	}
	return 0;
}
