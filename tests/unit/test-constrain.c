/* test-constrain - masks from a byte machine over a vocabulary
 * (sample/constrain.h): exact masks on a small vocabulary under nl2sh's
 * {"cmd": "<string>"}, with and without a token budget; then, over the
 * real SmolLM2 vocabulary (49152 byte-level BPE tokens), random generations
 * under every schema of tests/fixtures/schema/ with random budgets: the
 * mask never leaves nothing, a masked token is refused, the output is
 * complete when the budget (at least the shortest output's bytes) is spent
 * and parses (libjq).  With -w DIR the
 * outputs go to DIR/NAME.txt (a JSON string per line) for
 * tests/schema-validate.t to check with Python's jsonschema. */
#include <jv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../sample/constrain.h"
#include "../../sample/schema.h"
#include "err.h"
#include "gguf.h"
#include "jsonfile.h"
#include "vocab.h"

#include "tap.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
	return tap_xorshift(&rng);
}
static float rand_unit(void) { return (float)(next_rand() >> 40) / (float)(1 << 24); }

/* Which ids of a small vocabulary the mask leaves, as letters. */
static void allowed_is(struct constraint *c, uint32_t n, long long left, const char *want, const char *name)
{
	float logits[32];
	char got[40] = "";
	for (uint32_t i = 0; i < n; i++)
		logits[i] = 0;
	constraint_mask(c, logits, left);
	for (uint32_t i = 0; i < n; i++)
		if (!isinf(logits[i]))
			got[strlen(got)] = (char)('a' + i);
	ok(!strcmp(got, want), "%s", name);
	if (strcmp(got, want))
		printf("# got %s want %s\n", got, want);
}

static void small_vocabulary(void)
{
	/*                       a    b    c     d      e    f    g     h      i     j       k            l     m        n       o       p   */
	const char *piece[] = {"{", "}", "\"", "cmd", ":", " ", "ls", "\\n", "\n", "\"}", "{\"cmd\":\"", "x\"", "\xc3\xa9", "\xc3", "\xa9", ""};
	size_t len[16];
	uint32_t n = 16;
	struct lmu_err e = {{0}};
	for (uint32_t i = 0; i < n; i++)
		len[i] = strlen(piece[i]);
	struct constraint_vocab *cv = constraint_vocab_new(piece, len, n, 15, &e);
	struct schema *s = schema_json_cmd();
	ok(cv != NULL && constraint_vocab_size(cv) == 16, "a vocabulary of 16 pieces");
	struct constraint *c = constraint_new(cv, schema_machine(s));
	allowed_is(c, n, -1, "afik", "start: '{', whitespace, or the whole opening");
	ok(constraint_accept(c, 6) == -1, "\"ls\" is refused at the start");
	ok(constraint_accept(c, 15) == -1, "end-of-sequence is refused before the end");
	ok(constraint_accept(c, 10) == 0, "accept {\"cmd\":\"");
	allowed_is(c, n, -1, "abdefghlmn", "first byte of the value: no closing quote yet, no raw newline");
	ok(constraint_accept(c, 13) == 0 && constraint_accept(c, 6) == -1, "after half a UTF-8 character only its continuation");
	allowed_is(c, n, -1, "o", "... which is the only piece left");
	ok(constraint_accept(c, 14) == 0, "the continuation byte");
	ok(constraint_accept(c, 7) == 0, "an escaped newline");
	ok(constraint_accept(c, 9) == 0 && constraint_complete(c) && constraint_distance(c) == 0, "\"} completes");
	allowed_is(c, n, -1, "p", "complete: only end-of-sequence");
	ok(constraint_accept(c, 15) == 0 && constraint_complete(c), "end-of-sequence accepted");
	ok(constraint_accept(c, 6) == -1, "nothing after completion");

	/* a budget: the opening costs 11 bytes at the least */
	constraint_reset(c);
	ok(constraint_distance(c) == 11 && !constraint_complete(c), "reset: 11 bytes to go");
	allowed_is(c, n, 12, "afik", "12 tokens left: whitespace still fits");
	ok(!constraint_closed(c), "... not closing");
	allowed_is(c, n, 11, "ak", "11 tokens left for 11 bytes: only what brings the end closer");
	ok(constraint_closed(c), "... closing");
	ok(constraint_accept(c, 10) == 0, "closing: accept {\"cmd\":\"");
	allowed_is(c, n, 2, "abdefghlm", "closing: any piece that makes progress, not half a UTF-8 character");
	ok(constraint_accept(c, 6) == 0, "closing: ls");
	allowed_is(c, n, 1, "cjl", "closing: inside the string only what ends it");
	ok(constraint_accept(c, 9) == 0 && constraint_complete(c), "closing: \"} completes");
	constraint_reset(c);
	allowed_is(c, n, 200, "afik", "a large budget changes nothing");
	ok(constraint_accept(c, 0) == 0 && constraint_accept(c, 2) == 0 && constraint_accept(c, 3) == 0 &&
	   constraint_accept(c, 2) == 0 && constraint_accept(c, 5) == 0 && constraint_accept(c, 4) == 0 &&
	   constraint_accept(c, 5) == 0 && constraint_accept(c, 2) == 0,
	   "{ \" cmd \" space : space \" one piece at a time");
	ok(constraint_accept(c, 2) == -1, "an empty command is refused");
	ok(constraint_accept(c, 11) == 0 && constraint_accept(c, 1) == 0 && constraint_complete(c), "x\" } completes");

	/* a copy under the mask, from a padded output layer of 20 logits */
	constraint_reset(c);
	float in[20], out[20];
	for (int i = 0; i < 20; i++)
		in[i] = (float)i;
	bool same = constraint_mask_copy(c, in, 20, -1, out) == out;
	for (int i = 0; i < 20; i++)
		same = same && in[i] == (float)i && (i == 0 || i == 5 || i == 8 || i == 10 ? out[i] == (float)i : isinf(out[i]));
	ok(same, "mask_copy: the allowed logits copied, the rest and the 4 padded ids -inf, the input untouched");
	constraint_free(c);
	constraint_vocab_free(cv);
	schema_free(s);

	ok(constraint_vocab_new(piece, len, n, 16, &e) == NULL && strstr(e.msg, "end-of-sequence"), "eos outside the vocabulary is an error");
	ok(constraint_vocab_new(piece, len, 0, 0, &e) == NULL, "an empty vocabulary is an error");
	size_t huge[16];
	memcpy(huge, len, sizeof huge);
	huge[3] = CONSTRAIN_MAX_PIECE + 1;
	ok(constraint_vocab_new(piece, huge, n, 15, &e) == NULL, "an oversized piece is an error");
}

