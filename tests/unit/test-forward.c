/* test-forward: the forward pass of every architecture against
 * transformers on tiny random-weight models (tests/ref/tiny_models.py makes
 * the reference logits in tests/fixtures/fwd/tiny-logits.txt from the same
 * weights).
 *
 * Without arguments: TAP tests.  Helper modes for the shell tests:
 *   test-forward --write DIR        write the tiny models as DIR/NAME.gguf
 *   test-forward --ppl IDS_FILE     read logits frames on stdin (a frame for
 *                                   every position of the ids in IDS_FILE)
 *                                   and print "positions N nll X ppl Y"
 *   test-forward --top1             read logits frames on stdin, print
 *                                   "pos id margin" (best id, gap to 2nd) */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "gguf.h"
#include "gguf_write.h"
#include "../../forward/kernels.h"
#include "../../forward/model.h"
#include "../../forward/transformer.h"
#include "stream.h"

#include "tap.h"

/* ---- the tiny models: must match MODELS in tests/ref/tiny_models.py ---- */

struct tiny {
	const char *name, *arch;
	uint32_t vocab, embd, layers, heads, kv_heads, ff, ctx;
	int tied;
	enum ggml_type type;
	float rope_base;
	uint64_t seed;
	int llama3;          /* llama: Llama-3 RoPE factors (rope_freqs.weight) */
	uint32_t head_dim;   /* attention.key_length; 0: embd / heads */
	uint32_t window;     /* attention.sliding_window; 0: none */
	int bias;            /* granite: biases on every projection */
	uint32_t n_rot;      /* rope.dimension_count; 0: head_dim */
	uint32_t orig;       /* phi3: long and short RoPE factors past this context; 0: none */
};

static const struct tiny tinies[] = {
	{"tiny-f32-gqa-tied", "llama", 96, 64, 2, 4, 2, 128, 64, 1, GGML_F32, 10000.0f, .seed = 1},
	{"tiny-f16-mqa-untied", "llama", 96, 64, 2, 4, 1, 128, 64, 0, GGML_F16, 10000.0f, .seed = 2},
	{"tiny-f32-llama3-untied", "llama", 96, 64, 2, 4, 4, 128, 64, 0, GGML_F32, 500000.0f, .seed = 3, .llama3 = 1},
	{"tiny-qwen2-f32-gqa-untied", "qwen2", 96, 64, 2, 4, 2, 128, 64, 0, GGML_F32, 1000000.0f, .seed = 11},
	{"tiny-qwen2-f16-tied", "qwen2", 96, 64, 2, 4, 1, 128, 64, 1, GGML_F16, 10000.0f, .seed = 12},
	/* Mistral: llama with a window of 7 positions, shorter than the prompt */
	{"tiny-mistral-f32-window", "llama", 96, 64, 2, 4, 2, 128, 64, 0, GGML_F32, 10000.0f, .seed = 21, .window = 7},
	/* Gemma 3: six layers (five local, one global), heads of 96 and 256 */
	{"tiny-gemma3-f32-hd96", "gemma3", 96, 64, 6, 2, 1, 128, 64, 1, GGML_F32, 1000000.0f, .seed = 31, .head_dim = 96,
	 .window = 8},
	{"tiny-gemma3-f16-hd256-untied", "gemma3", 96, 64, 6, 2, 2, 128, 64, 0, GGML_F16, 1000000.0f, .seed = 32,
	 .head_dim = 256, .window = 5},
	/* Phi-3: fused matrices, partial RoPE; long and short factors past a
	 * context of 8 */
	{"tiny-phi3-f32-longrope", "phi3", 96, 64, 2, 4, 2, 128, 64, 0, GGML_F32, 10000.0f, .seed = 51, .n_rot = 8, .orig = 8},
	{"tiny-phi3-f16-partial-tied", "phi3", 96, 64, 2, 4, 4, 128, 64, 1, GGML_F16, 10000.0f, .seed = 52, .n_rot = 12},
	/* Granite: the four multipliers; with and without biases */
	{"tiny-granite-f32-tied", "granite", 96, 64, 2, 4, 2, 128, 64, 1, GGML_F32, 10000.0f, .seed = 41},
	{"tiny-granite-f16-bias-untied", "granite", 96, 64, 2, 4, 1, 128, 64, 0, GGML_F16, 10000.0f, .seed = 42, .bias = 1},
};
#define N_TINY (sizeof tinies / sizeof *tinies)
/* Llama-3 RoPE scaling of the llama3 model */
static const double l3_factor = 8, l3_low = 1, l3_high = 4, l3_orig = 16;

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* (k - 512) / 512 for a 10-bit k: exact in float16 and float32 */
static float unit(uint64_t *s)
{
	return (float)((int)(splitmix64(s) >> 54) - 512) / 512.0f;
}

static float scale(uint32_t n_in)
{
	int k = 0;
	while ((1ull << (2 * k)) < n_in)
		k++;
	return ldexpf(1.0f, -k);
}

