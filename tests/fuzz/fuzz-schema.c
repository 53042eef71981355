/* fuzz-schema - libFuzzer target for the JSON Schema compiler and its
 * machine (sample/schema.c): the input is a schema, a NUL byte, then an
 * output to run through the machine.
 *
 *   make fuzz-schema FUZZ_TIME=600   seeded by tests/fixtures/schema/
 *
 * A schema must be refused with a message or compiled; the output's bytes
 * are taken until the machine refuses one, every state reached has a
 * finite distance, and from the last one the bytes that each lower the
 * distance by one must exist and end, in exactly that many bytes, with
 * text libjq parses.  A crash, a sanitizer report, a leak, a hang or a
 * broken promise is a bug. */
#include <jv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../sample/schema.h"

#define MAX_CLOSE 4096  /* longer shortest completions are not walked */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lmu_err e = {{0}};
	const uint8_t *nul = memchr(data, 0, size);
	size_t schema_len = nul ? (size_t)(nul - data) : size;
	struct schema *s = schema_parse((const char *)data, schema_len, &e);
	if (!s) {
		if (!e.msg[0])
			abort();  /* refused without a word */
		return 0;
	}
	const struct byte_machine *m = schema_machine(s);
	unsigned char *st = calloc(1, m->state_size), *try = calloc(1, m->state_size);
	char *out = malloc(size + MAX_CLOSE + 1);
	size_t n = 0;
	m->start(m->ctx, st);
	for (size_t i = schema_len + 1; nul && i < size; i++) {
		memcpy(try, st, m->len(m->ctx, st));
		if (!m->step(m->ctx, try, data[i]))
			break;
		memcpy(st, try, m->len(m->ctx, try));
		out[n++] = (char)data[i];
		if (m->distance(m->ctx, st) >= 0x3fffffffu)
			abort();  /* a state with no way to finish */
	}
	uint32_t d = m->distance(m->ctx, st);
	if (d <= MAX_CLOSE) {
		for (uint32_t left = d; left > 0; left--) {
			int found = 0;
			for (int b = 0; b < 256 && !found; b++) {
				memcpy(try, st, m->len(m->ctx, st));
				if (m->step(m->ctx, try, (unsigned char)b) && m->distance(m->ctx, try) == left - 1) {
					memcpy(st, try, m->len(m->ctx, try));
					out[n++] = (char)b;
					found = 1;
				}
			}
			if (!found)
				abort();  /* no byte keeps the promise */
		}
		jv v = jv_parse_sized(out, (int)n);
		if (!jv_is_valid(v))
			abort();  /* complete, but not JSON */
		jv_free(v);
	}
	free(out);
	free(st);
	free(try);
	schema_free(s);
	return 0;
}
