/* test-hfdir: model directories written by transformers, read by lm-step's
 * loader (common/hfmodel.c, common/safetensors.c), against transformers'
 * logits.
 *
 * Each fixture tests/fixtures/hf/NAME.txt (made by tests/ref/hf_tiny.py)
 * holds the text of a directory that transformers' save_pretrained wrote:
 * config.json, the index, each shard's header and the sha256 of the shard.
 * This test writes the directory again, the tensor data drawn from the same
 * splitmix64 stream as the script, checks that every shard is byte for byte
 * the one transformers wrote, opens it as -m would, and compares the logits
 * of every position with transformers' (float32) within 1e-3.
 *
 *   test-hfdir            run the tests (TAP)
 *   test-hfdir -w DIR     also leave the directories in DIR/NAME
 *   test-hfdir --diff A B two streams of logits frames (lm-logits(5)),
 *                         frame by frame: prints "frames N max D" with D
 *                         the largest |a - b| of any score (tests/hf-real.t) */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "half.h"
#include "hfmodel.h"
#include "safetensors.h"
#include "stream.h"
#include "../../fetch/sha.h"
#include "../../forward/transformer.h"

#include "tap.h"

#define FIXTURES "tests/fixtures/hf"
#define MAX_IDS 64

/* the classes the fixtures' config.json name, each as " NAME," (those of
 * sharded ones also in sharded) */
static char classes[4096] = ",", sharded[4096] = ",";

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* k/64 for a 7-bit k: exact in float32, float16 and bfloat16 */
static float unit(uint64_t *s)
{
	return (float)((int)(splitmix64(s) >> 57) - 64) / 64.0f;
}

static float col_scale(uint64_t cols)
{
	int k = 0;
	while ((1ull << (2 * k)) < cols)
		k++;
	return ldexpf(1.0f, -k);
}

struct shard {
	char name[128], sha[65];
	uint64_t size;
	uint8_t *bytes;     /* (size) */
	struct safetensors *st;
};

struct fixture {
	char name[64];
	int gemma, seed;
	char *config, *index;
	size_t config_len, index_len;
	struct shard shards[32];
	int n_shards;
	int32_t ids[MAX_IDS];
	uint32_t n_ids;
	float *logits;      /* (n_ids, vocab) */
	uint32_t vocab;
};

/* n bytes of f after a header line, then the newline after them. */
static char *read_block(FILE *f, size_t n)
{
	char *p = xmalloc(n + 1);
	if (fread(p, 1, n, f) != n || fgetc(f) != '\n') {
		free(p);
		return NULL;
	}
	p[n] = 0;
	return p;
}

static int load(const char *path, struct fixture *fx)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, word[128];
	size_t cap = 0;
	int ok_ = 1;

	memset(fx, 0, sizeof *fx);
	if (!f)
		return 0;
	fx->logits = xcalloc(MAX_IDS * 1024, sizeof(float));
	while (ok_ && getline(&line, &cap, f) > 0) {
		unsigned long long a, b;
		if (sscanf(line, "model %63s", fx->name) == 1) {
			fx->gemma = strstr(line, "gemma") != NULL;
		} else if (sscanf(line, "seed %d", &fx->seed) == 1) {
		} else if (sscanf(line, "text %127s %llu", word, &a) == 2) {
			char *t = read_block(f, (size_t)a);
			ok_ = t != NULL;
			if (strcmp(word, "config.json") == 0)
				fx->config = t, fx->config_len = (size_t)a;
			else
				fx->index = t, fx->index_len = (size_t)a;
		} else if (fx->n_shards < 32 &&
			   sscanf(line, "shard %127s %64s %llu %llu", word, fx->shards[fx->n_shards].sha, &a, &b) == 4) {
			struct shard *s = &fx->shards[fx->n_shards++];
			snprintf(s->name, sizeof s->name, "%s", word);
			s->size = a;
			char *h = read_block(f, (size_t)b);
			ok_ = h && a >= 8 + b;
			if (ok_) {
				s->bytes = xcalloc((size_t)a, 1);
				for (int k = 0; k < 8; k++)
					s->bytes[k] = (uint8_t)(b >> 8 * k);
				memcpy(s->bytes + 8, h, (size_t)b);
			}
			free(h);
		} else if (strncmp(line, "ids ", 4) == 0) {
			char *p = line + 4, *end;
			for (; fx->n_ids < MAX_IDS; p = end) {
				long v = strtol(p, &end, 10);
				if (end == p)
					break;
				fx->ids[fx->n_ids++] = (int32_t)v;
			}
		} else if (strncmp(line, "logits ", 7) == 0) {
			char *p, *end;
			long pos = strtol(line + 7, &p, 10);
			uint32_t n = 0;
			if (pos < 0 || pos >= (long)fx->n_ids)
				ok_ = 0;
			for (; ok_ && n < 1024; p = end, n++) {
				float v = strtof(p, &end);
				if (end == p)
					break;
				fx->logits[pos * 1024 + n] = v;
			}
			fx->vocab = n;
		}
	}
	free(line);
	fclose(f);
	return ok_ && fx->config && fx->n_shards && fx->n_ids && fx->vocab && fx->seed;
}