/* Draw a rows x cols matrix in HF layout (row = output feature). */
static float *draw(uint64_t *s, uint32_t rows, uint32_t cols, float sc)
{
	float *m = xmalloc((size_t)rows * cols * sizeof *m);
	for (size_t i = 0; i < (size_t)rows * cols; i++)
		m[i] = unit(s) * sc;
	return m;
}

/* norm weights as GGUF holds them (Gemma's converter stores 1 + w) */
static float *draw_norm(uint64_t *s, uint32_t n)
{
	float *v = xmalloc(n * sizeof *v);
	for (uint32_t i = 0; i < n; i++)
		v[i] = 1.0f + 0.25f * unit(s);
	return v;
}

/* GGUF llama Q/K rows: within each head of d rows, GGUF row 2j+s is HF
 * row s*d/2 + j (doc/formats.md "RoPE"). */
static void permute_heads(float *m, uint32_t n_head, uint32_t d, uint32_t cols)
{
	float *tmp = xmalloc((size_t)d * cols * sizeof *tmp);
	for (uint32_t h = 0; h < n_head; h++) {
		float *head = m + (size_t)h * d * cols;
		for (uint32_t j = 0; j < d / 2; j++)
			for (uint32_t s = 0; s < 2; s++)
				memcpy(tmp + (size_t)(2 * j + s) * cols, head + (size_t)(s * d / 2 + j) * cols,
				       cols * sizeof *tmp);
		memcpy(head, tmp, (size_t)d * cols * sizeof *tmp);
	}
	free(tmp);
}

static void put_matrix(struct gguf_writer *w, const char *name, enum ggml_type type, float *m, uint32_t rows,
		       uint32_t cols)
{
	uint64_t ne[2] = {cols, rows};
	size_t n = (size_t)rows * cols;
	if (type == GGML_I32) {  /* a type no matrix product takes */
		gguf_w_tensor(w, name, GGML_I32, 2, ne, m, n * 4);
	} else if (type == GGML_F16) {
		uint16_t *h = xmalloc(n * sizeof *h);
		for (size_t i = 0; i < n; i++)
			h[i] = f32_to_f16(m[i]);
		gguf_w_tensor(w, name, GGML_F16, 2, ne, h, n * 2);
		free(h);
	} else {
		gguf_w_tensor(w, name, GGML_F32, 2, ne, m, n * 4);
	}
	free(m);
}

/* The rows of a, b and c (each of cols, NULL for none) one after the
 * other, as a fused matrix holds them; a, b, c are freed. */
static float *cat3(float *a, uint32_t na, float *b, uint32_t nb, float *c, uint32_t nc, uint32_t cols)
{
	float *m = xmalloc(((size_t)na + nb + nc) * cols * sizeof *m);
	memcpy(m, a, (size_t)na * cols * sizeof *m);
	memcpy(m + (size_t)na * cols, b, (size_t)nb * cols * sizeof *m);
	if (c)
		memcpy(m + ((size_t)na + nb) * cols, c, (size_t)nc * cols * sizeof *m);
	free(a), free(b), free(c);
	return m;
}

static void put_vector(struct gguf_writer *w, const char *name, float *v, uint32_t n)
{
	uint64_t ne[1] = {n};
	gguf_w_tensor(w, name, GGML_F32, 1, ne, v, n * 4);
	free(v);
}

/* Broken variants for the refusal tests of the shell tests: an unknown
 * architecture, a tensor type, a tensor shape, a missing tensor; a key
 * length whose product with 64 heads wraps in 32 bits to the tensors'
 * 64 rows; a context length near 2^32; other weights under the same
 * metadata. */
enum variant { GOOD, BAD_ARCH, BAD_TYPE, BAD_SHAPE, NO_NORM, WRAP_QDIM, HUGE_CTX, OTHER_WEIGHTS };

static void put_u32(struct gguf_writer *w, const struct tiny *t, const char *suffix, uint32_t v)
{
	char key[128];
	snprintf(key, sizeof key, "%s.%s", t->arch, suffix);
	gguf_w_u32(w, key, v);
}

static void put_f32(struct gguf_writer *w, const struct tiny *t, const char *suffix, float v)
{
	char key[128];
	snprintf(key, sizeof key, "%s.%s", t->arch, suffix);
	gguf_w_f32(w, key, v);
}

/* The model t as a GGUF file: keys, then the tensors drawn in the order
 * of tests/ref/tiny_models.py (the model's, each layer's in the order of
 * its table there, then the output norm and head). */
static struct gguf_writer *tiny_model(const struct tiny *t, enum variant var)
{
	struct gguf_writer *w = gguf_writer_new();
	struct tiny wide = *t;
	uint64_t s = t->seed;
	char name[64];

