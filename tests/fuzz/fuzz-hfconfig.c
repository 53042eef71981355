/* fuzz-hfconfig - libFuzzer target for config.json of a model directory
 * (common/hfmodel.c): each input is written as the config.json of a
 * directory whose weights are a valid tiny llama (1 layer, 8 wide, 2 heads
 * of 4, 1 KV head, feed-forward 16, 4 tokens, BF16, tied) and opened as -m
 * opens it; what opens is read on as lm-step reads it (hparams_load).
 *
 *   make fuzz-hfconfig FUZZ_TIME=600   build with clang -fsanitize=fuzzer,
 *                                      address,undefined and run, seeded by
 *                                      the config.json files of
 *                                      test-safetensors -w and of the tiny
 *                                      models of tests/fixtures/hf/
 *
 * Every architecture's config function runs before any tensor is taken, so
 * the tiny llama's weights reach all of them; other architectures then
 * stop at a tensor their table names.  A refusal must carry a message; a
 * crash, a sanitizer report, a leak or a hang is a bug. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf_write.h"
#include "hfmodel.h"
#include "../../forward/model.h"

static char dir[64], config[96], weights[96];

/* the weights: name, rows, columns (0: a vector) */
static const struct {
	const char *name;
	unsigned rows, cols;
} tiny[] = {
	{"model.embed_tokens.weight", 4, 8}, {"model.norm.weight", 8, 0},
	{"model.layers.0.input_layernorm.weight", 8, 0}, {"model.layers.0.post_attention_layernorm.weight", 8, 0},
	{"model.layers.0.self_attn.q_proj.weight", 8, 8}, {"model.layers.0.self_attn.k_proj.weight", 4, 8},
	{"model.layers.0.self_attn.v_proj.weight", 4, 8}, {"model.layers.0.self_attn.o_proj.weight", 8, 8},
	{"model.layers.0.mlp.gate_proj.weight", 16, 8}, {"model.layers.0.mlp.up_proj.weight", 16, 8},
	{"model.layers.0.mlp.down_proj.weight", 8, 16},
};

static void cleanup(void)
{
	unlink(config);
	unlink(weights);
	rmdir(dir);
}

static void setup(void)
{
	char json[4096] = "{";
	size_t off = 0;
	FILE *f;

	snprintf(dir, sizeof dir, "/tmp/fuzz-hfconfig.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(config, sizeof config, "%s/config.json", dir);
	snprintf(weights, sizeof weights, "%s/model.safetensors", dir);
	for (size_t k = 0; k < sizeof tiny / sizeof *tiny; k++) {
		size_t n = (size_t)tiny[k].rows * (tiny[k].cols ? tiny[k].cols : 1) * 2;
		if (tiny[k].cols)
			snprintf(json + strlen(json), sizeof json - strlen(json),
				 "%s\"%s\":{\"dtype\":\"BF16\",\"shape\":[%u,%u],\"data_offsets\":[%zu,%zu]}", k ? "," : "",
				 tiny[k].name, tiny[k].rows, tiny[k].cols, off, off + n);
		else
			snprintf(json + strlen(json), sizeof json - strlen(json),
				 "%s\"%s\":{\"dtype\":\"BF16\",\"shape\":[%u],\"data_offsets\":[%zu,%zu]}", k ? "," : "",
				 tiny[k].name, tiny[k].rows, off, off + n);
		off += n;
	}
	strcat(json, "}");
	size_t hl = strlen(json);
	uint8_t len[8];
	for (int i = 0; i < 8; i++)
		len[i] = (uint8_t)((uint64_t)hl >> (8 * i));
	uint8_t *data = calloc(off, 1);
	for (size_t i = 1; i < off; i += 2)
		data[i] = 0x3f;  /* bfloat16 0.5 */
	if (!(f = fopen(weights, "wb")) || fwrite(len, 1, 8, f) != 8 || fwrite(json, 1, hl, f) != hl ||
	    fwrite(data, 1, off, f) != off || fclose(f) != 0)
		abort();
	free(data);
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lmu_err e = {{0}};
	struct hparams hp;
	FILE *f;

	if (!dir[0])
		setup();
	if (!(f = fopen(config, "wb")) || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	struct gguf *g = hf_open(dir, weights, &e);
	if (!g) {
		if (!e.msg[0])
			abort();  /* a refusal must say why */
		return 0;
	}
	hparams_load(g, &hp, &e);
	gguf_close(g);
	return 0;
}