static const char *const fixtures[] = {
	"person", "weather", "tags", "user", "points", "shape", "counts", "recipe", "tree", "answer", NULL,
};

/* Random generations under one schema over vocabulary v. */
static void generate(const struct vocab *v, const struct constraint_vocab *cv, const char *name, FILE *out, int runs,
		     double *mask_seconds, long *masks)
{
	char path[1024];
	struct lmu_err e = {{0}};
	snprintf(path, sizeof path, "tests/fixtures/schema/%s.json", name);
	size_t len;
	char *text = file_read(path, 1 << 20, &len, &e);
	struct schema *s = text ? schema_parse(text, len, &e) : NULL;
	free(text);
	if (!s) {
		ok(0, "%s compiles: %s", path, e.msg);
		return;
	}
	uint32_t n = v->n;
	struct constraint *c = constraint_new(cv, schema_machine(s));
	float *logits = malloc(n * sizeof *logits);
	uint32_t *allowed = malloc(n * sizeof *allowed);
	int parsed = 0, stuck = 0, disagree = 0, unfinished = 0, by_eos = 0;
	char *buf = malloc(1 << 16);
	for (int r = 0; r < runs; r++) {
		size_t n_out = 0;
		/* enough for the shortest output, which a token of a byte
		 * each can write */
		long long budget = schema_min_bytes(s) + (long long)(next_rand() % 200), left;
		bool ended = false;
		constraint_reset(c);
		for (left = budget; left > 0 && !ended; left--) {
			/* a token the mask refuses without a budget must be
			 * refused by accept (which then changes nothing) */
			for (uint32_t i = 0; i < n; i++)
				logits[i] = 0;
			constraint_mask(c, logits, -1);
			uint32_t other = (uint32_t)(next_rand() % n);
			if (isinf(logits[other]) && constraint_accept(c, (int32_t)other) != -1)
				disagree++;
			for (uint32_t i = 0; i < n; i++)
				logits[i] = rand_unit();
			struct timespec t0, t1;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			constraint_mask(c, logits, left);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			*mask_seconds += (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
			++*masks;
			uint32_t n_allowed = 0;
			for (uint32_t i = 0; i < n; i++)
				if (!isinf(logits[i]))
					allowed[n_allowed++] = i;
			if (n_allowed == 0) {
				stuck++;
				break;
			}
			/* uniform over what is left, and the end as soon as it may */
			uint32_t id = allowed[next_rand() % n_allowed];
			if (!isinf(logits[v->eos]) && rand_unit() < 0.5f)
				id = (uint32_t)v->eos;
			if (constraint_accept(c, (int32_t)id) != 0) {
				disagree++;
				break;
			}
			if ((int32_t)id == v->eos) {
				ended = true;
				by_eos++;
				break;
			}
			size_t plen;
			const char *p = vocab_piece(v, (int32_t)id, &plen);
			if (n_out + plen < (1 << 16)) {
				memcpy(buf + n_out, p, plen);
				n_out += plen;
			}
		}
		if (constraint_distance(c) != 0) {
			unfinished++;
			printf("# %s: budget %lld spent, %u bytes short: %.*s\n", name, budget, constraint_distance(c), (int)n_out, buf);
		}
		jv val = jv_parse_sized(buf, (int)n_out);
		if (jv_is_valid(val))
			parsed++;
		else if (parsed == r)
			printf("# %s: not JSON: %.*s\n", name, (int)n_out, buf);
		jv_free(val);
		if (out) {
			jv line = jv_dump_string(jv_string_sized(buf, (int)n_out), 0);
			fprintf(out, "%s\n", jv_string_value(line));
			jv_free(line);
		}
	}
	ok(stuck == 0 && disagree == 0 && unfinished == 0 && parsed == runs,
	   "%s: %d random generations within their budgets parse (%d, %d ended by end-of-sequence); "
	   "never stuck (%d), mask and accept agree (%d), none unfinished (%d)",
	   name, runs, parsed, by_eos, stuck, disagree, unfinished);
	free(buf);
	free(logits);
	free(allowed);
	constraint_free(c);
	schema_free(s);
}

static void real_vocabulary(const char *wdir)
{
	char path[1024];
	const char *models = getenv("LMU_MODELS") ? getenv("LMU_MODELS") : "models";
	snprintf(path, sizeof path, "%s/smollm2-135m-instruct-q4_1.gguf", models);
	struct lmu_err e = {{0}};
	struct gguf *g = gguf_open(path, &e);
	if (!g) {
		printf("ok %d # SKIP %s (run 'make model')\n", ++n_test, e.msg);
		return;
	}
	struct vocab v;
	memset(&v, 0, sizeof v);
	ok(vocab_load_gguf(&v, g, &e), "the SmolLM2 vocabulary loads");
	struct constraint_vocab *cv = constraint_vocab_of(&v, &e);
	ok(cv != NULL && constraint_vocab_size(cv) == 49152, "a constraint vocabulary of 49152 tokens");
	if (!cv)
		return;
	double mask_seconds = 0;
	long masks = 0;
	for (const char *const *f = fixtures; *f; f++) {
		FILE *out = NULL;
		if (wdir) {
			snprintf(path, sizeof path, "%s/%s.txt", wdir, *f);
			if (!(out = fopen(path, "w"))) {
				perror(path);
				exit(2);
			}
		}
		generate(&v, cv, *f, out, 20, &mask_seconds, &masks);
		if (out)
			fclose(out);
	}
	printf("# mask: %.1f us per token over %u tokens (%ld masks)\n", 1e6 * mask_seconds / (double)(masks ? masks : 1),
	       v.n, masks);
	constraint_vocab_free(cv);
	vocab_free(&v);
	gguf_close(g);
}

int main(int argc, char **argv)
{
	const char *wdir = argc == 3 && !strcmp(argv[1], "-w") ? argv[2] : NULL;
	small_vocabulary();
	real_vocabulary(wdir);
	return tap_done();
}
