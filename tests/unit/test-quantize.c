/* test-quantize: the weight quantizers (quantize_row, forward/quant.c)
 * against the blocks llama.cpp's llama-quantize writes for the same rows
 * (tests/fixtures/quantize.txt, made by tests/ref/quantize-ref.py).
 *
 * Q4_0, Q4_1 and Q4_K follow llama.cpp's reference algorithms and must give
 * its blocks byte for byte.  Q8_0 is the activation quantizer, which rounds
 * x / d with the scale as stored (a half) where llama.cpp rounds with the
 * exact quotient: the scales must be equal and every quant within 1 (where
 * the scale underflows a half to 0, llama.cpp keeps quants of +-127 that
 * multiply 0; this quantizer writes 0).  And
 * whatever the type, a row dequantized must come back within the error the
 * type allows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "gguf.h"
#include "../../forward/kernels.h"

#include "tap.h"

#define FIXTURE "tests/fixtures/quantize.txt"
#define N 256
#define MAX_ROWS 32

static float rows[MAX_ROWS][N];
static int n_rows;

struct expect {
	enum ggml_type type;
	int row;
	uint8_t bytes[N / 32 * 34];
	size_t n;
};
static struct expect want[4 * MAX_ROWS];
static int n_want;

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int load(void)
{
	FILE *f = fopen(FIXTURE, "r");
	char *line = NULL, type[8];
	size_t cap = 0;
	int i, off;

	if (!f)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		if (sscanf(line, "row %d%n", &i, &off) == 1 && i == n_rows && i < MAX_ROWS) {
			char *p = line + off, *end;
			for (int k = 0; k < N; k++, p = end)
				rows[i][k] = strtof(p, &end);
			n_rows++;
		} else if (sscanf(line, "%7s %d %n", type, &i, &off) == 2 && n_want < 4 * MAX_ROWS) {
			struct expect *w = &want[n_want++];
			w->type = strcmp(type, "Q8_0") == 0 ? GGML_Q8_0 : strcmp(type, "Q4_0") == 0 ? GGML_Q4_0
				: strcmp(type, "Q4_1") == 0 ? GGML_Q4_1 : GGML_Q4_K;
			w->row = i;
			for (char *p = line + off; hexval(p[0]) >= 0 && hexval(p[1]) >= 0 && w->n < sizeof w->bytes; p += 2)
				w->bytes[w->n++] = (uint8_t)(hexval(p[0]) << 4 | hexval(p[1]));
		}
	}
	free(line);
	fclose(f);
	return n_rows > 0 && n_want == 4 * n_rows;
}

static size_t row_bytes(enum ggml_type t)
{
	return N / ggml_block_size(t) * ggml_type_size(t);
}

/* Largest |x - dequantized| over the row, against the bound of the type:
 * half a step of the block's scale (Q8_0, Q4_0, Q4_1) or, for Q4_K, one
 * step of the coarse 6-bit scale grid; 1e-6 more for the row whose scales
 * fall below what a half holds. */
static void roundtrip(enum ggml_type t)
{
	uint8_t q[N / 32 * 34];
	float y[N];
	int bad = 0;

	for (int i = 0; i < n_rows; i++) {
		float amax = 0, lo = 0, hi = 0;
		for (int k = 0; k < N; k++) {
			amax = fmaxf(amax, fabsf(rows[i][k]));
			lo = fminf(lo, rows[i][k]);
			hi = fmaxf(hi, rows[i][k]);
		}
		quantize_row(t, rows[i], q, N);
		dequant_row(t, q, y, N);
		float bound = 1e-6f + (t == GGML_Q8_0 ? amax / 127 * 0.51f : t == GGML_Q4_0 ? amax / 8 * 1.01f
				       : t == GGML_Q4_1 ? (hi - lo) / 15 * 0.51f : (hi - lo) / 15 * 1.2f);
		for (int k = 0; k < N; k++)
			if (!(fabsf(y[k] - rows[i][k]) <= bound)) {
				if (!bad++)
					printf("# %s row %d element %d: %g came back as %g (bound %g)\n", ggml_type_name(t), i, k,
					       rows[i][k], y[k], bound);
				break;
			}
	}
	ok(!bad, "%s: every row dequantizes within the type's error", ggml_type_name(t));
}

int main(int argc, char **argv)
{
	lmu_init(argc, argv);
	if (!load()) {
		ok(0, "%s: rows and blocks for the four types", FIXTURE);
		return tap_done();
	}
	ok(quant_weight_supported(GGML_Q4_K) && !quant_weight_supported(GGML_Q6_K) && !quant_weight_supported(GGML_F16),
	   "the weight types: Q8_0 Q4_0 Q4_1 Q4_K");
	static const enum ggml_type types[] = {GGML_Q4_0, GGML_Q4_1, GGML_Q4_K, GGML_Q8_0};
	for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
		enum ggml_type t = types[k];
		int same = 0, rows_seen = 0, scales_equal = 1, within_one = 1;
		for (int w = 0; w < n_want; w++) {
			uint8_t q[N / 32 * 34];
			if (want[w].type != t)
				continue;
			rows_seen++;
			if (want[w].n != row_bytes(t)) {
				printf("# %s row %d: %zu bytes in the fixture\n", ggml_type_name(t), want[w].row, want[w].n);
				continue;
			}
			quantize_row(t, rows[want[w].row], q, N);
			if (memcmp(q, want[w].bytes, want[w].n) == 0) {
				same++;
				continue;
			}
			if (t != GGML_Q8_0) {
				for (size_t b = 0; b < want[w].n; b++)
					if (q[b] != want[w].bytes[b]) {
						printf("# %s row %d: byte %zu is %02x, llama.cpp wrote %02x\n", ggml_type_name(t),
						       want[w].row, b, q[b], want[w].bytes[b]);
						break;
					}
				continue;
			}
			for (int b = 0; b < N / 32; b++) {
				const struct blk_q8_0 *x = (const void *)(q + 34 * b), *y = (const void *)(want[w].bytes + 34 * b);
				scales_equal &= x->d == y->d;
				for (int j = 0; j < 32 && x->d; j++)  /* a scale of 0 makes every quant 0 */
					within_one &= abs(x->qs[j] - y->qs[j]) <= 1;
			}
		}
		if (t == GGML_Q8_0)
			ok(rows_seen == n_rows && scales_equal && within_one,
			   "Q8_0: %d rows, scales as llama.cpp's, quants within 1 (%d of %d rows identical)", rows_seen, same,
			   rows_seen);
		else
			ok(rows_seen == n_rows && same == rows_seen, "%s: %d of %d rows byte for byte as llama-quantize writes them",
			   ggml_type_name(t), same, rows_seen);
		roundtrip(t);
	}
	return tap_done();
}