static int cmp_tensor(const void *a, const void *b)
{
	return strcmp((*(const struct st_tensor *const *)a)->name, (*(const struct st_tensor *const *)b)->name);
}

/* The data of every shard, from the stream, in the order of the sorted names
 * of all tensors (tests/ref/hf_tiny.py). */
static int fill(struct fixture *fx, uint64_t seed)
{
	const struct st_tensor *all[4096];
	size_t n = 0;
	struct lmu_err e = {{0}};

	for (int i = 0; i < fx->n_shards; i++) {
		struct shard *s = &fx->shards[i];
		if (!(s->st = st_open_mem(s->bytes, (size_t)s->size, s->name, &e))) {
			printf("# %s\n", e.msg);
			return 0;
		}
		for (uint64_t k = 0; k < s->st->n_tensors && n < 4096; k++)
			all[n++] = &s->st->tensors[k];
	}
	qsort(all, n, sizeof *all, cmp_tensor);
	for (size_t k = 0; k < n; k++) {
		const struct st_tensor *t = all[k];
		uint8_t *p = (uint8_t *)t->data;
		for (uint64_t i = 0; i < t->n_elem; i++) {
			float v = unit(&seed);
			if (t->n_dims == 1)
				v = strstr(t->name, "norm") ? (fx->gemma ? v / 2 : 1 + v / 2) : v;
			else if (!strstr(t->name, "embed_tokens"))
				v *= col_scale(t->shape[t->n_dims - 1]);
			uint32_t u;
			memcpy(&u, &v, 4);
			if (t->dtype == ST_F32)
				memcpy(p + 4 * i, &v, 4);
			else if (t->dtype == ST_BF16)
				p[2 * i] = (uint8_t)(u >> 16), p[2 * i + 1] = (uint8_t)(u >> 24);
			else if (t->dtype == ST_F16) {
				uint16_t h = f32_to_f16(v);
				p[2 * i] = (uint8_t)h, p[2 * i + 1] = (uint8_t)(h >> 8);
			} else
				return 0;
		}
	}
	return 1;
}

static void put(const char *dir, const char *name, const void *p, size_t n)
{
	char path[4096];
	FILE *f;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (!(f = fopen(path, "wb")) || fwrite(p, 1, n, f) != n || fclose(f) != 0)
		die("%s: %s", path, strerror(errno));
}

struct collect {
	float *logits;
	uint32_t vocab;
};

static int collect(void *arg, int32_t token, uint64_t pos, const float *logits)
{
	struct collect *c = arg;
	(void)token;
	memcpy(c->logits + pos * c->vocab, logits, c->vocab * sizeof *logits);
	return 1;
}

