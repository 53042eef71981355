/* test-jsonobj - the JSON object machine (sample/jsonobj.h): on a
 * vocabulary of single bytes (and a few longer pieces) it must accept
 * exactly what common/json.c's strict scanner calls one JSON object
 * (random strings over a JSON alphabet, compared one by one), never leave
 * a prefix with no way on, and mask exactly what it refuses; then random
 * sampling under the mask over the real SmolLM2 vocabulary must always
 * end in an object that the scanner and libjq take. */
#include <jv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sample/jsonobj.h"
#include "json.h"
#include "vocab.h"

#include "tap.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* ids 0..255: the byte; then longer pieces, a control token (no bytes)
 * and the end-of-generation id */
static const char *const extra[] = {"{\"", "\":", "\"}", "}]", "]}", "true", "null", "\\u", "\\ud83d\\ude00", "1e",
				    "  ", ", \"", "\"a\": 1}", "", "<eos>"};
#define N_EXTRA (sizeof extra / sizeof *extra)
#define N_SMALL (256 + N_EXTRA)
#define CONTROL (256 + N_EXTRA - 2)
#define EOS (256 + N_EXTRA - 1)

static char byte_piece[256];
static const char *small_piece[N_SMALL];
static uint32_t small_len[N_SMALL];
static bool small_end[N_SMALL];

static void small_vocab(void)
{
	for (int i = 0; i < 256; i++) {
		byte_piece[i] = (char)i;
		small_piece[i] = &byte_piece[i];
		small_len[i] = 1;
	}
	for (size_t i = 0; i < N_EXTRA; i++) {
		small_piece[256 + i] = extra[i];
		small_len[256 + i] = (uint32_t)strlen(extra[i]);
	}
	small_len[CONTROL] = 0;
	small_end[EOS] = true;
}

/* Feed s byte by byte: the bytes taken before the first refused one,
 * checking on the way that the mask agrees with accept and is never
 * empty. */
static size_t feed(struct jsonobj *c, const char *s, size_t n, int *disagree, int *empty)
{
	float logits[N_SMALL];
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < (int)N_SMALL; k++)
			logits[k] = 0;
		jsonobj_mask(c, logits);
		int left = 0;
		for (int k = 0; k < (int)N_SMALL; k++)
			left += !isinf(logits[k]);
		if (!left)
			(*empty)++;
		int id = (unsigned char)s[i];
		bool allowed = !isinf(logits[id]);
		int rc = jsonobj_accept(c, id);
		if (allowed != (rc == 0))
			(*disagree)++;
		if (rc != 0)
			return i;
	}
	return n;
}

static bool machine_takes(const char *s, size_t n, int *disagree, int *empty)
{
	struct jsonobj *c = jsonobj_new(N_SMALL, small_piece, small_len, small_end);
	bool all = feed(c, s, n, disagree, empty) == n && jsonobj_complete(c);
	if (all && jsonobj_accept(c, EOS) != 0)
		all = false;
	jsonobj_free(c);
	return all;
}

/* One JSON object for the scanner, without white space after it (the
 * machine ends at the '}'). */
static bool scanner_takes(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && strchr(" \t\r\n", s[i]))
		i++;
	return n > 0 && i < n && s[i] == '{' && s[n - 1] == '}' && json_valid(s, n);
}

/* s as a one-line test name (new lines and other control bytes as \xNN) */
static const char *shown(const char *s)
{
	static char b[512];
	size_t k = 0;
	for (; *s && k + 5 < sizeof b; s++)
		k += (size_t)((unsigned char)*s < 0x20 ? sprintf(b + k, "\\x%02x", (unsigned char)*s)
						   : sprintf(b + k, "%c", *s));
	b[k] = 0;
	return b;
}

