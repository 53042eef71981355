/* test-recommend: a model's recommended sampling settings (sample/recommend.c)
 * from GGUF general.sampling.* keys and from generation_config.json: what
 * is there is taken, what is absent is left alone, bad values are refused. */
#include <math.h>
#include <string.h>

#include "gguf_write.h"
#include "recommend.h"
#include "tap.h"

static struct gguf *open_written(struct gguf_writer *w)
{
	size_t n;
	const uint8_t *b = gguf_writer_bytes(w, &n);
	struct lmu_err e = {{0}};
	struct gguf *g = gguf_open_mem(b, n, "test.gguf", &e);
	ok(g != NULL, "the test GGUF opens (%s)", e.msg);
	return g;
}

static void test_gguf(void)
{
	struct gguf_writer *w = gguf_writer_new();
	struct sampler_params p;
	struct lmu_err e = {{0}};

	gguf_w_str(w, "general.architecture", "llama");
	gguf_w_f32(w, "general.sampling.temp", 0.6f);
	gguf_w_u32(w, "general.sampling.top_k", 20);
	gguf_w_f32(w, "general.sampling.min_p", 0.0f);
	gguf_w_f32(w, "general.sampling.penalty_repeat", 1.05f);
	gguf_w_i32(w, "general.sampling.penalty_last_n", -1);
	struct gguf *g = open_written(w);
	sampler_defaults(&p);
	int bits = recommend_gguf(g, &p, &e);
	ok(bits == (SP_TEMPERATURE | SP_TOP_K | SP_MIN_P | SP_REPEAT_PENALTY | SP_REPEAT_LAST_N),
	   "GGUF: the five keys present are taken (bits %#x)", (unsigned)bits);
	ok(fabs(p.temperature - 0.6) < 1e-6 && p.top_k == 20 && p.min_p == 0 && fabs(p.repeat_penalty - 1.05) < 1e-6 &&
	   p.repeat_last_n == -1, "GGUF: with their values (a recommended 0 is kept)");
	ok(p.top_p == 0.95, "GGUF: top-p, absent, keeps its default");
	gguf_close(g);
	gguf_writer_free(w);

	w = gguf_writer_new();
	gguf_w_str(w, "general.architecture", "llama");
	gguf_w_f32(w, "general.sampling.top_p", 1.5f);
	g = open_written(w);
	ok(recommend_gguf(g, &p, &e) == -1 && strstr(e.msg, "general.sampling.top_p"),
	   "GGUF: a top_p of 1.5 is refused, naming the key (%s)", e.msg);
	gguf_close(g);
	gguf_writer_free(w);

	w = gguf_writer_new();
	gguf_w_str(w, "general.sampling.temp", "hot");
	g = open_written(w);
	ok(recommend_gguf(g, &p, &e) == -1, "GGUF: a temperature stored as a string is refused");
	gguf_close(g);
	gguf_writer_free(w);

	w = gguf_writer_new();
	gguf_w_str(w, "general.architecture", "llama");
	g = open_written(w);
	sampler_defaults(&p);
	ok(recommend_gguf(g, &p, &e) == 0 && p.repeat_penalty == 1.1, "GGUF: no keys, nothing taken");
	gguf_close(g);
	gguf_writer_free(w);
}

static int json(const char *text, struct sampler_params *p, struct lmu_err *e)
{
	sampler_defaults(p);
	return recommend_json(text, strlen(text), p, e);
}

static void test_json(void)
{
	struct sampler_params p;
	struct lmu_err e = {{0}};

	/* Qwen2.5-Coder-Instruct's generation_config.json */
	int bits = json("{\"bos_token_id\": 151643, \"pad_token_id\": 151643, \"do_sample\": true,"
			" \"eos_token_id\": [151645, 151643], \"repetition_penalty\": 1.1, \"temperature\": 0.7,"
			" \"top_p\": 0.8, \"top_k\": 20, \"transformers_version\": \"4.37.0\"}", &p, &e);
	ok(bits == (SP_TEMPERATURE | SP_TOP_P | SP_TOP_K | SP_REPEAT_PENALTY), "JSON: four settings (bits %#x)",
	   (unsigned)bits);
	ok(p.temperature == 0.7 && p.top_p == 0.8 && p.top_k == 20 && p.repeat_penalty == 1.1, "JSON: their values");
	ok(p.min_p == 0.05 && p.repeat_last_n == 64, "JSON: the others keep their defaults");
	bits = json("{\"do_sample\": false, \"temperature\": 0.7}", &p, &e);
	ok(bits == SP_TEMPERATURE && p.temperature == 0, "JSON: do_sample false is greedy");
	ok(json("{\"top_k\": 2.5}", &p, &e) == -1 && strstr(e.msg, "top_k"), "JSON: a fractional top_k is refused (%s)",
	   e.msg);
	ok(json("{\"temperature\": \"0.7\"}", &p, &e) == -1, "JSON: a temperature as a string is refused");
	ok(json("[1, 2]", &p, &e) == -1, "JSON: not an object");
	ok(json("{\"temperature\": ", &p, &e) == -1, "JSON: cut short");
	ok(json("{\"temperature\": null}", &p, &e) == 0 && p.temperature == 0.8, "JSON: null is absent");
}

int main(void)
{
	test_gguf();
	test_json();
	return tap_done();
}
