/* test-batch: what batching many sequences relies on.
 *
 * 1. The products give each activation row the same result, bit for bit,
 *    whatever rows are beside it: 16-bit and 8-bit activations in any
 *    batch, float activations in any batch below quant_float_batch() and
 *    in any batch from it on (the two methods differ from each other, so
 *    lm-step picks one per sequence, never from the size of a step).
 *    Every kernel family this CPU has.
 * 2. The engine (engine.h) on SmolLM2: 1, 4 and 16 sequences of different
 *    lengths, arriving at different steps, evaluated beside each other,
 *    give bit for bit the logits each gives alone, and so the same ids,
 *    greedy and sampled with the same seed; callbacks that feed the next
 *    id back or close their sequence; the pool's accounting. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "err.h"
#include "gguf.h"
#include "kernels.h"
#include "quant.h"
#include "sampler.h"
#include "tap.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint32_t rnd(void)
{
	return (uint32_t)(tap_xorshift(&rng) >> 32);
}
static float frand(float lo, float hi) { return lo + (hi - lo) * (float)(rnd() & 0xffffff) / 16777216.0f; }

/* ---- 1. products ---- */

static const enum ggml_type types[] = {GGML_F32, GGML_F16, GGML_BF16, GGML_Q8_0, GGML_Q4_0, GGML_Q4_1,
				       GGML_Q5_0, GGML_Q5_1, GGML_Q4_K, GGML_Q5_K, GGML_Q6_K};

/* rows random weight rows of n elements of type t: random bytes, then the
 * scales made small halves (a random half could be a NaN or huge) */
static uint8_t *rand_matrix(enum ggml_type t, int n, int rows, size_t *rb)
{
	size_t bs = ggml_type_size(t), nblk = (size_t)n / ggml_block_size(t);
	uint8_t *W;

	*rb = bs * nblk;
	W = xmalloc(*rb * (size_t)rows);
	for (size_t i = 0; i < *rb * (size_t)rows; i++)
		W[i] = (uint8_t)rnd();
	for (size_t i = 0; i < nblk * (size_t)rows; i++) {
		uint8_t *b = W + i * bs;
		uint16_t h[2] = {f32_to_f16(frand(-0.05f, 0.05f)), f32_to_f16(frand(-0.05f, 0.05f))};
		switch (t) {
		case GGML_F32: {
			float f = frand(-1, 1);
			memcpy(b, &f, 4);
			break;
		}
		case GGML_F16: h[0] = f32_to_f16(frand(-1, 1)); memcpy(b, h, 2); break;
		case GGML_BF16: { float f = frand(-1, 1); uint32_t u; memcpy(&u, &f, 4); h[0] = (uint16_t)(u >> 16); memcpy(b, h, 2); break; }
		case GGML_Q4_1: case GGML_Q5_1: case GGML_Q4_K: case GGML_Q5_K: memcpy(b, h, 4); break;
		case GGML_Q6_K: memcpy(b + 208, h, 2); break;
		default: memcpy(b, h, 2); break;
		}
	}
	return W;
}

enum method { M_A16, M_Q8, M_FLOAT };

/* Y (nb, ldy) = W rows [0, rows) times nb activation rows of x by one of
 * the three products (activations quantized from x as lm-step does). */
static void product(enum method m, enum ggml_type t, const uint8_t *W, size_t rb, int n, int rows, const float *x,
		    int nb, float *Y)
{
	size_t stride = m == M_A16 ? quant_a16_row_bytes(n) : quant_act_row_bytes(t, n);
	uint8_t *xq = xcalloc((size_t)nb, stride + 64);

	stride = (stride + 63) & ~(size_t)63;
	for (int b = 0; b < nb; b++) {
		if (m == M_A16)
			quant_a16_row(x + (size_t)b * n, xq + b * stride, n);
		else if (m == M_Q8)
			quant_act_row(t, x + (size_t)b * n, xq + b * stride, n);
	}
	if (m == M_A16)
		quant_matmul_a16(t, W, rb, n, xq, stride, nb, Y, rows, 0, rows);
	else if (m == M_Q8)
		quant_matmul(t, W, rb, n, xq, stride, nb, Y, rows, 0, rows);
	else
		quant_matmul_float(t, W, rb, n, x, (size_t)n * sizeof(float), nb, Y, rows, 0, rows);
	free(xq);
}