static void test_fixture(const char *path, const char *root)
{
	struct fixture fx;
	char dir[4096];
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

	if (!load(path, &fx)) {
		ok(0, "%s: a readable fixture", base);
		return;
	}
	const char *cls = strstr(fx.config, "\"architectures\"");
	if (cls && (cls = strchr(cls, '[')) && (cls = strchr(cls, '"'))) {
		int n = (int)strcspn(cls + 1, "\"");
		snprintf(classes + strlen(classes), sizeof classes - strlen(classes), " %.*s,", n, cls + 1);
		if (fx.index)
			snprintf(sharded + strlen(sharded), sizeof sharded - strlen(sharded), " %.*s,", n, cls + 1);
	}
	snprintf(dir, sizeof dir, "%s/%s", root, fx.name);
	if (mkdir(dir, 0777) < 0 && errno != EEXIST)
		die("%s: %s", dir, strerror(errno));
	ok(fill(&fx, (uint64_t)fx.seed), "%s: %d shard%s filled from the stream", fx.name, fx.n_shards,
	   fx.n_shards > 1 ? "s" : "");
	int same = 1;
	for (int i = 0; i < fx.n_shards; i++) {
		struct sha256 c;
		char hex[65];
		sha256_init(&c);
		sha256_update(&c, fx.shards[i].bytes, (size_t)fx.shards[i].size);
		sha256_hex(&c, hex);
		if (strcmp(hex, fx.shards[i].sha) != 0) {
			printf("# %s: sha256 %s, transformers wrote %s\n", fx.shards[i].name, hex, fx.shards[i].sha);
			same = 0;
		}
		put(dir, fx.shards[i].name, fx.shards[i].bytes, (size_t)fx.shards[i].size);
	}
	ok(same, "%s: every shard is byte for byte the one transformers wrote", fx.name);
	put(dir, "config.json", fx.config, fx.config_len);
	if (fx.index)
		put(dir, "model.safetensors.index.json", fx.index, fx.index_len);

	struct transformer *t = transformer_open(dir, GGML_F32, 1);
	ok(t->hp.n_vocab == fx.vocab, "%s: opens as %s, %u layers, vocabulary %u", fx.name, t->hp.arch, t->hp.n_layer,
	   t->hp.n_vocab);
	struct collect col = {xcalloc((size_t)fx.n_ids * fx.vocab, sizeof(float)), fx.vocab};
	struct context *c = context_new(t, 0, 2, true);
	context_eval(c, fx.ids, fx.n_ids, collect, &col);
	float worst = 0;
	for (uint32_t p = 0; p < fx.n_ids; p++)
		for (uint32_t i = 0; i < fx.vocab; i++) {
			float d = fabsf(col.logits[p * fx.vocab + i] - fx.logits[p * 1024 + i]);
			if (!(d <= worst))
				worst = d;
		}
	ok(worst <= 1e-3f, "%s: every position within 1e-3 of transformers (max |dlogit| %.2g)", fx.name, worst);
	context_free(c);
	transformer_close(t);

	/* -q: the matrices quantized at load, the logits near: within a
	 * fraction of the largest logit (8-bit weights 2%, 4-bit 15%) */
	static const struct { enum ggml_type t; float tol; } qs[] = {{GGML_Q8_0, 0.02f}, {GGML_Q4_0, 0.15f}};
	float big = 0;
	for (uint32_t i = 0; i < fx.n_ids * fx.vocab; i++)
		big = fmaxf(big, fabsf(fx.logits[i / fx.vocab * 1024 + i % fx.vocab]));
	for (size_t k = 0; k < sizeof qs / sizeof *qs; k++) {
		t = transformer_open(dir, qs[k].t, 2);
		c = context_new(t, 0, 2, true);
		context_eval(c, fx.ids, fx.n_ids, collect, &col);
		float dq = 0;
		for (uint32_t p = 0; p < fx.n_ids; p++)
			for (uint32_t i = 0; i < fx.vocab; i++) {
				float d = fabsf(col.logits[p * fx.vocab + i] - fx.logits[p * 1024 + i]);
				if (!(d <= dq))
					dq = d;
			}
		ok(t->w.layers[0].w_up.type == qs[k].t && dq <= qs[k].tol * big,
		   "%s -q %s: the matrices are %s, max |dlogit| %.2g <= %g x the largest logit %.3g", fx.name,
		   ggml_type_name(qs[k].t), ggml_type_name(t->w.layers[0].w_up.type), dq, qs[k].tol, big);
		context_free(c);
		transformer_close(t);
	}
	free(col.logits);
	for (int i = 0; i < fx.n_shards; i++) {
		st_close(fx.shards[i].st);
		free(fx.shards[i].bytes);
	}
	free(fx.config);
	free(fx.index);
	free(fx.logits);
}

