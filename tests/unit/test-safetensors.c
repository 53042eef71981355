/* test-safetensors: the safetensors reader on files and directories
 * written here.
 *
 *   test-safetensors          run the tests (TAP)
 *   test-safetensors -w DIR   also leave every hostile case in DIR as a model
 *                             directory DIR/NAME/ (the hostile weights and a
 *                             valid tiny llama config.json) with the text its
 *                             message must contain in DIR/NAME.msg
 *                             (tests/safetensors-hostile.t feeds them to
 *                             lm-step --info; `make fuzz` takes the files as
 *                             seeds)
 *
 * Each hostile case breaks one rule of doc/formats.md "safetensors" or of
 * the index. */
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf_write.h"
#include "safetensors.h"

#include "tap.h"

static char *root;         /* where the cases are written */
static bool keep;          /* -w: leave them there */

/* A tiny llama config.json for the directories (the weights are checked
 * before it is read). */
static const char CONFIG[] =
	"{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": 8,\n"
	" \"intermediate_size\": 16, \"num_hidden_layers\": 1, \"num_attention_heads\": 2,\n"
	" \"num_key_value_heads\": 1, \"vocab_size\": 4, \"max_position_embeddings\": 64,\n"
	" \"rms_norm_eps\": 1e-05, \"rope_theta\": 10000.0, \"tie_word_embeddings\": true}\n";

static void die_errno(const char *what)
{
	fprintf(stderr, "test-safetensors: %s: %s\n", what, strerror(errno));
	exit(1);
}

static char *path_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *path_of(const char *fmt, ...)
{
	static char buf[4][4096];
	static int k;
	char rel[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rel, sizeof rel, fmt, ap);
	va_end(ap);
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", root, rel);
	return buf[k];
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
		die_errno(path);
}

static void make_dir(const char *path)
{
	if (mkdir(path, 0777) < 0 && errno != EEXIST)
		die_errno(path);
}

/* A safetensors file: the 8-byte length hlen, the header text, then data
 * bytes (a counting pattern). */
static void st_raw(struct gguf_buf *b, uint64_t hlen, const char *json, size_t data)
{
	gguf_buf_le(b, hlen, 8);
	gguf_buf_put(b, json, strlen(json));
	for (size_t i = 0; i < data; i++)
		gguf_buf_put(b, &(uint8_t){(uint8_t)i}, 1);
}

/* The usual case: the header padded with spaces to a multiple of 8. */
static void st_file(struct gguf_buf *b, const char *json, size_t data)
{
	size_t n = strlen(json), padded = (n + 7) / 8 * 8;
	char *h = malloc(padded + 1);
	memcpy(h, json, n);
	memset(h + n, ' ', padded - n);
	h[padded] = 0;
	st_raw(b, padded, h, data);
	free(h);
}

/* A case directory root/NAME/ with config.json. */
static const char *case_dir(const char *name)
{
	const char *d = path_of("%s", name);
	make_dir(d);
	write_file(path_of("%s/config.json", name), CONFIG, strlen(CONFIG));
	return d;
}

static void expect_dir_fail(const char *name, const char *want)
{
	struct lmu_err e = {{0}};
	struct safetensors *st = st_open_dir(path_of("%s", name), &e);
	ok(!st && strstr(e.msg, want) != NULL, "hostile %s: refused with '%s'", name, want);
	if (st || !strstr(e.msg, want))
		printf("# got: %s\n", st ? "(opened)" : e.msg);
	st_close(st);
	write_file(path_of("%s.msg", name), want, strlen(want));
}

/* One hostile file: through st_open_mem, then as DIR/NAME/model.safetensors. */
static void expect_fail(const char *name, const struct gguf_buf *b, const char *want)
{
	struct lmu_err e = {{0}};
	struct safetensors *st = st_open_mem(b->p, b->n, name, &e);
	ok(!st && strstr(e.msg, want) != NULL && strncmp(e.msg, name, strlen(name)) == 0,
	   "hostile %s (in memory): refused with '%s'", name, want);
	if (st || !strstr(e.msg, want))
		printf("# got: %s\n", st ? "(opened)" : e.msg);
	st_close(st);
	case_dir(name);
	write_file(path_of("%s/model.safetensors", name), b->p, b->n);
	expect_dir_fail(name, want);
}