	if (var == WRAP_QDIM)
		wide.heads = wide.kv_heads = wide.embd, wide.head_dim = 0, t = &wide;
	bool llama = strcmp(t->arch, "llama") == 0, qwen2 = strcmp(t->arch, "qwen2") == 0;
	bool gemma3 = strcmp(t->arch, "gemma3") == 0, granite = strcmp(t->arch, "granite") == 0;
	bool phi3 = strcmp(t->arch, "phi3") == 0;
	bool permute = llama || granite;  /* the llama converter's Q/K rows */
	uint32_t hd = t->head_dim ? t->head_dim : t->embd / t->heads, q_dim = t->heads * hd, kv_dim = t->kv_heads * hd;

	gguf_w_str(w, "general.architecture", var == BAD_ARCH ? "llamax" : t->arch);
	gguf_w_str(w, "general.name", t->name);
	if (var == BAD_ARCH)
		gguf_w_u32(w, "llamax.context_length", t->ctx);
	put_u32(w, t, "context_length", var == HUGE_CTX ? 0xFFFFFFF8u : t->ctx);
	put_u32(w, t, "embedding_length", t->embd);
	put_u32(w, t, "block_count", t->layers);
	put_u32(w, t, "feed_forward_length", t->ff);
	put_u32(w, t, "attention.head_count", t->heads);
	put_u32(w, t, "attention.head_count_kv", t->kv_heads);
	put_f32(w, t, "attention.layer_norm_rms_epsilon", llama ? 1e-5f : 1e-6f);
	put_f32(w, t, "rope.freq_base", t->rope_base);
	if (llama || t->n_rot)
		put_u32(w, t, "rope.dimension_count", var == WRAP_QDIM ? 2 : t->n_rot ? t->n_rot : hd);
	if (t->orig)
		put_u32(w, t, "rope.scaling.original_context_length", t->orig);
	if (granite) {
		put_f32(w, t, "embedding_scale", 4.0f);
		put_f32(w, t, "residual_scale", 0.25f);
		put_f32(w, t, "attention.scale", 0.0625f);
		put_f32(w, t, "logit_scale", 2.0f);
	}
	if (var == WRAP_QDIM) {
		put_u32(w, t, "attention.key_length", (1u << 26) + 1);
		put_u32(w, t, "attention.value_length", (1u << 26) + 1);
	} else if (t->head_dim) {
		put_u32(w, t, "attention.key_length", hd);
		put_u32(w, t, "attention.value_length", hd);
	}
	if (t->window)
		put_u32(w, t, "attention.sliding_window", t->window);

