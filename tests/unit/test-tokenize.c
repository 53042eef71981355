/* test-tokenize: UTF-8 repair, Unicode classes, the pre-tokenizer
 * splitters, and the merge order of both encoders on small vocabularies
 * written here. */
#include <jv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "gguf_write.h"
#include "normalize.h"
#include "pretok.h"
#include "tokenizer.h"
#include "unicode.h"
#include "vocab.h"

#include "tap.h"

/* Python: bytes.decode("utf-8", "replace") gives these */
static void test_repair(void)
{
	static const struct {
		const char *in, *want;
		size_t bad;
	} cases[] = {
		{"plain", "plain", 0},
		{"a\xff" "b", "a\xef\xbf\xbd" "b", 1},
		{"\xc0\x80", "\xef\xbf\xbd\xef\xbf\xbd", 2},                       /* overlong: 2 */
		{"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 3},      /* surrogate: 3 */
		{"\xe2\x82" "x", "\xef\xbf\xbd" "x", 1},                           /* cut: 1 */
		{"\xf0\x9f\x98", "\xef\xbf\xbd", 1},                               /* cut at end: 1 */
		{"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 4},
		{"\xc3\xa9\xf0\x9f\x98\x80", "\xc3\xa9\xf0\x9f\x98\x80", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		size_t len, bad;
		char *s = utf8_repair(cases[i].in, strlen(cases[i].in), &len, &bad);
		char name[64];
		snprintf(name, sizeof name, "utf8_repair case %zu as Python's 'replace'", i);
		ok(len == strlen(cases[i].want) && memcmp(s, cases[i].want, len) == 0 && bad == cases[i].bad, "%s", name);
		free(s);
	}
	ok(utf8_complete_prefix((const unsigned char *)"ab\xf0\x9f", 4) == 2, "cut emoji is held back");
	ok(utf8_complete_prefix((const unsigned char *)"ab\xf0\x9f\x98\x80", 6) == 6, "whole emoji is complete");
	ok(utf8_complete_prefix((const unsigned char *)"ab\xff", 3) == 3, "an invalid byte is not held");
}

static void test_classes(void)
{
	ok(uc_flags('A') & UC_L && uc_flags(0x4e00) & UC_L && uc_flags(0x1d518) & UC_L, "letters (ASCII, CJK, math fraktur)");
	ok(uc_flags('7') & UC_N && uc_flags(0x2167) & UC_N && uc_flags(0xbd) & UC_N && uc_flags(0x661) & UC_N,
	   "numbers: Nd, Nl (Roman), No (1/2), Arabic-Indic");
	ok(uc_flags(0x301) == UC_M, "combining acute is a mark, not a letter");
	ok(uc_flags(' ') & UC_SPACE && uc_flags('\t') & UC_SPACE && uc_flags(0x85) & UC_SPACE &&
	   uc_flags(0x3000) & UC_SPACE && uc_flags(0x2028) & UC_SPACE && uc_flags(0xa0) & UC_SPACE,
	   "White_Space: space, tab, NEL, ideographic space, line separator, NBSP");
	ok(!(uc_flags(0x200b) & UC_SPACE) && !(uc_flags(0x1c) & UC_SPACE), "ZWSP and U+001C are not \\s");
	ok(uc_flags(0x1f600) == UC_S, "emoji is a symbol");
	ok(uc_flags(0xe0000) == UC_C && uc_flags(0x10ffff) == UC_C, "unassigned is other");
}

/* split s and join the pieces with '|' */
static void split_str(enum pretok kind, const char *s, char *out)
{
	struct pieces p = {0};
	size_t start = 0, o = 0;
	pretok_split(kind, s, strlen(s), &p);
	for (size_t i = 0; i < p.n; i++) {
		if (i)
			out[o++] = '|';
		memcpy(out + o, s + start, p.end[i] - start);
		o += p.end[i] - start;
		start = p.end[i];
	}
	out[o] = 0;
	pieces_free(&p);
}

static void test_split(void)
{
	static const struct {
		enum pretok kind;
		const char *in, *want;
	} cases[] = {
		{PRETOK_GPT2, "It's  a test123 ok!!", "It|'s| | a| test|123| ok|!!"},
		{PRETOK_GPT2, "a \tb\n\n c", "a| |\t|b|\n\n| c"},
		{PRETOK_GPT2, "x   ", "x|   "},
		{PRETOK_SMOLLM, "ab 12c", "ab| |1|2|c"},
		{PRETOK_LLAMA3, "It'S 12345 \"hi\"\n\n  x", "It|'S| |123|45| \"|hi|\"\n\n| | x"},
		{PRETOK_LLAMA3, "a\t\tb", "a|\t|\tb"},
		{PRETOK_LLAMA3, "x  \n  y", "x|  \n| | y"},
		{PRETOK_QWEN2, "x 123", "x| |1|2|3"},
	};
	char out[256], name[96];
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		split_str(cases[i].kind, cases[i].in, out);
		snprintf(name, sizeof name, "split case %zu", i);
		ok(strcmp(out, cases[i].want) == 0, "%s", name);
		if (strcmp(out, cases[i].want))
			printf("# got '%s'\n# want '%s'\n", out, cases[i].want);
	}
}

static struct gguf *open_written(struct gguf_writer *w, struct vocab *v, struct tokenizer **t)
{
	struct lmu_err e = {{0}};
	size_t n;
	const uint8_t *buf = gguf_writer_bytes(w, &n);
	struct gguf *g = gguf_open_mem(buf, n, "test.gguf", &e);
	*t = NULL;
	if (!g || !vocab_load_gguf(v, g, &e) || !(*t = tokenizer_new(v, &e)))
		printf("# %s\n", e.msg);
	return g;
}

static int encodes_to(struct tokenizer *t, const char *text, const int32_t *want, size_t n)
{
	struct ids ids = {0};
	tokenizer_encode(t, text, strlen(text), false, &ids);
	int r = ids.n == n && (n == 0 || memcmp(ids.v, want, n * sizeof *want) == 0);
	if (!r) {
		printf("# '%s' ->", text);
		for (size_t i = 0; i < ids.n; i++)
			printf(" %d", ids.v[i]);
		printf("\n");
	}
	free(ids.v);
	return r;
}

static void test_bpe(void)
{
	/* "\xc4\xa0" is the byte-level spelling of a space */
	const char *tok[] = {"a", "b", "c", "ab", "bc", "abc", "aa", "\xc4\xa0", "\xc4\xa0" "a", "<|x|>"};
	int32_t type[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 3};
	const char *merges[] = {"b c", "a b", "a a", "ab c", "\xc4\xa0 a"};
	struct gguf_writer *w = gguf_writer_new();
	struct vocab v;
	struct tokenizer *t;

	gguf_w_str(w, "tokenizer.ggml.model", "gpt2");
	gguf_w_str(w, "tokenizer.ggml.pre", "gpt-2");
	gguf_w_arr_str(w, "tokenizer.ggml.tokens", tok, 10);
	gguf_w_arr(w, "tokenizer.ggml.token_type", GGUF_INT32, type, 10);
	gguf_w_arr_str(w, "tokenizer.ggml.merges", merges, 5);
	struct gguf *g = open_written(w, &v, &t);
	ok(t != NULL, "tiny byte-level BPE loads");
	if (t) {
		ok(encodes_to(t, "abc", (int32_t[]){0, 4}, 2), "lowest rank first: b c before a b");
		ok(encodes_to(t, "aaa", (int32_t[]){6, 0}, 2), "equal ranks: leftmost pair first");
		ok(encodes_to(t, "a a", (int32_t[]){0, 8}, 2), "space joins the next word");
		ok(encodes_to(t, "<|x|>", (int32_t[]){}, 0), "special token text without --special: no tokens for < | >");
		struct ids ids = {0};
		tokenizer_encode(t, "a<|x|>", 6, true, &ids);
		ok(ids.n == 2 && ids.v[0] == 0 && ids.v[1] == 9, "--special: the control token is matched");
		free(ids.v);
		tokenizer_free(t);
		vocab_free(&v);
	}
	gguf_close(g);
	gguf_writer_free(w);
}

static void test_spm(void)
{
	const char *tok[] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", "b", "\xe2\x96\x81" "a", "ab", "<0x41>", "<0xC3>",
			     "<0x89>"};
	int32_t type[] = {2, 3, 3, 1, 1, 1, 1, 1, 6, 6, 6};
	float score[] = {0, 0, 0, -1, -2, -2, -5, -3, 0, 0, 0};
	struct gguf_writer *w = gguf_writer_new();
	struct vocab v;
	struct tokenizer *t;

	gguf_w_str(w, "tokenizer.ggml.model", "llama");
	gguf_w_arr_str(w, "tokenizer.ggml.tokens", tok, 11);
	gguf_w_arr(w, "tokenizer.ggml.token_type", GGUF_INT32, type, 11);
	gguf_w_arr(w, "tokenizer.ggml.scores", GGUF_FLOAT32, score, 11);
	struct gguf *g = open_written(w, &v, &t);
	ok(t != NULL, "tiny SPM loads");
	if (t) {
		ok(encodes_to(t, "ab", (int32_t[]){3, 7}, 2), "dummy prefix; ab (-3) beats \xe2\x96\x81" "a (-5)");
		ok(encodes_to(t, "A", (int32_t[]){3, 8}, 2), "byte fallback <0x41> for A");
		ok(encodes_to(t, "\xc3\x89", (int32_t[]){3, 9, 10}, 3), "byte fallback for both bytes of E-acute");
		ok(encodes_to(t, "z", (int32_t[]){3, 0}, 2), "no byte token: <unk>");
		ok(encodes_to(t, "zz", (int32_t[]){3, 0}, 2), "consecutive unknowns fuse");
		tokenizer_free(t);
		vocab_free(&v);
	}
	gguf_close(g);
	gguf_writer_free(w);
}

/* Read a whole file; NULL if it cannot be read. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;
	if (!f)
		return NULL;
	do {
		if (n == cap)
			buf = xrealloc(buf, (cap = cap ? 2 * cap : 1 << 16) + 1);
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got);
	fclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
}

/* Count the lines of TEXT whose ids (BOS added as the vocabulary says)
 * equal the line of IDS. */
static int count_equal(struct tokenizer *t, const struct vocab *v, const char *text_path, const char *ids_path,
		       int *total)
{
	size_t tl = 0, il = 0;
	char *text = slurp(text_path, &tl), *ids = slurp(ids_path, &il);
	int same = 0;
	*total = 0;
	if (!text || !ids) {
		free(text);
		free(ids);
		return -1;
	}
	char *tp = text, *ip = ids, *tend = text + tl, *iend = ids + il;
	struct ids out = {0};
	while (tp < tend && ip < iend) {
		char *te = memchr(tp, '\n', (size_t)(tend - tp)), *ie = memchr(ip, '\n', (size_t)(iend - ip));
		if (!te || !ie)
			break;
		out.n = 0;
		if (v->add_bos)
			ids_push(&out, v->bos);
		tokenizer_encode(t, tp, (size_t)(te - tp), false, &out);
		char line[65536];
		size_t o = 0;
		for (size_t i = 0; i < out.n && o + 16 < sizeof line; i++)
			o += (size_t)snprintf(line + o, sizeof line - o, i ? " %d" : "%d", out.v[i]);
		line[o] = 0;
		if ((size_t)(ie - ip) == o && memcmp(line, ip, o) == 0)
			same++;
		else if (same == *total)
			printf("# first difference, line %d:\n# got  %s\n# want %.*s\n", *total + 1, line, (int)(ie - ip), ip);
		(*total)++;
		tp = te + 1;
		ip = ie + 1;
	}
	free(out.v);
	free(text);
	free(ids);
	return same;
}

/* A Llama-2-style GGUF (scores, dummy prefix, BOS) written here from
 * tests/fixtures/tok/spm-vocab.jsonl, against the ids transformers gives
 * for the same file (tests/ref/spm-ref.py). */
static void test_llama_spm(void)
{
	const char *fx = "tests/fixtures/tok";
	char path[512];
	size_t len;
	snprintf(path, sizeof path, "%s/spm-vocab.jsonl", fx);
	char *jl = slurp(path, &len);
	if (!jl) {
		printf("not ok %d - %s missing (run from the top directory)\n", ++n_test, path);
		n_fail++;
		return;
	}
	size_t n = 0, cap = 0;
	char **tok = NULL;
	float *score = NULL;
	int32_t *type = NULL;
	for (char *p = jl, *e; *p; p = e + 1) {
		if (!(e = strchr(p, '\n')))
			break;
		jv row = jv_parse_sized(p, (int)(e - p));
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			tok = xreallocarray(tok, cap, sizeof *tok);
			score = xreallocarray(score, cap, sizeof *score);
			type = xreallocarray(type, cap, sizeof *type);
		}
		jv a = jv_array_get(jv_copy(row), 0), b = jv_array_get(jv_copy(row), 1), c = jv_array_get(jv_copy(row), 2);
		tok[n] = xstrdup(jv_string_value(a));
		score[n] = (float)jv_number_value(b);
		type[n] = (int32_t)jv_number_value(c);
		n++;
		jv_free(a);
		jv_free(b);
		jv_free(c);
		jv_free(row);
	}
	free(jl);

	struct gguf_writer *w = gguf_writer_new();
	struct vocab v;
	struct tokenizer *t;
	gguf_w_str(w, "general.architecture", "llama");
	gguf_w_str(w, "tokenizer.ggml.model", "llama");
	gguf_w_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tok, n);
	gguf_w_arr(w, "tokenizer.ggml.token_type", GGUF_INT32, type, n);
	gguf_w_arr(w, "tokenizer.ggml.scores", GGUF_FLOAT32, score, n);
	gguf_w_bool(w, "tokenizer.ggml.add_space_prefix", 1);
	struct gguf *g = open_written(w, &v, &t);
	ok(t != NULL, "Llama-2-style SPM vocabulary from spm-vocab.jsonl loads");
	if (t) {
		static const char *const sets[][2] = {{"corpus.txt", "llama-spm.ids"},
						       {"random.txt", "llama-spm.random.ids"}};
		for (int i = 0; i < 2; i++) {
			char tp[512], ip[512], name[160];
			int total, same;
			snprintf(tp, sizeof tp, "%s/%s", fx, sets[i][0]);
			snprintf(ip, sizeof ip, "%s/%s", fx, sets[i][1]);
			same = count_equal(t, &v, tp, ip, &total);
			snprintf(name, sizeof name, "Llama-2-style SPM (scores, dummy prefix): %s: %d of %d lines equal to Hugging Face",
				 sets[i][0], same, total);
			ok(same >= 0 && same == total && total > 0, "%s", name);
		}
		tokenizer_free(t);
		vocab_free(&v);
	}
	gguf_close(g);
	gguf_writer_free(w);
	for (size_t i = 0; i < n; i++)
		free(tok[i]);
	free(tok);
	free(score);
	free(type);
}

