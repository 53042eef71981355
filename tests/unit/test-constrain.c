/* test-constrain - the {"cmd": "<string>"} constraint: exact masks on a
 * small vocabulary, then random sampling under the mask over the real
 * SmolLM2 vocabulary (49152 byte-level BPE tokens) must always give JSON
 * that libjq parses, with "cmd" a non-empty string. */
#include <jv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../sample/constrain.h"
#include "err.h"
#include "gguf.h"

#include "tap.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}
static float rand_unit(void) { return (float)(next_rand() >> 40) / (float)(1 << 24); }

/* Which ids of a small vocabulary the mask leaves. */
static void allowed_is(const struct constraint *c, uint32_t n, const char *want, const char *name)
{
	float logits[32];
	char got[40] = "";
	for (uint32_t i = 0; i < n; i++)
		logits[i] = 0;
	constraint_mask(c, logits);
	for (uint32_t i = 0; i < n; i++)
		if (!isinf(logits[i]))
			got[strlen(got)] = (char)('a' + i);
	ok(!strcmp(got, want), "%s", name);
	if (strcmp(got, want))
		printf("# got %s want %s\n", got, want);
}

static void small_vocabulary(void)
{
	/*                            a    b    c     d      e    f    g     h      i     j       k            l     m        n       o       p   */
	const char *piece[] = {"{", "}", "\"", "cmd", ":", " ", "ls", "\\n", "\n", "\"}", "{\"cmd\":\"", "x\"", "\xc3\xa9", "\xc3", "\xa9", ""};
	size_t len[16];
	uint32_t n = 16;
	struct lmu_err e = {{0}};
	for (uint32_t i = 0; i < n; i++)
		len[i] = strlen(piece[i]);
	struct constraint *c = constraint_new_json_cmd(piece, len, n, 15, &e);
	ok(c != NULL, "a constraint over 16 pieces");
	allowed_is(c, n, "afik", "start: '{', whitespace, or the whole opening");
	ok(constraint_accept(c, 6) == -1, "\"ls\" is refused at the start");
	ok(constraint_accept(c, 15) == -1, "end-of-sequence is refused before the end");
	ok(constraint_accept(c, 10) == 0, "accept {\"cmd\":\"");
	allowed_is(c, n, "abdefghlmn", "first byte of the value: no closing quote yet, no raw newline");
	ok(constraint_accept(c, 13) == 0 && constraint_accept(c, 6) == -1, "after half a UTF-8 character only its continuation");
	allowed_is(c, n, "o", "... which is the only piece left");
	ok(constraint_accept(c, 14) == 0, "the continuation byte");
	ok(constraint_accept(c, 7) == 0, "an escaped newline");
	ok(constraint_accept(c, 9) == 0 && constraint_complete(c), "\"} completes");
	allowed_is(c, n, "p", "complete: only end-of-sequence");
	ok(constraint_accept(c, 15) == 0 && constraint_complete(c), "end-of-sequence accepted");
	constraint_reset(c);
	constraint_set_closing(c, true);
	allowed_is(c, n, "ak", "closing mode at the start: no whitespace, only what opens");
	ok(constraint_accept(c, 10) == 0, "closing: accept {\"cmd\":\"");
	allowed_is(c, n, "abdefghlm", "closing: any piece that makes progress, not half a UTF-8 character");
	ok(constraint_accept(c, 6) == 0, "closing: ls");
	allowed_is(c, n, "cjl", "closing: inside the string only what ends it");
	ok(constraint_accept(c, 9) == 0 && constraint_complete(c), "closing: \"} completes");
	constraint_reset(c);
	ok(!constraint_complete(c) && constraint_accept(c, 0) == 0 && constraint_accept(c, 2) == 0 &&
	   constraint_accept(c, 3) == 0 && constraint_accept(c, 2) == 0 && constraint_accept(c, 5) == 0 &&
	   constraint_accept(c, 4) == 0 && constraint_accept(c, 5) == 0 && constraint_accept(c, 2) == 0,
	   "reset, then { \" cmd \" space : space \" one piece at a time");
	ok(constraint_accept(c, 2) == -1, "an empty command is refused");
	ok(constraint_accept(c, 11) == 0 && constraint_accept(c, 1) == 0 && constraint_complete(c), "x\" } completes");
	for (int i = 0; i < 5; i++)
		constraint_accept(c, 6);
	ok(constraint_complete(c), "nothing but end-of-sequence after completion");
	constraint_free(c);

	ok(constraint_new_json_cmd(piece, len, n, 16, &e) == NULL && strstr(e.msg, "end-of-sequence"), "eos outside the vocabulary is an error");
	ok(constraint_new_json_cmd(piece, len, 0, 0, &e) == NULL, "an empty vocabulary is an error");
	size_t huge[16];
	memcpy(huge, len, sizeof huge);
	huge[3] = CONSTRAIN_MAX_PIECE + 1;
	ok(constraint_new_json_cmd(piece, huge, n, 15, &e) == NULL, "an oversized piece is an error");
}