	put_matrix(w, "token_embd.weight", t->type, draw(&s, t->vocab, t->embd, 1.0f), t->vocab, t->embd);
	for (uint32_t l = 0; l < t->layers; l++) {
#define NAME(x) (snprintf(name, sizeof name, "blk.%u." x, l), name)
		put_vector(w, NAME("attn_norm.weight"), draw_norm(&s, t->embd), t->embd);
		float *q = draw(&s, q_dim, t->embd, scale(t->embd));
		if (permute)
			permute_heads(q, t->heads, hd, t->embd);
		if (var == OTHER_WEIGHTS && l == 0)
			q[0] += 0.5f;
		if (!phi3)  /* phi3: Q, K and V in one matrix, below */
			put_matrix(w, NAME("attn_q.weight"), var == BAD_TYPE ? GGML_I32 : t->type, q, q_dim, t->embd);
		if (qwen2 || t->bias) {
			float *b = draw(&s, 1, q_dim, 0.25f);
			if (permute)
				permute_heads(b, t->heads, hd, 1);
			put_vector(w, NAME("attn_q.bias"), b, q_dim);
		}
		float *k = draw(&s, kv_dim, t->embd, scale(t->embd));
		if (permute)
			permute_heads(k, t->kv_heads, hd, t->embd);
		if (!phi3)
			put_matrix(w, NAME("attn_k.weight"), t->type, k, var == BAD_SHAPE && l == 1 ? kv_dim / 2 : kv_dim,
				   t->embd);
		if (qwen2 || t->bias) {
			float *b = draw(&s, 1, kv_dim, 0.25f);
			if (permute)
				permute_heads(b, t->kv_heads, hd, 1);
			put_vector(w, NAME("attn_k.bias"), b, kv_dim);
		}
		float *v = draw(&s, kv_dim, t->embd, scale(t->embd));
		if (phi3)
			put_matrix(w, NAME("attn_qkv.weight"), t->type, cat3(q, q_dim, k, kv_dim, v, kv_dim, t->embd),
				   q_dim + 2 * kv_dim, t->embd);
		else
			put_matrix(w, NAME("attn_v.weight"), t->type, v, kv_dim, t->embd);
		if (qwen2 || t->bias)
			put_vector(w, NAME("attn_v.bias"), draw(&s, 1, kv_dim, 0.25f), kv_dim);
		if (gemma3) {
			put_vector(w, NAME("attn_q_norm.weight"), draw_norm(&s, hd), hd);
			put_vector(w, NAME("attn_k_norm.weight"), draw_norm(&s, hd), hd);
		}
		put_matrix(w, NAME("attn_output.weight"), t->type, draw(&s, t->embd, q_dim, scale(q_dim)), t->embd, q_dim);
		if (t->bias)
			put_vector(w, NAME("attn_output.bias"), draw(&s, 1, t->embd, 0.25f), t->embd);
		if (gemma3)
			put_vector(w, NAME("post_attention_norm.weight"), draw_norm(&s, t->embd), t->embd);
		if (var == NO_NORM && l == 1)
			free(draw_norm(&s, t->embd));
		else
			put_vector(w, NAME("ffn_norm.weight"), draw_norm(&s, t->embd), t->embd);
		float *gate = draw(&s, t->ff, t->embd, scale(t->embd));
		if (!phi3)  /* phi3: gate and up in one matrix, below */
			put_matrix(w, NAME("ffn_gate.weight"), t->type, gate, t->ff, t->embd);
		if (t->bias)
			put_vector(w, NAME("ffn_gate.bias"), draw(&s, 1, t->ff, 0.25f), t->ff);
		float *up = draw(&s, t->ff, t->embd, scale(t->embd));
		if (phi3)
			put_matrix(w, NAME("ffn_up.weight"), t->type, cat3(gate, t->ff, up, t->ff, NULL, 0, t->embd),
				   2 * t->ff, t->embd);
		else
			put_matrix(w, NAME("ffn_up.weight"), t->type, up, t->ff, t->embd);
		if (t->bias)
			put_vector(w, NAME("ffn_up.bias"), draw(&s, 1, t->ff, 0.25f), t->ff);
		put_matrix(w, NAME("ffn_down.weight"), t->type, draw(&s, t->embd, t->ff, scale(t->ff)), t->embd, t->ff);
		if (t->bias)
			put_vector(w, NAME("ffn_down.bias"), draw(&s, 1, t->embd, 0.25f), t->embd);
		if (gemma3)
			put_vector(w, NAME("post_ffw_norm.weight"), draw_norm(&s, t->embd), t->embd);
#undef NAME
	}
	put_vector(w, "output_norm.weight", draw_norm(&s, t->embd), t->embd);
	if (!t->tied)
		put_matrix(w, "output.weight", t->type, draw(&s, t->vocab, t->embd, scale(t->embd)), t->vocab, t->embd);
	if (t->orig) {
		/* phi3: the divisors of the angles of short and long contexts */
		uint32_t half = t->n_rot / 2;
		float *sf = xmalloc(half * sizeof *sf), *lf = xmalloc(half * sizeof *lf);
		for (uint32_t i = 0; i < half; i++)
			sf[i] = 1.0f + 0.25f * (float)i, lf[i] = 2.0f + (float)i;
		put_vector(w, "rope_factors_long.weight", lf, half);
		put_vector(w, "rope_factors_short.weight", sf, half);
	}
	if (t->llama3) {
		/* per-pair divisors of the angle, as the llama converter writes them */
		float *f = xmalloc(hd / 2 * sizeof *f);
		for (uint32_t i = 0; i < hd / 2; i++) {
			double freq = 1.0 / pow(t->rope_base, 2.0 * i / hd), wavelen = 2 * M_PI / freq;
			if (wavelen < l3_orig / l3_high)
				f[i] = 1.0f;
			else if (wavelen > l3_orig / l3_low)
				f[i] = (float)l3_factor;
			else {
				double sm = (l3_orig / wavelen - l3_low) / (l3_high - l3_low);
				f[i] = (float)(1.0 / ((1 - sm) / l3_factor + sm));
			}
		}
		put_vector(w, "rope_freqs.weight", f, hd / 2);
	}
	return w;
}

/* ---- the reference fixture ---- */

struct ref {
	int32_t ids[64];
	uint32_t n;
	float *logits;   /* (n, vocab) */
	float *slogits;  /* (n, vocab) phi3: of a context within the short RoPE factors' (its first positions) */
};

static int load_ref(const char *path, const struct tiny *t, struct ref *r)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	int in_model = 0;

	memset(r, 0, sizeof *r);
	if (!f)
		return 0;
	r->logits = xcalloc(64 * t->vocab, sizeof(float));
	r->slogits = xcalloc(64 * t->vocab, sizeof(float));
	while (getline(&line, &cap, f) > 0) {
		char *p = line, *end;
		if (strncmp(line, "model ", 6) == 0) {
			line[strcspn(line, "\n")] = 0;
			in_model = strcmp(line + 6, t->name) == 0;
		} else if (in_model && strncmp(line, "ids ", 4) == 0) {
			for (p = line + 4; r->n < 64; p = end) {
				long v = strtol(p, &end, 10);
				if (end == p)
					break;
				r->ids[r->n++] = (int32_t)v;
			}
		} else if (in_model && (strncmp(line, "logits ", 7) == 0 || strncmp(line, "slogits ", 8) == 0)) {
			float *dst = line[0] == 's' ? r->slogits : r->logits;
			long pos = strtol(strchr(line, ' '), &p, 10);
			if (pos < 0 || pos >= (long)r->n)
				return 0;
			for (uint32_t i = 0; i < t->vocab; i++)
				dst[pos * t->vocab + i] = strtof(p, &p);
		}
	}
	free(line);
	fclose(f);
	return r->n > 0;
}