/* hex code points separated by spaces -> UTF-8 */
static size_t field_utf8(const char *f, const char *end, char *out)
{
	size_t o = 0;
	while (f < end) {
		char *e;
		unsigned long cp = strtoul(f, &e, 16);
		if (e == f)
			break;
		o += (size_t)utf8_encode((uint32_t)cp, out + o);
		f = e;
		while (f < end && *f == ' ')
			f++;
	}
	out[o] = 0;
	return o;
}

/* NFC against the Unicode conformance file (NormalizationTest.txt of
 * Debian's unicode-data): c2 == NFC(c1) == NFC(c2) == NFC(c3) and
 * c4 == NFC(c4) == NFC(c5) on every line. */
static void test_nfc(void)
{
	const char *path = "/usr/share/unicode/NormalizationTest.txt.bz2";
	char cmd[256], line[4096], col[5][1024], first_bad[4096] = "";
	size_t len[5];
	int lines = 0, bad = 0;
	FILE *f;

	snprintf(cmd, sizeof cmd, "bzcat %s 2>/dev/null", path);
	if (!(f = fopen(path, "rb")) || (fclose(f), !(f = popen(cmd, "r")))) {
		printf("ok %d # SKIP %s not readable (Debian package unicode-data, and bzcat)\n", ++n_test, path);
		return;
	}
	while (fgets(line, sizeof line, f)) {
		if (line[0] == '#' || line[0] == '@' || line[0] == '\n')
			continue;
		const char *p = line;
		int k;
		for (k = 0; k < 5; k++) {
			const char *semi = strchr(p, ';');
			if (!semi)
				break;
			len[k] = field_utf8(p, semi, col[k]);
			p = semi + 1;
		}
		if (k < 5)
			continue;
		static const int src[5] = {0, 1, 2, 3, 4}, want[5] = {1, 1, 1, 3, 3};
		for (k = 0; k < 5; k++) {
			size_t n;
			char *r = nfc(col[src[k]], len[src[k]], &n);
			if (n != len[want[k]] || memcmp(r, col[want[k]], n) != 0) {
				if (!bad)
					snprintf(first_bad, sizeof first_bad, "%s", line);
				bad++;
			}
			free(r);
		}
		lines++;
	}
	pclose(f);
	char name[160];
	snprintf(name, sizeof name, "NFC conformance: %d lines of NormalizationTest.txt, %d wrong", lines, bad);
	ok(lines > 10000 && bad == 0, "%s", name);
	if (bad)
		printf("# first wrong: %s", first_bad);
}

int main(void)
{
	test_repair();
	test_classes();
	test_split();
	test_bpe();
	test_spm();
	test_llama_spm();
	test_nfc();
	return tap_done();
}
