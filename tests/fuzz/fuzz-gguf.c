/* fuzz-gguf - libFuzzer target for the GGUF reader (common/gguf.c) and the
 * layers that read its metadata (hyper-parameters, vocabulary).
 *
 *   make fuzz FUZZ_TIME=600      build with clang -fsanitize=fuzzer,address,
 *                                undefined and run, seeded by test-gguf -w
 *
 * Every input must either be refused with a message or open; an opened file
 * is then walked completely: every key formatted and read through each typed
 * accessor, every array element, every string of every string array, every
 * tensor found by name and its first and last data byte touched.  A crash,
 * a sanitizer report, a leak or a hang is a bug. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "../../forward/model.h"
#include "vocab.h"

static volatile uint8_t sink;

static void walk_value(const struct gguf *g, const struct gguf_kv *kv)
{
	char buf[200], *key;
	int64_t i;
	uint64_t u;
	uint32_t u3;
	double f;
	bool b;
	struct gguf_str s;
	struct gguf_value a;
	struct gguf_str_iter it;

	gguf_value_format(&kv->val, buf, sizeof buf);
	/* lookup by name works only for keys without NUL bytes */
	key = malloc(kv->key.len + 1);
	memcpy(key, kv->key.s, kv->key.len);
	key[kv->key.len] = 0;
	if (strlen(key) == kv->key.len) {
		const struct gguf_kv *found = gguf_find(g, key);
		if (!found || found->key.len != kv->key.len)
			abort();  /* every key read must be found again */
		gguf_get_i64(g, key, &i);
		gguf_get_u64(g, key, &u);
		gguf_get_u32(g, key, &u3);
		gguf_get_f64(g, key, &f);
		gguf_get_bool(g, key, &b);
		gguf_get_str(g, key, &s);
		free(gguf_get_strdup(g, key));
		gguf_get_arr(g, key, GGUF_NVTYPES, &a);
	}
	free(key);
	if (kv->val.type != GGUF_ARRAY) {
		gguf_val_i64(&kv->val, &i);
		gguf_val_f64(&kv->val, &f);
		return;
	}
	if (kv->val.elem == GGUF_STRING) {
		uint64_t n = 0;
		gguf_str_iter_init(&it, &kv->val);
		while (gguf_str_iter_next(&it, &s)) {
			if (s.len)
				sink ^= (uint8_t)(s.s[0] ^ s.s[s.len - 1]);
			n++;
		}
		if (n != kv->val.count)
			abort();
		return;
	}
	for (uint64_t k = 0; k < kv->val.count; k++) {
		gguf_arr_i64(&kv->val, k, &i);
		gguf_arr_f64(&kv->val, k, &f);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lmu_err e = {{0}};
	struct gguf *g = gguf_open_mem(data, size, "fuzz", &e);
	struct hparams hp;
	struct vocab v;

	if (!g) {
		if (!e.msg[0])
			abort();  /* a refusal must say why */
		return 0;
	}
	for (uint64_t k = 0; k < g->n_kv; k++)
		walk_value(g, &g->kv[k]);
	for (uint64_t k = 0; k < g->n_tensors; k++) {
		const struct gguf_tensor *t = &g->tensors[k];
		if (gguf_tensor(g, t->name) != t)
			abort();  /* names are unique: each is found as itself */
		const uint8_t *p = t->data;
		if (p < g->map + g->data_offset || t->nbytes == 0 || p + t->nbytes > g->map + g->size)
			abort();  /* data inside the file, after the header */
		sink ^= p[0] ^ p[t->nbytes - 1];
	}
	hparams_load(g, &hp, &e);
	if (vocab_load_gguf(&v, g, &e))
		vocab_free(&v);
	gguf_close(g);
	return 0;
}