/* Rows b of a product over a batch of nb equal, bit for bit, row 0 of
 * the same product over the batch of `with` rows that starts at b (with
 * 1: the row alone).  The first differing row, or -1. */
static int batch_invariant(enum method m, enum ggml_type t, int n, int nb, int with)
{
	const int rows = 37;
	size_t rb;
	uint8_t *W = rand_matrix(t, n, rows, &rb);
	float *x = xmalloc((size_t)(nb + with) * n * sizeof *x);
	float *Y = xmalloc((size_t)nb * rows * sizeof *Y), *Y1 = xmalloc((size_t)with * rows * sizeof *Y1);
	int bad = -1;

	for (int i = 0; i < (nb + with) * n; i++)
		x[i] = frand(-2, 2);
	product(m, t, W, rb, n, rows, x, nb, Y);
	for (int b = 0; b < nb && bad < 0; b++) {
		product(m, t, W, rb, n, rows, x + (size_t)b * n, with, Y1);
		if (memcmp(Y + (size_t)b * rows, Y1, rows * sizeof *Y) != 0)
			bad = b;
	}
	free(W), free(x), free(Y), free(Y1);
	return bad;
}

/* The batch from which family env's float product uses its second
 * method (0: it has one), whether or not lm-step uses it there
 * (quant_float_batch() is 0 where 16-bit activations are faster). */
static int float_switch(const char *env, enum ggml_type t)
{
	for (const struct quant_family *const *f = quant_families; *f; f++)
		if (strcmp((*f)->env, env) == 0)
			return (*f)->mmf[t] ? (*f)->mmf_min : 0;
	return 0;
}