static void fixed_cases(void)
{
	static const char *const good[] = {
		"{}", " {}", "{ }", "{\"a\":1}", "{\"a\" : [1, 2.5, -0.5e+10, 0, -0, 1E3, true, false, null]}",
		"{\"k\":{\"n\":{\"m\":[[[]], {}, \"s\"]}}}", "{\"\\u00e9\\ud83d\\ude00\\n\\\"\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}",
		"{\"a\":\"\\/\\b\\f\\r\\t\\\\\"}", "{\n  \"a\": 1,\n  \"b\": \"x\"\n}", "{\"a\":\"\x7f\"}"};
	static const char *const bad[] = {
		"[]", "\"s\"", "1", "{,}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}",
		"{\"a\":1e}", "{\"a\":-}", "{\"a\":tru}", "{\"a\":True}", "{a:1}", "{'a':1}", "{\"a\":\"\x01\"}",
		"{\"a\":\"\\x\"}", "{\"a\":\"\\ud83d\"}", "{\"a\":\"\\ude00\"}", "{\"a\":\"\xc0\xaf\"}",
		"{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\xe0\x80\xaf\"}", "{\"a\":[}",
		"{\"a\":1]", "{} ", "{}{}", "{\"a\":1}}"};
	int disagree = 0, empty = 0;
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		bool m = machine_takes(good[i], strlen(good[i]), &disagree, &empty);
		ok(m && scanner_takes(good[i], strlen(good[i])), "taken: %s", shown(good[i]));
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		bool m = machine_takes(bad[i], strlen(bad[i]), &disagree, &empty);
		ok(!m && !scanner_takes(bad[i], strlen(bad[i])), "refused: %s", shown(bad[i]));
	}
	ok(disagree == 0 && empty == 0, "the mask agrees with accept, and never leaves nothing (%d, %d)", disagree,
	   empty);

	/* longer pieces, control tokens, the end */
	struct jsonobj *c = jsonobj_new(N_SMALL, small_piece, small_len, small_end);
	ok(jsonobj_accept(c, CONTROL) == -1 && jsonobj_accept(c, EOS) == -1, "no control token, no end before the object");
	ok(jsonobj_accept(c, 256 + 0) == 0 && jsonobj_accept(c, 'k') == 0 && jsonobj_accept(c, 256 + 1) == 0,
	   "{\" k \": as three tokens");
	ok(jsonobj_accept(c, 256 + 8) == -1, "an escape piece outside a string is refused");
	ok(jsonobj_accept(c, '"') == 0 && jsonobj_accept(c, 256 + 8) == 0, "a surrogate pair in one piece");
	ok(jsonobj_accept(c, 256 + 2) == 0 && jsonobj_complete(c), "\"} closes the object");
	float logits[N_SMALL] = {0};
	jsonobj_mask(c, logits);
	int left = 0;
	for (int k = 0; k < (int)N_SMALL; k++)
		left += !isinf(logits[k]);
	ok(left == 1 && !isinf(logits[EOS]) && jsonobj_accept(c, EOS) == 0, "then only the end is left");
	jsonobj_free(c);

	/* the limits */
	char deep[2 * JSONOBJ_MAX_DEPTH + 16], *p = deep;
	p += sprintf(p, "{\"a\":");
	for (int i = 1; i < JSONOBJ_MAX_DEPTH; i++)
		*p++ = '[';
	size_t open = (size_t)(p - deep);
	*p++ = '[';
	disagree = empty = 0;
	c = jsonobj_new(N_SMALL, small_piece, small_len, small_end);
	ok(feed(c, deep, (size_t)(p - deep), &disagree, &empty) == open, "%d levels of nesting, not one more",
	   JSONOBJ_MAX_DEPTH);
	jsonobj_free(c);
	char ws[JSONOBJ_MAX_WS + 8];
	ws[0] = '{';
	memset(ws + 1, ' ', JSONOBJ_MAX_WS + 1);
	c = jsonobj_new(N_SMALL, small_piece, small_len, small_end);
	ok(feed(c, ws, JSONOBJ_MAX_WS + 2, &disagree, &empty) == JSONOBJ_MAX_WS + 1, "%d bytes of white space in a gap",
	   JSONOBJ_MAX_WS);
	jsonobj_free(c);
	char num[JSONOBJ_MAX_DIGITS + 16];
	p = num + sprintf(num, "{\"a\":");
	memset(p, '7', JSONOBJ_MAX_DIGITS + 1);
	c = jsonobj_new(N_SMALL, small_piece, small_len, small_end);
	ok(feed(c, num, (size_t)(p - num) + JSONOBJ_MAX_DIGITS + 1, &disagree, &empty) ==
		   (size_t)(p - num) + JSONOBJ_MAX_DIGITS,
	   "%d characters in a number", JSONOBJ_MAX_DIGITS);
	jsonobj_free(c);
}

