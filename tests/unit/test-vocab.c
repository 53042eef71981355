/* test-vocab: the vocabulary layer on the real SmolLM2 file and on a small
 * SPM vocabulary written here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"
#include "gguf_write.h"
#include "vocab.h"

#include "tap.h"

static int piece_is(const struct vocab *v, int32_t id, const char *want, size_t wlen)
{
	size_t len;
	const char *p = vocab_piece(v, id, &len);
	return len == wlen && memcmp(p, want, len) == 0;
}

static void test_smollm2(const char *path)
{
	struct lmu_err e = {{0}};
	struct gguf *g = gguf_open(path, &e);
	struct vocab v;

	if (!g) {
		printf("not ok %d - open %s: %s\n", ++n_test, path, e.msg);
		n_fail++;
		return;
	}
	ok(vocab_load_gguf(&v, g, &e), "load SmolLM2 vocabulary");
	ok(v.kind == VOCAB_BPE && v.n == 49152, "byte-level BPE with 49152 tokens");
	ok(strcmp(v.pre, "smollm") == 0, "pre-tokenizer smollm");
	ok(v.bos == 1 && v.eos == 2 && !v.add_bos, "bos 1, eos 2, no automatic BOS");
	int32_t im_end = vocab_find(&v, "<|im_end|>", 10);
	ok(im_end == 2, "<|im_end|> is id 2");
	ok(v.eog[2] && !v.eog[100], "end of generation: <|im_end|> yes, id 100 no");
	ok(vocab_is_special(&v, 1) && !vocab_is_special(&v, 100), "control tokens are special");
	int32_t sp = vocab_find(&v, "\xc4\xa0the", 5); /* "Ġthe" */
	ok(sp > 0 && piece_is(&v, sp, " the", 4), "Ġthe decodes to ' the'");
	int32_t nl = vocab_find(&v, "\xc4\x8a", 2); /* "Ċ" */
	ok(nl > 0 && piece_is(&v, nl, "\n", 1), "Ċ decodes to a newline");
	ok(piece_is(&v, 1, "<|im_start|>", 12), "control token decodes to its text");
	ok(vocab_find(&v, "no such token at all", 20) == -1, "unknown text is not found");
	ok(v.n_merges == 48900, "48900 merges");
	vocab_free(&v);
	gguf_close(g);
}

static void test_spm(void)
{
	const char *tok[] = {"<unk>", "<s>", "</s>", "<0x0A>", "\xe2\x96\x81hello", "world"};
	int32_t type[] = {2, 3, 3, 6, 1, 1};
	float score[] = {0, 0, 0, 0, -1.5f, -2.5f};
	struct gguf_writer *w = gguf_writer_new();
	struct lmu_err e = {{0}};
	struct gguf *g;
	struct vocab v;
	const uint8_t *buf;
	size_t n;

	gguf_w_str(w, "tokenizer.ggml.model", "llama");
	gguf_w_arr_str(w, "tokenizer.ggml.tokens", tok, 6);
	gguf_w_arr(w, "tokenizer.ggml.token_type", GGUF_INT32, type, 6);
	gguf_w_arr(w, "tokenizer.ggml.scores", GGUF_FLOAT32, score, 6);
	buf = gguf_writer_bytes(w, &n);
	g = gguf_open_mem(buf, n, "spm.gguf", &e);
	ok(g && vocab_load_gguf(&v, g, &e), "load a written SPM vocabulary");
	if (g) {
		ok(v.kind == VOCAB_SPM && v.bos == 1 && v.eos == 2 && v.add_bos && v.add_space_prefix,
		   "SPM defaults: bos 1, eos 2, add BOS, dummy prefix");
		ok(piece_is(&v, 4, " hello", 6), "U+2581 decodes to a space");
		ok(piece_is(&v, 3, "\n", 1), "<0x0A> decodes to a newline byte");
		ok(v.score && v.score[5] == -2.5f, "scores are read");
		vocab_free(&v);
		gguf_close(g);
	}
	gguf_writer_free(w);

	/* scores of the wrong element type are refused */
	w = gguf_writer_new();
	gguf_w_str(w, "tokenizer.ggml.model", "llama");
	gguf_w_arr_str(w, "tokenizer.ggml.tokens", tok, 6);
	gguf_w_arr(w, "tokenizer.ggml.scores", GGUF_INT32, type, 6);
	buf = gguf_writer_bytes(w, &n);
	g = gguf_open_mem(buf, n, "bad.gguf", &e);
	ok(g && !vocab_load_gguf(&v, g, &e) && strstr(e.msg, "scores"), "int32 scores are refused with a message");
	gguf_close(g);
	gguf_writer_free(w);
}