/* ---- running the forward pass ---- */

struct collect {
	float *logits;   /* (n_ctx, vocab) by position */
	uint32_t vocab;
	int frames;
	int bad_token;
	const int32_t *ids;
	const struct context *ctx;  /* the context the frames come from */
	uint8_t is_short[64];       /* the frame at a position took the short RoPE factors (phi3) */
};

static int collect(void *arg, int32_t token, uint64_t pos, const float *logits)
{
	struct collect *c = arg;
	memcpy(c->logits + pos * c->vocab, logits, c->vocab * sizeof *logits);
	if (pos < 64)
		c->is_short[pos] = c->ctx && c->ctx->t->w.inv_freq_long && !c->ctx->rope_long;
	c->frames++;
	if (token != c->ids[pos])
		c->bad_token = 1;
	return 1;
}

static float max_diff(const float *a, const float *b, size_t n)
{
	float m = 0;
	for (size_t i = 0; i < n; i++) {
		float d = fabsf(a[i] - b[i]);
		if (!(d <= m))
			m = d;
	}
	return m;
}

/* Evaluate ref->ids in batches of the given sizes (0 ends the list). */
static float run_batches(struct context *c, const struct ref *ref, const uint32_t *sizes, struct collect *col)
{
	uint32_t done = 0;
	float d = 0;
	col->ctx = c;
	for (int i = 0; done < ref->n; i++) {
		uint32_t n = sizes[i] && sizes[i] < ref->n - done ? sizes[i] : ref->n - done;
		context_eval(c, ref->ids + done, n, collect, col);
		done += n;
	}
	/* a frame of a context within phi3's original one: the short factors' */
	for (uint32_t p = 0; p < ref->n; p++) {
		const float *want = (col->is_short[p] ? ref->slogits : ref->logits) + (size_t)p * col->vocab;
		float dp = max_diff(col->logits + (size_t)p * col->vocab, want, col->vocab);
		d = dp > d || dp != dp ? dp : d;
	}
	return d;
}

/* ---- several sequences through one workspace ---- */

/* Three copies of the prompt, sequence k starting at step k, evaluated as
 * the segments of one slice a step (context_eval_segments, the engine's
 * way) in pieces of 1 to 4 positions; each sequence is a context of
 * slices of 4, so that a local layer's ring (window - 1 + 4 positions) is
 * shorter than the prompt and wraps. */
#define N_SEQ 3
struct seqs {
	struct context *s[N_SEQ];
	float *logits[N_SEQ];            /* (64, vocab) by position */
	uint8_t is_short[N_SEQ][64];     /* phi3: the frame took the short RoPE factors */
	uint32_t vocab;
	int bad;
};

static int seq_collect(void *arg, const struct segment *g, int32_t token, uint64_t pos, const float *logits)
{
	struct seqs *x = arg;
	int k = 0;
	while (k < N_SEQ && x->s[k] != g->s)
		k++;
	if (k == N_SEQ || pos >= 64 || pos < g->pos0 || token != g->ids[pos - g->pos0]) {
		x->bad = 1;
		return 1;
	}
	memcpy(x->logits[k] + pos * x->vocab, logits, x->vocab * sizeof *logits);
	x->is_short[k][pos] = g->s->t->w.inv_freq_long && !g->s->rope_long;
	return 1;
}

/* Run the sequences of mask (bit k: sequence k) on the schedule above;
 * the ring of a local layer's cache into *ring. */
static void run_seqs(const struct transformer *tr, const struct ref *ref, unsigned mask, struct seqs *x,
		     uint32_t *ring)
{
	static const uint32_t sizes[] = {1, 3, 4, 2};
	struct context *ws = context_new_ws(tr, 64, 4 * N_SEQ, N_SEQ, true, 2);
	uint32_t done[N_SEQ] = {0};

	memset(x->s, 0, sizeof x->s);
	memset(x->is_short, 0, sizeof x->is_short);
	for (int k = 0; k < N_SEQ; k++)
		if (mask >> k & 1) {
			x->s[k] = context_new_sliced(tr, 0, 1, true, 4);
			memset(x->logits[k], 0, 64 * x->vocab * sizeof(float));
		}
	*ring = 0;
	for (uint32_t l = 0; l < tr->hp.n_layer && x->s[0] && !*ring; l++)
		*ring = x->s[0]->kv[l].local ? x->s[0]->kv[l].rows : 0;
	for (uint32_t step = 0;; step++) {
		struct segment g[N_SEQ];
		uint32_t n_seg = 0, left = 0;
		for (uint32_t k = 0; k < N_SEQ; k++) {
			if (!x->s[k] || step < k || done[k] == ref->n)
				continue;
			uint32_t n = sizes[(step + k) % 4] < ref->n - done[k] ? sizes[(step + k) % 4] : ref->n - done[k];
			g[n_seg++] = (struct segment){.s = x->s[k], .ids = ref->ids + done[k], .n = n,
						      .last = done[k] + n == ref->n, .all_logits = true};
			done[k] += n;
		}
		context_eval_segments(ws, g, n_seg, seq_collect, x);
		for (uint32_t k = 0; k < N_SEQ; k++)
			left += x->s[k] && done[k] < ref->n;
		if (!left && step >= N_SEQ)
			break;
	}
	context_free(ws);
}