/* Random strings over a JSON alphabet, the machine against the scanner. */
static void differential(void)
{
	static const char *const alphabet[] = {"{", "}", "[", "]", "\"", ":", ",", " ", "0", "1", "-", ".", "e", "+",
					       "t", "true", "null", "\\", "u", "d", "8", "c", "a", "\xc3", "\xa9",
					       "\xed", "\x80", "{\"a\":", "\"}", "\\ud83d", "\\udc00", "\n"};
	int n_alpha = (int)(sizeof alphabet / sizeof *alphabet), differ = 0, objects = 0, disagree = 0, empty = 0;
	char s[256];
	for (int r = 0; r < 200000; r++) {
		size_t n = 0;
		int parts = 1 + (int)(next_rand() % 12);
		if (r % 2)
			n += (size_t)sprintf(s, "{\"k\":");
		for (int i = 0; i < parts; i++) {
			const char *a = alphabet[next_rand() % (uint64_t)n_alpha];
			memcpy(s + n, a, strlen(a));
			n += strlen(a);
		}
		if (r % 3 == 0)
			s[n++] = '}';
		bool m = machine_takes(s, n, &disagree, &empty), j = scanner_takes(s, n);
		objects += j;
		if (m != j && differ++ < 5) {
			printf("# differ: machine %d scanner %d on '", m, j);
			fwrite(s, 1, n, stdout);
			printf("'\n");
		}
	}
	ok(differ == 0 && objects > 500, "200000 random strings: the machine takes what the scanner takes (%d objects, "
					  "%d differ)", objects, differ);
	ok(disagree == 0 && empty == 0, "... the mask agrees with accept, and is never empty (%d, %d)", disagree, empty);
}

/* Random sampling under the mask over the SmolLM2 vocabulary. */
static void real_vocabulary(void)
{
	char path[4096];
	const char *dir = getenv("LMU_MODELS");
	snprintf(path, sizeof path, "%s/smollm2-135m-instruct-q4_1.gguf", dir ? dir : "models");
	FILE *f = fopen(path, "rb");
	if (!f) {
		printf("ok %d # SKIP %s is missing (run 'make model')\n", ++n_test, path);
		return;
	}
	fclose(f);
	struct vocab v;
	struct gguf *g;
	vocab_open_or_die(&v, path, &g);
	uint32_t n = v.n, *len = malloc(n * sizeof *len);
	for (uint32_t i = 0; i < n; i++)
		len[i] = vocab_is_special(&v, (int32_t)i) ? 0 : v.bytes_len[i];
	bool *closing = calloc(n, sizeof *closing);
	for (uint32_t i = 0; i < n; i++)
		closing[i] = len[i] && (memchr(v.bytes[i], '"', len[i]) || memchr(v.bytes[i], '}', len[i]) ||
					memchr(v.bytes[i], ']', len[i]));
	float *logits = malloc(n * sizeof *logits);
	uint32_t *allowed = malloc(n * sizeof *allowed), *closers = malloc(n * sizeof *closers);
	int runs = 200, ended = 0, valid = 0, stuck = 0, nested = 0;
	for (int r = 0; r < runs; r++) {
		struct jsonobj *c = jsonobj_new(n, (const char *const *)v.bytes, len, v.eog);
		char out[16384];
		size_t out_n = 0;
		bool end = false;
		for (int step = 0; step < 400 && !end; step++) {
			for (uint32_t i = 0; i < n; i++)
				logits[i] = 0;
			jsonobj_mask(c, logits);
			uint32_t n_allowed = 0, n_closing = 0;
			for (uint32_t i = 0; i < n; i++)
				if (!isinf(logits[i])) {
					allowed[n_allowed++] = i;
					if (closing[i])
						closers[n_closing++] = i;
				}
			if (!n_allowed) {
				stuck++;
				break;
			}
			uint32_t id = allowed[next_rand() % n_allowed];
			if (step > 10 && n_closing && next_rand() % 3)
				id = closers[next_rand() % n_closing];
			if (jsonobj_accept(c, (int32_t)id) != 0) {
				stuck++;
				break;
			}
			if (v.eog[id]) {
				end = true;
			} else if (out_n + len[id] < sizeof out) {
				memcpy(out + out_n, v.bytes[id], len[id]);
				out_n += len[id];
			}
		}
		jsonobj_free(c);
		if (!end)
			continue;
		ended++;
		jv x = jv_parse_sized(out, (int)out_n);
		if (json_valid(out, out_n) && jv_get_kind(x) == JV_KIND_OBJECT)
			valid++;
		else if (valid + 3 > ended) {
			printf("# not an object: ");
			fwrite(out, 1, out_n, stdout);
			printf("\n");
		}
		nested += memchr(out + 1, '{', out_n > 1 ? out_n - 1 : 0) || memchr(out, '[', out_n);
		jv_free(x);
	}
	ok(stuck == 0, "SmolLM2 vocabulary: the mask never leaves nothing, and every id it leaves is taken");
	ok(ended > runs / 2 && valid == ended, "%d of %d random runs ended; every one a JSON object (%d), %d nested",
	   ended, runs, valid, nested);
	free(len);
	free(closing);
	free(logits);
	free(allowed);
	free(closers);
	vocab_free(&v);
	gguf_close(g);
}

int main(void)
{
	small_vocab();
	fixed_cases();
	differential();
	real_vocabulary();
	return tap_done();
}