static void test_products(const char *family)
{
	const int n = 256, nf = 1280;  /* nf: float panels of 128 or 512 columns and a remainder */

	for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
		enum ggml_type t = types[i];
		int T = float_switch(family, t);
		const char *tn = ggml_type_name(t);
		/* rows of one super-block (a short group of 8 blocks where
		 * AVX-512 lays 16 across its lanes), of 5 (two groups and a
		 * short one), and of 17 (nine groups: AVX-512's K-quants take
		 * them in ranges of 3 for 8 activations, 5 for 5, all at once
		 * for 1; 13 such activations go on the heap); batches of 11 to
		 * 15 leave every remainder of the AVX2 tiles of 4 activations
		 * (the legacy types' tiles of 8 against unpacked rows: 3 to 7),
		 * and AVX-512's K-quant tiles of 8 a last one of 3 to 7 (Q4_K
		 * takes 1 to 4 activations with its nibbles scaled by 16; 9 or
		 * more unpack the rows once and take them two at a time against
		 * tiles of 6, 37 rows leaving one alone: not so alone) */
		if (quant_a16_supported(t))
			for (int k = 1; k <= 17; k += k == 1 ? 4 : 12)
				for (int nb = 11; nb <= 15; nb++)
					ok(batch_invariant(M_A16, t, k * n, nb, 1) < 0,
					   "%s %s: 16-bit activations, rows of %d, a row in a batch of %d = alone", family, tn,
					   k * n, nb);
		/* AVX2's K-quants unpack the rows once from 8 activations (7:
		 * not yet), in blocks of rows (24 of 4352 elements: 37 rows
		 * leave a short block of 13, its last row alone), 64
		 * activations at a time (67: a chunk and a short one of 3),
		 * tiles of 4 (67: a remainder of 3) */
		if (ggml_block_size(t) == QK_K)
			for (int nb = 7; nb <= 67; nb += nb == 8 ? 59 : 1)
				ok(batch_invariant(M_A16, t, 17 * n, nb, 1) < 0,
				   "%s %s: 16-bit activations, rows of %d, a row in a batch of %d = alone", family, tn,
				   17 * n, nb);
		/* rows of 544 (a group of 16 blocks and a lone block after it),
		 * 576 (SmolLM2's: a group and a pair), 672 (a group, two pairs
		 * and a lone block) and 1088 (two groups and a pair), which
		 * AVX-512 takes four rows at a time against 9 to 16 activations,
		 * the blocks after the groups with the four (37 rows: whole
		 * fours and a row left over in each 16), and AVX2 from 4
		 * activations against rows unpacked 8 at a time (37: a short
		 * panel of 5) in tiles of 8 activations (4, 6, 7, 9, 13: a last
		 * tile of 4, 6, 7, 1, 5; rows of 4352 above: pairs in slices; the
		 * mins summed in a vector per 4 activations); legacy types
		 * only */
		static const int n2s[] = {544, 576, 672, 1088}, nb2s[] = {4, 6, 7, 9, 13, 16};
		if (quant_a16_supported(t) && ggml_block_size(t) == 32)
			for (size_t j = 0; j < sizeof n2s / sizeof *n2s; j++)
				for (size_t l = 0; l < sizeof nb2s / sizeof *nb2s; l++) {
					const int n2 = n2s[j], nb = nb2s[l];
					ok(batch_invariant(M_A16, t, n2, nb, 1) < 0,
					   "%s %s: 16-bit activations, rows of %d, a row in a batch of %d = alone", family, tn,
					   n2, nb);
				}
		ok(quant_float_batch(t) == T || quant_float_batch(t) == 0,
		   "%s %s: quant_float_batch() %d is the float product's switch (%d) or never", family, tn,
		   quant_float_batch(t), T);
		ok(batch_invariant(M_Q8, t, n, 13, 1) < 0 || t == GGML_F32 || t == GGML_F16 || t == GGML_BF16,
		   "%s %s: 8-bit activations, a row in a batch of 13 = alone", family, tn);
		/* AVX2's legacy 8-bit products from 4 activations: rows
		 * unpacked 8 at a time (37: a short panel of 5), tiles of 8
		 * activations (4, 7, 9, 13: a last tile of 4, 7, 1, 5), the
		 * blocks in slices (rows of 4352: several) */
		static const int n8s[] = {544, 576, 1088, 4352}, nb8s[] = {4, 7, 9, 13, 16};
		if (ggml_block_size(t) == 32)
			for (size_t j = 0; j < sizeof n8s / sizeof *n8s; j++)
				for (size_t l = 0; l < sizeof nb8s / sizeof *nb8s; l++)
					ok(batch_invariant(M_Q8, t, n8s[j], nb8s[l], 1) < 0,
					   "%s %s: 8-bit activations, rows of %d, a row in a batch of %d = alone", family, tn,
					   n8s[j], nb8s[l]);
		/* and the K-quants' tiles of 8 activations (9, 13, 16: a last
		 * one of 1, 5 and none) over 17 super-blocks */
		if (ggml_block_size(t) == QK_K)
			for (size_t l = 2; l < sizeof nb8s / sizeof *nb8s; l++)
				ok(batch_invariant(M_Q8, t, 17 * n, nb8s[l], 1) < 0,
				   "%s %s: 8-bit activations, rows of %d, a row in a batch of %d = alone", family, tn,
				   17 * n, nb8s[l]);
		if (T) {
			ok(batch_invariant(M_FLOAT, t, nf, T - 1, 1) < 0, "%s %s: float activations, a row in a batch of %d = alone",
			   family, tn, T - 1);
			ok(batch_invariant(M_FLOAT, t, nf, 21, T) < 0,
			   "%s %s: float activations, a row in a batch of 21 = in a batch of %d", family, tn, T);
		} else {
			ok(batch_invariant(M_FLOAT, t, nf, 21, 1) < 0, "%s %s: float activations (one method), batch of 21 = alone",
			   family, tn);
		}
	}
}

/* ---- 2. the engine ---- */

/* What a run of the engine produced: every frame, in order. */
struct frame {
	int seq;
	uint64_t pos;
	int32_t token;
	float *logits;
};

struct run {
	struct engine *e;
	uint32_t n_vocab;
	struct frame *f;
	size_t n, cap;
	/* greedy feeding: after a sequence's last frame, its best id goes back
	 * in, until it has been fed want[seq] ids */
	int fed[16], want[16];
	int close_after[16];      /* close the sequence from the callback after this many frames (0: never) */
	int frames[16];
	bool sampled;             /* sample (temperature 0.8, seed 1000 + k) instead of greedy */
	struct sampler smp[16];
};

static int32_t argmax(const float *x, uint32_t n)
{
	int32_t best = 0;
	for (uint32_t i = 1; i < n; i++)
		if (x[i] > x[best])
			best = (int32_t)i;
	return best;
}