/* Run vocab_load_gguf with stderr going to a file; return what it wrote. */
static char *load_capturing_stderr(struct vocab *v, struct gguf *g, bool *loaded)
{
	static char text[2048];
	struct lmu_err e = {{0}};
	FILE *tmp = tmpfile();
	int saved = dup(2);
	size_t n;

	fflush(stderr);
	dup2(fileno(tmp), 2);
	*loaded = vocab_load_gguf(v, g, &e);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(text, 1, sizeof text - 1, tmp);
	text[n] = '\0';
	fclose(tmp);
	return text;
}

/* Special ids that are no id of the vocabulary keep their default, with a
 * warning naming the key and the value (llama.cpp drops them silently). */
static void test_bad_special_ids(void)
{
	const char *tok[] = {"<unk>", "<s>", "</s>", "a", "b", "c"};
	struct gguf_writer *w = gguf_writer_new();
	struct lmu_err e = {{0}};
	struct gguf *g;
	struct vocab v;
	const uint8_t *buf;
	size_t n;
	bool loaded;

	gguf_w_str(w, "tokenizer.ggml.model", "llama");
	gguf_w_arr_str(w, "tokenizer.ggml.tokens", tok, 6);
	gguf_w_u32(w, "tokenizer.ggml.eos_token_id", 99);
	gguf_w_i32(w, "tokenizer.ggml.bos_token_id", -3);
	gguf_w_u32(w, "tokenizer.ggml.padding_token_id", 6);
	gguf_w_u32(w, "tokenizer.ggml.unknown_token_id", 5);
	buf = gguf_writer_bytes(w, &n);
	g = gguf_open_mem(buf, n, "ids.gguf", &e);
	const char *err = g ? load_capturing_stderr(&v, g, &loaded) : "";
	ok(g && loaded, "a vocabulary with out-of-range special ids loads");
	if (g && loaded) {
		ok(v.eos == 2 && v.bos == 1 && v.pad == -1 && v.unk == 5,
		   "out-of-range ids keep the defaults (eos 2, bos 1, pad none); a good one is used (unk 5)");
		ok(strstr(err, "warning: ids.gguf: tokenizer.ggml.eos_token_id is 99, not an id of the 6 tokens; using the default 2") != NULL,
		   "an eos id past the vocabulary is warned about");
		ok(strstr(err, "tokenizer.ggml.bos_token_id is -3, not an id of the 6 tokens; using the default 1") != NULL,
		   "a negative bos id is warned about");
		ok(strstr(err, "tokenizer.ggml.padding_token_id is 6, not an id of the 6 tokens; using none") != NULL,
		   "a pad id equal to the vocabulary size is warned about");
		ok(!strstr(err, "unknown_token_id"), "a good id gives no warning");
		vocab_free(&v);
	}
	if (n_fail)
		printf("# stderr: %s", err);
	gguf_close(g);
	gguf_writer_free(w);
}

int main(void)
{
	const char *models = getenv("LMU_MODELS");
	char path[4096];

	snprintf(path, sizeof path, "%s/smollm2-135m-instruct-q4_1.gguf", models ? models : "models");
	test_smollm2(path);
	test_spm();
	test_bad_special_ids();
	return tap_done();
}