static void reset(struct gguf_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

#define T(name, dtype, shape, b, e) "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

static void test_hostile_files(void)
{
	struct gguf_buf b = {0};
	static const struct {
		const char *name, *json;
		size_t data;
		const char *want;
	} cases[] = {
		{"not-an-object", "[1, 2]", 0, "header byte 8: the header does not start with '{'"},
		{"json-cut-short", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],", 0, "expected a string, found the end"},
		{"json-trailing", "{} x", 0, "header byte 11: 'x' after the end of the JSON object"},
		{"json-missing-colon", "{\"a\" {}}", 0, "header byte 13: expected ':', found '{'"},
		{"json-missing-comma", "{" T("a", "U8", "[1]", 0, 1) " " T("b", "U8", "[1]", 1, 2) "}", 2, "expected ',' or '}' after a header entry"},
		{"utf8-invalid", "{\"\xff\":{}}", 0, "header byte 10: invalid UTF-8 (byte 0xff)"},
		{"utf8-overlong", "{\"\xc0\xaf\":{}}", 0, "invalid UTF-8 (byte 0xc0)"},
		{"utf8-surrogate", "{\"\xed\xa0\x80\":{}}", 0, "invalid UTF-8 (byte 0xed)"},
		{"control-in-string", "{\"a\tb\":{}}", 0, "control byte 0x09 inside a string"},
		{"bad-escape", "{\"a\\qb\":{}}", 0, "unknown escape '\\q'"},
		{"lone-surrogate", "{\"\\udc00\":{}}", 0, "lone low surrogate \\udc00"},
		{"half-surrogate", "{\"\\ud83dx\":{}}", 0, "high surrogate \\ud83d without its low half"},
		{"bad-unicode-escape", "{\"\\u12g4\":{}}", 0, "\\u not followed by 4 hex digits"},
		{"unknown-dtype", "{" T("w", "Q4_K", "[1]", 0, 1) "}", 1, "unknown dtype 'Q4_K'"},
		{"dtype-lower-case", "{" T("w", "f32", "[1]", 0, 4) "}", 4, "unknown dtype 'f32'"},
		{"dtype-number", "{\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "expected a string, found '3'"},
		{"dim-negative", "{" T("w", "U8", "[-1]", 0, 1) "}", 1, "a dimension is negative"},
		{"dim-float", "{" T("w", "U8", "[1.0]", 0, 1) "}", 1, "a dimension is not a whole number"},
		{"dim-exponent", "{" T("w", "U8", "[1e2]", 0, 100) "}", 100, "a dimension is not a whole number"},
		{"dim-leading-zero", "{" T("w", "U8", "[01]", 0, 1) "}", 1, "a dimension has a leading zero"},
		{"dim-over-2^64", "{" T("w", "U8", "[18446744073709551616]", 0, 1) "}", 1, "a dimension is over 2^64"},
		{"dims-9", "{" T("w", "U8", "[1,1,1,1,1,1,1,1,1]", 0, 1) "}", 1, "tensor 'w': more than 8 dimensions"},
		{"shape-overflow", "{" T("w", "U8", "[4294967296,4294967296]", 0, 1) "}", 1, "the shape's element count overflows 2^64"},
		{"bytes-overflow", "{" T("w", "F64", "[4611686018427387904]", 0, 1) "}", 1, "tensor 'w': the byte size overflows 2^64"},
		{"f4-odd", "{" T("w", "F4", "[3]", 0, 2) "}", 2, "3 elements of F4 (4 bits each) are not a whole number of bytes"},
		{"offsets-three", "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,1]}}", 1, "expected ']' closing data_offsets (exactly two offsets)"},
		{"offsets-one", "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", 1, "expected ',' in data_offsets"},
		{"offsets-reversed", "{" T("w", "U8", "[0]", 4, 0) "}", 4, "data_offsets [4, 0] end before they begin"},
		{"offsets-size-mismatch", "{" T("w", "F32", "[3]", 0, 8) "}", 8, "data_offsets [0, 8] hold 8 bytes, but F32 [3] needs 12"},
		{"offset-over-2^64", "{" T("w", "U8", "[1]", 0, 18446744073709551617) "}", 1, "the end offset is over 2^64"},
		{"gap-at-start", "{" T("w", "U8", "[4]", 4, 8) "}", 8, "tensor 'w': data begins at 4, leaving 4 bytes unused after the header"},
		{"gap-between", "{" T("a", "U8", "[4]", 0, 4) "," T("b", "U8", "[4]", 6, 10) "}", 10, "leaving 2 bytes unused after tensor 'a'"},
		{"overlap", "{" T("a", "U8", "[4]", 0, 4) "," T("b", "U8", "[4]", 2, 6) "}", 6, "tensor 'b': data [2, 6) overlaps tensor 'a', which ends at 4"},
		{"same-range", "{" T("a", "U8", "[4]", 0, 4) "," T("b", "U8", "[4]", 0, 4) "}", 4, "overlaps tensor"},
		{"data-past-end", "{" T("w", "F32", "[4]", 0, 16) "}", 10, "runs past the end of the file (10 bytes of data): cut short?"},
		{"trailing-data", "{" T("w", "U8", "[4]", 0, 4) "}", 9, "5 bytes after the last tensor's data"},
		{"duplicate-tensor", "{" T("a", "U8", "[1]", 0, 1) "," T("a", "U8", "[1]", 1, 2) "}", 2, "tensor 'a' given twice"},
		{"duplicate-field", "{\"w\":{\"dtype\":\"U8\",\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "tensor 'w': dtype given twice"},
		{"unknown-field", "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"offset\":0}}", 1, "tensor 'w': unknown field 'offset'"},
		{"no-offsets", "{\"w\":{\"dtype\":\"U8\",\"shape\":[1]}}", 0, "tensor 'w': no data_offsets"},
		{"no-dtype", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "tensor 'w': no dtype"},
		{"empty-entry", "{\"w\":{}}", 0, "tensor 'w': no dtype, shape or data_offsets"},
		{"entry-not-object", "{\"w\":[1]}", 0, "expected '{' opening the tensor's entry, found '['"},
		{"shape-not-array", "{\"w\":{\"dtype\":\"U8\",\"shape\":1,\"data_offsets\":[0,1]}}", 1, "expected '[' opening the shape"},
		{"metadata-number", "{\"__metadata__\":{\"format\":1}}", 0, "__metadata__ value of 'format' is not a string"},
		{"metadata-array", "{\"__metadata__\":[\"pt\"]}", 0, "expected '{' opening __metadata__"},
		{"metadata-twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, "__metadata__ given twice"},
		{"metadata-key-twice", "{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", 0, "__metadata__ key 'a' given twice"},
		{"empty-name", "{" T("", "U8", "[1]", 0, 1) "}", 1, "header byte 9: empty tensor name"},
		{"name-nul", "{" T("a\\u0000b", "U8", "[1]", 0, 1) "}", 1, "tensor name contains U+0000"},
		{"name-escape-shown", "{" T("\\u001b[2J", "U8", "[1]", 0, 1) "," T("\\u001b[2J", "U8", "[1]", 1, 2) "}", 2, "tensor '?[2J' given twice"},
	};
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		st_file(&b, cases[k].json, cases[k].data);
		expect_fail(cases[k].name, &b, cases[k].want);
		reset(&b);
	}

	/* the header length */
	expect_fail("empty", &b, "empty file");
	gguf_buf_put(&b, "\x10\0\0\0\0", 5);
	expect_fail("cut-short-5", &b, "file cut short: 5 bytes, too small for a safetensors header");
	reset(&b);
	st_raw(&b, 0, "{}", 0);
	expect_fail("header-length-0", &b, "header length 0 is too small for a JSON object");
	reset(&b);
	st_raw(&b, (uint64_t)1 << 63, "{}", 0);
	expect_fail("header-length-2^63", &b, "header length 9223372036854775808 is over the 100000000-byte limit");
	reset(&b);
	st_raw(&b, 100000001, "{}", 0);
	expect_fail("header-length-limit", &b, "over the 100000000-byte limit (not a safetensors file?)");
	reset(&b);
	st_raw(&b, 64, "{}", 0);
	expect_fail("header-past-end", &b, "header of 64 bytes runs past the end of the file (10 bytes): cut short?");
	reset(&b);
	st_raw(&b, 8, "{}\0\0\0\0\0\0", 0);
	b.n = 16;  /* st_raw stops at the first NUL of the text */
	memset(b.p + 10, 0, 6);
	expect_fail("header-nul-padding", &b, "header byte 10: 0x00 after the end of the JSON object");
	reset(&b);
	/* a name of 1025 bytes */
	{
		char json[1200];
		snprintf(json, sizeof json, "{\"%01025d\":{}}", 7);
		st_file(&b, json, 0);
		expect_fail("name-too-long", &b, "tensor name of 1025 bytes is over the 1024-byte limit");
		reset(&b);
	}
	/* a GGUF file given as safetensors: its first 8 bytes read as a length */
	{
		struct gguf_writer *w = gguf_writer_new();
		size_t n;
		gguf_w_str(w, "general.architecture", "llama");
		const uint8_t *p = gguf_writer_bytes(w, &n);
		gguf_buf_put(&b, p, n);
		gguf_writer_free(w);
		expect_fail("gguf-file", &b, "a GGUF file, not safetensors");
		reset(&b);
	}
}

/* ---- sharded directories ---- */

static const char SHARD1[] = "{" T("a", "F32", "[2]", 0, 8) "}";
static const char SHARD2[] = "{" T("b", "F32", "[2]", 0, 8) "}";

static void shard(const char *dir, const char *file, const char *json)
{
	struct gguf_buf b = {0};
	st_file(&b, json, 8);
	write_file(path_of("%s/%s", dir, file), b.p, b.n);
	free(b.p);
}

static void index_json(const char *dir, const char *json)
{
	write_file(path_of("%s/model.safetensors.index.json", dir), json, strlen(json));
}

#define MAP2(s1, s2) "{\"metadata\": {\"total_size\": 16}, \"weight_map\": {\"a\": \"" s1 "\", \"b\": \"" s2 "\"}}"

/* A directory with the two usual shards and the index text json. */
static void sharded(const char *name, const char *json)
{
	case_dir(name);
	shard(name, "model-00001-of-00002.safetensors", SHARD1);
	shard(name, "model-00002-of-00002.safetensors", SHARD2);
	index_json(name, json);
}

static void test_hostile_dirs(void)
{
	sharded("index-cut-short", "{\"weight_map\": {\"a\": \"x\"");
	expect_dir_fail("index-cut-short", "model.safetensors.index.json: byte 24: expected ',' or '}' in weight_map, found the end");
	sharded("index-bad-value", "{\"metadata\": {\"total_size\": 1.}, \"weight_map\": {}}");
	expect_dir_fail("index-bad-value", "model.safetensors.index.json: byte 28: malformed number");
	sharded("index-no-weight-map", "{\"metadata\": {}}");
	expect_dir_fail("index-no-weight-map", "model.safetensors.index.json: no weight_map");
	sharded("index-empty-weight-map", "{\"weight_map\": {}}");
	expect_dir_fail("index-empty-weight-map", "weight_map is empty");
	sharded("index-not-object", "[]");
	expect_dir_fail("index-not-object", "byte 0: expected '{' opening the index, found '['");
	sharded("index-shard-not-string", "{\"weight_map\": {\"a\": 1}}");
	expect_dir_fail("index-shard-not-string", "tensor 'a': the shard is not a string");
	sharded("index-tensor-twice", "{\"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\", \"a\": \"model-00001-of-00002.safetensors\"}}");
	expect_dir_fail("index-tensor-twice", "weight_map: tensor 'a' given twice");
	sharded("index-deep", "{\"metadata\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]], \"weight_map\": {}}");
	expect_dir_fail("index-deep", "nested deeper than 64 levels");

	sharded("shard-dotdot", MAP2("../model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"));
	expect_dir_fail("shard-dotdot", "shard name '../model-00001-of-00002.safetensors' is not a plain relative path");
	sharded("shard-absolute", MAP2("/etc/passwd", "model-00002-of-00002.safetensors"));
	expect_dir_fail("shard-absolute", "shard name '/etc/passwd' is not a plain relative path");
	sharded("shard-inner-dotdot", MAP2("x/../../y.safetensors", "model-00002-of-00002.safetensors"));
	expect_dir_fail("shard-inner-dotdot", "is not a plain relative path");
	sharded("shard-missing", MAP2("model-00001-of-00002.safetensors", "model-00003-of-00002.safetensors"));
	expect_dir_fail("shard-missing", "model-00003-of-00002.safetensors: No such file or directory");
	sharded("shard-is-directory", MAP2("model-00001-of-00002.safetensors", "sub"));
	make_dir(path_of("shard-is-directory/sub"));
	expect_dir_fail("shard-is-directory", "shard-is-directory/sub: not a regular file");

	/* a link to a file outside the directory */
	shard("", "outside.safetensors", SHARD2);
	sharded("shard-symlink-out", MAP2("model-00001-of-00002.safetensors", "link.safetensors"));
	if (symlink("../outside.safetensors", path_of("shard-symlink-out/link.safetensors")) < 0)
		die_errno("symlink");
	expect_dir_fail("shard-symlink-out", "link.safetensors: the shard leads out of the model directory");
	case_dir("single-symlink-out");
	if (symlink("../outside.safetensors", path_of("single-symlink-out/model.safetensors")) < 0)
		die_errno("symlink");
	expect_dir_fail("single-symlink-out", "model.safetensors: the weights file leads out of the model directory");
	case_dir("index-symlink-out");
	write_file(path_of("index.json"), MAP2("a", "b"), strlen(MAP2("a", "b")));
	if (symlink("../index.json", path_of("index-symlink-out/model.safetensors.index.json")) < 0)
		die_errno("symlink");
	expect_dir_fail("index-symlink-out", "the index leads out of the model directory");

	sharded("tensor-not-in-shard", MAP2("model-00001-of-00002.safetensors", "model-00001-of-00002.safetensors"));
	expect_dir_fail("tensor-not-in-shard", "tensor 'b' is not in its shard model-00001-of-00002.safetensors");
	sharded("tensor-in-other-shard", "{\"weight_map\": {\"a\": \"model-00002-of-00002.safetensors\", \"b\": \"model-00001-of-00002.safetensors\"}}");
	expect_dir_fail("tensor-in-other-shard", "tensor 'a' is listed in model-00002-of-00002.safetensors but found in");
	sharded("tensor-not-listed", "{\"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\"}}");
	shard("tensor-not-listed", "model-00001-of-00002.safetensors",
	      "{" T("a", "F32", "[1]", 0, 4) "," T("c", "F32", "[1]", 4, 8) "}");
	expect_dir_fail("tensor-not-listed", "tensor 'c' of");
	sharded("tensor-in-two-shards", MAP2("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"));
	shard("tensor-in-two-shards", "model-00002-of-00002.safetensors",
	      "{" T("a", "F32", "[1]", 0, 4) "," T("b", "F32", "[1]", 4, 8) "}");
	expect_dir_fail("tensor-in-two-shards", "tensor 'a' is in two shards");
	sharded("shard-hostile", MAP2("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"));
	shard("shard-hostile", "model-00002-of-00002.safetensors", "{" T("b", "F32", "[3]", 0, 8) "}");
	expect_dir_fail("shard-hostile", "model-00002-of-00002.safetensors: header byte 9: tensor 'b': data_offsets [0, 8] hold 8 bytes, but F32 [3] needs 12");
	case_dir("no-weights");
	expect_dir_fail("no-weights", "no model.safetensors or model.safetensors.index.json");
}

/* ---- well-formed files ---- */

static void test_valid(void)
{
	struct gguf_buf b = {0};
	struct lmu_err e = {{0}};
	struct safetensors *st;
	const struct st_tensor *t;

	/* every dtype, in an order other than the offsets', plus metadata */
	{
		char json[8192] = "{\"__metadata__\":{\"format\":\"pt\",\"k\\u00e9\":\"v\\n\"}";
		size_t off = 0, total = 0;
		for (int d = ST_NDTYPES - 1; d >= 0; d--) {
			unsigned bits = st_dtype_bits((enum st_dtype)d);
			size_t n = 16 * bits / 8;
			snprintf(json + strlen(json), sizeof json - strlen(json),
				 ",\"t.%s\":{\"shape\":[4,4],\"data_offsets\":[%zu,%zu],\"dtype\":\"%s\"}",
				 st_dtype_name((enum st_dtype)d), off, off + n, st_dtype_name((enum st_dtype)d));
			off += n;
		}
		total = off;
		strcat(json, ",\"scalar\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[");
		snprintf(json + strlen(json), sizeof json - strlen(json), "%zu,%zu]}", total, total + 4);
		snprintf(json + strlen(json), sizeof json - strlen(json),
			 ",\"empty\":{\"dtype\":\"BF16\",\"shape\":[0,3],\"data_offsets\":[%zu,%zu]}", total + 4, total + 4);
		strcat(json, ",\"\\ud83d\\ude00 \\\"q\\\" \\/\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[");
		snprintf(json + strlen(json), sizeof json - strlen(json), "%zu,%zu]}}\n\t ", total + 4, total + 5);
		st_file(&b, json, total + 5);
		st = st_open_mem(b.p, b.n, "all-dtypes", &e);
		ok(st != NULL, "every dtype opens%s%s", st ? "" : ": ", st ? "" : e.msg);
		if (st) {
			ok(st->n_tensors == ST_NDTYPES + 3, "%d tensors", ST_NDTYPES + 3);
			bool all = true;
			for (int d = 0; d < ST_NDTYPES; d++) {
				char name[32];
				snprintf(name, sizeof name, "t.%s", st_dtype_name((enum st_dtype)d));
				t = st_find(st, name);
				all = all && t && t->dtype == (enum st_dtype)d && t->n_dims == 2 && t->shape[0] == 4 &&
				      t->n_elem == 16 && t->nbytes == 16 * st_dtype_bits((enum st_dtype)d) / 8 &&
				      (const uint8_t *)t->data == b.p + t->offset && t->offset >= 8;
			}
			ok(all, "each dtype found by name with its shape, size and data");
			t = st_find(st, "scalar");
			ok(t && t->n_dims == 0 && t->n_elem == 1 && t->nbytes == 4, "a scalar: 0 dimensions, 1 element");
			t = st_find(st, "empty");
			ok(t && t->n_elem == 0 && t->nbytes == 0, "an empty tensor: 0 elements, 0 bytes");
			ok(st_find(st, "\xf0\x9f\x98\x80 \"q\" /") != NULL, "escapes in names decoded (surrogate pair, quote, slash)");
			ok(!st_find(st, "t.f32") && !st_find(st, "nothing"), "lookup is exact");
			ok(st_meta(st, "format") && strcmp(st_meta(st, "format"), "pt") == 0 && st_meta(st, "k\xc3\xa9") &&
			   strcmp(st_meta(st, "k\xc3\xa9"), "v\n") == 0 && !st_meta(st, "x"), "metadata read and decoded");
			ok(st_dtype_ggml(ST_BF16) == GGML_BF16 && st_dtype_ggml(ST_F16) == GGML_F16 &&
			   st_dtype_ggml(ST_F32) == GGML_F32 && st_dtype_ggml(ST_U8) == GGML_NTYPES, "dtypes usable in place map to ggml types");
		}
		st_close(st);
		reset(&b);
	}
	/* a header without padding, an empty header */
	st_raw(&b, 2, "{}", 0);
	st = st_open_mem(b.p, b.n, "empty-header", &e);
	ok(st && st->n_tensors == 0, "an empty header: no tensors");
	st_close(st);
	reset(&b);
	st_raw(&b, strlen("{" T("w", "F32", "[1]", 0, 4) "}"), "{" T("w", "F32", "[1]", 0, 4) "}", 4);
	st = st_open_mem(b.p, b.n, "unpadded", &e);
	ok(st && st_find(st, "w") && st_find(st, "w")->offset == b.n - 4, "an unpadded header: data right after it");
	st_close(st);
	reset(&b);

	/* a sharded directory, one shard in a sub-folder */
	sharded("valid-sharded", MAP2("model-00001-of-00002.safetensors", "sub/b.safetensors"));
	make_dir(path_of("valid-sharded/sub"));
	shard("valid-sharded", "sub/b.safetensors", SHARD2);
	st = st_open_dir(path_of("valid-sharded"), &e);
	ok(st && st->n_shards == 2 && st->n_tensors == 2, "a sharded directory: 2 shards, 2 tensors%s%s", st ? "" : ": ",
	   st ? "" : e.msg);
	if (st) {
		const struct st_tensor *a = st_find(st, "a"), *bb = st_find(st, "b");
		ok(a && bb && a->shard != bb->shard && strstr(st->shards[bb->shard].path, "sub/b.safetensors"),
		   "each tensor in its shard");
		ok(a && bb && memcmp(a->data, (uint8_t[]){0, 1, 2, 3, 4, 5, 6, 7}, 8) == 0, "data read from the map");
	}
	st_close(st);

	/* a Hugging Face cache snapshot: files are links into ../../blobs */
	make_dir(path_of("models--o--n"));
	make_dir(path_of("models--o--n/blobs"));
	make_dir(path_of("models--o--n/snapshots"));
	make_dir(path_of("models--o--n/snapshots/0123"));
	shard("models--o--n/blobs", "aaaa", SHARD1);
	shard("models--o--n/blobs", "bbbb", SHARD2);
	index_json("models--o--n/blobs", MAP2("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"));
	rename(path_of("models--o--n/blobs/model.safetensors.index.json"), path_of("models--o--n/blobs/cccc"));
	if (symlink("../../blobs/aaaa", path_of("models--o--n/snapshots/0123/model-00001-of-00002.safetensors")) < 0 ||
	    symlink("../../blobs/bbbb", path_of("models--o--n/snapshots/0123/model-00002-of-00002.safetensors")) < 0 ||
	    symlink("../../blobs/cccc", path_of("models--o--n/snapshots/0123/model.safetensors.index.json")) < 0)
		die_errno("symlink");
	st = st_open_dir(path_of("models--o--n/snapshots/0123"), &e);
	ok(st && st->n_tensors == 2, "a cache snapshot whose files link into blobs/ opens%s%s", st ? "" : ": ", st ? "" : e.msg);
	st_close(st);
	/* but a link from a snapshot to anywhere else does not */
	make_dir(path_of("models--o--n/snapshots/4567"));
	if (symlink("../../../outside.safetensors", path_of("models--o--n/snapshots/4567/model.safetensors")) < 0)
		die_errno("symlink");
	st = st_open_dir(path_of("models--o--n/snapshots/4567"), &e);
	ok(!st && strstr(e.msg, "leads out of the model directory"), "a snapshot link outside blobs/ is refused");
	st_close(st);
}

/* A complete tiny model directory: config.json (CONFIG: a llama of 1
 * layer, 8 wide, 2 heads of 4, 1 KV head, feed-forward 16, 4 tokens, tied
 * embeddings), a byte-level BPE tokenizer of "a", "b", "ab" and "<eos>",
 * and BF16 weights in model.safetensors (norms 1, matrices small steps). */
struct wt {
	const char *name, *dtype;
	uint64_t rows, cols;  /* cols 0: a vector */
};

static const struct wt TINY[] = {
	{"model.embed_tokens.weight", "BF16", 4, 8}, {"model.norm.weight", "BF16", 8, 0},
	{"model.layers.0.input_layernorm.weight", "BF16", 8, 0},
	{"model.layers.0.post_attention_layernorm.weight", "BF16", 8, 0},
	{"model.layers.0.self_attn.q_proj.weight", "BF16", 8, 8}, {"model.layers.0.self_attn.k_proj.weight", "BF16", 4, 8},
	{"model.layers.0.self_attn.v_proj.weight", "BF16", 4, 8}, {"model.layers.0.self_attn.o_proj.weight", "BF16", 8, 8},
	{"model.layers.0.mlp.gate_proj.weight", "BF16", 16, 8}, {"model.layers.0.mlp.up_proj.weight", "BF16", 16, 8},
	{"model.layers.0.mlp.down_proj.weight", "BF16", 8, 16},
};
#define N_TINY (sizeof TINY / sizeof *TINY)

static const char TOKENIZER[] =
	"{\"version\": \"1.0\", \"added_tokens\": [{\"id\": 3, \"content\": \"<eos>\", \"special\": true}],\n"
	" \"normalizer\": null, \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false,"
	" \"trim_offsets\": true, \"use_regex\": true},\n"
	" \"decoder\": {\"type\": \"ByteLevel\"},\n"
	" \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2, \"<eos>\": 3},"
	" \"merges\": [\"a b\"]}}\n";
static const char TOKCONFIG[] = "{\"eos_token\": \"<eos>\", \"add_bos_token\": false}\n";

/* Directory root/NAME with config (CONFIG if NULL), the tokenizer, and the
 * n weights of w in model.safetensors. */
static void tiny_dir(const char *name, const char *config, const struct wt *w, size_t n)
{
	char json[4096] = "{\"__metadata__\":{\"format\":\"pt\"}";
	struct gguf_buf data = {0}, b = {0};

	for (size_t k = 0; k < n; k++) {
		uint64_t cnt = w[k].rows * (w[k].cols ? w[k].cols : 1), off = data.n;
		for (uint64_t i = 0; i < cnt; i++) {
			/* bfloat16 of 1.0 for norms, of (i % 7 - 3) / 8 for matrices */
			float f = w[k].cols ? (float)((int)(i % 7) - 3) / 8 : 1.0f;
			uint32_t u;
			memcpy(&u, &f, 4);
			gguf_buf_le(&data, u >> 16, 2);
		}
		snprintf(json + strlen(json), sizeof json - strlen(json), ",\"%s\":{\"dtype\":\"%s\",\"shape\":", w[k].name,
			 w[k].dtype);
		if (w[k].cols)
			snprintf(json + strlen(json), sizeof json - strlen(json), "[%llu,%llu]", (unsigned long long)w[k].rows,
				 (unsigned long long)w[k].cols);
		else
			snprintf(json + strlen(json), sizeof json - strlen(json), "[%llu]", (unsigned long long)w[k].rows);
		snprintf(json + strlen(json), sizeof json - strlen(json), ",\"data_offsets\":[%llu,%zu]}",
			 (unsigned long long)off, data.n);
	}
	strcat(json, "}");
	st_file(&b, json, 0);
	gguf_buf_put(&b, data.p, data.n);
	make_dir(path_of("%s", name));
	write_file(path_of("%s/config.json", name), config ? config : CONFIG, strlen(config ? config : CONFIG));
	write_file(path_of("%s/model.safetensors", name), b.p, b.n);
	write_file(path_of("%s/tokenizer.json", name), TOKENIZER, strlen(TOKENIZER));
	write_file(path_of("%s/tokenizer_config.json", name), TOKCONFIG, strlen(TOKCONFIG));
	free(data.p);
	free(b.p);
}

static void test_tiny_llama(void)
{
	struct lmu_err e = {{0}};
	tiny_dir("valid-tiny-llama", NULL, TINY, N_TINY);
	struct safetensors *st = st_open_dir(path_of("valid-tiny-llama"), &e);
	ok(st && st->n_tensors == N_TINY, "tiny llama directory: %zu tensors%s%s", N_TINY, st ? "" : ": ", st ? "" : e.msg);
	st_close(st);
}

/* Valid weights, a config.json that breaks one rule; or valid config.json,
 * a tensor that does not fit the architecture.  Refused when the model is
 * opened (hf_open): the messages are checked by tests/safetensors-hostile.t. */
static void hostile_model(const char *name, const char *config, const struct wt *w, size_t n, const char *want)
{
	tiny_dir(name, config, w, n);
	write_file(path_of("%s.msg", name), want, strlen(want));
}

static void hostile_config(const char *name, const char *config, const char *want)
{
	hostile_model(name, config, TINY, N_TINY, want);
}

static void hostile_tensors(const char *name, const struct wt *w, size_t n, const char *want)
{
	hostile_model(name, NULL, w, n, want);
}

#define CFG_OF(cls, ...) "{\"architectures\": [\"" cls "\"], \"hidden_size\": 8, \"intermediate_size\": 16," \
	" \"num_attention_heads\": 2, \"vocab_size\": 4, \"max_position_embeddings\": 64, " __VA_ARGS__ "}"
#define CFG(...) CFG_OF("LlamaForCausalLM", __VA_ARGS__)
/* the keys of CFG in a text_config, as Gemma3ForConditionalGeneration has them */
#define TEXT_CFG(...) "{\"architectures\": [\"Gemma3ForConditionalGeneration\"], \"text_config\": {\"hidden_size\": 8," \
	" \"intermediate_size\": 16, \"num_attention_heads\": 2, \"vocab_size\": 4, \"max_position_embeddings\": 64, " \
	__VA_ARGS__ "}}"
#define ONE "\"num_hidden_layers\": 1, \"rms_norm_eps\": 1e-5, \"num_key_value_heads\": 1"

static void test_hostile_models(void)
{
	struct wt w[N_TINY + 1];

	hostile_config("config-not-json", "{\"architectures\": [", "config.json: ");
	/* libjq 1.6 leaks on it: the strict scanner refuses it first */
	hostile_config("config-two-strings", "{\"architectures\": [\"LlamaForCausalLM\"], \"a\"\"b\": 1}",
		       "config.json: byte 43: expected ':', found '\"'");
	hostile_config("config-not-object", "[1]", "config.json: not a JSON object");
	hostile_config("config-no-architectures", "{\"hidden_size\": 8}",
		       "config.json: no architectures list naming the model class (supported: LlamaForCausalLM");
	hostile_config("config-unknown-architecture", "{\"architectures\": [\"Qwen3MoeForCausalLM\"]}",
		       "config.json: architecture Qwen3MoeForCausalLM is not supported (supported: LlamaForCausalLM");
	hostile_config("config-missing-keys", "{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 4}",
		       "LlamaForCausalLM: missing or malformed keys: max_position_embeddings, hidden_size, "
		       "num_hidden_layers, intermediate_size, num_attention_heads, rms_norm_eps");
	hostile_config("config-negative", CFG("\"num_hidden_layers\": -1, \"rms_norm_eps\": 1e-5"),
		       "missing or malformed keys: num_hidden_layers (not a whole number in range)");
	hostile_config("config-fraction", CFG("\"num_hidden_layers\": 1.5, \"rms_norm_eps\": 1e-5"),
		       "num_hidden_layers (not a whole number in range)");
	hostile_config("config-string", CFG("\"num_hidden_layers\": \"1\", \"rms_norm_eps\": 1e-5"),
		       "num_hidden_layers (not a whole number in range)");
	hostile_config("config-eps-zero", CFG("\"num_hidden_layers\": 1, \"rms_norm_eps\": 0"), "rms_norm_eps 0 is not positive");
	hostile_config("config-kv-heads", CFG("\"num_hidden_layers\": 1, \"rms_norm_eps\": 1e-5, \"num_key_value_heads\": 3"),
		       "2 attention heads do not share 3 key/value heads evenly");
	hostile_config("config-rope-yarn", CFG("\"num_hidden_layers\": 1, \"rms_norm_eps\": 1e-5, \"num_key_value_heads\": 1,"
					       " \"rope_parameters\": {\"rope_type\": \"yarn\", \"factor\": 4}"),
		       "RoPE scaling 'yarn' is not supported (supported: default, linear, llama3, longrope)");
	hostile_config("config-rope-theta", CFG("\"num_hidden_layers\": 1, \"rms_norm_eps\": 1e-5, \"num_key_value_heads\": 1,"
						" \"rope_theta\": -1"), "rope_theta -1 is not positive");
	hostile_config("config-act", CFG("\"num_hidden_layers\": 1, \"rms_norm_eps\": 1e-5, \"hidden_act\": \"gelu\""),
		       "hidden_act 'gelu' is not supported for LlamaForCausalLM (silu)");
	hostile_config("config-tie-not-bool", CFG(ONE ", \"tie_word_embeddings\": \"yes\""),
		       "missing or malformed keys: tie_word_embeddings (not true or false)");
	hostile_config("config-untied-no-head", CFG(ONE ", \"tie_word_embeddings\": false"),
		       "tensor lm_head.weight is missing (LlamaForCausalLM needs it as output.weight)");
	hostile_config("config-mistral-window", CFG_OF("MistralForCausalLM", ONE ", \"sliding_window\": 0"),
		       "MistralForCausalLM: malformed keys: sliding_window (not a whole number in range)");
	hostile_config("config-qwen2-window", CFG_OF("Qwen2ForCausalLM", ONE ", \"use_sliding_window\": true"),
		       "use_sliding_window: sliding-window attention is not supported for Qwen2ForCausalLM");
	hostile_config("config-phi3-partial", CFG_OF("Phi3ForCausalLM", ONE ", \"partial_rotary_factor\": 0.3"),
		       "partial_rotary_factor 0.3 does not rotate an even number of the 4 dimensions of a head");
	hostile_config("config-phi3-longrope-factors",
		       CFG_OF("Phi3ForCausalLM", ONE ", \"rope_scaling\": {\"type\": \"longrope\", "
			      "\"original_max_position_embeddings\": 16, \"long_factor\": [1], \"short_factor\": [1, 1]}"),
		       "longrope long_factor: 1 factors, not one for each of the 2 pairs of rotated dimensions");
	hostile_config("config-phi3-longrope-factor-value",
		       CFG_OF("Phi3ForCausalLM", ONE ", \"rope_scaling\": {\"type\": \"longrope\", "
			      "\"original_max_position_embeddings\": 16, \"long_factor\": [1, -2], \"short_factor\": [1, 1]}"),
		       "longrope long_factor: factor 1 is not a positive number");
	hostile_config("config-phi3-longrope-orig",
		       CFG_OF("Phi3ForCausalLM", ONE ", \"rope_scaling\": {\"rope_type\": \"longrope\", "
			      "\"long_factor\": [1, 1], \"short_factor\": [1, 1]}"),
		       "longrope RoPE scaling without a whole original_max_position_embeddings above 1");
	hostile_config("config-granite-multiplier", CFG_OF("GraniteForCausalLM", ONE ", \"attention_multiplier\": -1"),
		       "attention_multiplier -1 is not a positive number");
	hostile_config("config-granite-multiplier-string",
		       CFG_OF("GraniteForCausalLM", ONE ", \"logits_scaling\": \"8\""),
		       "GraniteForCausalLM: malformed keys: logits_scaling (not a number)");
	hostile_config("config-gemma3-bidirectional",
		       CFG_OF("Gemma3ForCausalLM", ONE ", \"use_bidirectional_attention\": true"),
		       "use_bidirectional_attention: an encoder (EmbeddingGemma), not a causal language model");
	hostile_config("config-gemma3-no-window", CFG_OF("Gemma3ForCausalLM", ONE),
		       "Gemma3ForCausalLM: missing or malformed keys: sliding_window");
	hostile_config("config-gemma3-pattern",
		       CFG_OF("Gemma3ForCausalLM", ONE ", \"sliding_window\": 8, \"sliding_window_pattern\": 4"),
		       "sliding_window_pattern 4 is not the 6 of GGUF gemma3");
	hostile_config("config-gemma3-layer-types",
		       CFG_OF("Gemma3ForCausalLM", ONE ", \"sliding_window\": 8, \"layer_types\": [\"full_attention\"]"),
		       "layer_types: layer 0 is not sliding_attention, as GGUF gemma3 has every sixth layer global");
	hostile_config("config-gemma3-softcap",
		       CFG_OF("Gemma3ForCausalLM", ONE ", \"sliding_window\": 8, \"attn_logit_softcapping\": 50"),
		       "attn_logit_softcapping is not supported for Gemma3ForCausalLM");
	hostile_config("config-gemma3-local-base",
		       CFG_OF("Gemma3ForCausalLM", ONE ", \"sliding_window\": 8, \"rope_local_base_freq\": 20000"),
		       "the local layers' RoPE (base 20000) is not the unscaled base 10000 of GGUF gemma3");
	hostile_config("config-gemma3-local-scaled",
		       CFG_OF("Gemma3ForCausalLM", ONE ", \"sliding_window\": 8, \"rope_parameters\": {\"full_attention\": "
			      "{\"rope_type\": \"default\"}, \"sliding_attention\": {\"rope_type\": \"linear\", \"factor\": 8}}"),
		       "the local layers' RoPE (base 10000, scaled) is not the unscaled base 10000 of GGUF gemma3");
	hostile_config("config-gemma3-softcap-string",
		       CFG_OF("Gemma3ForCausalLM", ONE ", \"sliding_window\": 8, \"final_logit_softcapping\": \"30\""),
		       "Gemma3ForCausalLM: missing or malformed keys: final_logit_softcapping (not a number)");
	hostile_config("config-gemma3-mm-no-text", "{\"architectures\": [\"Gemma3ForConditionalGeneration\"]}",
		       "Gemma3ForConditionalGeneration without a text_config object");
	hostile_config("config-gemma3-mm-no-text-model", TEXT_CFG(ONE ", \"sliding_window\": 8"),
		       "no embeddings (model.language_model.embed_tokens.weight) in the weights");

	hostile_tensors("tensor-missing", TINY, N_TINY - 1,
			"tensor model.layers.0.mlp.down_proj.weight is missing (LlamaForCausalLM needs it as blk.0.ffn_down.weight)");
	memcpy(w, TINY, sizeof TINY);
	w[N_TINY] = (struct wt){"model.layers.0.self_attn.q_proj.bias", "BF16", 8, 0};
	hostile_tensors("tensor-extra", w, N_TINY + 1,
			"tensor model.layers.0.self_attn.q_proj.bias has no place in a LlamaForCausalLM of 1 layers");
	/* the layer of the llama family: biases by architecture (Qwen2's of
	 * Q, K and V required, Granite's where present, Mistral's none) */
	hostile_config("tensor-qwen2-no-bias", CFG_OF("Qwen2ForCausalLM", ONE),
		       "tensor model.layers.0.self_attn.q_proj.bias is missing (Qwen2ForCausalLM needs it as blk.0.attn_q.bias)");
	w[N_TINY] = (struct wt){"model.layers.0.mlp.down_proj.bias", "BF16", 8, 0};
	hostile_model("tensor-mistral-bias", CFG_OF("MistralForCausalLM", ONE), w, N_TINY + 1,
		      "tensor model.layers.0.mlp.down_proj.bias has no place in a MistralForCausalLM of 1 layers");
	w[N_TINY] = (struct wt){"model.layers.1.mlp.up_proj.weight", "BF16", 16, 8};
	hostile_tensors("tensor-layer-beyond", w, N_TINY + 1,
			"tensor model.layers.1.mlp.up_proj.weight has no place in a LlamaForCausalLM of 1 layers");
	memcpy(w, TINY, sizeof TINY);
	w[4].dtype = "I16";
	hostile_tensors("tensor-dtype", w, N_TINY,
			"tensor model.layers.0.self_attn.q_proj.weight: dtype I16 is not a weight type lmutils reads (F32, F16, BF16)");
	memcpy(w, TINY, sizeof TINY);
	w[1].cols = 1;
	hostile_tensors("tensor-norm-matrix", w, N_TINY,
			"tensor model.norm.weight has 2 dimensions and 8 elements, expected a vector");
	memcpy(w, TINY, sizeof TINY);
	w[4].rows = 4;
	hostile_tensors("tensor-shape", w, N_TINY, "tensor blk.0.attn_q.weight has shape {8, 4}, expected {8, 8}");
	memcpy(w, TINY, sizeof TINY);
	w[0].name = "model.embed.weight";
	hostile_tensors("tensor-no-embeddings", w, N_TINY, "no embeddings (model.embed_tokens.weight) in the weights");
}

static int rm_one(const char *p, const struct stat *s, int flag, struct FTW *f)
{
	(void)s, (void)flag, (void)f;
	return remove(p);
}

int main(int argc, char **argv)
{
	char tmpl[] = "/tmp/test-safetensors.XXXXXX";
	if (argc == 3 && strcmp(argv[1], "-w") == 0) {
		root = argv[2];
		keep = true;
		make_dir(root);
	} else if (argc == 1) {
		const char *t = getenv("TMPDIR");
		static char buf[4096];
		snprintf(buf, sizeof buf, "%s/test-safetensors.XXXXXX", t && *t ? t : "/tmp");
		if (!(root = mkdtemp(buf)) && !(root = mkdtemp(tmpl)))
			die_errno("mkdtemp");
	} else {
		fprintf(stderr, "usage: test-safetensors [-w DIR]\n");
		return 2;
	}
	test_hostile_files();
	test_hostile_dirs();
	test_valid();
	test_tiny_llama();
	test_hostile_models();
	if (!keep)
		nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