static int record(void *arg, const struct engine_logits *o)
{
	struct run *r = arg;
	struct lmu_err e = {{0}};

	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->f = xreallocarray(r->f, r->cap, sizeof *r->f);
	}
	struct frame *f = &r->f[r->n++];
	f->seq = (int)o->user;  /* the test's own numbering of the sequence */
	f->pos = o->pos;
	f->token = o->token;
	f->logits = xmalloc(o->n_vocab * sizeof(float));
	memcpy(f->logits, o->logits, o->n_vocab * sizeof(float));
	r->frames[f->seq]++;
	if (r->close_after[f->seq] && r->frames[f->seq] == r->close_after[f->seq]) {
		engine_seq_close(r->e, o->seq);
		return 1;
	}
	if (o->last && r->fed[f->seq] < r->want[f->seq]) {
		int32_t id = r->sampled ? sampler_sample(&r->smp[f->seq], o->logits, o->n_vocab) : argmax(o->logits, o->n_vocab);
		if (r->sampled)
			sampler_accept(&r->smp[f->seq], id);
		r->fed[f->seq]++;
		if (engine_submit(r->e, o->seq, &id, 1, 0, o->user, &e) != 0)
			die("%s", e.msg);
	}
	return 1;
}

static void run_init(struct run *r, bool sampled)
{
	memset(r, 0, sizeof *r);
	r->sampled = sampled;
	for (int k = 0; k < 16; k++) {
		struct sampler_params p;
		sampler_defaults(&p);
		p.temperature = 0.8;
		p.seed = 1000 + (uint64_t)k;
		sampler_init(&r->smp[k], &p);
	}
}

static void run_free(struct run *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->f[i].logits);
	free(r->f);
	for (int k = 0; k < 16; k++)
		sampler_free(&r->smp[k]);
}

/* The frames of test sequence k in r, in order, equal those of `alone`. */
static bool same_frames(const struct run *r, int k, const struct run *alone, uint32_t n_vocab)
{
	size_t j = 0, got = 0;
	for (size_t i = 0; i < r->n; i++) {
		if (r->f[i].seq != k)
			continue;
		got++;
		while (j < alone->n && alone->f[j].seq != k)
			j++;
		if (j == alone->n || r->f[i].pos != alone->f[j].pos || r->f[i].token != alone->f[j].token ||
		    memcmp(r->f[i].logits, alone->f[j].logits, n_vocab * sizeof(float)) != 0)
			return false;
		j++;
	}
	return got > 0 && got == (size_t)alone->n;
}

static int32_t *prompt(int k, uint32_t len, uint32_t n_vocab)
{
	int32_t *p = xmalloc(len * sizeof *p);
	for (uint32_t i = 0; i < len; i++)
		p[i] = (int32_t)((1000003u * (uint32_t)k + 7919u * i + 13u) % (n_vocab - 1) + 1);
	return p;
}

/* Sequence k alone: its prompt, then `decode` ids fed back. */
static void run_alone(const char *model, int k, uint32_t len, int decode, bool sampled, struct run *r)
{
	struct engine_params ep = {.n_ctx = 1024, .n_seq = 1, .n_threads = 2};
	struct lmu_err e = {{0}};

	run_init(r, sampled);
	r->e = engine_open(model, &ep);
	r->n_vocab = engine_model(r->e)->hp.n_vocab;
	int32_t *p = prompt(k, len, r->n_vocab);
	r->want[k] = decode;
	int s = engine_seq_open(r->e);
	if (engine_submit(r->e, s, p, len, 0, (uint64_t)k, &e) != 0)
		die("%s", e.msg);
	while (engine_step(r->e, record, r) > 0)
		;
	free(p);
	engine_close(r->e);
}