static int rm_one(const char *p, const struct stat *s, int flag, struct FTW *f)
{
	(void)s, (void)flag, (void)f;
	return remove(p);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int diff_mode(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	struct logits_frame x = {0}, y = {0};
	struct lmu_err e = {{0}};
	unsigned long n = 0;
	float worst = 0;
	int ra, rb;

	if (!fa || !fb)
		die("%s: %s", fa ? b : a, strerror(errno));
	while ((ra = logits_read(fa, &x, &e)) > 0 && (rb = logits_read(fb, &y, &e)) > 0) {
		if (x.n_vocab != y.n_vocab || x.pos != y.pos)
			die("frame %lu: %u scores at position %llu against %u at %llu", n, x.n_vocab,
			    (unsigned long long)x.pos, y.n_vocab, (unsigned long long)y.pos);
		for (uint32_t i = 0; i < x.n_vocab; i++) {
			float d = fabsf(x.scores[i] - y.scores[i]);
			if (!(d <= worst))
				worst = d;
		}
		n++;
	}
	if (ra < 0 || (ra > 0 && rb <= 0))
		die("%s", e.msg[0] ? e.msg : "the streams have different lengths");
	printf("frames %lu max %.6g\n", n, worst);
	logits_frame_free(&x);
	logits_frame_free(&y);
	fclose(fa);
	fclose(fb);
	return 0;
}

int main(int argc, char **argv)
{
	char tmpl[] = "/tmp/test-hfdir.XXXXXX", *root;
	char *names[64];
	int n = 0, keep = 0;
	DIR *d;
	struct dirent *ent;

	lmu_init(argc, argv);
	if (argc == 4 && strcmp(argv[1], "--diff") == 0)
		return diff_mode(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "-w") == 0) {
		root = argv[2];
		keep = 1;
		if (mkdir(root, 0777) < 0 && errno != EEXIST)
			die("%s: %s", root, strerror(errno));
	} else if (argc == 1) {
		if (!(root = mkdtemp(tmpl)))
			die("mkdtemp: %s", strerror(errno));
	} else {
		fprintf(stderr, "usage: test-hfdir [-w DIR]\n");
		return 2;
	}
	if (!(d = opendir(FIXTURES)))
		die("%s: %s (run from the source tree)", FIXTURES, strerror(errno));
	while ((ent = readdir(d)) && n < 64)
		if (strstr(ent->d_name, ".txt"))
			names[n++] = xstrdup(ent->d_name);
	closedir(d);
	qsort(names, (size_t)n, sizeof *names, cmp_str);
	for (int i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", FIXTURES, names[i]);
		test_fixture(path, root);
		free(names[i]);
	}
	ok(n >= 3, "%d fixtures", n);
	/* every class a directory may name, in a fixture and a sharded one */
	char list[512], *save = NULL;
	snprintf(list, sizeof list, "%s", hf_supported());
	for (char *c = strtok_r(list, ", ", &save); c; c = strtok_r(NULL, ", ", &save)) {
		char key[128];
		snprintf(key, sizeof key, " %s,", c);
		ok(strstr(classes, key) && strstr(sharded, key), "%s: a fixture%s, a sharded one%s", c,
		   strstr(classes, key) ? "" : " MISSING", strstr(sharded, key) ? "" : " MISSING");
	}
	if (!keep)
		nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
