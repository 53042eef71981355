/* fuzz-safetensors - libFuzzer target for the safetensors reader
 * (common/safetensors.c): the header of a .safetensors file and the
 * weight_map of model.safetensors.index.json.
 *
 *   make fuzz-safetensors FUZZ_TIME=600   build with clang -fsanitize=fuzzer,
 *                                         address,undefined and run, seeded by
 *                                         test-safetensors -w
 *
 * Each input is read both ways.  It must either be refused with a message
 * or open; an opened file is walked completely: every tensor found by name
 * as itself, its bytes inside the data after the header and covering it
 * exactly once, its first and last byte touched, every metadata entry read.
 * A crash, a sanitizer report, a leak or a hang is a bug. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

static volatile uint8_t sink;

static void file(const uint8_t *data, size_t size)
{
	struct lmu_err e = {{0}};
	struct safetensors *st = st_open_mem(data, size, "fuzz", &e);
	uint64_t covered = 0;

	if (!st) {
		if (!e.msg[0])
			abort();  /* a refusal must say why */
		return;
	}
	const struct st_shard *sh = &st->shards[0];
	if (sh->data_start < 10 || sh->data_start > size)
		abort();
	for (uint64_t k = 0; k < st->n_tensors; k++) {
		const struct st_tensor *t = &st->tensors[k];
		if (st_find(st, t->name) != t)
			abort();  /* names are unique: each is found as itself */
		if (t->offset < sh->data_start || t->nbytes > size - t->offset ||
		    (const uint8_t *)t->data != data + t->offset || t->n_dims > ST_MAX_DIMS)
			abort();  /* data inside the file, after the header */
		if ((t->n_elem * st_dtype_bits(t->dtype)) / 8 != t->nbytes)
			abort();
		if (t->nbytes)
			sink ^= ((const uint8_t *)t->data)[0] ^ ((const uint8_t *)t->data)[t->nbytes - 1];
		covered += t->nbytes;
	}
	if (covered != size - sh->data_start)
		abort();  /* every data byte belongs to exactly one tensor */
	for (uint32_t m = 0; m < sh->n_meta; m++)
		if (st_meta(st, sh->meta[m].key) == NULL)
			abort();
	st_close(st);
}

static void index_json(const uint8_t *data, size_t size)
{
	struct lmu_err e = {{0}};
	struct st_index ix;

	if (!st_index_parse(data, size, "fuzz", &ix, &e)) {
		if (!e.msg[0])
			abort();
		return;
	}
	if (ix.n == 0)
		abort();
	for (uint64_t k = 0; k < ix.n; k++)
		if (!ix.tensor[k][0] || !ix.shard[k][0] || ix.shard[k][0] == '/')
			abort();
	st_index_free(&ix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	file(data, size);
	index_json(data, size);
	return 0;
}