static void test_engine(const char *model)
{
	/* prompts of different lengths: a single id, small batches, large
	 * ones, and one longer than a chunk (two steps) */
	static const uint32_t len[] = {1, 5, 9, 300, 40, 7, 2, 64, 12, 3, 100, 8, 1, 30, 6, 17};
	const int decode = 6;
	struct run alone[16];
	uint32_t n_vocab = 0;

	for (int sampled = 0; sampled < 2; sampled++) {
		const char *how = sampled ? "sampled with its seed" : "greedy";
		for (int k = 0; k < 16; k++)
			run_alone(model, k, len[k], decode, sampled, &alone[k]);
		n_vocab = alone[0].n_vocab;
		for (int n_seq = 1; n_seq <= 16; n_seq *= 4) {
			struct engine_params ep = {.n_ctx = 4096, .n_seq = (uint32_t)n_seq, .n_threads = 2};
			struct run r;
			struct lmu_err e = {{0}};
			int started = 0, steps = 0;

			run_init(&r, sampled);
			r.e = engine_open(model, &ep);
			/* sequence k arrives at step 2k: beside others already decoding */
			while (started < n_seq || engine_has_input(r.e)) {
				if (started < n_seq && steps >= 2 * started) {
					int32_t *p = prompt(started, len[started], n_vocab);
					int s = engine_seq_open(r.e);
					r.want[started] = decode;
					if (s < 0 || engine_submit(r.e, s, p, len[started], 0, (uint64_t)started, &e) != 0)
						die("cannot start sequence %d: %s", started, e.msg);
					free(p);
					started++;
				}
				engine_step(r.e, record, &r);
				steps++;
			}
			for (int k = 0; k < n_seq; k++)
				ok(same_frames(&r, k, &alone[k], n_vocab),
				   "%s, %d sequences arriving at different steps: sequence %d (prompt %u, %d ids) has the frames "
				   "it has alone, bit for bit", how, n_seq, k, len[k], decode);
			struct engine_stats st;
			engine_stats(r.e, &st);
			ok(st.n_open == (uint32_t)n_seq && st.n_used == st.n_evaluated,
			   "%s, %d sequences: %u positions in the pool, %llu evaluated", how, n_seq, st.n_used,
			   (unsigned long long)st.n_evaluated);
			run_free(&r);
			engine_close(r.e);
		}
		for (int k = 0; k < 16; k++)
			run_free(&alone[k]);
	}

	/* a callback that closes its sequence: nothing more about it, the slot
	 * opens again; one that resets and resubmits reuses the cache */
	{
		struct engine_params ep = {.n_ctx = 256, .n_seq = 2, .n_threads = 2};
		struct run r;
		struct lmu_err e = {{0}};
		int32_t *p = prompt(3, 20, n_vocab);

		run_init(&r, false);
		r.e = engine_open(model, &ep);
		r.want[0] = r.want[1] = 100;
		r.close_after[0] = 3;
		ok(engine_seq_open(r.e) == 0 && engine_seq_open(r.e) == 1 && engine_seq_open(r.e) == -1,
		   "two slots open, a third is refused");
		engine_submit(r.e, 0, p, 20, 0, 0, &e);
		engine_submit(r.e, 1, p, 20, 0, 1, &e);
		for (int i = 0; i < 6; i++)
			engine_step(r.e, record, &r);
		ok(r.frames[0] == 3 && r.frames[1] == 6, "closed from its third frame's callback: 3 frames, the other went on (%d, %d)",
		   r.frames[0], r.frames[1]);
		ok(!engine_seq_is_open(r.e, 0) && engine_seq_open(r.e) == 0 && engine_seq_n_pos(r.e, 0) == 0,
		   "its slot opens again, empty");
		engine_seq_close(r.e, 0);
		uint32_t before = engine_seq_n_pos(r.e, 1);
		ok(engine_submit(r.e, 1, p, 256, 0, 1, &e) == -1 && strstr(e.msg, "does not fit"),
		   "a batch beyond the pool is refused: %s", e.msg);
		ok(engine_seq_n_pos(r.e, 1) == before, "and nothing was queued");
		run_free(&r);
		engine_close(r.e);
		free(p);
	}
}

int main(int argc, char **argv)
{
	static const char *const families[] = {"scalar", "avx2", "avx512"};
	const char *dir = getenv("LMU_MODELS");
	char model[4096];

	lmu_init(argc, argv);
	for (size_t f = 0; f < sizeof families / sizeof *families; f++) {
		if (!quant_force(families[f])) {
			printf("ok %d # SKIP kernel family %s: this CPU lacks it\n", ++n_test, families[f]);
			continue;
		}
		test_products(families[f]);
	}
	/* the engine on the last family forced: the best this CPU has, as lm-step picks */
	snprintf(model, sizeof model, "%s/smollm2-135m-instruct-q4_1.gguf", dir ? dir : "models");
	if (access(model, R_OK) == 0)
		test_engine(model);
	else
		printf("ok %d # SKIP %s is missing: make model\n", ++n_test, model);
	return tap_done();
}