static void test_sequences(const struct tiny *t, const struct transformer *tr, const struct ref *ref)
{
	struct seqs all = {.vocab = t->vocab}, alone = {.vocab = t->vocab};
	uint32_t ring;

	for (int k = 0; k < N_SEQ; k++) {
		all.logits[k] = xcalloc(64 * t->vocab, sizeof(float));
		alone.logits[k] = xcalloc(64 * t->vocab, sizeof(float));
	}
	run_seqs(tr, ref, (1u << N_SEQ) - 1, &all, &ring);
	for (int k = 0; k < N_SEQ; k++) {
		float d = 0;
		for (uint32_t p = 0; p < ref->n; p++) {
			const float *want = (all.is_short[k][p] ? ref->slogits : ref->logits) + (size_t)p * t->vocab;
			float dp = max_diff(all.logits[k] + (size_t)p * t->vocab, want, t->vocab);
			d = dp > d || dp != dp ? dp : d;
		}
		uint32_t r;
		run_seqs(tr, ref, 1u << k, &alone, &r);
		bool same = memcmp(all.logits[k], alone.logits[k], (size_t)ref->n * t->vocab * sizeof(float)) == 0 &&
			    memcmp(all.is_short[k], alone.is_short[k], sizeof all.is_short[k]) == 0;
		ok(!all.bad && !alone.bad && d <= 1e-3f && same && (!tr->hp.n_swa || ring < ref->n),
		   "%s: sequence %d of %d in one workspace: max |dlogit| %.2g, bit for bit its frames alone%s", t->name,
		   k, N_SEQ, d, tr->hp.n_swa ? " (its local rings wrap)" : "");
		context_free(alone.s[k]);
		context_free(all.s[k]);
	}
	for (int k = 0; k < N_SEQ; k++) {
		free(all.logits[k]);
		free(alone.logits[k]);
	}
}