/* GPT-2 byte-level: the byte each code point of a token stands for. */
static int byte_of(uint32_t cp)
{
	static int table[324];
	static int ready;
	if (!ready) {
		int k = 0;
		for (int b = 0; b < 256; b++) {
			bool same = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
			if (same)
				table[b] = b;
			else
				table[256 + k++] = b;
		}
		ready = 1;
	}
	if (cp < 256)
		return ((cp >= 0x21 && cp <= 0x7e) || (cp >= 0xa1 && cp <= 0xac) || (cp >= 0xae && cp <= 0xff)) ? (int)cp : -1;
	return cp < 256 + 68 ? table[cp] : -1;
}

static void real_vocabulary(void)
{
	const char *path = getenv("LMU_MODELS") ? NULL : "models/smollm2-135m-instruct-q4_1.gguf";
	char buf[1024];
	if (!path) {
		snprintf(buf, sizeof buf, "%s/smollm2-135m-instruct-q4_1.gguf", getenv("LMU_MODELS"));
		path = buf;
	}
	struct lmu_err e = {{0}};
	struct gguf *g = gguf_open(path, &e);
	if (!g) {
		printf("ok %d # SKIP %s: %s (run 'make model')\n", ++n_test, path, e.msg);
		return;
	}
	struct gguf_value tokens, types;
	uint32_t eos = 0;
	bool have_types = gguf_get_arr(g, "tokenizer.ggml.token_type", GGUF_NVTYPES, &types) == 1;
	ok(gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_STRING, &tokens) == 1 &&
	   gguf_get_u32(g, "tokenizer.ggml.eos_token_id", &eos) == 1, "the model has tokens and an eos id");
	uint32_t n = (uint32_t)tokens.count;
	char **piece = calloc(n, sizeof *piece);
	size_t *len = calloc(n, sizeof *len);
	struct gguf_str_iter it;
	struct gguf_str t;
	gguf_str_iter_init(&it, &tokens);
	int bad = 0;
	for (uint32_t i = 0; i < n && gguf_str_iter_next(&it, &t); i++) {
		int64_t type = 1;
		if (have_types)
			gguf_arr_i64(&types, i, &type);
		piece[i] = malloc(t.len + 1);
		if (type == 3)
			continue;  /* control tokens decode to nothing here */
		for (uint64_t k = 0; k < t.len;) {
			unsigned char c0 = (unsigned char)t.s[k];
			uint32_t cp = c0;
			int extra = c0 >= 0xf0 ? 3 : c0 >= 0xe0 ? 2 : c0 >= 0xc0 ? 1 : 0;
			if (extra)
				cp = c0 & (0x3f >> extra);
			for (int x = 1; x <= extra && k + x < t.len; x++)
				cp = cp << 6 | ((unsigned char)t.s[k + x] & 0x3f);
			k += 1 + extra;
			int b = byte_of(cp);
			if (b < 0)
				bad++;
			else
				piece[i][len[i]++] = (char)b;
		}
	}
	ok(n == 49152 && bad == 0, "49152 tokens decoded from the byte-level alphabet");
	struct constraint *c = constraint_new_json_cmd((const char *const *)piece, len, n, (int32_t)eos, &e);
	ok(c != NULL, "a constraint over the SmolLM2 vocabulary");
	if (!c)
		return;

	float *logits = malloc(n * sizeof *logits);
	uint32_t *allowed = malloc(n * sizeof *allowed), *closers = malloc(n * sizeof *closers);
	bool *closing = calloc(n, sizeof *closing);
	for (uint32_t i = 0; i < n; i++)
		closing[i] = memchr(piece[i], '"', len[i]) || memchr(piece[i], '}', len[i]);
	int runs = 300, parsed = 0, stuck = 0, refused = 0, longest = 0;
	double mask_seconds = 0;
	long masks = 0;
	for (int r = 0; r < runs; r++) {
		char out[8192];
		size_t out_n = 0;
		bool ended = false;
		constraint_reset(c);
		for (int step = 0; step < 300 && !ended; step++) {
			for (uint32_t i = 0; i < n; i++)
				logits[i] = rand_unit();
			struct timespec t0, t1;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			constraint_mask(c, logits);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			mask_seconds += (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
			masks++;
			/* uniform over what is left; later on, lean towards closing
			 * pieces and end-of-sequence so that runs end */
			uint32_t n_allowed = 0, n_closing = 0;
			for (uint32_t i = 0; i < n; i++)
				if (!isinf(logits[i])) {
					allowed[n_allowed++] = i;
					if (closing[i])
						closers[n_closing++] = i;
				}
			if (n_allowed == 0) {
				stuck++;
				break;
			}
			uint32_t id = allowed[next_rand() % n_allowed];
			if (step > 20 && n_closing > 0 && rand_unit() < 0.5f)
				id = closers[next_rand() % n_closing];
			if (step > 40 && !isinf(logits[eos]))
				id = eos;
			/* a refused id must really be refused */
			uint32_t other = (uint32_t)(next_rand() % n);
			if (isinf(logits[other]) && constraint_accept(c, (int32_t)other) != -1)
				refused++;
			if (constraint_accept(c, (int32_t)id) != 0) {
				refused++;
				break;
			}
			if (id == eos) {
				ended = true;
				break;
			}
			if (out_n + len[id] < sizeof out) {
				memcpy(out + out_n, piece[id], len[id]);
				out_n += len[id];
			}
		}
		if (!ended || !constraint_complete(c))
			continue;
		jv v = jv_parse_sized(out, (int)out_n);
		if (jv_get_kind(v) == JV_KIND_OBJECT && jv_object_length(jv_copy(v)) == 1) {
			jv cmd = jv_object_get(jv_copy(v), jv_string("cmd"));
			if (jv_get_kind(cmd) == JV_KIND_STRING && jv_string_length_bytes(jv_copy(cmd)) > 0) {
				parsed++;
				if ((int)out_n > longest)
					longest = (int)out_n;
			}
			jv_free(cmd);
		} else if (parsed == r) {
			printf("# not parsed: %.*s\n", (int)out_n, out);
		}
		jv_free(v);
	}
	printf("# %d of %d random generations parsed; longest %d bytes; mask %.1f us per step over %u tokens\n",
	       parsed, runs, longest, 1e6 * mask_seconds / (double)(masks ? masks : 1), n);

	/* closing mode at a random step: complete within CONSTRAIN_MAX_CLOSE tokens */
	int closed = 0, closing_runs = 100, worst = 0;
	for (int r = 0; r < closing_runs; r++) {
		char out[8192];
		size_t out_n = 0;
		int switch_at = (int)(next_rand() % 40), step;
		constraint_reset(c);
		for (step = 0; step < 200 && !constraint_complete(c); step++) {
			if (step == switch_at)
				constraint_set_closing(c, true);
			for (uint32_t i = 0; i < n; i++)
				logits[i] = 0;
			constraint_mask(c, logits);
			uint32_t n_allowed = 0;
			for (uint32_t i = 0; i < n; i++)
				if (!isinf(logits[i]))
					allowed[n_allowed++] = i;
			if (n_allowed == 0)
				break;
			uint32_t id = allowed[next_rand() % n_allowed];
			if (constraint_accept(c, (int32_t)id) != 0)
				break;
			if (out_n + len[id] < sizeof out) {
				memcpy(out + out_n, piece[id], len[id]);
				out_n += len[id];
			}
		}
		if (step - switch_at > worst)
			worst = step - switch_at;
		jv v = jv_parse_sized(out, (int)out_n);
		if (constraint_complete(c) && step - switch_at <= CONSTRAIN_MAX_CLOSE && jv_get_kind(v) == JV_KIND_OBJECT) {
			jv cmd = jv_object_get(jv_copy(v), jv_string("cmd"));
			closed += jv_get_kind(cmd) == JV_KIND_STRING;
			jv_free(cmd);
		}
		jv_free(v);
	}
	printf("# closing mode: %d of %d complete, at most %d tokens after the switch\n", closed, closing_runs, worst);
	ok(closed == closing_runs, "closing mode completes within CONSTRAIN_MAX_CLOSE tokens, as JSON");
	ok(stuck == 0, "no state without an allowed token");
	ok(refused == 0, "the mask and accept agree");
	ok(parsed == runs, "every random generation under the mask is {\"cmd\": string}");
	free(logits);
	free(allowed);
	free(closers);
	free(closing);
	for (uint32_t i = 0; i < n; i++)
		free(piece[i]);
	free(piece);
	free(len);
	constraint_free(c);
	gguf_close(g);
}

int main(void)
{
	small_vocabulary();
	real_vocabulary();
	return tap_done();
}
