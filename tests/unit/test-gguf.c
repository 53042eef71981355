/* test-gguf: the GGUF reader on small files written here.
 *
 *   test-gguf            run the tests (TAP)
 *   test-gguf -w DIR     also write every hostile file to DIR/NAME.gguf with
 *                        the text its message must contain in DIR/NAME.msg,
 *                        and the well-formed files to DIR/valid-NAME.gguf
 *                        (tests/gguf-hostile.t feeds them to lm-step --info;
 *                        `make fuzz` uses them all as seeds)
 *
 * Well-formed files come from common/gguf_write.h; hostile ones are built
 * byte by byte with the small raw builder below, so that each breaks
 * exactly one rule. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"
#include "gguf_write.h"
#include "../../forward/model.h"
#include "vocab.h"

#include "tap.h"

static const char *outdir;  /* -w DIR */

static void save(const char *name, const char *suffix, const void *p, size_t n)
{
	char path[4096];
	FILE *f;
	if (!outdir)
		return;
	snprintf(path, sizeof path, "%s/%s%s", outdir, name, suffix);
	if (!(f = fopen(path, "wb")) || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
		fprintf(stderr, "test-gguf: %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

/* ---- raw builder for hostile files ---- */

static void u32(struct gguf_buf *b, uint32_t v) { gguf_buf_le(b, v, 4); }
static void u64(struct gguf_buf *b, uint64_t v) { gguf_buf_le(b, v, 8); }
static void str(struct gguf_buf *b, const char *s) { gguf_buf_str(b, s); }
static void hdr(struct gguf_buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
	gguf_buf_put(b, "GGUF", 4);
	u32(b, version);
	u64(b, n_tensors);
	u64(b, n_kv);
}
static void kv_u32(struct gguf_buf *b, const char *k, uint32_t v) { str(b, k); u32(b, GGUF_UINT32); u32(b, v); }
static void kv_str(struct gguf_buf *b, const char *k, const char *v) { str(b, k); u32(b, GGUF_STRING); str(b, v); }
/* a tensor record: n_dims dims from ne */
static void ti(struct gguf_buf *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t off)
{
	str(b, name);
	u32(b, n_dims);
	for (uint32_t d = 0; d < n_dims; d++)
		u64(b, ne[d]);
	u32(b, type);
	u64(b, off);
}
static void ti1(struct gguf_buf *b, const char *name, uint64_t ne0, uint32_t type, uint64_t off)
{
	ti(b, name, 1, &ne0, type, off);
}
static void pad(struct gguf_buf *b, size_t a)
{
	while (b->n % a)
		gguf_buf_put(b, "", 1);
}
static void zeros(struct gguf_buf *b, size_t n)
{
	while (n--)
		gguf_buf_put(b, "", 1);
}

/* Expect gguf_open_mem to refuse the bytes with a message containing want,
 * and write the case for the shell test. */
static void expect_fail(const char *name, const struct gguf_buf *b, const char *want)
{
	struct lmu_err e = {{0}};
	struct gguf *g = gguf_open_mem(b->p, b->n, name, &e);
	ok(!g && strstr(e.msg, want) != NULL, "hostile %s: refused with '%s'", name, want);
	if (g || !strstr(e.msg, want))
		printf("# got: %s\n", g ? "(opened)" : e.msg);
	gguf_close(g);
	save(name, ".gguf", b->p, b->n);
	save(name, ".msg", want, strlen(want));
}

static void rb_free(struct gguf_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* ---- hostile files ---- */

static void test_hostile(void)
{
	struct gguf_buf b = {0};
	uint64_t ne[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};

	expect_fail("empty", &b, "empty file");

	gguf_buf_put(&b, "GGML", 4), u32(&b, 3), u64(&b, 0), u64(&b, 0);
	expect_fail("bad-magic", &b, "bad magic");
	rb_free(&b);

	uint32_t versions[] = {0, 1, 4};
	const char *vwant[] = {"unsupported GGUF version 0", "version 1 is not supported", "unsupported GGUF version 4"};
	for (int i = 0; i < 3; i++) {
		char name[32];
		snprintf(name, sizeof name, "version-%u", versions[i]);
		hdr(&b, versions[i], 0, 0);
		expect_fail(name, &b, vwant[i]);
		rb_free(&b);
	}
	hdr(&b, 0x03000000, 0, 0);
	expect_fail("big-endian", &b, "looks big-endian");
	rb_free(&b);

	/* counts near 2^64: refused before anything is allocated */
	hdr(&b, 3, UINT64_MAX, 0);
	expect_fail("tensor-count-2^64", &b, "tensor count 18446744073709551615 cannot fit");
	rb_free(&b);
	hdr(&b, 3, 0, UINT64_MAX - 1);
	expect_fail("key-count-2^64", &b, "key count 18446744073709551614 cannot fit");
	rb_free(&b);
	hdr(&b, 3, (uint64_t)1 << 40, 1);
	kv_u32(&b, "a", 1);
	expect_fail("tensor-count-2^40", &b, "tensor count 1099511627776 cannot fit");
	rb_free(&b);

	/* a key length past the end of the file */
	hdr(&b, 3, 0, 1);
	u64(&b, 1000);
	gguf_buf_put(&b, "general.name", 12);
	u32(&b, GGUF_UINT8);
	gguf_buf_put(&b, "", 1);
	expect_fail("key-length-past-end", &b, "string length 1000 at byte 24 runs past the end of the file");
	rb_free(&b);
	hdr(&b, 3, 0, 1);
	u64(&b, (uint64_t)1 << 63);
	zeros(&b, 16);
	expect_fail("key-length-2^63", &b, "is over the 1 GiB limit");
	rb_free(&b);
	/* a string value length past the end */
	hdr(&b, 3, 0, 1);
	str(&b, "general.name");
	u32(&b, GGUF_STRING);
	u64(&b, 64);
	gguf_buf_put(&b, "short", 5);
	expect_fail("string-length-past-end", &b, "key 'general.name': string length 64 at byte 48 runs past the end");
	rb_free(&b);

	/* arrays */
	hdr(&b, 3, 0, 1);
	str(&b, "a");
	u32(&b, GGUF_ARRAY), u32(&b, GGUF_UINT8), u64(&b, (uint64_t)1 << 62);
	zeros(&b, 64);
	expect_fail("array-count-2^62", &b, "array count 4611686018427387904 is over the limit");
	rb_free(&b);
	hdr(&b, 3, 0, 1);
	str(&b, "a");
	u32(&b, GGUF_ARRAY), u32(&b, GGUF_UINT32), u64(&b, 1000);
	zeros(&b, 64);
	expect_fail("array-past-end", &b, "file cut short");
	rb_free(&b);
	hdr(&b, 3, 0, 1);
	str(&b, "a");
	u32(&b, GGUF_ARRAY), u32(&b, GGUF_STRING), u64(&b, 1000000);
	zeros(&b, 64);
	expect_fail("string-array-past-end", &b, "array of 1000000 strings cannot fit");
	rb_free(&b);
	hdr(&b, 3, 0, 1);
	str(&b, "a");
	u32(&b, GGUF_ARRAY), u32(&b, GGUF_STRING), u64(&b, 2);
	str(&b, "one");
	u64(&b, 100), gguf_buf_put(&b, "two", 3);
	zeros(&b, 16);
	expect_fail("string-in-array-past-end", &b, "string length 100 at byte 60 runs past the end");
	rb_free(&b);
	hdr(&b, 3, 0, 1);
	str(&b, "a");
	u32(&b, GGUF_ARRAY), u32(&b, GGUF_ARRAY), u64(&b, 1);
	u32(&b, GGUF_UINT8), u64(&b, 1), zeros(&b, 1);
	expect_fail("nested-array", &b, "nested arrays are not supported");
	rb_free(&b);
	hdr(&b, 3, 0, 1);
	str(&b, "a");
	u32(&b, GGUF_ARRAY), u32(&b, 13), u64(&b, 1), zeros(&b, 8);
	expect_fail("array-unknown-type", &b, "unknown array element type 13");
	rb_free(&b);

	/* value types */
	hdr(&b, 3, 0, 1);
	str(&b, "a");
	u32(&b, 13), zeros(&b, 8);
	expect_fail("unknown-value-type", &b, "key 'a': unknown value type 13");
	rb_free(&b);
	hdr(&b, 3, 0, 1);
	str(&b, "a");
	u32(&b, 0x80000000u), zeros(&b, 8);
	expect_fail("unknown-value-type-big", &b, "unknown value type 2147483648");
	rb_free(&b);
	hdr(&b, 3, 0, 1);
	str(&b, "a");
	u32(&b, GGUF_BOOL), gguf_buf_le(&b, 2, 1);
	expect_fail("bool-2", &b, "bool value 2 is neither 0 nor 1");
	rb_free(&b);
	hdr(&b, 3, 0, 1);
	str(&b, "a");
	u32(&b, GGUF_ARRAY), u32(&b, GGUF_BOOL), u64(&b, 3), gguf_buf_le(&b, 0x000201, 3);
	expect_fail("bool-array-2", &b, "bool element 1 is 2");
	rb_free(&b);

	/* keys */
	hdr(&b, 3, 0, 3);
	kv_u32(&b, "a.b", 1);
	kv_str(&b, "c", "x");
	kv_u32(&b, "a.b", 2);
	expect_fail("duplicate-key", &b, "duplicate key 'a.b'");
	rb_free(&b);
	hdr(&b, 3, 0, 1);
	kv_u32(&b, "", 1);
	expect_fail("empty-key", &b, "key 0 of 1: empty key");
	rb_free(&b);
	hdr(&b, 3, 0, 1);
	u64(&b, 70000), zeros(&b, 70000), u32(&b, GGUF_UINT8), zeros(&b, 1);
	expect_fail("key-too-long", &b, "over the 65535-byte limit");
	rb_free(&b);
	/* a key with control bytes is shown with '?' in messages */
	hdr(&b, 3, 0, 2);
	kv_u32(&b, "a\033[2J", 1);
	kv_u32(&b, "a\033[2J", 2);
	expect_fail("duplicate-control-key", &b, "duplicate key 'a?[2J'");
	rb_free(&b);

	/* alignment */
	uint32_t aligns[] = {0, 13, 3u << 30};
	const char *awant[] = {"alignment 0 is not a power of two", "alignment 13 is not a power of two",
			       "alignment 3221225472 is not a power of two"};
	const char *aname[] = {"alignment-0", "alignment-13", "alignment-huge"};
	for (int i = 0; i < 3; i++) {
		hdr(&b, 3, 0, 1);
		kv_u32(&b, "general.alignment", aligns[i]);
		expect_fail(aname[i], &b, awant[i]);
		rb_free(&b);
	}
	hdr(&b, 3, 0, 1);
	str(&b, "general.alignment"), u32(&b, GGUF_UINT64), u64(&b, 64);
	expect_fail("alignment-uint64", &b, "alignment stored as uint64, must be uint32");
	rb_free(&b);
	hdr(&b, 3, 0, 1);
	kv_str(&b, "general.alignment", "32");
	expect_fail("alignment-string", &b, "alignment stored as string, must be uint32");
	rb_free(&b);

	/* tensor records */
	hdr(&b, 3, 2, 0);
	ti1(&b, "a", 8, GGML_F32, 0);
	ti1(&b, "a", 8, GGML_F32, 32);
	pad(&b, 32), zeros(&b, 64);
	expect_fail("duplicate-tensor", &b, "duplicate tensor name 'a'");
	rb_free(&b);
	hdr(&b, 3, 1, 0);
	ti1(&b, "", 8, GGML_F32, 0);
	pad(&b, 32), zeros(&b, 32);
	expect_fail("empty-tensor-name", &b, "empty tensor name");
	rb_free(&b);
	hdr(&b, 3, 1, 0);
	ti1(&b, "0123456789012345678901234567890123456789012345678901234567890123456789", 8, GGML_F32, 0);
	pad(&b, 32), zeros(&b, 32);
	expect_fail("tensor-name-too-long", &b, "tensor name of 70 bytes is over the 64-byte limit");
	rb_free(&b);
	hdr(&b, 3, 1, 0);
	u64(&b, 3), gguf_buf_put(&b, "a\0b", 3), u32(&b, 1), u64(&b, 8), u32(&b, GGML_F32), u64(&b, 0);
	pad(&b, 32), zeros(&b, 32);
	expect_fail("tensor-name-nul", &b, "tensor name contains a NUL byte");
	rb_free(&b);
	hdr(&b, 3, 1, 0);
	ti(&b, "a", 9, ne, GGML_F32, 0);
	pad(&b, 32), zeros(&b, 32);
	expect_fail("9-dims", &b, "tensor 'a': 9 dimensions (must be 1 to 4)");
	rb_free(&b);
	hdr(&b, 3, 1, 0);
	ti(&b, "a", 0, ne, GGML_F32, 0);
	pad(&b, 32), zeros(&b, 32);
	expect_fail("0-dims", &b, "0 dimensions (must be 1 to 4)");
	rb_free(&b);
	hdr(&b, 3, 1, 0);
	ti(&b, "a", 3, (uint64_t[]){8, 0, 2}, GGML_F32, 0);
	pad(&b, 32), zeros(&b, 32);
	expect_fail("zero-dim", &b, "tensor 'a': dimension 1 is zero");
	rb_free(&b);
	hdr(&b, 3, 1, 0);
	ti(&b, "a", 2, (uint64_t[]){(uint64_t)1 << 32, (uint64_t)1 << 32}, GGML_F32, 0);
	pad(&b, 32), zeros(&b, 32);
	expect_fail("dims-overflow", &b, "dimensions overflow");
	rb_free(&b);
	hdr(&b, 3, 1, 0);
	ti(&b, "a", 4, (uint64_t[]){1u << 16, 1u << 16, 1u << 16, 1u << 16}, GGML_F32, 0);
	pad(&b, 32), zeros(&b, 32);
	expect_fail("dims-overflow-4", &b, "dimensions overflow");
	rb_free(&b);
	hdr(&b, 3, 1, 0);
	ti1(&b, "a", UINT64_MAX, GGML_F32, 0);
	pad(&b, 32), zeros(&b, 32);
	expect_fail("dim-2^64", &b, "dimensions overflow");
	rb_free(&b);
	hdr(&b, 3, 1, 0);
	ti(&b, "a", 2, (uint64_t[]){(uint64_t)1 << 31, (uint64_t)1 << 31}, GGML_F64, 0);
	pad(&b, 32), zeros(&b, 32);
	expect_fail("bytes-overflow", &b, "byte size overflows");
	rb_free(&b);
	/* found by fuzzing: 2^62 F32 elements fit in 2^63 but a row of them is
	 * 2^64 bytes, which wrapped to 0 */
	hdr(&b, 3, 1, 0);
	ti1(&b, "a", (uint64_t)1 << 62, GGML_F32, 0);
	pad(&b, 32), zeros(&b, 32);
	expect_fail("row-bytes-overflow", &b, "tensor 'a': byte size overflows");
	rb_free(&b);
	hdr(&b, 3, 1, 0);
	ti(&b, "a", 2, (uint64_t[]){(uint64_t)1 << 61, 2}, GGML_F64, 0);
	pad(&b, 32), zeros(&b, 32);
	expect_fail("row-bytes-overflow-f64", &b, "tensor 'a': byte size overflows");
	rb_free(&b);
	uint32_t badtypes[] = {4, 31, 40, 0xffffffffu};
	for (int i = 0; i < 4; i++) {
		char name[40], want[60];
		snprintf(name, sizeof name, "tensor-type-%u", badtypes[i]);
		snprintf(want, sizeof want, "unknown tensor type %u", badtypes[i]);
		hdr(&b, 3, 1, 0);
		ti1(&b, "a", 8, badtypes[i], 0);
		pad(&b, 32), zeros(&b, 32);
		expect_fail(name, &b, want);
		rb_free(&b);
	}
	hdr(&b, 3, 1, 0);
	ti(&b, "a", 2, (uint64_t[]){48, 2}, GGML_Q4_0, 0);
	pad(&b, 32), zeros(&b, 64);
	expect_fail("quant-row", &b, "row of 48 elements is not a multiple of the Q4_0 block size 32");
	rb_free(&b);
	hdr(&b, 3, 1, 0);
	ti1(&b, "a", 512 + 32, GGML_Q4_K, 0);
	pad(&b, 32), zeros(&b, 512);
	expect_fail("quant-row-k", &b, "not a multiple of the Q4_K block size 256");
	rb_free(&b);

	/* tensor data offsets */
	hdr(&b, 3, 2, 0);
	ti1(&b, "a", 8, GGML_F32, 32);
	ti1(&b, "b", 8, GGML_F32, 0);
	pad(&b, 32), zeros(&b, 64);
	expect_fail("offsets-out-of-order", &b, "tensor 'b': data offset 0 is out of order");
	rb_free(&b);
	hdr(&b, 3, 2, 0);
	ti1(&b, "a", 16, GGML_F32, 0);
	ti1(&b, "b", 8, GGML_F32, 32);
	pad(&b, 32), zeros(&b, 96);
	expect_fail("offsets-overlap", &b, "tensor 'b': data offset 32 overlaps the previous tensor (which ends at 64)");
	rb_free(&b);
	hdr(&b, 3, 1, 0);
	ti1(&b, "a", 8, GGML_F32, 4);
	pad(&b, 32), zeros(&b, 64);
	expect_fail("offset-misaligned", &b, "data offset 4 is not a multiple of the alignment 32");
	rb_free(&b);
	hdr(&b, 3, 1, 1);
	kv_u32(&b, "general.alignment", 64);
	ti1(&b, "a", 8, GGML_F32, 32);
	pad(&b, 64), zeros(&b, 128);
	expect_fail("offset-misaligned-64", &b, "data offset 32 is not a multiple of the alignment 64");
	rb_free(&b);
	hdr(&b, 3, 1, 0);
	ti1(&b, "a", 8, GGML_F32, 1024);
	pad(&b, 32), zeros(&b, 64);
	expect_fail("offset-past-end", &b, "data (offset 1024, 32 bytes) runs past the end of the file");
	rb_free(&b);
	hdr(&b, 3, 1, 0);
	ti1(&b, "a", 8, GGML_F32, UINT64_MAX - 31);
	pad(&b, 32), zeros(&b, 64);
	expect_fail("offset-2^64", &b, "runs past the end of the file");
	rb_free(&b);
	hdr(&b, 3, 1, 0);
	ti(&b, "a", 2, (uint64_t[]){1u << 20, 1u << 20}, GGML_F32, 0);
	pad(&b, 32), zeros(&b, 64);
	expect_fail("size-past-end", &b, "(offset 0, 4398046511104 bytes) runs past the end of the file");
	rb_free(&b);

	/* files cut short: take a well-formed file and cut it in each part */
	struct gguf_buf full = {0};
	hdr(&full, 3, 2, 3);
	kv_str(&full, "general.name", "0123456789012345678901234567890123456789012345678901234567890123456789"
		   "012345678901234567890123456789");     /* value at 48, ends at 156 */
	kv_str(&full, "general.architecture", "llama");  /* type at 184, ends at 201 */
	kv_u32(&full, "llama.block_count", 1);          /* value at 230, ends at 234 */
	ti1(&full, "a", 8, GGML_F32, 0);                 /* ne at 247, ends at 267 */
	ti1(&full, "b", 8, GGML_F32, 32);                /* type at 288, ends at 300 */
	pad(&full, 32);                                  /* data at 320 */
	for (int i = 0; i < 64; i++)
		gguf_buf_le(&full, i, 1);
	struct { const char *name; size_t len; const char *want; } cuts[] = {
		{"cut-header-3", 3, "header: file cut short: 3 bytes"},
		{"cut-header-12", 12, "header: file cut short at byte 8"},
		{"cut-header-20", 20, "header: file cut short at byte 16"},
		{"cut-metadata-counts", 60, "header: key count 3 cannot fit in a file of 60 bytes"},
		{"cut-metadata-string", 100, "key 'general.name': string length 100 at byte 48 runs past the end"},
		{"cut-metadata-type", 186, "key 'general.architecture': file cut short at byte 184"},
		{"cut-metadata-value", 232, "key 'llama.block_count': file cut short at byte 230"},
		{"cut-tensor-table", 250, "tensor 'a': file cut short at byte 247"},
		{"cut-tensor-table-2", 290, "tensor 'b': file cut short at byte 288"},
		{"cut-before-data", 310, "data section would start at byte 320, past the end"},
		{"cut-data", 330, "tensor 'a': data (offset 0, 32 bytes) runs past the end of the file (cut short?"},
		{"cut-data-2", 370, "tensor 'b': data (offset 32, 32 bytes) runs past the end"},
	};
	for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
		struct gguf_buf c = {full.p, cuts[i].len, cuts[i].len};
		expect_fail(cuts[i].name, &c, cuts[i].want);
	}
	struct lmu_err e = {{0}};
	struct gguf *g = gguf_open_mem(full.p, full.n, "full", &e);
	ok(g && g->data_offset == 320 && ((const uint8_t *)gguf_tensor(g, "b")->data)[0] == 32,
	   "the uncut file opens: data at 320, b starts with byte 32");
	gguf_close(g);
	save("valid-cuts", ".gguf", full.p, full.n);
	rb_free(&full);
}

/* ---- well-formed files ---- */

static struct gguf *open_writer(struct gguf_writer *w, const char *name)
{
	struct lmu_err e = {{0}};
	size_t n;
	const uint8_t *p = gguf_writer_bytes(w, &n);
	struct gguf *g = gguf_open_mem(p, n, name, &e);
	if (!g)
		printf("# %s: %s\n", name, e.msg);
	save(name, ".gguf", p, n);
	return g;
}

static void le_bytes(uint8_t *le, uint64_t v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		le[i] = (uint8_t)v;
}

static void test_value_types(void)
{
	struct gguf_writer *w = gguf_writer_new();
	uint8_t le[8];
	int64_t i;
	uint64_t u;
	uint32_t u3;
	double f;
	bool bo;
	struct gguf_str s;
	char buf[128];

	le_bytes(le, 200, 1), gguf_w_scalar(w, "t.u8", GGUF_UINT8, le, 1);
	le_bytes(le, (uint64_t)-5, 1), gguf_w_scalar(w, "t.i8", GGUF_INT8, le, 1);
	le_bytes(le, 60000, 2), gguf_w_scalar(w, "t.u16", GGUF_UINT16, le, 2);
	le_bytes(le, (uint64_t)-30000, 2), gguf_w_scalar(w, "t.i16", GGUF_INT16, le, 2);
	gguf_w_u32(w, "t.u32", 4000000000u);
	gguf_w_i32(w, "t.i32", -2000000000);
	gguf_w_f32(w, "t.f32", 1.5f);
	gguf_w_bool(w, "t.bool", 1);
	gguf_w_bool(w, "t.false", 0);
	gguf_w_str(w, "t.str", "h\xc3\xa9llo");
	gguf_w_u64(w, "t.u64", ((uint64_t)1 << 63) + 5);
	gguf_w_u64(w, "t.u64small", 7);
	le_bytes(le, (uint64_t)-((int64_t)1 << 40), 8), gguf_w_scalar(w, "t.i64", GGUF_INT64, le, 8);
	double d = -3.25;
	memcpy(&u, &d, 8), le_bytes(le, u, 8), gguf_w_scalar(w, "t.f64", GGUF_FLOAT64, le, 8);
	gguf_w_str(w, "t.empty", "");
	/* arrays of every non-string element type */
	uint8_t a8[] = {1, 255};
	int8_t ai8[] = {-1, 127};
	uint16_t a16[] = {1, 65535};
	int16_t ai16[] = {-32768, 5};
	uint32_t a32[] = {0, 4294967295u, 3};
	int32_t ai32[] = {-7, 7};
	float af[] = {0.5f, -2.0f};
	uint8_t ab[] = {1, 0, 1};
	uint64_t a64[] = {UINT64_MAX, 9};
	int64_t ai64[] = {INT64_MIN, 1};
	double ad[] = {1e300, -0.125};
	gguf_w_arr(w, "a.u8", GGUF_UINT8, a8, 2);
	gguf_w_arr(w, "a.i8", GGUF_INT8, ai8, 2);
	gguf_w_arr(w, "a.u16", GGUF_UINT16, a16, 2);
	gguf_w_arr(w, "a.i16", GGUF_INT16, ai16, 2);
	gguf_w_arr(w, "a.u32", GGUF_UINT32, a32, 3);
	gguf_w_arr(w, "a.i32", GGUF_INT32, ai32, 2);
	gguf_w_arr(w, "a.f32", GGUF_FLOAT32, af, 2);
	gguf_w_arr(w, "a.bool", GGUF_BOOL, ab, 3);
	gguf_w_arr(w, "a.u64", GGUF_UINT64, a64, 2);
	gguf_w_arr(w, "a.i64", GGUF_INT64, ai64, 2);
	gguf_w_arr(w, "a.f64", GGUF_FLOAT64, ad, 2);
	gguf_w_arr(w, "a.empty", GGUF_INT32, NULL, 0);
	const char *strs[] = {"alpha", "", "\xe2\x96\x81x", "last"};
	gguf_w_arr_str(w, "a.str", strs, 4);
	gguf_w_arr_str(w, "a.nostr", strs, 0);

	struct gguf *g = open_writer(w, "valid-types");
	ok(g != NULL, "a file with every value type opens");
	if (!g) {
		gguf_writer_free(w);
		return;
	}
	ok(g->version == 3 && g->n_kv == 29 && g->n_tensors == 0 && g->alignment == 32,
	   "version 3, 29 keys, no tensors, default alignment 32");
	/* every type read back */
	const enum gguf_vtype want_types[] = {GGUF_UINT8, GGUF_INT8, GGUF_UINT16, GGUF_INT16, GGUF_UINT32,
					      GGUF_INT32, GGUF_FLOAT32, GGUF_BOOL, GGUF_BOOL, GGUF_STRING,
					      GGUF_UINT64, GGUF_UINT64, GGUF_INT64, GGUF_FLOAT64};
	int seen[GGUF_NVTYPES] = {0};
	for (uint64_t k = 0; k < g->n_kv; k++)
		seen[g->kv[k].val.type] = 1;
	int all = 1;
	for (int t = 0; t < GGUF_NVTYPES; t++)
		all &= seen[t];
	ok(all, "all 13 value types are present");
	ok(g->kv[0].val.type == want_types[0] && g->kv[13].val.type == want_types[13] &&
	   g->kv[9].val.type == GGUF_STRING, "keys keep their order and types");

	ok(gguf_get_i64(g, "t.u8", &i) == 1 && i == 200, "uint8 as int64: 200");
	ok(gguf_get_i64(g, "t.i8", &i) == 1 && i == -5, "int8 as int64: -5");
	ok(gguf_get_i64(g, "t.u16", &i) == 1 && i == 60000, "uint16 as int64: 60000");
	ok(gguf_get_i64(g, "t.i16", &i) == 1 && i == -30000, "int16 as int64: -30000");
	ok(gguf_get_i64(g, "t.u32", &i) == 1 && i == 4000000000LL, "uint32 as int64: 4000000000");
	ok(gguf_get_i64(g, "t.i32", &i) == 1 && i == -2000000000, "int32 as int64: -2000000000");
	ok(gguf_get_i64(g, "t.i64", &i) == 1 && i == -((int64_t)1 << 40), "int64 as int64: -2^40");
	ok(gguf_get_i64(g, "t.u64", &i) == -1, "uint64 2^63+5 does not fit int64");
	ok(gguf_get_i64(g, "t.u64small", &i) == 1 && i == 7, "uint64 7 as int64");
	ok(gguf_get_u64(g, "t.u64", &u) == 1 && u == ((uint64_t)1 << 63) + 5, "uint64 as uint64: 2^63+5");
	ok(gguf_get_u64(g, "t.i8", &u) == -1, "negative int8 as uint64 is a type error");
	ok(gguf_get_u32(g, "t.u32", &u3) == 1 && u3 == 4000000000u, "uint32 4e9 as uint32");
	ok(gguf_get_u32(g, "t.u16", &u3) == 1 && u3 == 60000, "uint16 as uint32");
	ok(gguf_get_u32(g, "t.u64", &u3) == -1, "uint64 2^63+5 is out of uint32 range");
	ok(gguf_get_u32(g, "t.i32", &u3) == -1, "negative int32 is out of uint32 range");
	ok(gguf_get_u32(g, "t.u64small", &u3) == 1 && u3 == 7, "uint64 7 as uint32");
	ok(gguf_get_i64(g, "t.f32", &i) == -1, "float as int is a type error");
	ok(gguf_get_i64(g, "t.str", &i) == -1, "string as int is a type error");
	ok(gguf_get_i64(g, "t.bool", &i) == -1, "bool as int is a type error");
	ok(gguf_get_i64(g, "no.such.key", &i) == 0, "absent key: 0");
	ok(gguf_get_f64(g, "t.f32", &f) == 1 && f == 1.5, "float32 1.5");
	ok(gguf_get_f64(g, "t.f64", &f) == 1 && f == -3.25, "float64 -3.25");
	ok(gguf_get_f64(g, "t.i16", &f) == 1 && f == -30000, "int16 as float: -30000");
	ok(gguf_get_f64(g, "t.str", &f) == -1, "string as float is a type error");
	ok(gguf_get_bool(g, "t.bool", &bo) == 1 && bo, "bool true");
	ok(gguf_get_bool(g, "t.false", &bo) == 1 && !bo, "bool false");
	ok(gguf_get_bool(g, "t.u8", &bo) == -1, "uint8 as bool is a type error");
	ok(gguf_get_str(g, "t.str", &s) == 1 && s.len == 6 && memcmp(s.s, "h\xc3\xa9llo", 6) == 0, "string héllo");
	ok(gguf_get_str(g, "t.empty", &s) == 1 && s.len == 0, "empty string");
	ok(gguf_get_str(g, "t.u32", &s) == -1, "uint32 as string is a type error");
	char *dup = gguf_get_strdup(g, "t.str");
	ok(dup && strcmp(dup, "h\xc3\xa9llo") == 0, "gguf_get_strdup copies and terminates");
	free(dup);
	ok(gguf_get_strdup(g, "t.u32") == NULL && gguf_get_strdup(g, "nope") == NULL,
	   "gguf_get_strdup: NULL for a non-string or absent key");
	const struct gguf_kv *kv = gguf_find(g, "t.i8");
	ok(kv && gguf_val_i64(&kv->val, &i) && i == -5 && gguf_val_f64(&kv->val, &f) && f == -5,
	   "gguf_val_i64 / gguf_val_f64 on a found value");
	ok(gguf_find(g, "t.i") == NULL && gguf_find(g, "t.i88") == NULL, "gguf_find: prefixes and extensions do not match");

	/* arrays */
	struct gguf_value a;
	int good;
	ok(gguf_get_arr(g, "a.u8", GGUF_UINT8, &a) == 1 && a.count == 2 && gguf_arr_i64(&a, 1, &i) && i == 255,
	   "uint8 array");
	ok(gguf_get_arr(g, "a.i8", GGUF_INT8, &a) == 1 && gguf_arr_i64(&a, 0, &i) && i == -1, "int8 array");
	ok(gguf_get_arr(g, "a.u16", GGUF_UINT16, &a) == 1 && gguf_arr_i64(&a, 1, &i) && i == 65535, "uint16 array");
	ok(gguf_get_arr(g, "a.i16", GGUF_INT16, &a) == 1 && gguf_arr_i64(&a, 0, &i) && i == -32768, "int16 array");
	good = gguf_get_arr(g, "a.u32", GGUF_UINT32, &a) == 1 && a.count == 3;
	good = good && gguf_arr_i64(&a, 1, &i) && i == 4294967295LL && gguf_arr_i64(&a, 2, &i) && i == 3;
	ok(good && !gguf_arr_i64(&a, 3, &i), "uint32 array, index 3 is out of range");
	ok(gguf_get_arr(g, "a.i32", GGUF_INT32, &a) == 1 && gguf_arr_i64(&a, 0, &i) && i == -7, "int32 array");
	ok(gguf_get_arr(g, "a.f32", GGUF_FLOAT32, &a) == 1 && gguf_arr_f64(&a, 1, &f) && f == -2.0 &&
	   !gguf_arr_i64(&a, 0, &i), "float32 array (not readable as int)");
	ok(gguf_get_arr(g, "a.bool", GGUF_BOOL, &a) == 1 && a.count == 3 && a.p[0] == 1 && a.p[1] == 0,
	   "bool array");
	ok(gguf_get_arr(g, "a.u64", GGUF_UINT64, &a) == 1 && !gguf_arr_i64(&a, 0, &i) && gguf_arr_i64(&a, 1, &i) &&
	   i == 9, "uint64 array: 2^64-1 does not fit int64, 9 does");
	ok(gguf_get_arr(g, "a.i64", GGUF_INT64, &a) == 1 && gguf_arr_i64(&a, 0, &i) && i == INT64_MIN, "int64 array");
	ok(gguf_get_arr(g, "a.f64", GGUF_FLOAT64, &a) == 1 && gguf_arr_f64(&a, 0, &f) && f == 1e300 &&
	   gguf_arr_f64(&a, 1, &f) && f == -0.125, "float64 array");
	ok(gguf_get_arr(g, "a.empty", GGUF_INT32, &a) == 1 && a.count == 0 && !gguf_arr_i64(&a, 0, &i),
	   "empty array");
	ok(gguf_get_arr(g, "a.u8", GGUF_INT32, &a) == -1, "array with another element type: -1");
	ok(gguf_get_arr(g, "a.u8", GGUF_NVTYPES, &a) == 1, "GGUF_NVTYPES accepts any element type");
	ok(gguf_get_arr(g, "t.u8", GGUF_NVTYPES, &a) == -1, "a scalar is not an array");
	ok(gguf_get_arr(g, "nope", GGUF_NVTYPES, &a) == 0, "absent array: 0");
	ok(gguf_get_arr(g, "a.str", GGUF_STRING, &a) == 1 && a.count == 4, "string array of 4");
	struct gguf_str_iter it;
	gguf_str_iter_init(&it, &a);
	int n = 0;
	good = 1;
	while (gguf_str_iter_next(&it, &s)) {
		good &= n < 4 && s.len == strlen(strs[n]) && memcmp(s.s, strs[n], s.len) == 0;
		n++;
	}
	ok(good && n == 4, "the iterator returns the 4 strings, the empty one included");
	ok(!gguf_arr_i64(&a, 0, &i) && !gguf_arr_f64(&a, 0, &f), "string array elements are not numbers");
	gguf_get_arr(g, "a.nostr", GGUF_STRING, &a);
	gguf_str_iter_init(&it, &a);
	ok(!gguf_str_iter_next(&it, &s), "empty string array: the iterator ends at once");
	gguf_get_arr(g, "a.u8", GGUF_NVTYPES, &a);
	gguf_str_iter_init(&it, &a);
	ok(!gguf_str_iter_next(&it, &s), "the string iterator on a uint8 array yields nothing");

	/* display */
	gguf_value_format(&gguf_find(g, "t.str")->val, buf, sizeof buf);
	ok(strcmp(buf, "\"h\xc3\xa9llo\"") == 0, "format a string");
	gguf_value_format(&gguf_find(g, "a.str")->val, buf, sizeof buf);
	ok(strcmp(buf, "[string x 4]") == 0, "format a string array");
	gguf_value_format(&gguf_find(g, "t.u64")->val, buf, sizeof buf);
	ok(strcmp(buf, "9223372036854775813") == 0, "format a uint64 over 2^63");
	gguf_value_format(&gguf_find(g, "t.f32")->val, buf, sizeof buf);
	ok(strcmp(buf, "1.5") == 0, "format a float");
	ok(strcmp(gguf_vtype_name(GGUF_FLOAT64), "float64") == 0 && strcmp(gguf_vtype_name(99), "unknown") == 0,
	   "value type names");
	gguf_close(g);

	/* version 2: the same layout */
	size_t len;
	const uint8_t *p = gguf_writer_bytes(w, &len);
	uint8_t *v2 = xmalloc(len);
	memcpy(v2, p, len);
	v2[4] = 2;
	struct lmu_err e = {{0}};
	g = gguf_open_mem(v2, len, "v2", &e);
	ok(g && g->version == 2 && gguf_get_u32(g, "t.u32", &u3) == 1 && u3 == 4000000000u, "version 2 opens");
	gguf_close(g);
	save("valid-v2", ".gguf", v2, len);
	free(v2);
	gguf_writer_free(w);
}

/* Tensors placed with alignment a; check shapes, sizes and data. */
static void test_alignment(uint32_t a)
{
	struct gguf_writer *w = gguf_writer_new();
	char name[64];
	static uint8_t data[4096];
	for (size_t k = 0; k < sizeof data; k++)
		data[k] = (uint8_t)(k * 7 + 1);
	if (a != 32)
		gguf_w_u32(w, "general.alignment", a);
	gguf_w_set_alignment(w, a);
	gguf_w_str(w, "general.architecture", "test");
	uint64_t s1[] = {3}, s2[] = {64, 3}, s3[] = {256, 2}, s4[] = {2, 3, 4, 5}, s5[] = {5, 1, 1};
	gguf_w_tensor(w, "f32", GGML_F32, 1, s1, data, 12);
	gguf_w_tensor(w, "q4_1", GGML_Q4_1, 2, s2, data, 3 * 40);
	gguf_w_tensor(w, "q4_k", GGML_Q4_K, 2, s3, data, 2 * 144);
	gguf_w_tensor(w, "f16.4d", GGML_F16, 4, s4, data, 2 * 120);
	gguf_w_tensor(w, "i8", GGML_I8, 3, s5, data, 5);
	snprintf(name, sizeof name, "valid-align-%u", a);
	struct gguf *g = open_writer(w, name);
	ok(g != NULL, "alignment %u: opens", a);
	if (!g) {
		gguf_writer_free(w);
		return;
	}
	ok(g->alignment == a && g->data_offset % a == 0, "alignment %u: data section at %" PRIu64, a, g->data_offset);
	int good = 1;
	for (uint64_t k = 0; k < g->n_tensors; k++) {
		const struct gguf_tensor *t = &g->tensors[k];
		good &= t->offset % a == 0;
		good &= ((const uint8_t *)t->data - g->map) % a == 0;
		good &= memcmp(t->data, data, t->nbytes) == 0;
	}
	ok(good, "alignment %u: every tensor aligned, data as written", a);
	const struct gguf_tensor *t = gguf_tensor(g, "q4_1");
	ok(t && t->type == GGML_Q4_1 && t->n_dims == 2 && t->ne[0] == 64 && t->ne[1] == 3 && t->ne[2] == 1 &&
	   t->row_bytes == 40 && t->nbytes == 120, "Q4_1 64x3: row 40 bytes, 120 bytes");
	t = gguf_tensor(g, "q4_k");
	ok(t && t->row_bytes == 144 && t->nbytes == 288, "Q4_K 256x2: 288 bytes");
	t = gguf_tensor(g, "f16.4d");
	ok(t && t->n_dims == 4 && t->ne[3] == 5 && t->row_bytes == 4 && t->nbytes == 240, "F16 2x3x4x5: 240 bytes");
	t = gguf_tensor(g, "i8");
	ok(t && t->n_dims == 3 && t->nbytes == 5 && t->ne[0] == 5, "I8 5x1x1: 5 bytes");
	ok(gguf_tensor(g, "f3") == NULL && gguf_tensor(g, "f32x") == NULL, "absent tensor names: NULL");
	gguf_close(g);
	gguf_writer_free(w);
}

static void test_many_tensors(void)
{
	enum { N = 1000 };
	struct gguf_writer *w = gguf_writer_new();
	char name[64];

	gguf_w_str(w, "general.architecture", "test");
	for (int k = 0; k < N; k++) {
		uint64_t ne[2] = {(uint64_t)(k % 5 + 1) * 8, (uint64_t)(k % 3 + 1)};
		float *d = xmalloc(ne[0] * ne[1] * sizeof *d);
		for (uint64_t j = 0; j < ne[0] * ne[1]; j++)
			d[j] = (float)k + (float)j / 1024;
		snprintf(name, sizeof name, "blk.%d.ffn_%s.weight", k / 4, (const char *[]){"up", "down", "gate", "norm"}[k % 4]);
		gguf_w_tensor(w, name, GGML_F32, 2, ne, d, ne[0] * ne[1] * sizeof *d);
		free(d);
	}
	struct gguf *g = open_writer(w, "valid-1000-tensors");
	ok(g && g->n_tensors == N, "1000 tensors open");
	if (!g) {
		gguf_writer_free(w);
		return;
	}
	int good = 1;
	for (int k = 0; k < N; k++) {
		snprintf(name, sizeof name, "blk.%d.ffn_%s.weight", k / 4, (const char *[]){"up", "down", "gate", "norm"}[k % 4]);
		const struct gguf_tensor *t = gguf_tensor(g, name);
		if (!t || t != &g->tensors[k] || t->ne[0] != (uint64_t)(k % 5 + 1) * 8 || t->ne[1] != (uint64_t)(k % 3 + 1) ||
		    t->nbytes != t->ne[0] * t->ne[1] * 4 || ((const float *)t->data)[0] != (float)k ||
		    ((const float *)t->data)[t->ne[0] * t->ne[1] - 1] != (float)k + (float)(t->ne[0] * t->ne[1] - 1) / 1024) {
			good = 0;
			printf("# tensor %d (%s) wrong\n", k, name);
			break;
		}
	}
	ok(good, "every one of the 1000 found by name with its shape, size and data");
	ok(gguf_tensor(g, "blk.250.ffn_up.weight") == NULL, "a name past the last is not found");
	ok(gguf_tensor(g, "01234567890123456789012345678901234567890123456789012345678901234567890") == NULL,
	   "a name over 64 bytes is not found");
	gguf_close(g);
	gguf_writer_free(w);
}

/* the same file through gguf_open() on disk, and gguf_open's own errors */
static void test_files(void)
{
	char dir[] = "/tmp/test-gguf.XXXXXX", path[64];
	struct lmu_err e = {{0}};
	struct gguf_writer *w = gguf_writer_new();
	struct gguf *g;
	uint64_t ne[1] = {4};
	float d[4] = {1, 2, 3, 4};

	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	gguf_w_u32(w, "x", 5);
	gguf_w_tensor(w, "w", GGML_F32, 1, ne, d, sizeof d);
	snprintf(path, sizeof path, "%s/ok.gguf", dir);
	ok(gguf_writer_save(w, path) == 0, "gguf_writer_save");
	g = gguf_open(path, &e);
	ok(g && g->mapped && ((const float *)gguf_tensor(g, "w")->data)[3] == 4, "gguf_open maps the file");
	gguf_close(g);
	g = gguf_open(dir, &e);
	ok(!g && strstr(e.msg, "not a regular file"), "a directory: not a regular file");
	snprintf(path, sizeof path, "%s/none.gguf", dir);
	g = gguf_open(path, &e);
	ok(!g && strstr(e.msg, "No such file"), "a missing file: %s", e.msg);
	snprintf(path, sizeof path, "%s/empty.gguf", dir);
	fclose(fopen(path, "w"));
	g = gguf_open(path, &e);
	ok(!g && strstr(e.msg, "empty file"), "an empty file on disk: %s", e.msg);
	unlink(path);
	snprintf(path, sizeof path, "%s/ok.gguf", dir);
	unlink(path);
	rmdir(dir);
	gguf_writer_free(w);
}

/* tokenizer scores stored with the wrong element type: the file is well
 * formed, the vocabulary layer refuses it */
static void test_vocab_scores(void)
{
	const char *tok[] = {"<unk>", "<s>", "</s>", "a"};
	int32_t type[] = {2, 3, 3, 1};
	double score64[] = {0, 0, 0, -1};
	int32_t score_i[] = {0, 0, 0, -1};
	float score3[] = {0, 0, -1};
	struct { const char *name; enum gguf_vtype t; const void *p; uint64_t n; } cases[] = {
		{"vocab-scores-f64", GGUF_FLOAT64, score64, 4},
		{"vocab-scores-i32", GGUF_INT32, score_i, 4},
		{"vocab-scores-count", GGUF_FLOAT32, score3, 3},
	};
	for (int k = 0; k < 4; k++) {
		struct gguf_writer *w = gguf_writer_new();
		struct lmu_err e = {{0}};
		struct vocab v;
		gguf_w_str(w, "tokenizer.ggml.model", "llama");
		gguf_w_arr_str(w, "tokenizer.ggml.tokens", tok, 4);
		gguf_w_arr(w, "tokenizer.ggml.token_type", GGUF_INT32, type, 4);
		if (k < 3)
			gguf_w_arr(w, "tokenizer.ggml.scores", cases[k].t, cases[k].p, cases[k].n);
		else
			gguf_w_arr_str(w, "tokenizer.ggml.scores", tok, 4);
		struct gguf *g = open_writer(w, k < 3 ? cases[k].name : "vocab-scores-str");
		int refused = g && !vocab_load_gguf(&v, g, &e);
		ok(refused && strstr(e.msg, "tokenizer.ggml.scores must be a float32 array of 4 elements"),
		   "%s: the file opens, the vocabulary is refused", k < 3 ? cases[k].name : "vocab-scores-str");
		if (g && !refused)
			vocab_free(&v);
		gguf_close(g);
		gguf_writer_free(w);
	}
}

/* a complete tiny llama file: hyper-parameters and vocabulary load (also the
 * best fuzz seed, as it reaches every layer above the reader) */
static void test_tiny_llama(void)
{
	const char *tok[] = {"a", "b", "ab", "<|im_end|>", "\xc4\xa0"};
	const char *merges[] = {"a b"};
	int32_t type[] = {1, 1, 1, 3, 1};
	float emb[8 * 5] = {0};
	uint64_t ne[2] = {8, 5};
	struct gguf_writer *w = gguf_writer_new();
	struct lmu_err e = {{0}};
	struct hparams hp;
	struct vocab v;

	gguf_w_str(w, "general.architecture", "llama");
	gguf_w_str(w, "general.name", "tiny");
	gguf_w_u32(w, "llama.context_length", 64);
	gguf_w_u32(w, "llama.embedding_length", 8);
	gguf_w_u32(w, "llama.block_count", 2);
	gguf_w_u32(w, "llama.feed_forward_length", 16);
	gguf_w_u32(w, "llama.attention.head_count", 2);
	gguf_w_u32(w, "llama.attention.head_count_kv", 1);
	gguf_w_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
	gguf_w_f32(w, "llama.rope.freq_base", 10000.0f);
	gguf_w_u32(w, "llama.rope.dimension_count", 4);
	gguf_w_str(w, "tokenizer.ggml.model", "gpt2");
	gguf_w_str(w, "tokenizer.ggml.pre", "smollm");
	gguf_w_arr_str(w, "tokenizer.ggml.tokens", tok, 5);
	gguf_w_arr(w, "tokenizer.ggml.token_type", GGUF_INT32, type, 5);
	gguf_w_arr_str(w, "tokenizer.ggml.merges", merges, 1);
	gguf_w_u32(w, "tokenizer.ggml.eos_token_id", 3);
	gguf_w_tensor(w, "token_embd.weight", GGML_F32, 2, ne, emb, sizeof emb);
	struct gguf *g = open_writer(w, "valid-tiny-llama");
	ok(g && hparams_load(g, &hp, &e), "tiny llama: hyper-parameters load");
	if (g) {
		ok(hp.n_layer == 2 && hp.n_embd == 8 && hp.n_head == 2 && hp.n_head_kv == 1 && hp.head_dim == 4 &&
		   hp.n_rot == 4 && hp.n_vocab == 5 && hp.tied_output, "tiny llama: 2 layers, 8 wide, 2/1 heads, 5 rows, tied");
		ok(vocab_load_gguf(&v, g, &e) && v.n == 5 && v.n_merges == 1 && v.eos == 3 && v.eog[3],
		   "tiny llama: vocabulary of 5, 1 merge, eos 3 ends generation");
		if (v.n == 5)
			vocab_free(&v);
	}
	gguf_close(g);
	gguf_writer_free(w);
}

/* The KiB of the mapping at p that the kernel maps with 2 MiB entries
 * (FilePmdMapped in /proc/self/smaps), -1 if not found. */
static long pmd_mapped_kb(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	long kb = -1;
	int in = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char c;
		if (sscanf(line, "%lx-%lx %c", &lo, &hi, &c) == 3)
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
		else if (in && sscanf(line, "FilePmdMapped: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* Write path's pages back and drop them from the page cache. */
static void drop_cache(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd >= 0) {
		fsync(fd);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
}

/* Read every page of [p, p + n). */
static unsigned touch(const void *p, size_t n)
{
	unsigned sum = 0;
	for (size_t i = 0; i < n; i += 4096)
		sum += ((const volatile uint8_t *)p)[i];
	return sum;
}

/* gguf_open() asks for huge pages (common/mapfile.c): a file not in the
 * page cache is read into 2 MiB folios and mapped by 2 MiB entries where
 * the kernel and the file system can.  A mapping made here with the
 * same advice tells whether they can; without it the test is skipped. */
static void test_huge_pages(void)
{
	const char *tmp = getenv("TMPDIR");
	char dir[256], path[300];
	size_t n = 3 << 20;  /* floats: 12 MiB, at least four aligned 2 MiB extents */
	float *d = xmalloc(n * sizeof *d);
	struct gguf_writer *w = gguf_writer_new();
	struct lmu_err e = {{0}};
	uint64_t ne[1] = {n};

	snprintf(dir, sizeof dir, "%s/test-gguf.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp %s: %s", dir, strerror(errno));
		return;
	}
	for (size_t i = 0; i < n; i++)
		d[i] = (float)i;
	gguf_w_tensor(w, "w", GGML_F32, 1, ne, d, n * sizeof *d);
	snprintf(path, sizeof path, "%s/big.gguf", dir);
	ok(gguf_writer_save(w, path) == 0, "gguf_writer_save (12 MiB)");
	drop_cache(path);
	struct gguf *g = gguf_open(path, &e);
	long got = -1;
	if (g) {
		touch(g->map, g->size);
		got = pmd_mapped_kb(g->map);
		gguf_close(g);
	}
	/* the same file, its cache dropped again, mapped here with the advice */
	drop_cache(path);
	long can = -1;
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0) {
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
		if (p != MAP_FAILED) {
			madvise(p, (size_t)st.st_size, MADV_HUGEPAGE);
			touch(p, (size_t)st.st_size);
			can = pmd_mapped_kb(p);
			munmap(p, (size_t)st.st_size);
		}
	}
	if (fd >= 0)
		close(fd);
	if (can <= 0)
		printf("ok %d - # SKIP the kernel or the file system under %s keeps no file in 2 MiB pages "
		       "(FilePmdMapped %ld kB with MADV_HUGEPAGE)\n", ++n_test, dir, can);
	else
		ok(got > 0, "gguf_open's mapping of an uncached file: %ld kB in 2 MiB pages (%ld kB with the advice here)",
		   got, can);
	unlink(path);
	rmdir(dir);
	free(d);
	gguf_writer_free(w);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "-w") == 0) {
		outdir = argv[2];
		if (mkdir(outdir, 0777) < 0 && errno != EEXIST) {
			fprintf(stderr, "test-gguf: %s: %s\n", outdir, strerror(errno));
			return 1;
		}
	} else if (argc != 1) {
		fprintf(stderr, "usage: test-gguf [-w DIR]\n");
		return 2;
	}
	test_value_types();
	test_alignment(32);
	test_alignment(64);
	test_alignment(8);
	test_alignment(1);
	test_many_tensors();
	test_files();
	test_huge_pages();
	test_vocab_scores();
	test_tiny_llama();
	test_hostile();
	printf("1..%d\n", n_test);
	return n_fail != 0;
}