static void test_tiny(const struct tiny *t, const char *fixture)
{
	struct lmu_err e = {{0}};
	struct gguf_writer *w = tiny_model(t, GOOD);
	struct ref ref;
	size_t size;
	const uint8_t *bytes = gguf_writer_bytes(w, &size);
	struct gguf *g = gguf_open_mem(bytes, size, t->name, &e);

	if (!g || !load_ref(fixture, t, &ref)) {
		ok(0, "%s: open model and reference (%s)", t->name, g ? fixture : e.msg);
		return;
	}
	struct transformer *tr = transformer_from_gguf(g);
	struct collect col = {.logits = xcalloc((size_t)ref.n * t->vocab, sizeof(float)), .vocab = t->vocab, .ids = ref.ids};
	float d;

	ok(tr->hp.tied_output == t->tied && tr->hp.n_head_kv == t->kv_heads, "%s: hyper-parameters", t->name);

	/* one batch, every position, 2 threads */
	struct context *c = context_new(tr, 0, 2, true);
	col.ctx = c;
	ok(c->n_ctx == t->ctx, "%s: context size from the model (%u)", t->name, c->n_ctx);
	static const uint32_t whole[] = {0};
	d = run_batches(c, &ref, whole, &col);
	ok(d <= 1e-3f && col.frames == (int)ref.n && !col.bad_token,
	   "%s: one batch of %u: max |dlogit| %.2g <= 1e-3, a frame per position", t->name, ref.n, d);
	context_free(c);

	/* uneven batches, 1 thread */
	static const uint32_t uneven[] = {1, 5, 1, 7, 0};
	c = context_new(tr, 0, 1, true);
	col.ctx = c;
	memset(col.logits, 0, (size_t)ref.n * t->vocab * sizeof(float));
	d = run_batches(c, &ref, uneven, &col);
	ok(d <= 1e-3f, "%s: batches 1,5,1,7,rest on 1 thread: max |dlogit| %.2g", t->name, d);
	context_free(c);

	/* a batch longer than the slice evaluated at once, 3 threads */
	c = context_new(tr, 0, 3, true);
	col.ctx = c;
	c->max_batch = 5;
	memset(col.logits, 0, (size_t)ref.n * t->vocab * sizeof(float));
	d = run_batches(c, &ref, whole, &col);
	ok(d <= 1e-3f, "%s: slices of 5 positions on 3 threads: max |dlogit| %.2g", t->name, d);
	context_free(c);

	/* the integer-kernel path: float weights pair with float activations */
	c = context_new(tr, 0, 2, true);
	col.ctx = c;
	c->quant_act = true;
	memset(col.logits, 0, (size_t)ref.n * t->vocab * sizeof(float));
	d = run_batches(c, &ref, uneven, &col);
	ok(d <= 1e-3f, "%s: with quantized activations (quant_act): max |dlogit| %.2g", t->name, d);
	context_free(c);

	/* last-position logits only; then prefix reuse after a reset */
	c = context_new(tr, 0, 2, false);
	col.ctx = c;
	col.frames = 0;
	context_eval(c, ref.ids, ref.n, collect, &col);
	d = max_diff(col.logits + (size_t)(ref.n - 1) * t->vocab, ref.logits + (size_t)(ref.n - 1) * t->vocab, t->vocab);
	ok(col.frames == 1 && d <= 1e-3f && c->n_pos == ref.n, "%s: one frame for the batch's last position", t->name);
	context_reset(c);
	uint64_t before = c->n_evaluated;
	memset(col.logits, 0, (size_t)ref.n * t->vocab * sizeof(float));
	context_eval(c, ref.ids, 10, collect, &col);
	d = max_diff(col.logits + 9 * t->vocab, ref.logits + 9 * t->vocab, t->vocab);
	ok(c->n_evaluated - before == 1 && c->n_pos == 10 && d <= 1e-3f,
	   "%s: after !reset a repeated prefix of 10 is reused (computed %llu position)", t->name,
	   (unsigned long long)(c->n_evaluated - before));
	context_eval(c, ref.ids + 10, ref.n - 10, collect, &col);
	d = max_diff(col.logits + (size_t)(ref.n - 1) * t->vocab, ref.logits + (size_t)(ref.n - 1) * t->vocab, t->vocab);
	ok(d <= 1e-3f, "%s: continuing after the reused prefix: max |dlogit| %.2g", t->name, d);
	context_reset(c);
	int32_t other[3] = {ref.ids[0], (ref.ids[1] + 1) % (int32_t)t->vocab, ref.ids[2]};
	before = c->n_evaluated;
	context_eval(c, other, 3, collect, &col);
	/* (a context within phi3's original one takes the short factors: the
	 * rows made with the long ones cannot serve) */
	uint64_t want = tr->w.inv_freq_long && 3 <= tr->hp.rope_orig_ctx ? 3 : 2;
	ok(c->n_evaluated - before == want && c->n_cached == 3, "%s: a different id ends the reuse", t->name);
	context_free(c);

	/* a window: slices of 4 positions, so that a local layer's ring
	 * (window - 1 + 4 positions) is shorter than the prompt and wraps */
	if (tr->hp.n_swa) {
		c = context_new_sliced(tr, 0, 2, true, 4);
		col.ctx = c;
		uint32_t ring = 0;
		for (uint32_t l = 0; l < tr->hp.n_layer && !ring; l++)
			ring = c->kv[l].local ? c->kv[l].rows : 0;
		memset(col.logits, 0, (size_t)ref.n * t->vocab * sizeof(float));
		d = run_batches(c, &ref, uneven, &col);
		ok(ring < ref.n && d <= 1e-3f, "%s: a ring of %u positions for the window of %u: max |dlogit| %.2g",
		   t->name, ring, tr->hp.n_swa, d);
		context_reset(c);
		c->all_logits = false;  /* only the last position's logits: the rest may be reused */
		before = c->n_evaluated;
		context_eval(c, ref.ids, ref.n, collect, &col);
		d = max_diff(col.logits + (size_t)(ref.n - 1) * t->vocab, ref.logits + (size_t)(ref.n - 1) * t->vocab, t->vocab);
		ok(c->n_evaluated - before == 1 && d <= 1e-3f, "%s: after !reset the prompt again: the ring serves (%llu computed)",
		   t->name, (unsigned long long)(c->n_evaluated - before));
		context_reset(c);
		before = c->n_evaluated;
		context_eval(c, ref.ids, 10, collect, &col);
		d = max_diff(col.logits + 9 * t->vocab, ref.logits + 9 * t->vocab, t->vocab);
		ok(c->n_evaluated - before == 10 && d <= 1e-3f,
		   "%s: a prefix of 10 whose window the ring no longer holds is computed again (%llu)", t->name,
		   (unsigned long long)(c->n_evaluated - before));
		context_free(c);
	}

	test_sequences(t, tr, &ref);

	transformer_close(tr);
	free(col.logits);
	free(ref.logits);
	free(ref.slogits);
	gguf_writer_free(w);
}

/* ---- hyper-parameters through another source ---- */

/* A GGUF source whose token_embd claims more rows than a logits frame
 * holds (a file that big would take gigabytes). */
static struct gguf_tensor big_embd;

static const struct gguf_tensor *big_vocab_tensor(void *arg, const char *name)
{
	const struct gguf_tensor *t = gguf_tensor(arg, name);
	if (t && strcmp(name, "token_embd.weight") == 0) {
		big_embd = *t;
		big_embd.ne[1] = LOGITS_MAX_VOCAB + 1ull;
		return &big_embd;
	}
	return t;
}

static void test_limits(void)
{
	struct lmu_err e = {{0}};
	struct gguf_writer *w = tiny_model(&tinies[0], GOOD);
	size_t size;
	const uint8_t *bytes = gguf_writer_bytes(w, &size);
	struct gguf *g = gguf_open_mem(bytes, size, "big-vocab", &e);
	struct hparams hp;

	struct model_src src = model_src_gguf(g);
	ok(hparams_read(&src, &hp, &e) && hp.n_vocab == tinies[0].vocab, "the tiny model's hyper-parameters");
	src.tensor = big_vocab_tensor;
	ok(!hparams_read(&src, &hp, &e) && strstr(e.msg, "16777217 rows: a vocabulary above 16777216 does not fit"),
	   "a vocabulary above lm-logits(5)'s limit is refused at load: %s", e.msg);
	gguf_close(g);
	gguf_writer_free(w);
}

/* ---- helper modes ---- */

static int write_models(const char *dir)
{
	static const char *const broken[] = {"", "bad-arch", "bad-type", "bad-shape", "no-norm",
					     "wrap-qdim", "huge-ctx", "other-weights"};
	char path[4096];
	for (size_t i = 0; i < N_TINY + sizeof broken / sizeof *broken - 1; i++) {
		enum variant var = i < N_TINY ? GOOD : (enum variant)(i - N_TINY + 1);
		struct gguf_writer *w = tiny_model(&tinies[i < N_TINY ? i : 0], var);
		snprintf(path, sizeof path, "%s/%s.gguf", dir, var == GOOD ? tinies[i].name : broken[var]);
		if (gguf_writer_save(w, path) != 0)
			die("%s: cannot write", path);
		gguf_writer_free(w);
	}
	return 0;
}

static int32_t *read_ids(const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	int32_t *ids = NULL;
	size_t cap = 0;
	long v;

	if (!f)
		die("%s: cannot open", path);
	*n = 0;
	while (fscanf(f, "%ld", &v) == 1) {
		if (*n == cap)
			ids = xreallocarray(ids, cap = cap ? 2 * cap : 1024, sizeof *ids);
		ids[(*n)++] = (int32_t)v;
	}
	fclose(f);
	return ids;
}

static void top2(const struct logits_frame *f, uint32_t *best, float *margin)
{
	uint32_t b = 0, s = f->n_vocab > 1 ? 1 : 0;
	if (f->scores[s] > f->scores[b])
		b = 1, s = 0;
	for (uint32_t i = 2; i < f->n_vocab; i++) {
		if (f->scores[i] > f->scores[b])
			s = b, b = i;
		else if (f->scores[i] > f->scores[s])
			s = i;
	}
	*best = b;
	*margin = f->scores[b] - f->scores[s];
}

static int frames_mode(const char *ids_path)
{
	struct logits_frame f = {0};
	struct lmu_err e = {{0}};
	size_t n_ids = 0, n = 0;
	int32_t *ids = ids_path ? read_ids(ids_path, &n_ids) : NULL;
	double nll = 0;
	int r;

	while ((r = logits_read(stdin, &f, &e)) == 1) {
		if (!ids) {
			uint32_t best;
			float margin;
			top2(&f, &best, &margin);
			printf("%llu %u %.6f\n", (unsigned long long)f.pos, best, margin);
			continue;
		}
		if (f.pos + 1 >= n_ids)
			continue;
		double max = -INFINITY, sum = 0;
		for (uint32_t i = 0; i < f.n_vocab; i++)
			if (f.scores[i] > max)
				max = f.scores[i];
		for (uint32_t i = 0; i < f.n_vocab; i++)
			sum += exp(f.scores[i] - max);
		nll += log(sum) + max - f.scores[ids[f.pos + 1]];
		n++;
	}
	if (r < 0)
		die("%s", e.msg);
	if (ids)
		printf("positions %zu nll %.6f ppl %.6f\n", n, n ? nll / n : 0, n ? exp(nll / n) : 0);
	free(ids);
	logits_frame_free(&f);
	return 0;
}

int main(int argc, char **argv)
{
	const char *fixture = "tests/fixtures/fwd/tiny-logits.txt";

	lmu_init(argc, argv);
	if (argc == 3 && strcmp(argv[1], "--write") == 0)
		return write_models(argv[2]);
	if (argc == 3 && strcmp(argv[1], "--ppl") == 0)
		return frames_mode(argv[2]);
	if (argc == 2 && strcmp(argv[1], "--top1") == 0)
		return frames_mode(NULL);
	/* every kernel family the CPU has: tiles, panels (batches of 8 or
	 * more) and the scalar reference all meet the same fixtures */
	for (size_t f = 0; quant_families[f]; f++) {
		if (!quant_force(quant_families[f]->env)) {
			printf("ok %d # SKIP kernel family %s: not supported by this CPU\n", ++n_test, quant_families[f]->name);
			continue;
		}
		printf("# kernel family %s\n", quant_kernel_name());
		for (size_t i = 0; i < N_TINY; i++)
			test_tiny(&tinies[i], fixture);
	}
	test_limits();
	printf("1..%d\n", n_test);
	return n_fail != 0;
}
